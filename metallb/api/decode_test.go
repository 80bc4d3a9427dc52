package api

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func decodeFile(t *testing.T, name string) []Document {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Decode(name, b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return docs
}

func TestSeedFilesDecodeVerbatim(t *testing.T) {
	want := map[string][]string{
		"01-metallb-operator.yaml": {"Namespace metallb-system", "OperatorGroup metallb-system/metallb-operator", "Subscription metallb-system/metallb-operator-sub", "MetalLB metallb-system/metallb"},
		"02-metallb-bgp.yaml":      {"IPAddressPool metallb-system/onp-bgp-pool", "BGPPeer metallb-system/onp-bgp-peer", "BGPAdvertisement metallb-system/onp-bgp-advertisement"},
		"03-echoserver.yaml":       {"Namespace onp-metallb", "Pod onp-metallb/echoserver", "Service onp-metallb/echoserver"},
	}
	for file, refs := range want {
		docs := decodeFile(t, file)
		var got []string
		for _, d := range docs {
			got = append(got, Ref(d.Object))
		}
		if strings.Join(got, ", ") != strings.Join(refs, ", ") {
			t.Errorf("%s: got %q, want %q", file, got, refs)
		}
	}

	bgp := decodeFile(t, "02-metallb-bgp.yaml")
	pool := bgp[0].Object.(*IPAddressPool)
	if len(pool.Spec.Addresses) != 1 || pool.Spec.Addresses[0] != "10.0.0.10-10.0.0.20" || bgp[0].Source.Line != 1 || bgp[0].Source.Doc != 1 {
		t.Errorf("pool %+v at %v", pool.Spec, bgp[0].Source)
	}
	peer := bgp[1].Object.(*BGPPeer)
	if peer.GVK() != (GVK{MetalLBV1beta2, "BGPPeer"}) || peer.Spec.Address != "192.168.126.3" || peer.Spec.ASN != 64512 || peer.Spec.MyASN != 64512 || peer.Spec.Port != nil {
		t.Errorf("peer %+v", peer.Spec)
	}
	if bgp[1].Source.String() != "02-metallb-bgp.yaml:10:1" || bgp[1].Source.Doc != 2 {
		t.Errorf("peer source %v", bgp[1].Source)
	}
	ad := bgp[2].Object.(*BGPAdvertisement)
	if *ad.Spec.AggregationLength != 32 || *ad.Spec.AggregationLengthV6 != 128 || ad.Spec.LocalPref != 100 ||
		strings.Join(ad.Spec.Communities, ",") != "65535:65282" || ad.Spec.Peers[0] != "onp-bgp-peer" || ad.Spec.IPAddressPools[0] != "onp-bgp-pool" {
		t.Errorf("advertisement %+v", ad.Spec)
	}

	echo := decodeFile(t, "03-echoserver.yaml")
	pod := echo[1].Object.(*Pod)
	c := pod.Spec.Containers[0]
	if c.Image != "registry.k8s.io/echoserver:1.0" || c.Ports[0].ContainerPort != 8080 || !*c.SecurityContext.RunAsNonRoot ||
		c.SecurityContext.Capabilities.Drop[0] != "ALL" || c.SecurityContext.SeccompProfile.Type != "RuntimeDefault" || pod.Labels["app"] != "echoserver" {
		t.Errorf("pod %+v", pod.Spec)
	}
	svc := echo[2].Object.(*Service)
	if svc.Spec.Type != ServiceTypeLoadBalancer || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.IntVal != 8080 ||
		svc.Spec.Ports[0].Protocol != "TCP" || svc.Spec.Selector["app"] != "echoserver" {
		t.Errorf("service %+v", svc.Spec)
	}
	op := decodeFile(t, "01-metallb-operator.yaml")
	sub := op[2].Object.(*Subscription)
	if sub.Spec.Channel != "stable" || sub.Spec.Package != "metallb-operator" || sub.Spec.CatalogSource != "redhat-operators" || sub.Spec.CatalogSourceNamespace != "openshift-marketplace" {
		t.Errorf("subscription %+v", sub.Spec)
	}
}

func TestStreamShapes(t *testing.T) {
	stream := `# leading comment
---
---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: a   # trailing comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: b}
- apiVersion: metallb.io/v1beta1
  kind: BGPPeer
  metadata: {name: old, namespace: metallb-system}
  spec: {myASN: 1, peerASN: 2, peerAddress: 1.2.3.4, holdTime: 30s, nodeSelectors: [{matchLabels: {a: b}, matchExpressions: [{key: c, operator: In, values: [d]}]}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPoolList
items:
- metadata: {name: p, namespace: metallb-system}
  spec: {addresses: [10.0.0.0/24]}
---
{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "metallb-system"}, "type": "kubernetes.io/basic-auth", "data": {"password": "c2VjcmV0"}}
`
	docs, err := Decode("-", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range docs {
		refs = append(refs, Ref(d.Object)+"@"+d.Source.String())
	}
	want := "Namespace a@-:6:1, Namespace b@-:14:3, BGPPeer metallb-system/old@-:17:3, IPAddressPool metallb-system/p@-:25:3, Secret metallb-system/s@-:28:1"
	if strings.Join(refs, ", ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(refs, ", "), want)
	}
	if docs[2].Source.Item != 2 || docs[3].Object.GVK() != (GVK{MetalLBV1beta1, "IPAddressPool"}) {
		t.Errorf("list item sources: %+v %+v", docs[2].Source, docs[3].Object.GVK())
	}
	if pw, _ := docs[4].Object.(*Secret).Value("password"); string(pw) != "secret" {
		t.Errorf("secret password = %q", pw)
	}
	old := Normalize(docs[2].Object).(*BGPPeer)
	if old.GVK().APIVersion != MetalLBV1beta2 || old.Spec.HoldTime.Duration != 30*time.Second || old.Spec.KeepaliveTime != nil ||
		old.Spec.Port != nil || old.Spec.NodeSelectors[0].String() != "a=b,c in (d)" || old.Name != "old" {
		t.Errorf("converted peer %+v", old)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"unknown field", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec:\n  addresses: [10.0.0.0/24]\n  foo: 1\n",
			`f.yaml:6:3: IPAddressPool metallb-system/p: strict decoding error: unknown field "spec.foo" (valid fields: addresses, autoAssign, avoidBuggyIPs, serviceAllocation)`},
		{"misspelt field", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\nspec:\n  myASN: 1\n  peerASn: 2\n",
			`f.yaml:6:3: BGPPeer metallb-system/p: strict decoding error: unknown field "spec.peerASn" (did you mean "peerASN"?)`},
		{"unknown nested field in a list", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n  - name: c\n    imag: x\n",
			`f.yaml:7:5: Pod n/p: strict decoding error: unknown field "spec.containers[0].imag" (did you mean "image"?)`},
		{"wrong type", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\nspec: {myASN: many}\n",
			`f.yaml:4:15: BGPPeer metallb-system/p: spec.myASN: expected a non-negative integer, got "many"`},
		{"ASN out of range", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\nspec: {myASN: 4294967296}\n",
			`f.yaml:4:15: BGPPeer metallb-system/p: spec.myASN: 4294967296 is out of range (at most 4294967295)`},
		{"bad duration", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\nspec: {holdTime: 90}\n",
			`f.yaml:4:18: BGPPeer metallb-system/p: spec.holdTime: invalid duration "90" (use a number with a unit: 500ms, 30s, 2m)`},
		{"duplicate key", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\nmetadata: {name: b}\n",
			`f.yaml:4:1: Namespace a: metadata: duplicate key "metadata"`},
		{"unknown kind", "apiVersion: metallb.io/v1beta1\nkind: AddressPool\nmetadata: {name: x}\n",
			`f.yaml:2:7: no matches for kind "AddressPool" in version "metallb.io/v1beta1" (object "x"): supported kinds are ` + SupportedKinds()},
		{"known kind in an unknown version", "apiVersion: metallb.io/v1\nkind: BGPPeer\nmetadata: {name: x}\n",
			`f.yaml:2:7: no matches for kind "BGPPeer" in version "metallb.io/v1" (object "x"): BGPPeer is served as metallb.io/v1beta2 and metallb.io/v1beta1`},
		{"kind in the wrong case", "apiVersion: v1\nkind: service\nmetadata: {name: x}\n",
			`f.yaml:2:7: no matches for kind "service" in version "v1" (object "x"): did you mean kind "Service" (v1)?`},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", `f.yaml:1:1: kind: object has no kind (set kind, e.g. kind: IPAddressPool)`},
		{"no apiVersion", "kind: Service\nmetadata: {name: x}\n", `f.yaml:1:1: apiVersion: Service object has no apiVersion (set apiVersion, e.g. apiVersion: v1)`},
		{"no name", "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n",
			`f.yaml:3:11: Namespace (no name): metadata.name: resource name may not be empty (set metadata.name)`},
		{"bad name", "apiVersion: v1\nkind: Service\nmetadata: {name: Echo, namespace: n}\n",
			`f.yaml:3:18: Service n/Echo: metadata.name: invalid name "Echo": "Echo" must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`},
		{"bad label", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {a: \"b c\"}}\n",
			`f.yaml:3:33: Namespace a: metadata.labels: invalid label value "b c": must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`},
		{"not an object", "- a\n- b\n", `f.yaml:1:1: expected an object (a mapping with apiVersion, kind and metadata), got a list`},
		{"syntax error", "apiVersion: v1\nkind: [\n", `f.yaml:2:1: invalid YAML: did not find expected node content`},
		{"bad base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\ndata: {password: \"!!\"}\n",
			`f.yaml:4:18: Secret n/s: data.password: invalid base64 data (use stringData for plain text): illegal base64 data at input byte 0`},
		{"unknown field in a List", "apiVersion: v1\nkind: List\nitems: []\nextra: 1\n",
			`f.yaml:4:1: List: strict decoding error: unknown field "extra" (a List has apiVersion, kind, metadata and items)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("decoded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error is not an *api.Error")
			}
		})
	}
}

func TestDecodeCollectsAllErrors(t *testing.T) {
	in := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, foo: 1}\n---\napiVersion: v1\nkind: Nope\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n"
	docs, err := Decode("f.yaml", []byte(in))
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 2 || l[0].Line != 3 || l[1].Line != 6 || l[1].Doc != 2 {
		t.Fatalf("errors: %v", err)
	}
	if len(docs) != 1 || docs[0].Object.Meta().Name != "ok" || docs[0].Source.Doc != 3 {
		t.Errorf("docs: %+v", docs)
	}
}

func TestClusterScopedNamespaceDropped(t *testing.T) {
	docs, err := Decode("f", []byte("apiVersion: v1\nkind: Node\nmetadata: {name: n, namespace: x}\n"))
	if err != nil || docs[0].Object.Meta().Namespace != "" || Ref(docs[0].Object) != "Node n" {
		t.Fatalf("%v %+v", err, docs)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		for _, d := range decodeFile(t, f) {
			b, err := json.Marshal(d.Object)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode("json", b)
			if err != nil {
				t.Fatalf("%s: re-decoding %s: %v", Ref(d.Object), b, err)
			}
			b2, _ := json.Marshal(again[0].Object)
			if string(b) != string(b2) {
				t.Errorf("%s: round trip changed\n%s\n%s", Ref(d.Object), b, b2)
			}
		}
	}
}

func TestLookupResource(t *testing.T) {
	for in, want := range map[string]string{
		"svc": "Service", "services": "Service", "Service": "Service", "bgppeers": "BGPPeer", "bgppeer.metallb.io": "BGPPeer",
		"ipaddresspools.metallb.io": "IPAddressPool", "ns": "Namespace", "og": "OperatorGroup", "endpointslices": "EndpointSlice",
	} {
		k, ok := LookupResource(in)
		if !ok || k.GVK.Kind != want {
			t.Errorf("LookupResource(%q) = %v, %v", in, k.GVK, ok)
		}
	}
	if k, _ := LookupResource("bgppeer"); k.GVK.APIVersion != MetalLBV1beta2 {
		t.Errorf("bgppeer resolves to %v, want the v1beta2 hub", k.GVK)
	}
	if _, ok := LookupResource("bgppeers.example.com"); ok {
		t.Error("a resource of another group resolved")
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Decode("fuzz", data)
		for _, d := range docs {
			if d.Object == nil || d.Object.GVK().Kind == "" {
				t.Fatalf("document without a typed object: %+v", d)
			}
			if _, ok := LookupKind(d.Object.GVK().APIVersion, d.Object.GVK().Kind); !ok {
				t.Fatalf("object of an unsupported kind %v", d.Object.GVK())
			}
			if err == nil {
				if _, merr := json.Marshal(d.Object); merr != nil {
					t.Fatalf("decoded object does not encode: %v", merr)
				}
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
