package kube

import (
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// Event is core v1 Event: something that happened to an object, as
// controllers record it (MetalLB's AllocationFailed, the kubelet's Started).
type Event struct {
	api.TypeMeta       `json:",inline"`
	api.ObjectMeta     `json:"metadata,omitempty"`
	InvolvedObject     api.ObjectReference `json:"involvedObject"`
	Reason             string              `json:"reason,omitempty"`
	Message            string              `json:"message,omitempty"`
	Source             EventSource         `json:"source,omitempty"`
	FirstTimestamp     *time.Time          `json:"firstTimestamp,omitempty"`
	LastTimestamp      *time.Time          `json:"lastTimestamp,omitempty"`
	Count              int32               `json:"count,omitempty"`
	Type               string              `json:"type,omitempty"`
	ReportingComponent string              `json:"reportingComponent,omitempty"`
	ReportingInstance  string              `json:"reportingInstance,omitempty"`
}

// EventSource names the component that recorded an event.
type EventSource struct {
	Component string `json:"component,omitempty"`
	Host      string `json:"host,omitempty"`
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

var eventKind = api.Kind{
	GVK:        api.GVK{APIVersion: api.CoreV1, Kind: "Event"},
	Resource:   "events",
	ShortNames: []string{"ev"},
	Namespaced: true,
	Preferred:  true,
	New: func() api.Object {
		e := &Event{}
		e.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Event"})
		return e
	},
}

var (
	allKinds []api.Kind
	byType   = map[reflect.Type]api.Kind{}
)

func init() {
	allKinds = append(api.Kinds(), eventKind)
	sort.SliceStable(allKinds, func(i, j int) bool {
		if allKinds[i].GVK.Kind != allKinds[j].GVK.Kind {
			return allKinds[i].GVK.Kind < allKinds[j].GVK.Kind
		}
		return allKinds[i].GVK.APIVersion < allKinds[j].GVK.APIVersion
	})
	for _, k := range allKinds {
		t := reflect.TypeOf(k.New())
		if prev, ok := byType[t]; !ok || !prev.Preferred {
			byType[t] = k
		}
	}
}

// Kinds lists every kind the cluster serves, sorted by kind and version.
// BGPPeer appears twice (v1beta1 and the preferred v1beta2).
func Kinds() []api.Kind { return append([]api.Kind(nil), allKinds...) }

// LookupKind finds the kind for an apiVersion and kind.
func LookupKind(apiVersion, kind string) (api.Kind, bool) {
	for _, k := range allKinds {
		if k.GVK.APIVersion == apiVersion && k.GVK.Kind == kind {
			return k, true
		}
	}
	return api.Kind{}, false
}

// LookupResource resolves what a user types after `get`/`delete`: a
// resource ("services"), a kind ("Service"), a short name ("svc", "ev") or a
// group-qualified resource ("bgppeers.metallb.io"), to the preferred
// version of the kind.
func LookupResource(name string) (api.Kind, bool) {
	if k, ok := api.LookupResource(name); ok {
		return k, true
	}
	n := strings.ToLower(name)
	if n == "events" || n == "event" || n == "ev" || n == "events.v1" {
		return eventKind, true
	}
	return api.Kind{}, false
}

// KindOf returns the (preferred) kind of a Go object type.
func KindOf(o api.Object) (api.Kind, bool) {
	k, ok := byType[reflect.TypeOf(o)]
	return k, ok
}

// Preferred returns the preferred version of k (BGPPeer v1beta2 for
// v1beta1).
func Preferred(k api.Kind) api.Kind {
	if k.Preferred {
		return k
	}
	for _, x := range allKinds {
		if x.Preferred && x.GVK.Kind == k.GVK.Kind && x.GVK.Group() == k.GVK.Group() {
			return x
		}
	}
	return k
}

// GroupResource is how Kubernetes names a resource in messages:
// "services", "ipaddresspools.metallb.io".
func GroupResource(k api.Kind) string {
	if g := k.GVK.Group(); g != "" {
		return k.Resource + "." + g
	}
	return k.Resource
}

// TypeName is how kubectl names objects of a kind in its output lines:
// "service", "ipaddresspool.metallb.io" (as in "service/echoserver created").
func TypeName(k api.Kind) string {
	n := strings.ToLower(k.GVK.Kind)
	if g := k.GVK.Group(); g != "" {
		return n + "." + g
	}
	return n
}

// ResourceKey identifies a resource independently of its version:
// "metallb.io/bgppeers", "/services".
func ResourceKey(k api.Kind) string { return k.GVK.Group() + "/" + k.Resource }

// ObjectName is "type/name" as kubectl prints it with -o name.
func ObjectName(k api.Kind, name string) string { return TypeName(k) + "/" + name }
