package kube

import (
	"strings"
	"testing"

	"github.com/onp-lab/onp/metallb/api"
)

// What the cluster wrote is read leniently (a newer agent's field is no
// error for an older client); user input strictly.
func TestDecodeTrustedIgnoresUnknownFields(t *testing.T) {
	raw := []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"apps"},"spec":{"type":"LoadBalancer","newField":1}}`)
	if _, err := Decode(raw); err == nil || !strings.Contains(err.Error(), `unknown field "newField"`) {
		t.Fatalf("Decode: %v, want the unknown field refused", err)
	}
	o, err := DecodeTrusted(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := o.(*api.Service); !ok || s.Name != "web" || s.Spec.Type != api.ServiceTypeLoadBalancer || s.Kind != "Service" {
		t.Fatalf("DecodeTrusted: %#v", o)
	}
	if _, err := DecodeTrusted([]byte(`{"apiVersion":"v1","kind":"Nope"}`)); err == nil || !strings.Contains(err.Error(), `no matches for kind "Nope"`) {
		t.Fatalf("unknown kind: %v", err)
	}
}
