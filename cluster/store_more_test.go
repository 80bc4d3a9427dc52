package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

var svcKind = kube.KindFor[api.Service]()

func TestStoreUpdateConflictAndStatus(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	objs := decode(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`)
	created, err := s.Create(ctx, objs[0])
	if err != nil {
		t.Fatal(err)
	}
	svc := created.(*api.Service)
	if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].NodePort == 0 || svc.Spec.Ports[0].TargetPort.IntVal != 80 {
		t.Fatalf("defaults: %+v", svc.Spec)
	}
	// Status through the status subresource only.
	svc.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: "10.0.0.10"}}
	svc.Labels = map[string]string{"x": "y"}
	upd, err := s.Update(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(upd.(*api.Service).Status.LoadBalancer.Ingress) != 0 {
		t.Fatal("Update changed status")
	}
	if _, err := s.UpdateStatus(ctx, svc); !kube.IsConflict(err) {
		t.Fatalf("stale resourceVersion: %v, want a conflict", err)
	}
	svc.ResourceVersion = upd.Meta().ResourceVersion
	st, err := s.UpdateStatus(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.(*api.Service).Status.LoadBalancer.Ingress; len(got) != 1 {
		t.Fatalf("status: %v", got)
	}
	// ClusterIP is immutable.
	svc2 := kube.Clone(st.(*api.Service))
	svc2.Spec.ClusterIP, svc2.Spec.ClusterIPs = "172.30.9.9", nil
	if _, err := s.Update(ctx, svc2); !kube.IsInvalid(err) || !strings.Contains(err.Error(), "may not change once set") {
		t.Fatalf("clusterIP change: %v", err)
	}
	// A status update of a kind without status is refused.
	sec := decode(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n")[0]
	so, err := s.Create(ctx, sec)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := so.(*api.Secret).Value("a"); string(v) != "b" || so.(*api.Secret).StringData != nil {
		t.Fatalf("stringData not merged: %+v", so)
	}
	if _, err := s.UpdateStatus(ctx, so); err == nil {
		t.Fatal("status update of a Secret succeeded")
	}
}

func TestStoreApplyMergesLabelsAndKeepsOthers(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	apply := func(y string) string {
		res, err := s.Apply(ctx, decode(t, y), kube.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Action
	}
	apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1', b: '2'}}\nspec: {ports: [{port: 80}]}\n")
	// Someone else adds an annotation.
	o, _ := s.Get(ctx, svcKind, "default", "web")
	o.Meta().Annotations["metallb.io/ip-allocated-from-pool"] = "p"
	if _, err := s.Update(ctx, o); err != nil {
		t.Fatal(err)
	}
	if act := apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1'}}\nspec: {ports: [{port: 80}]}\n"); act != kube.ActionConfigured {
		t.Fatalf("dropping a label: %s", act)
	}
	o, _ = s.Get(ctx, svcKind, "default", "web")
	if _, ok := o.Meta().Labels["b"]; ok || o.Meta().Annotations["metallb.io/ip-allocated-from-pool"] != "p" {
		t.Fatalf("labels %v annotations %v", o.Meta().Labels, o.Meta().Annotations)
	}
	if act := apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1'}}\nspec: {ports: [{port: 80}]}\n"); act != kube.ActionUnchanged {
		t.Fatalf("same again: %s", act)
	}
	gen := o.Meta().Generation
	apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1'}}\nspec: {ports: [{port: 81}]}\n")
	o, _ = s.Get(ctx, svcKind, "default", "web")
	if o.Meta().Generation != gen+1 {
		t.Fatalf("generation %d after a spec change, want %d", o.Meta().Generation, gen+1)
	}
	// A pod's spec is immutable but for images.
	apply("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'registry.k8s.io/echoserver:1.10'}]}\n")
	apply("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'registry.k8s.io/echoserver:1.4'}]}\n")
	_, err := s.Apply(ctx, decode(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'registry.k8s.io/echoserver:1.4', ports: [{containerPort: 9}]}]}\n"), kube.ApplyOptions{})
	if !kube.IsInvalid(err) || !strings.Contains(err.Error(), "pod updates may not change fields") {
		t.Fatalf("pod spec change: %v", err)
	}
}

func TestStoreNamespaces(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	nsKind := kube.KindFor[api.Namespace]()
	if err := s.Delete(ctx, nsKind, "", "default", kube.DeleteOptions{}); !kube.IsForbidden(err) {
		t.Fatalf("deleting default: %v", err)
	}
	if _, err := s.Apply(ctx, decode(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-, namespace: x}\n"), kube.ApplyOptions{Mode: kube.ModeCreate}); err != nil {
		t.Fatal(err)
	}
	l, _ := s.List(ctx, kube.KindFor[api.ConfigMap](), "x", kube.ListOptions{})
	if len(l.Items) != 2 || !strings.HasPrefix(l.Items[1].Meta().Name, "c-") || len(l.Items[1].Meta().Name) != 7 {
		t.Fatalf("configmaps %v", l.Items)
	}
	if err := s.Delete(ctx, nsKind, "", "x", kube.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, nsKind, "", "x"); !kube.IsNotFound(err) {
		t.Fatalf("namespace after delete: %v", err)
	}
	l, _ = s.List(ctx, kube.KindFor[api.ConfigMap](), "", kube.ListOptions{})
	if len(l.Items) != 0 {
		t.Fatalf("content left: %v", l.Items)
	}
	if _, err := s.Create(ctx, decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n")[0]); err == nil || err.Error() != `namespaces "x" not found` {
		t.Fatalf("create in a missing namespace: %v", err)
	}
}

func TestStoreWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTestStore(t, "")
	objs := decode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {app: x}}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 80}]}\n")
	if _, err := s.Create(ctx, objs[0]); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, svcKind, "", kube.ListOptions{LabelSelector: "app=x"})
	if err != nil {
		t.Fatal(err)
	}
	next := func() kube.WatchEvent {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event")
		}
		return kube.WatchEvent{}
	}
	if ev := next(); ev.Type != kube.Added || ev.Object.Meta().Name != "a" {
		t.Fatalf("initial: %+v", ev)
	}
	s.Create(ctx, objs[1]) // not selected
	s.Delete(ctx, svcKind, "default", "a", kube.DeleteOptions{})
	ev := next()
	if ev.Type != kube.Deleted || ev.Object.Meta().Name != "a" {
		t.Fatalf("delete: %+v", ev)
	}
	rv := ev.Object.Meta().ResourceVersion
	w.Stop()
	// Resume after a version: only later changes.
	s.Create(ctx, objs[0])
	w2, err := s.Watch(ctx, svcKind, "", kube.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w2.Events():
		if ev.Type != kube.Added || ev.Object.Meta().Name != "a" {
			t.Fatalf("resumed: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no resumed event")
	}
	w2.Stop()
	if _, err := s.Watch(ctx, svcKind, "", kube.ListOptions{ResourceVersion: "999999"}); err == nil {
		t.Fatal("watch from the future accepted")
	}
}

func TestStoreRecoversFromTornLogAndCompacts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	for i := range 5 {
		if _, err := s.Create(ctx, decode(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n", i))[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenStore(StoreOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second opener: %v", err)
	}
	rv := s.ResourceVersion()
	s.Close()
	// A crash in the middle of the last write.
	f, _ := os.OpenFile(filepath.Join(dir, walFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"rv":99,"put":[{"apiVersion":"v1","ki`)
	f.Close()
	s2 := openTestStore(t, dir)
	if s2.ResourceVersion() != rv {
		t.Fatalf("rv %d, want %d", s2.ResourceVersion(), rv)
	}
	l, _ := s2.List(ctx, kube.KindFor[api.ConfigMap](), "", kube.ListOptions{})
	if len(l.Items) != 5 {
		t.Fatalf("%d configmaps", len(l.Items))
	}
	// Compaction folds the log into the snapshot.
	s2.mu.Lock()
	err := s2.disk.compact(s2.snapshotLocked())
	s2.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s2.Delete(ctx, kube.KindFor[api.ConfigMap](), "default", "c0", kube.DeleteOptions{})
	s2.Close()
	s3 := openTestStore(t, dir)
	l, _ = s3.List(ctx, kube.KindFor[api.ConfigMap](), "", kube.ListOptions{})
	if len(l.Items) != 4 {
		t.Fatalf("%d configmaps after compaction and delete", len(l.Items))
	}
}

// The HTTP API and the all-or-nothing apply endpoint take any bytes
// without harm: a rejected request changes nothing.
func FuzzServerApply(f *testing.F) {
	objs, _ := seed(f)
	var raws []json.RawMessage
	for _, o := range objs {
		b, _ := json.Marshal(o)
		raws = append(raws, b)
	}
	good, _ := json.Marshal(ApplyRequest{Mode: "apply", Objects: raws})
	f.Add(good)
	f.Add([]byte(`{"mode":"create","objects":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"x"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}]}`))
	f.Add([]byte(`{"mode":"apply","objects":[{"apiVersion":"metallb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"p","namespace":"metallb-system"},"spec":{"addresses":["1.2.3.4/33"]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := OpenStore(StoreOptions{Node: "n"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srv := NewServer(s, nil)
		rv := s.ResourceVersion()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ApplyPath, bytes.NewReader(body)))
		if rec.Code != http.StatusOK && s.ResourceVersion() != rv {
			t.Fatalf("rejected apply (%d) changed the store: %s", rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusOK {
			var st kube.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Kind != "Status" || st.Message == "" {
				t.Fatalf("error answer is not a Status: %s", rec.Body.String())
			}
		}
		// Reads of whatever was stored work.
		for _, k := range kube.Kinds() {
			if _, err := s.List(context.Background(), k, "", kube.ListOptions{}); err != nil {
				t.Fatalf("list %s: %v", k.Resource, err)
			}
		}
	})
}

// UpdateWithStatus is Update then UpdateStatus, committed as one change.
func TestStoreUpdateWithStatus(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	created, err := s.Create(ctx, decode(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`)[0])
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, svcKind, "default", kube.ListOptions{ResourceVersion: created.Meta().ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	svc := created.(*api.Service)
	svc.Annotations = map[string]string{"a": "b"}
	svc.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: "10.0.0.10"}}
	out, err := s.UpdateWithStatus(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*api.Service)
	if got.Annotations["a"] != "b" || len(got.Status.LoadBalancer.Ingress) != 1 || got.Generation != svc.Generation {
		t.Fatalf("updated: annotations %v, status %v, generation %d → %d", got.Annotations, got.Status, svc.Generation, got.Generation)
	}
	if rv := kube.ResourceVersionOf(got); rv != kube.ResourceVersionOf(created)+1 {
		t.Fatalf("resource version %d after %d: want one change", rv, kube.ResourceVersionOf(created))
	}
	ev := <-w.Events()
	if e := ev.Object.(*api.Service); ev.Type != kube.Modified || e.Annotations["a"] != "b" || len(e.Status.LoadBalancer.Ingress) != 1 {
		t.Fatalf("event %s %+v", ev.Type, e)
	}
	if _, err := s.UpdateWithStatus(ctx, svc); !kube.IsConflict(err) {
		t.Fatalf("stale resourceVersion: %v, want a conflict", err)
	}
}

// UpdateWithStatusAll writes many objects in one change; when one of them
// fails (here a stale resourceVersion), the others still land and only
// that one reports the failure.
func TestStoreUpdateWithStatusAll(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, "")
	var svcs []*api.Service
	for _, name := range []string{"a", "b", "c"} {
		o, err := s.Create(ctx, decode(t, fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`, name))[0])
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, o.(*api.Service))
	}
	set := func(svc *api.Service, ip string) api.Object {
		c := kube.DeepCopy(svc)
		c.Annotations = map[string]string{api.AnnotationIPAllocateFromPool: "p"}
		c.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: ip}}
		return c
	}
	before := s.ResourceVersion()
	for i, err := range s.UpdateWithStatusAll(ctx, []api.Object{set(svcs[0], "10.0.0.1"), set(svcs[1], "10.0.0.2")}) {
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
	}
	if got := s.ResourceVersion(); got != before+2 {
		t.Fatalf("resource version %d after %d: want one version per object", got, before)
	}
	for i, want := range []string{"10.0.0.1", "10.0.0.2"} {
		got, err := kube.Get[api.Service](ctx, s, "default", svcs[i].Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Annotations[api.AnnotationIPAllocateFromPool] != "p" || len(got.Status.LoadBalancer.Ingress) != 1 || got.Status.LoadBalancer.Ingress[0].IP != want || got.Generation != 1 {
			t.Fatalf("%s: annotations %v, status %+v, generation %d", got.Name, got.Annotations, got.Status, got.Generation)
		}
	}
	// svcs[0] is stale now: its write fails, c's lands.
	errs := s.UpdateWithStatusAll(ctx, []api.Object{set(svcs[0], "10.0.0.9"), set(svcs[2], "10.0.0.3")})
	if !kube.IsConflict(errs[0]) || errs[1] != nil {
		t.Fatalf("errors %v: want a conflict for a, none for c", errs)
	}
	if a, _ := kube.Get[api.Service](ctx, s, "default", "a"); a.Status.LoadBalancer.Ingress[0].IP != "10.0.0.1" {
		t.Fatalf("a was changed by a stale write: %+v", a.Status)
	}
	if c, _ := kube.Get[api.Service](ctx, s, "default", "c"); len(c.Status.LoadBalancer.Ingress) != 1 || c.Status.LoadBalancer.Ingress[0].IP != "10.0.0.3" {
		t.Fatalf("c: %+v", c.Status)
	}
	// A kind without a status subresource is refused.
	sec, err := s.Create(ctx, decode(t, `
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: default}
`)[0])
	if err != nil {
		t.Fatal(err)
	}
	if errs := s.UpdateWithStatusAll(ctx, []api.Object{sec}); !kube.IsNotFound(errs[0]) || !strings.Contains(errs[0].Error(), "no status") {
		t.Fatalf("secret: %v", errs)
	}
}

// An apply that asks for a summary gets each object's kind and metadata
// back, not the object.
func TestStoreApplySummary(t *testing.T) {
	s := openTestStore(t, "")
	res, err := s.Apply(context.Background(), decode(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`), kube.ApplyOptions{Summary: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := res[0].Object.(*api.Service)
	if res[0].Action != kube.ActionCreated || svc.Name != "web" || svc.Namespace != "default" || svc.UID == "" || svc.ResourceVersion == "" || svc.Kind != "Service" {
		t.Fatalf("summary %s %+v", res[0].Action, svc)
	}
	if svc.Spec.Type != "" || len(svc.Spec.Ports) != 0 || svc.Labels != nil || svc.Annotations != nil {
		t.Fatalf("summary carries the object: %+v", svc)
	}
}
