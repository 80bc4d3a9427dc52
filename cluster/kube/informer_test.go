package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// listWatchOnly hides the store's synchronous feed: the informer lists
// and watches, as over a client.
type listWatchOnly struct{ kube.Interface }

func service(name string, labels map[string]string) *api.Service {
	s := &api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: api.ServiceSpec{Ports: []api.ServicePort{{Port: 80}}}}
	s.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
	return s
}

// recorder collects the changes an informer announces.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) handle(ch kube.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, ch.Type+" "+ch.Key)
}

func (r *recorder) has(want ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range want {
		if !slices.Contains(r.log, w) {
			return fmt.Errorf("no %q in %v", w, r.log)
		}
	}
	return nil
}

func TestInformer(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*cluster.Store) kube.Interface
	}{
		{"store feed", func(s *cluster.Store) kube.Interface { return s }},
		{"list and watch", func(s *cluster.Store) kube.Interface { return listWatchOnly{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cluster.OpenStore(cluster.StoreOptions{Node: "sno4"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := s.Create(ctx, service("before", map[string]string{"app": "a"})); err != nil {
				t.Fatal(err)
			}
			f := kube.NewInformers(tc.wrap(s), nil)
			inf := kube.InformerOf[api.Service](f)
			var rec recorder
			inf.AddHandler(rec.handle)
			inf.AddIndex("app", func(o api.Object) []string { return []string{o.Meta().Labels["app"]} })
			f.Start(ctx)
			defer func() {
				cancel()
				f.Wait()
			}()
			if !f.WaitForSync(ctx) {
				t.Fatal("not synced")
			}
			testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error { return rec.has("ADDED default/before") })

			created, err := s.Create(ctx, service("after", map[string]string{"app": "b"}))
			if err != nil {
				t.Fatal(err)
			}
			svc := created.(*api.Service)
			svc.Labels["app"] = "a"
			if _, err := s.Update(ctx, svc); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, kube.KindFor[api.Service](), "default", "before", kube.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
				return rec.has("ADDED default/after", "MODIFIED default/after", "DELETED default/before")
			})
			if _, ok := inf.Get("default", "before"); ok || inf.Len() != 1 {
				t.Errorf("informer holds %d services", inf.Len())
			}
			got := inf.ByIndex("app", "a")
			if len(got) != 1 || got[0].Meta().Name != "after" || len(inf.ByIndex("app", "b")) != 0 {
				t.Errorf("index app=a: %v, app=b: %v", got, inf.ByIndex("app", "b"))
			}
			if o, _ := inf.Get("default", "after"); o.Meta().Labels["app"] != "a" {
				t.Errorf("cached %+v", o.Meta())
			}
		})
	}
}

func TestDirty(t *testing.T) {
	var d kube.Dirty
	n := 0
	d.SetNotify(func() { n++ })
	d.Mark("svc", "a", "b")
	d.Requeue("svc", "c")
	sets, all := d.Take()
	if all || len(sets["svc"]) != 3 || n != 1 {
		t.Fatalf("sets %v all %v notified %d", sets, all, n)
	}
	d.RequeueAll()
	if _, all := d.Take(); !all || n != 1 {
		t.Fatalf("requeue all: %v, notified %d", all, n)
	}
	if sets, all := d.Take(); all || len(sets) != 0 {
		t.Fatalf("after take: %v %v", sets, all)
	}
}

func TestDeepCopy(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ready := true
	p := &api.Pod{
		TypeMeta:   api.TypeMeta{APIVersion: api.CoreV1, Kind: "Pod"},
		ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"a": "b"}, CreationTimestamp: &now, Finalizers: []string{}},
		Spec:       api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i", Args: []string{"x"}}}},
		Status: api.PodStatus{Phase: "Running", PodIPs: []api.PodIP{{IP: "10.128.0.2"}}, Conditions: []api.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: &now}},
			ContainerStatuses: []any{map[string]any{"name": "c", "ready": ready, "state": map[string]any{"running": map[string]any{"startedAt": "now"}}}}},
	}
	c := kube.DeepCopy(p)
	if !reflect.DeepEqual(p, c) {
		t.Fatalf("copy differs:\n%+v\n%+v", p, c)
	}
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(c)
	if string(a) != string(b) {
		t.Fatalf("JSON differs:\n%s\n%s", a, b)
	}
	if c.ObjectMeta.Finalizers == nil {
		t.Error("an empty slice became nil")
	}
	// Nothing is shared.
	c.Labels["a"] = "changed"
	c.Spec.Containers[0].Args[0] = "changed"
	*c.CreationTimestamp = now.Add(time.Hour)
	c.Status.Conditions[0].Status = "False"
	c.Status.ContainerStatuses[0].(map[string]any)["state"].(map[string]any)["running"].(map[string]any)["startedAt"] = "changed"
	a2, _ := json.Marshal(p)
	if string(a) != string(a2) {
		t.Fatalf("changing the copy changed the original:\n%s\n%s", a, a2)
	}
}
