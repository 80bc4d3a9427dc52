package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/controllers"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// controllerEnv runs one informed controller over an in-memory store; the
// test calls Reconcile itself.
type controllerEnv struct {
	t     *testing.T
	s     *cluster.Store
	clock time.Time
}

func newControllerEnv(t *testing.T, c interface {
	Inform(*kube.Informers, func())
	Resync()
}, yaml string) *controllerEnv {
	t.Helper()
	e := &controllerEnv{t: t, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := cluster.OpenStore(cluster.StoreOptions{Node: "sno4", Now: func() time.Time { return e.clock }})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	ctx, cancel := context.WithCancel(context.Background())
	f := kube.NewInformers(s, nil)
	c.Inform(f, func() {})
	f.Start(ctx)
	t.Cleanup(func() {
		cancel()
		f.Wait()
		s.Close()
	})
	f.WaitForSync(ctx)
	e.apply(yaml)
	c.Resync()
	return e
}

func (e *controllerEnv) apply(yaml string) {
	e.t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		e.t.Fatal(err)
	}
	var objs []api.Object
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	if _, err := e.s.Apply(context.Background(), objs, kube.ApplyOptions{}); err != nil {
		e.t.Fatal(err)
	}
	// Creation times are whole seconds: one apply per second.
	e.clock = e.clock.Add(time.Second)
}

// versions are the resource versions of the services and pools: what the
// controller writes (its Events are recorded in the background, so the
// store's own version can move on between two looks).
func (e *controllerEnv) versions() string {
	e.t.Helper()
	var out []string
	for _, k := range []api.Kind{kube.KindFor[api.Service](), kube.KindFor[api.IPAddressPool]()} {
		l, err := e.s.List(context.Background(), k, "", kube.ListOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, o := range l.Items {
			out = append(out, o.Meta().Name+"@"+o.Meta().ResourceVersion)
		}
	}
	return strings.Join(out, " ")
}

func (e *controllerEnv) ingress(name string) string {
	e.t.Helper()
	svc, err := kube.Get[api.Service](context.Background(), e.s, "demo", name)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return ""
	}
	return svc.Status.LoadBalancer.Ingress[0].IP
}

func lb(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: demo}
spec: {type: LoadBalancer, ports: [{port: 80}]}
---
`, name)
}

// Services converged as they change get what ConvergeAll gives them: an
// address freed by a delete goes to the oldest pending service, not to a
// newer one created at the same time; a resync changes nothing.
func TestMetalLBIncrementalOrder(t *testing.T) {
	m := &controllers.MetalLB{Host: "sno4"}
	e := newControllerEnv(t, m, `apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: two, namespace: metallb-system}
spec: {addresses: [10.0.0.50-10.0.0.51]}
`)
	ctx := context.Background()
	reconcile := func() {
		t.Helper()
		if err := m.Reconcile(ctx, e.s); err != nil {
			t.Fatal(err)
		}
	}
	reconcile()
	e.apply(lb("a") + lb("b"))
	reconcile()
	e.apply(lb("pending"))
	reconcile()
	if a, b, p := e.ingress("a"), e.ingress("b"), e.ingress("pending"); a != "10.0.0.50" || b != "10.0.0.51" || p != "" {
		t.Fatalf("a %s, b %s, pending %q", a, b, p)
	}
	// One round sees a's delete and a newer service.
	if err := e.s.Delete(ctx, kube.KindFor[api.Service](), "demo", "a", kube.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.apply(lb("newer"))
	reconcile()
	reconcile() // the writes of the first round come back as changes
	if p, n := e.ingress("pending"), e.ingress("newer"); p != "10.0.0.50" || n != "" {
		t.Fatalf("after the delete: pending %q, newer %q; want pending 10.0.0.50", p, n)
	}
	// A resync (ConvergeAll) agrees, and writes the pool's counters (which
	// rounds for changed services write at most every poolStatusEvery).
	m.Resync()
	reconcile()
	pool, err := kube.Get[api.IPAddressPool](ctx, e.s, "metallb-system", "two")
	if err != nil {
		t.Fatal(err)
	}
	if pool.Status.AssignedIPv4 != 2 || pool.Status.AvailableIPv4 != 0 {
		t.Errorf("pool status %+v", pool.Status)
	}
	rv := e.versions()
	m.Resync()
	reconcile()
	if got := e.versions(); got != rv {
		t.Errorf("a second resync wrote: %s, then %s", rv, got)
	}
	// Changing b to ClusterIP releases its address to newer.
	e.apply(`apiVersion: v1
kind: Service
metadata: {name: b, namespace: demo}
spec: {type: ClusterIP, ports: [{port: 80}]}
`)
	reconcile()
	reconcile()
	if b, n := e.ingress("b"), e.ingress("newer"); b != "" || n != "10.0.0.51" {
		t.Fatalf("b %q, newer %q", b, n)
	}
	// The controller's own writes coming back need no round; someone
	// else's status is put right.
	rv = e.versions()
	reconcile()
	if got := e.versions(); got != rv {
		t.Errorf("a round after the controller's own writes wrote: %s, then %s", rv, got)
	}
	svc, err := kube.Get[api.Service](ctx, e.s, "demo", "newer")
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: "10.9.9.9"}}
	if _, err := e.s.UpdateStatus(ctx, svc); err != nil {
		t.Fatal(err)
	}
	reconcile()
	if n := e.ingress("newer"); n != "10.0.0.51" {
		t.Fatalf("newer %q after its status was overwritten: want 10.0.0.51 back", n)
	}
}
