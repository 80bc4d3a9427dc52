package api

import (
	"sort"
	"strings"
)

// Kind describes one supported apiVersion/kind pair.
type Kind struct {
	GVK GVK
	// Resource is the plural lower-case resource name ("ipaddresspools").
	Resource string
	// ShortNames are kubectl's abbreviations ("svc", "ns").
	ShortNames []string
	// Namespaced is false for cluster-scoped kinds (Namespace, Node).
	Namespaced bool
	// Preferred is false for a deprecated version of a kind that also exists
	// in a newer version (BGPPeer v1beta1).
	Preferred bool
	// New returns an empty object of this kind with its TypeMeta set.
	New func() Object
}

func kind[T any, PT interface {
	*T
	Object
}](apiVersion, name, resource string, namespaced, preferred bool, short ...string) Kind {
	g := GVK{APIVersion: apiVersion, Kind: name}
	return Kind{
		GVK: g, Resource: resource, ShortNames: short, Namespaced: namespaced, Preferred: preferred,
		New: func() Object {
			var o PT = new(T)
			o.SetGVK(g)
			return o
		},
	}
}

var registry = []Kind{
	kind[IPAddressPool](MetalLBV1beta1, "IPAddressPool", "ipaddresspools", true, true),
	kind[BGPAdvertisement](MetalLBV1beta1, "BGPAdvertisement", "bgpadvertisements", true, true),
	kind[L2Advertisement](MetalLBV1beta1, "L2Advertisement", "l2advertisements", true, true),
	kind[BFDProfile](MetalLBV1beta1, "BFDProfile", "bfdprofiles", true, true),
	kind[Community](MetalLBV1beta1, "Community", "communities", true, true),
	kind[MetalLB](MetalLBV1beta1, "MetalLB", "metallbs", true, true),
	kind[BGPPeer](MetalLBV1beta2, "BGPPeer", "bgppeers", true, true),
	kind[BGPPeerV1beta1](MetalLBV1beta1, "BGPPeer", "bgppeers", true, false),
	kind[Namespace](CoreV1, "Namespace", "namespaces", false, true, "ns"),
	kind[Node](CoreV1, "Node", "nodes", false, true, "no"),
	kind[Pod](CoreV1, "Pod", "pods", true, true, "po"),
	kind[Service](CoreV1, "Service", "services", true, true, "svc"),
	kind[Secret](CoreV1, "Secret", "secrets", true, true),
	kind[ConfigMap](CoreV1, "ConfigMap", "configmaps", true, true, "cm"),
	kind[EndpointSlice](DiscoveryV1, "EndpointSlice", "endpointslices", true, true),
	kind[OperatorGroup](OperatorsV1, "OperatorGroup", "operatorgroups", true, true, "og"),
	kind[Subscription](OperatorsV1a1, "Subscription", "subscriptions", true, true, "sub", "subs"),
}

// Kinds lists every supported kind, sorted by kind and version.
func Kinds() []Kind {
	out := append([]Kind(nil), registry...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].GVK.Kind != out[j].GVK.Kind {
			return out[i].GVK.Kind < out[j].GVK.Kind
		}
		return out[i].GVK.APIVersion < out[j].GVK.APIVersion
	})
	return out
}

// LookupKind finds the kind for an apiVersion and kind as written in a
// manifest.
func LookupKind(apiVersion, kind string) (Kind, bool) {
	for _, k := range registry {
		if k.GVK.APIVersion == apiVersion && k.GVK.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

// LookupResource resolves what a user types after `get`/`delete` — a
// resource ("services"), a kind ("Service", "service"), a short name
// ("svc") or a resource qualified by group ("bgppeers.metallb.io") — to the
// preferred version of the kind.
func LookupResource(name string) (Kind, bool) {
	n := strings.ToLower(name)
	group := ""
	if i := strings.IndexByte(n, '.'); i >= 0 {
		n, group = n[:i], n[i+1:]
	}
	for _, k := range registry {
		if !k.Preferred {
			continue
		}
		if group != "" && k.GVK.Group() != group {
			continue
		}
		if n == k.Resource || n == strings.ToLower(k.GVK.Kind) {
			return k, true
		}
		for _, s := range k.ShortNames {
			if n == s {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// SupportedKinds renders the supported kinds for error messages:
// "BFDProfile (metallb.io/v1beta1), BGPAdvertisement (metallb.io/v1beta1), ...".
func SupportedKinds() string {
	ks := Kinds()
	parts := make([]string, 0, len(ks))
	for i := 0; i < len(ks); i++ {
		versions := []string{ks[i].GVK.APIVersion}
		for i+1 < len(ks) && ks[i+1].GVK.Kind == ks[i].GVK.Kind {
			i++
			versions = append(versions, ks[i].GVK.APIVersion)
		}
		parts = append(parts, ks[i].GVK.Kind+" ("+strings.Join(versions, ", ")+")")
	}
	return strings.Join(parts, ", ")
}
