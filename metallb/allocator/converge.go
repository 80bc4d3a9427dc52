package allocator

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/onp-lab/onp/metallb/api"
)

// Event reasons, as MetalLB's controller records them on services.
const (
	ReasonIPAllocated            = "IPAllocated"
	ReasonAllocationFailed       = "AllocationFailed"
	ReasonLoadBalancerFailed     = "LoadBalancerFailed"
	ReasonClearAssignment        = "ClearAssignment"
	ReasonAdditionalAssignFailed = "AdditionalAssignFailed"
	ReasonNotEnoughClusterIPs    = "not enough clusterips"
	ReasonNoIPFamily             = "noclusterIPsIPFamily"
	ReasonNoPools                = "NoPools"
)

// Why a service is not handled at all.
const (
	IgnoredNotLoadBalancer   = "notLoadBalancer"
	IgnoredLoadBalancerClass = "loadBalancerClass"
)

const eventNormal = "Normal"

// Event is something to record on the service, like MetalLB's events.
type Event struct {
	// Type is "Normal" or "Warning".
	Type    string
	Reason  string
	Message string
}

// Result is the outcome of converging one service.
type Result struct {
	// Key is "namespace/name".
	Key string
	// IPs are the service's addresses, to write to status.loadBalancer.ingress.
	IPs []netip.Addr
	// Pool is the pool they come from, to write to the
	// metallb.io/ip-allocated-from-pool annotation.
	Pool string
	// Changed is true when IPs differ from the service's status.
	Changed bool
	// Ignored says why the service is not MetalLB's business
	// (IgnoredNotLoadBalancer, IgnoredLoadBalancerClass); IPs are then empty.
	Ignored string
	// Events to record on the service.
	Events []Event
}

// Ingress returns the status.loadBalancer.ingress entries for the result.
func (r Result) Ingress() []api.LoadBalancerIngress {
	out := make([]api.LoadBalancerIngress, 0, len(r.IPs))
	for _, ip := range r.IPs {
		out = append(out, api.LoadBalancerIngress{IP: ip.String()})
	}
	return out
}

// Error is why a service has no address. The service stays pending; the
// message is MetalLB's event text, e.g.
// `Failed to allocate IP for "ns/echo": no available IPs`.
type Error struct {
	Key    string
	Reason string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Converge brings one service to its end state as MetalLB's controller does
// (convergeBalancer): it keeps the addresses in the service's status when
// configuration still allows them and the user did not ask for others,
// adds the missing family for PreferDualStack, and otherwise allocates.
// Services that are not LoadBalancers, or not of this allocator's
// loadBalancerClass, lose their addresses and are reported as Ignored.
func (a *Allocator) Converge(svc *api.Service) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.converge(svc)
}

func (a *Allocator) converge(svc *api.Service) (Result, error) {
	k := ServiceKey(svc)
	res := Result{Key: k}
	current := statusIPs(svc)
	fail := func(reason, format string, args ...any) (Result, error) {
		a.unassign(k)
		res.IPs, res.Pool, res.Changed = nil, "", len(current) > 0
		return res, &Error{Key: k, Reason: reason, Msg: fmt.Sprintf(format, args...)}
	}
	if svc.Spec.Type != api.ServiceTypeLoadBalancer {
		a.unassign(k)
		res.Ignored, res.Changed = IgnoredNotLoadBalancer, len(current) > 0
		return res, nil
	}
	class := ""
	if svc.Spec.LoadBalancerClass != nil {
		class = *svc.Spec.LoadBalancerClass
	}
	if class != a.opts.LoadBalancerClass {
		a.unassign(k)
		res.Ignored = IgnoredLoadBalancerClass
		return res, nil
	}
	if len(a.cfg.Pools) == 0 {
		return fail(ReasonNoPools, "Failed to allocate IP for %q: no IPAddressPool is configured", k)
	}
	fam, err := ServiceFamily(svc)
	if err != nil {
		return fail(ReasonNoIPFamily, "Failed to retrieve the IP family of %q: %v", k, err)
	}
	policy := FamilyPolicy(svc)
	if policy == api.IPFamilyPolicyRequireDual && fam != DualStack {
		return fail(ReasonNotEnoughClusterIPs, "Service requires dual stack but not enough clusterips %v", svc.Spec.ClusterIPs)
	}
	drop := func(msg string) {
		a.unassign(k)
		res.Events = append(res.Events, Event{Type: eventNormal, Reason: ReasonClearAssignment, Message: msg})
	}

	ips := current
	if len(ips) > 0 {
		lbFam, err := familyOfAddrs(ips)
		if err != nil || familyChanged(lbFam, fam, policy) {
			drop(fmt.Sprintf("current IP for %q does not match the service's IP family, will attempt for new IP assignment", k))
			ips = nil
		}
	}
	if len(ips) > 0 {
		if err := a.assignChecked(svc, ips); err != nil {
			drop(fmt.Sprintf("current IP for %q not allowed by config, will attempt for new IP assignment: %v", k, err))
			ips = nil
		}
		if pool := DesiredPool(svc); len(ips) > 0 && pool != "" && a.poolOf(k) != pool {
			drop(fmt.Sprintf("user requested a different pool (%s) than the one currently assigned to %q", pool, k))
			ips = nil
		}
		desired, _, err := DesiredIPs(svc)
		if err != nil {
			return fail(ReasonLoadBalancerFailed, "invalid requested loadbalancer IPs: %v", err)
		}
		if len(ips) > 0 && len(desired) > 0 && !sameIPs(ips, desired) {
			drop(fmt.Sprintf("user requested a different IP than the one currently assigned to %q", k))
			ips = nil
		}
	} else {
		a.unassign(k)
	}

	if len(ips) == 1 && policy == api.IPFamilyPolicyPreferDualStack && fam == DualStack {
		if extra, err := a.additionalFamily(svc, ips[0]); err != nil {
			res.Events = append(res.Events, Event{Type: eventNormal, Reason: ReasonAdditionalAssignFailed, Message: "cannot assign additional IP in PreferDualStack: " + err.Error()})
		} else {
			ips = append(ips, extra)
			res.Events = append(res.Events, Event{Type: eventNormal, Reason: ReasonIPAllocated, Message: fmt.Sprintf("Assigned additional IP %q", extra.String())})
		}
	}

	if len(ips) == 0 {
		ips, err = a.allocateIPs(svc, fam)
		if err != nil {
			return fail(ReasonAllocationFailed, "Failed to allocate IP for %q: %v", k, err)
		}
		res.Events = append(res.Events, Event{Type: eventNormal, Reason: ReasonIPAllocated, Message: "Assigned IP " + quoteIPs(ips)})
	}
	res.IPs, res.Pool = slices.Clone(ips), a.poolOf(k)
	res.Changed = !sameIPs(current, ips)
	return res, nil
}

func (a *Allocator) poolOf(k string) string {
	if al := a.allocated[k]; al != nil {
		return al.pool
	}
	return ""
}

// allocateIPs is MetalLB's allocateIPs: requested addresses, else the
// requested pool, else any suitable pool.
func (a *Allocator) allocateIPs(svc *api.Service, fam Family) ([]netip.Addr, error) {
	desired, desiredFam, err := DesiredIPs(svc)
	if err != nil {
		return nil, err
	}
	pool := DesiredPool(svc)
	if len(desired) > 0 {
		if desiredFam != fam {
			return nil, fmt.Errorf("requested loadBalancer IP(s) %s does not match the ipFamily of the service", quoteIPs(desired))
		}
		if err := a.assignChecked(svc, desired); err != nil {
			return nil, err
		}
		if pool != "" && a.poolOf(ServiceKey(svc)) != pool {
			a.unassign(ServiceKey(svc))
			return nil, fmt.Errorf("requested loadBalancer IP(s) %s is not compatible with requested address pool %s", quoteIPs(desired), pool)
		}
		return desired, nil
	}
	if pool != "" {
		return a.allocateFromPool(svc, fam, pool)
	}
	return a.allocate(svc, fam)
}

// additionalFamily gives a PreferDualStack service that has one address an
// address of the other family from the same pool.
func (a *Allocator) additionalFamily(svc *api.Service, existing netip.Addr) (netip.Addr, error) {
	k := ServiceKey(svc)
	other := IPv6
	if familyOf(existing) == IPv6 {
		other = IPv4
	}
	pool := a.cfg.Pool(a.poolOf(k))
	if pool == nil {
		return netip.Addr{}, fmt.Errorf("unknown pool %q", a.poolOf(k))
	}
	c, err := a.freeIPs(pool, k, Ports(svc), key{sharing: SharingKey(svc), backend: BackendKey(svc)})
	if err != nil {
		return netip.Addr{}, err
	}
	extra, err := c.selectIPs(other, api.IPFamilyPolicySingleStack)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := a.assignChecked(svc, []netip.Addr{existing, extra[0]}); err != nil {
		return netip.Addr{}, err
	}
	return extra[0], nil
}

// familyChanged is MetalLB's serviceFamilyChanged.
func familyChanged(lb, svc Family, policy string) bool {
	if lb == svc {
		return false
	}
	return !(svc == DualStack && policy == api.IPFamilyPolicyPreferDualStack)
}

func statusIPs(svc *api.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP == "" {
			continue
		}
		ip, err := netip.ParseAddr(in.IP)
		if err != nil {
			return nil
		}
		out = append(out, ip.Unmap())
	}
	return out
}

func sameIPs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(x, y)
}

// Outcome is one service's result in ConvergeAll.
type Outcome struct {
	Result
	Err error
}

// ConvergeAll converges the complete set of services: allocations of
// services not in the set are released, services that already have
// addresses in their status are restored first (so nobody else takes
// them), then the others get addresses in creation order (then by key).
// Given the same services it always gives the same addresses, which makes
// assignments survive restarts. Outcomes are sorted by key.
func (a *Allocator) ConvergeAll(svcs []*api.Service) []Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	present := map[string]bool{}
	for _, s := range svcs {
		present[ServiceKey(s)] = true
	}
	for _, k := range sortedKeys(a.allocated) {
		if !present[k] {
			a.unassign(k)
		}
	}
	order := slices.Clone(svcs)
	sort.SliceStable(order, func(i, j int) bool {
		si, sj := len(statusIPs(order[i])) > 0, len(statusIPs(order[j])) > 0
		if si != sj {
			return si
		}
		ti, tj := order[i].CreationTimestamp, order[j].CreationTimestamp
		if !si && ti != nil && tj != nil && !ti.Equal(*tj) {
			return ti.Before(*tj)
		}
		if !si && (ti == nil) != (tj == nil) {
			return ti != nil
		}
		return ServiceKey(order[i]) < ServiceKey(order[j])
	})
	// Restore every existing assignment before converging anything, so a
	// service whose status is not restorable does not take another's address.
	for _, s := range order {
		if ips := statusIPs(s); len(ips) > 0 && s.Spec.Type == api.ServiceTypeLoadBalancer {
			_ = a.assignChecked(s, ips)
		}
	}
	out := make([]Outcome, 0, len(order))
	for _, s := range order {
		r, err := a.converge(s)
		out = append(out, Outcome{Result: r, Err: err})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
