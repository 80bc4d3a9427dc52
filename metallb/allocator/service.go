package allocator

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// Family is a service's IP family: IPv4, IPv6 or dual stack.
type Family string

// IP families.
const (
	IPv4      Family = "ipv4"
	IPv6      Family = "ipv6"
	DualStack Family = "dual"
)

func familyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// familyOfAddrs is MetalLB's ipfamily.ForAddresses: one address, or two of
// different families.
func familyOfAddrs(ips []netip.Addr) (Family, error) {
	switch len(ips) {
	case 1:
		return familyOf(ips[0]), nil
	case 2:
		if familyOf(ips[0]) == familyOf(ips[1]) {
			return "", fmt.Errorf("%s are of the same address family (give at most one IPv4 and one IPv6 address)", quoteIPs(ips))
		}
		return DualStack, nil
	}
	return "", fmt.Errorf("%d addresses %s given (give at most one IPv4 and one IPv6 address)", len(ips), quoteIPs(ips))
}

// Port is one port a service uses on its address.
type Port struct {
	Proto string
	Port  int32
}

func (p Port) String() string { return fmt.Sprintf("%s/%d", p.Proto, p.Port) }

// ServiceKey is "namespace/name", the key services are tracked by.
func ServiceKey(svc *api.Service) string { return svc.Namespace + "/" + svc.Name }

// Ports lists a service's ports (protocol TCP when not written).
func Ports(svc *api.Service) []Port {
	out := make([]Port, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = api.ProtocolTCP
		}
		out = append(out, Port{Proto: proto, Port: p.Port})
	}
	return out
}

// SharingKey returns the metallb.io/allow-shared-ip annotation ("" when the
// service does not share its address).
func SharingKey(svc *api.Service) string {
	v, _ := api.Annotation(svc.Annotations, "allow-shared-ip")
	return v
}

// BackendKey is what services sharing an address must have in common: with
// externalTrafficPolicy Local their selector, otherwise nothing.
func BackendKey(svc *api.Service) string {
	if svc.Spec.ExternalTrafficPolicy == api.ServiceExternalTrafficLocal {
		return api.LabelsString(svc.Spec.Selector)
	}
	return ""
}

// DesiredPool returns the metallb.io/address-pool annotation.
func DesiredPool(svc *api.Service) string {
	v, _ := api.Annotation(svc.Annotations, "address-pool")
	return v
}

// DesiredIPs returns the addresses a service asks for, from the
// metallb.io/loadBalancerIPs annotation (comma-separated, at most one per
// family) or spec.loadBalancerIP, never both.
func DesiredIPs(svc *api.Service) ([]netip.Addr, Family, error) {
	ann, _ := api.Annotation(svc.Annotations, "loadBalancerIPs")
	switch {
	case ann == "" && svc.Spec.LoadBalancerIP == "":
		return nil, "", nil
	case ann != "" && svc.Spec.LoadBalancerIP != "":
		return nil, "", fmt.Errorf("service can not have both %s and svc.Spec.LoadBalancerIP", api.AnnotationLoadBalancerIPs)
	case ann != "":
		var ips []netip.Addr
		for _, s := range strings.Split(ann, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil || ip.Zone() != "" {
				return nil, "", fmt.Errorf("invalid %s: %q", api.AnnotationLoadBalancerIPs, ann)
			}
			ips = append(ips, ip.Unmap())
		}
		fam, err := familyOfAddrs(ips)
		if err != nil {
			return nil, "", fmt.Errorf("invalid %s: %w", api.AnnotationLoadBalancerIPs, err)
		}
		return ips, fam, nil
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(svc.Spec.LoadBalancerIP))
	if err != nil || ip.Zone() != "" {
		return nil, "", fmt.Errorf("invalid spec.loadBalancerIP %q", svc.Spec.LoadBalancerIP)
	}
	ip = ip.Unmap()
	return []netip.Addr{ip}, familyOf(ip), nil
}

// FamilyPolicy returns spec.ipFamilyPolicy, SingleStack when not written.
func FamilyPolicy(svc *api.Service) string {
	if svc.Spec.IPFamilyPolicy != nil && *svc.Spec.IPFamilyPolicy != "" {
		return *svc.Spec.IPFamilyPolicy
	}
	return api.IPFamilyPolicySingleStack
}

// ServiceFamily returns the family of a service. MetalLB reads it from the
// cluster IPs; a lab cluster may not assign them, so without cluster IPs it
// comes from spec.ipFamilies, then from spec.ipFamilyPolicy (dual stack
// when asked for), and is IPv4 otherwise.
func ServiceFamily(svc *api.Service) (Family, error) {
	var ips []string
	for _, s := range svc.Spec.ClusterIPs {
		if s != "" && s != "None" {
			ips = append(ips, s)
		}
	}
	if len(ips) == 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != "None" {
		ips = []string{svc.Spec.ClusterIP}
	}
	if len(ips) > 0 {
		addrs := make([]netip.Addr, 0, len(ips))
		for _, s := range ips {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return "", fmt.Errorf("invalid cluster IP %q", s)
			}
			addrs = append(addrs, a.Unmap())
		}
		return familyOfAddrs(addrs)
	}
	policy := FamilyPolicy(svc)
	switch len(svc.Spec.IPFamilies) {
	case 0:
		if policy == api.IPFamilyPolicySingleStack {
			return IPv4, nil
		}
		return DualStack, nil
	case 1:
		return protocolFamily(svc.Spec.IPFamilies[0])
	case 2:
		if policy == api.IPFamilyPolicySingleStack {
			return protocolFamily(svc.Spec.IPFamilies[0])
		}
		a, err := protocolFamily(svc.Spec.IPFamilies[0])
		if err != nil {
			return "", err
		}
		b, err := protocolFamily(svc.Spec.IPFamilies[1])
		if err != nil {
			return "", err
		}
		if a == b {
			return "", fmt.Errorf("spec.ipFamilies lists %s twice", svc.Spec.IPFamilies[0])
		}
		return DualStack, nil
	}
	return "", fmt.Errorf("spec.ipFamilies has %d entries, at most 2 are allowed", len(svc.Spec.IPFamilies))
}

func protocolFamily(s string) (Family, error) {
	switch s {
	case api.IPv4Protocol:
		return IPv4, nil
	case api.IPv6Protocol:
		return IPv6, nil
	}
	return "", fmt.Errorf("invalid spec.ipFamilies entry %q (use IPv4 or IPv6)", s)
}

// primaryIPv6 reports whether the service lists IPv6 first.
func primaryIPv6(svc *api.Service) bool {
	return len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == api.IPv6Protocol
}

// quoteIPs renders addresses as MetalLB's %q of []net.IP does: ["a" "b"].
func quoteIPs(ips []netip.Addr) string {
	parts := make([]string, len(ips))
	for i, ip := range ips {
		parts[i] = fmt.Sprintf("%q", ip.String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}
