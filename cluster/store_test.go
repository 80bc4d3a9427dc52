package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

func seed(t testing.TB) ([]api.Object, []api.Source) {
	t.Helper()
	var objs []api.Object
	var srcs []api.Source
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
			srcs = append(srcs, d.Source)
		}
	}
	return objs, srcs
}

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(StoreOptions{Dir: dir, Node: "sno4"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decode(t *testing.T, yaml string) []api.Object {
	t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var out []api.Object
	for _, d := range docs {
		out = append(out, d.Object)
	}
	return out
}

func TestStoreApplySeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	objs, srcs := seed(t)
	res, err := s.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range res {
		k, _ := kube.KindOf(r.Object)
		lines = append(lines, kube.ObjectName(k, r.Object.Meta().Name)+" "+r.Action)
	}
	want := `namespace/metallb-system created
operatorgroup.operators.coreos.com/metallb-operator created
subscription.operators.coreos.com/metallb-operator-sub created
metallb.metallb.io/metallb created
ipaddresspool.metallb.io/onp-bgp-pool created
bgppeer.metallb.io/onp-bgp-peer created
bgpadvertisement.metallb.io/onp-bgp-advertisement created
namespace/onp-metallb created
pod/echoserver created
service/echoserver created`
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("apply:\n%s\nwant:\n%s", got, want)
	}
	svc, err := kube.Get[api.Service](ctx, s, "onp-metallb", "echoserver")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].NodePort == 0 || svc.Spec.ExternalTrafficPolicy != "Cluster" {
		t.Fatalf("service not defaulted: %+v", svc.Spec)
	}
	// Again: unchanged.
	res, err = s.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != kube.ActionUnchanged {
			t.Errorf("%s: %s, want unchanged", api.Ref(r.Object), r.Action)
		}
	}
	// create: AlreadyExists, nothing changes.
	rv := s.ResourceVersion()
	_, err = s.Apply(ctx, objs[:1], kube.ApplyOptions{Mode: kube.ModeCreate})
	if !kube.IsAlreadyExists(err) || err.Error() != `namespaces "metallb-system" already exists` {
		t.Fatalf("create again: %v", err)
	}
	if s.ResourceVersion() != rv {
		t.Fatal("a failed create changed the store")
	}
	// Restart: same objects, same ClusterIP.
	s.Close()
	s2 := openTestStore(t, dir)
	svc2, err := kube.Get[api.Service](ctx, s2, "onp-metallb", "echoserver")
	if err != nil {
		t.Fatal(err)
	}
	if svc2.Spec.ClusterIP != svc.Spec.ClusterIP || svc2.UID != svc.UID || svc2.ResourceVersion != svc.ResourceVersion {
		t.Fatalf("after reopen: %+v vs %+v", svc2.ObjectMeta, svc.ObjectMeta)
	}
	if s2.ResourceVersion() != rv {
		t.Fatalf("rv %d after reopen, want %d", s2.ResourceVersion(), rv)
	}
}

func TestStoreRejectsInvalidMetalLB(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	objs, _ := seed(t)
	if _, err := s.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	rv := s.ResourceVersion()
	bad := decode(t, `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool2, namespace: metallb-system}
spec:
  addresses: [10.0.0.15-10.0.0.30]
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
`)
	_, err := s.Apply(ctx, bad, kube.ApplyOptions{})
	if !kube.IsForbidden(err) || !strings.Contains(err.Error(), `admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request`) {
		t.Fatalf("overlapping pool: %v", err)
	}
	t.Log(err)
	if s.ResourceVersion() != rv {
		t.Fatal("rejected apply stored something")
	}
	if _, err := s.Get(ctx, api.Kind{GVK: api.GVK{APIVersion: "v1", Kind: "Namespace"}, Resource: "namespaces"}, "", "other"); !kube.IsNotFound(err) {
		t.Fatalf("namespace other: %v", err)
	}
}
