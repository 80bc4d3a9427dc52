package kube

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// Path returns the Kubernetes REST path of a collection (name "") or of one
// object, optionally of its subresource ("status"):
//
//	/api/v1/namespaces/onp-metallb/services/echoserver/status
//	/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools
//	/api/v1/nodes/sno4
//
// A namespaced kind with namespace "" addresses all namespaces.
func Path(k api.Kind, namespace, name, subresource string) string {
	var b strings.Builder
	if g := k.GVK.Group(); g == "" {
		b.WriteString("/api/")
		b.WriteString(k.GVK.Version())
	} else {
		b.WriteString("/apis/")
		b.WriteString(k.GVK.APIVersion)
	}
	if k.Namespaced && namespace != "" {
		b.WriteString("/namespaces/")
		b.WriteString(url.PathEscape(namespace))
	}
	b.WriteString("/")
	b.WriteString(k.Resource)
	if name != "" {
		b.WriteString("/")
		b.WriteString(url.PathEscape(name))
		if subresource != "" {
			b.WriteString("/")
			b.WriteString(subresource)
		}
	}
	return b.String()
}

// Target is what a REST path addresses.
type Target struct {
	Kind        api.Kind
	Namespace   string
	Name        string
	Subresource string
}

// ParsePath resolves a REST path made by Path.
func ParsePath(p string) (Target, error) {
	var t Target
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return t, fmt.Errorf("path %q does not start with /", p)
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return t, fmt.Errorf("path %q: %v", p, err)
		}
		segs[i] = u
	}
	var apiVersion string
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		apiVersion, segs = segs[1], segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		apiVersion, segs = segs[1]+"/"+segs[2], segs[3:]
	default:
		return t, fmt.Errorf("path %q is not an API path (/api/v1/... or /apis/GROUP/VERSION/...)", p)
	}
	if len(segs) >= 3 && segs[0] == "namespaces" && segs[2] != "status" && segs[2] != "finalize" {
		t.Namespace, segs = segs[1], segs[2:]
		if t.Namespace == "" {
			return t, fmt.Errorf("path %q: empty namespace", p)
		}
	}
	resource := segs[0]
	if len(segs) > 1 {
		t.Name = segs[1]
	}
	if len(segs) > 2 {
		t.Subresource = segs[2]
	}
	if len(segs) > 3 || (len(segs) > 1 && t.Name == "") {
		return t, fmt.Errorf("path %q has too many segments", p)
	}
	for _, k := range allKinds {
		if k.GVK.APIVersion == apiVersion && k.Resource == resource {
			t.Kind = k
			if !k.Namespaced && t.Namespace != "" {
				return t, fmt.Errorf("path %q: %s are not namespaced", p, GroupResource(k))
			}
			return t, nil
		}
	}
	return t, fmt.Errorf("the server could not find the requested resource %q in %s", resource, apiVersion)
}
