package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"

	"github.com/onp-lab/onp/metallb/api"
)

// Encode returns an object's JSON form.
func Encode(o api.Object) ([]byte, error) { return json.Marshal(o) }

// Decode reads one object from JSON: its apiVersion and kind pick the Go
// type, unknown fields are errors. A v1beta1 BGPPeer is converted to
// v1beta2, the version the cluster stores.
func Decode(data []byte) (api.Object, error) {
	var tm api.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	if tm.Kind == "" || tm.APIVersion == "" {
		return nil, fmt.Errorf("decode object: apiVersion and kind are required")
	}
	k, ok := LookupKind(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("no matches for kind %q in version %q", tm.Kind, tm.APIVersion)
	}
	o := k.New()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(o); err != nil {
		return nil, fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	o.SetGVK(k.GVK)
	return api.Normalize(o), nil
}

// Clone returns a deep copy of an object, of the same Go type.
func Clone[T api.Object](o T) T {
	b, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("kube.Clone: encode %T: %v", o, err))
	}
	c := reflect.New(reflect.TypeOf(o).Elem()).Interface().(T)
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("kube.Clone: decode %T: %v", o, err))
	}
	return c
}

// ResourceVersionOf parses an object's resourceVersion (0 if unset).
func ResourceVersionOf(o api.Object) uint64 {
	v, _ := strconv.ParseUint(o.Meta().ResourceVersion, 10, 64)
	return v
}

// ServiceIngressIPs returns the addresses in a Service's
// status.loadBalancer.ingress.
func ServiceIngressIPs(svc *api.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}
