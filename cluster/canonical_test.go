package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// lastAppliedByMap is how lastApplied wrote the annotation before
// canonicalJSON: through a map[string]any.
func lastAppliedByMap(o api.Object) string {
	c := kube.Clone(o)
	m := c.Meta()
	m.UID, m.ResourceVersion, m.CreationTimestamp, m.Generation = "", "", nil, 0
	m.ManagedFields, m.SelfLink = nil, ""
	if m.Annotations != nil {
		delete(m.Annotations, LastAppliedAnnotation)
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
	}
	b, _ := json.Marshal(c)
	var generic map[string]any
	json.Unmarshal(b, &generic)
	delete(generic, "status")
	if md, ok := generic["metadata"].(map[string]any); ok && m.Namespace == "" {
		delete(md, "namespace")
	}
	out, _ := json.Marshal(generic)
	return string(out) + "\n"
}

// The last-applied annotation is byte for byte what it was, so that
// objects applied before are "unchanged" when applied again.
func TestLastAppliedUnchanged(t *testing.T) {
	var objs []api.Object
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "topology", "builtin", "seed", f))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := api.Decode(f, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			objs = append(objs, d.Object)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	odd := []string{"", "a<b>&c", "quote\"back\\slash", "tab\tnew\nline", "ünïcødé", "\u2028", "{\"json\":[1,2]}"}
	plain := []string{"k", "ünïcødé", "a.b/c", "Z", "z"}
	for i := range 200 {
		svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("s%d", i), Namespace: "apps",
			Labels:      map[string]string{plain[rng.IntN(len(plain))]: odd[rng.IntN(len(odd))], "z": "1", "a": "2"},
			Annotations: map[string]string{LastAppliedAnnotation: "old", odd[rng.IntN(len(odd))]: odd[rng.IntN(len(odd))], plain[rng.IntN(len(plain))]: odd[rng.IntN(len(odd))]}},
			Spec: api.ServiceSpec{Type: api.ServiceTypeLoadBalancer, Selector: map[string]string{"app": odd[rng.IntN(len(odd))]},
				Ports:       []api.ServicePort{{Name: odd[rng.IntN(len(odd))], Port: int32(rng.IntN(65535)), NodePort: int32(30000 + rng.IntN(2000))}},
				ExternalIPs: []string{}, LoadBalancerSourceRanges: nil}}
		svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
		objs = append(objs, svc)
	}
	canonical := 0
	for _, o := range objs {
		o = api.Normalize(o)
		if got, want := lastApplied(o), lastAppliedByMap(o); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", api.Ref(o), got, want)
		}
		b, _ := json.Marshal(o)
		if _, err := canonicalJSON(b, "status"); err == nil {
			canonical++
		} else if !bytes.Contains(b, []byte{0x5c}) {
			t.Errorf("%s does not take the canonical path: %v\n%s", api.Ref(o), err, b)
		}
	}
	t.Logf("%d of %d objects took the canonical path (the others have escaped keys)", canonical, len(objs))
	if _, err := canonicalJSON([]byte(`{"a":1.5}`)); err == nil {
		t.Error("a float is not left to the map path")
	}
}
