package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"sync"

	"github.com/onp-lab/onp/metallb/api"
)

// Encode returns an object's JSON form.
func Encode(o api.Object) ([]byte, error) { return json.Marshal(o) }

// Decode reads one object from JSON: its apiVersion and kind pick the Go
// type, unknown fields are errors. A v1beta1 BGPPeer is converted to
// v1beta2, the version the cluster stores.
func Decode(data []byte) (api.Object, error) { return decode(data, true) }

// DecodeTrusted is Decode for objects the cluster itself wrote (watch
// events, get and list results): unknown fields are ignored instead of
// refused, so a client reads what a newer agent sends, and decoding skips
// the strict decoder's extra pass (a third faster for a Service).
func DecodeTrusted(data []byte) (api.Object, error) { return decode(data, false) }

func decode(data []byte, strict bool) (api.Object, error) {
	tm, ok := leadingTypeMeta(data)
	if !ok {
		if err := json.Unmarshal(data, &tm); err != nil {
			return nil, fmt.Errorf("decode object: %w", err)
		}
	}
	if tm.Kind == "" || tm.APIVersion == "" {
		return nil, fmt.Errorf("decode object: apiVersion and kind are required")
	}
	k, ok := LookupKind(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("no matches for kind %q in version %q", tm.Kind, tm.APIVersion)
	}
	o := k.New()
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(o)
	} else {
		err = json.Unmarshal(data, o)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	o.SetGVK(k.GVK)
	return api.Normalize(o), nil
}

// leadingTypeMeta reads apiVersion and kind when the object starts with
// them, as json.Marshal writes the cluster's types (`{"apiVersion":"v1",
// "kind":"Service",...`): no pass over the whole object to find them.
func leadingTypeMeta(data []byte) (api.TypeMeta, bool) {
	var tm api.TypeMeta
	rest, ok := bytes.CutPrefix(data, []byte(`{"apiVersion":"`))
	if !ok {
		return tm, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return tm, false
	}
	tm.APIVersion, rest = string(rest[:i]), rest[i+1:]
	rest, ok = bytes.CutPrefix(rest, []byte(`,"kind":"`))
	if !ok {
		return tm, false
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return tm, false
	}
	tm.Kind = string(rest[:i])
	return tm, true
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

// DeepCopy returns a deep copy of an object, of the same Go type, without
// going through JSON: pointers, slices, maps and interfaces are copied,
// nil stays nil and empty stays empty (Clone normalizes both as JSON
// does). Unexported fields (a time.Time's location) are shared.
func DeepCopy[T api.Object](o T) T {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return o
	}
	return deepCopy(v).Interface().(T)
}

func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepCopy(v.Elem()))
		return n
	case reflect.Struct:
		if !hasRefs(v.Type()) {
			return v
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		for i := 0; i < v.NumField(); i++ {
			f := n.Field(i)
			if f.CanSet() && hasRefs(f.Type()) {
				f.Set(deepCopy(v.Field(i)))
			}
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		if !hasRefs(v.Type().Elem()) {
			reflect.Copy(n, v)
			return n
		}
		for i := 0; i < v.Len(); i++ {
			n.Index(i).Set(deepCopy(v.Index(i)))
		}
		return n
	case reflect.Array:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		if hasRefs(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				n.Index(i).Set(deepCopy(v.Index(i)))
			}
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		refs := hasRefs(v.Type().Key()) || hasRefs(v.Type().Elem())
		it := v.MapRange()
		for it.Next() {
			if refs {
				n.SetMapIndex(deepCopy(it.Key()), deepCopy(it.Value()))
			} else {
				n.SetMapIndex(it.Key(), it.Value())
			}
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(deepCopy(v.Elem()))
		return n
	}
	return v
}

var refsCache sync.Map // reflect.Type → bool

// hasRefs reports whether values of t can refer to shared memory.
func hasRefs(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Array:
		return hasRefs(t.Elem())
	case reflect.Struct:
		if v, ok := refsCache.Load(t); ok {
			return v.(bool)
		}
		refsCache.Store(t, true) // recursive types
		r := false
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && hasRefs(t.Field(i).Type) {
				r = true
				break
			}
		}
		refsCache.Store(t, r)
		return r
	}
	return false
}
