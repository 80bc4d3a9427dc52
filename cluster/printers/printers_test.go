package printers_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/printers"
	"github.com/onp-lab/onp/metallb/api"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// seeded returns a store holding the seed lab as the agent leaves it: the
// pod running, the service with its address.
func seeded(t *testing.T) *cluster.Store {
	t.Helper()
	s, err := cluster.OpenStore(cluster.StoreOptions{Node: "sno4", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var objs []api.Object
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "topology", "builtin", "seed", f))
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
	ctx := context.Background()
	if _, err := s.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, _ := kube.Get[api.Service](ctx, s, "onp-metallb", "echoserver")
	svc.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: "10.0.0.10"}}
	if _, err := s.UpdateStatus(ctx, svc); err != nil {
		t.Fatal(err)
	}
	pod, _ := kube.Get[api.Pod](ctx, s, "onp-metallb", "echoserver")
	pod.Status.Phase, pod.Status.PodIP = "Running", "10.128.0.2"
	pod.Status.ContainerStatuses = []any{map[string]any{"name": "echoserver", "ready": true, "restartCount": 0, "state": map[string]any{"running": map[string]any{}}}}
	if _, err := s.UpdateStatus(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestTables(t *testing.T) {
	s := seeded(t)
	ctx := context.Background()
	now := t0.Add(95 * time.Second)
	for _, tc := range []struct {
		resource, ns, format string
		all                  bool
	}{
		{"svc", "onp-metallb", "", false},
		{"svc", "onp-metallb", "wide", false},
		{"pods", "onp-metallb", "", false},
		{"po", "onp-metallb", "wide", false},
		{"ns", "", "", false},
		{"ipaddresspools", "metallb-system", "", false},
		{"bgppeers.metallb.io", "metallb-system", "", false},
		{"bgpadvertisements", "metallb-system", "", false},
		{"bgpadvertisements", "metallb-system", "wide", false},
		{"metallbs", "metallb-system", "", false},
		{"subscriptions", "metallb-system", "", false},
		{"operatorgroups", "metallb-system", "", false},
		{"svc", "", "", true},
		{"pods", "onp-metallb", "name", false},
	} {
		k, ok := kube.LookupResource(tc.resource)
		if !ok {
			t.Fatalf("resource %s", tc.resource)
		}
		l, err := s.List(ctx, k, tc.ns, kube.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := printers.Print(&b, k, l.Items, false, printers.Options{Format: tc.format, AllNamespaces: tc.all, Now: now}); err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(tc.resource, ".", "_")
		if tc.format != "" {
			name += "-" + tc.format
		}
		if tc.all {
			name += "-A"
		}
		golden(t, name, b.String())
	}
}

func TestYAMLAndJSON(t *testing.T) {
	s := seeded(t)
	ctx := context.Background()
	k, _ := kube.LookupResource("svc")
	o, err := s.Get(ctx, k, "onp-metallb", "echoserver")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"yaml", "json"} {
		var b bytes.Buffer
		if err := printers.Print(&b, k, []api.Object{o}, true, printers.Options{Format: f}); err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := yaml.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatalf("%s output does not parse: %v\n%s", f, err, b.String())
		}
		if back["kind"] != "Service" || !strings.Contains(b.String(), "10.0.0.10") {
			t.Errorf("%s:\n%s", f, b.String())
		}
		if f == "yaml" && !strings.Contains(b.String(), "\n  ports:\n  - ") {
			t.Errorf("yaml lists are indented unlike kubectl's:\n%s", b.String())
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 119 * time.Second: "119s", 3*time.Minute + 20*time.Second: "3m20s",
		5 * time.Minute: "5m", 2 * time.Hour: "120m", 5*time.Hour + 3*time.Minute: "5h3m", 30 * time.Hour: "30h",
		50 * time.Hour: "2d2h", 30 * 24 * time.Hour: "30d", -5 * time.Second: "<invalid>",
	} {
		if got := printers.HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
