package client

import (
	"encoding/json"
	"testing"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Watch lines as the cluster's server writes them are taken apart without
// decoding the object; anything else goes through encoding/json.
func TestSplitEvent(t *testing.T) {
	svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: "a", Namespace: "default", Annotations: map[string]string{"x": `{"type":"}"}`}}}
	svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
	raw, _ := json.Marshal(svc)
	line := append(append([]byte(`{"type":"MODIFIED","object":`), raw...), "}\n"...)
	ev, ok := splitEvent(line)
	if !ok || ev.Type != kube.Modified || string(ev.Object) != string(raw) {
		t.Fatalf("split: %v %s %s", ok, ev.Type, ev.Object)
	}
	var want watchEvent
	if err := json.Unmarshal(line, &want); err != nil || want.Type != ev.Type || string(want.Object) != string(ev.Object) {
		t.Fatalf("encoding/json reads %s %s (%v)", want.Type, want.Object, err)
	}
	o, err := kube.Decode(ev.Object)
	if err != nil || o.(*api.Service).Annotations["x"] != `{"type":"}"}` {
		t.Fatalf("decode: %v %+v", err, o)
	}
	for _, bad := range []string{`{"object":{},"type":"ADDED"}`, `{"type":"ADDED","object":null}`, `{"type":"ADDED"}`, ``} {
		if _, ok := splitEvent([]byte(bad)); ok {
			t.Errorf("%q taken apart", bad)
		}
	}
	// Objects whose apiVersion and kind do not come first decode too.
	o, err = kube.Decode([]byte(`{"metadata":{"name":"b"},"kind":"Service","apiVersion":"v1"}`))
	if err != nil || o.Meta().Name != "b" {
		t.Fatalf("decode with kind last: %v", err)
	}
}
