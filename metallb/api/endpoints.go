package api

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// EndpointSlicesFor computes the EndpointSlices Kubernetes' endpointslice
// controller would publish for a service from its pods: pods of the
// service's namespace matching its selector, that have an IP and have not
// finished. Endpoints are grouped per address family and per resolved port
// set (a named targetPort may resolve differently per pod). An endpoint is
// serving when the pod is Ready, ready when it is also not terminating (or
// the service publishes not-ready addresses). Services without a selector
// get no slices. The result is sorted and named deterministically
// ("<service>-ipv4", "<service>-ipv4-2", ...).
func EndpointSlicesFor(svc *Service, pods []Pod) []EndpointSlice {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	type group struct {
		family string
		ports  []EndpointPort
		eps    []Endpoint
	}
	groups := map[string]*group{}
	var order []string
	sorted := make([]*Pod, 0, len(pods))
	for i := range pods {
		sorted = append(sorted, &pods[i])
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, p := range sorted {
		if p.Namespace != svc.Namespace || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		if !(LabelSelector{MatchLabels: svc.Spec.Selector}).Matches(p.Labels) {
			continue
		}
		ports, ok := resolvePorts(svc, p)
		if !ok {
			continue
		}
		terminating := p.DeletionTimestamp != nil
		serving := p.Ready()
		ready := (serving && !terminating) || svc.Spec.PublishNotReadyAddresses
		for _, ip := range podIPs(p) {
			fam := EndpointSliceAddressTypeIPv4
			if ip.Is6() {
				fam = EndpointSliceAddressTypeIPv6
			}
			k := fam + "|" + portsKey(ports)
			g := groups[k]
			if g == nil {
				g = &group{family: fam, ports: ports}
				groups[k] = g
				order = append(order, k)
			}
			ep := Endpoint{
				Addresses:  []string{ip.String()},
				Conditions: EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
				TargetRef:  &ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
			}
			if p.Spec.NodeName != "" {
				n := p.Spec.NodeName
				ep.NodeName = &n
			}
			g.eps = append(g.eps, ep)
		}
	}
	sort.Strings(order)
	var out []EndpointSlice
	seen := map[string]int{}
	for _, k := range order {
		g := groups[k]
		seen[g.family]++
		name := svc.Name + "-" + strings.ToLower(g.family)
		if n := seen[g.family]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		out = append(out, EndpointSlice{
			TypeMeta: TypeMeta{APIVersion: DiscoveryV1, Kind: "EndpointSlice"},
			ObjectMeta: ObjectMeta{Name: name, Namespace: svc.Namespace, Labels: map[string]string{
				LabelServiceName: svc.Name, LabelEndpointSliceManagedBy: EndpointSliceControllerName,
			}},
			AddressType: g.family,
			Endpoints:   g.eps,
			Ports:       g.ports,
		})
	}
	return out
}

func podIPs(p *Pod) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && !seen[a.Unmap()] {
			seen[a.Unmap()] = true
			out = append(out, a.Unmap())
		}
	}
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	add(p.Status.PodIP)
	return out
}

// resolvePorts maps the service's ports to the pod's: a numeric targetPort
// (or none: the service port) as is, a named one through the pod's
// container ports. A pod without a named port the service needs is left
// out, as Kubernetes does.
func resolvePorts(svc *Service, p *Pod) ([]EndpointPort, bool) {
	var out []EndpointPort
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = ProtocolTCP
		}
		port := sp.Port
		if sp.TargetPort != nil {
			if !sp.TargetPort.IsString {
				port = sp.TargetPort.IntVal
			} else {
				found := false
				for _, c := range p.Spec.Containers {
					for _, cp := range c.Ports {
						cpProto := cp.Protocol
						if cpProto == "" {
							cpProto = ProtocolTCP
						}
						if cp.Name == sp.TargetPort.StrVal && cpProto == proto {
							port, found = cp.ContainerPort, true
						}
					}
				}
				if !found {
					return nil, false
				}
			}
		}
		name, pr, po := sp.Name, proto, port
		out = append(out, EndpointPort{Name: &name, Protocol: &pr, Port: &po, AppProtocol: sp.AppProtocol})
	}
	return out, true
}

func portsKey(ps []EndpointPort) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port)
	}
	return strings.Join(parts, ",")
}
