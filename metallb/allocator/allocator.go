// Package allocator gives LoadBalancer services addresses from MetalLB
// pools the way MetalLB's controller does: requested addresses first
// (metallb.io/loadBalancerIPs or spec.loadBalancerIP), then a requested pool
// (metallb.io/address-pool), then pools pinned by serviceAllocation in
// priority order, then every autoAssign pool without serviceAllocation;
// within a pool the first free address walking the prefixes in order. It
// honours avoidBuggyIPs, address sharing (metallb.io/allow-shared-ip),
// service IP families and dual stack.
//
// Unlike MetalLB, every choice is deterministic (pools are tried in name
// order where MetalLB iterates a map), so the same services with the same
// existing assignments always give the same result: a caller that restores
// the addresses in the services' status (Converge, ConvergeAll) keeps them
// across speaker and lab restarts.
package allocator

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/config"
)

// Options tune which services the allocator handles.
type Options struct {
	// LoadBalancerClass: when set, only services with this
	// spec.loadBalancerClass are handled; when empty, only services without
	// a class (MetalLB's --lb-class flag).
	LoadBalancerClass string
}

// Allocator tracks the addresses of services. It is safe for concurrent use.
type Allocator struct {
	mu        sync.Mutex
	cfg       *config.Config
	opts      Options
	allocated map[string]*alloc
	byIP      map[netip.Addr]*ipUse
	// hint is, per prefix, an address below which every address is in use
	// (or skipped as buggy): a service that shares nothing starts looking
	// there, so allocating n services is not O(n²).
	hint map[netip.Prefix]netip.Addr
}

type key struct {
	sharing string
	backend string
}

type alloc struct {
	pool  string
	ips   []netip.Addr
	ports []Port
	key
}

// ipUse is who uses one address.
type ipUse struct {
	key      key
	ports    map[Port]string
	services map[string]bool
}

// New returns an allocator over the pools of cfg (nil means no pools).
func New(cfg *config.Config, opts Options) *Allocator {
	if cfg == nil {
		cfg = &config.Config{}
	}
	return &Allocator{cfg: cfg, opts: opts, allocated: map[string]*alloc{}, byIP: map[netip.Addr]*ipUse{}, hint: map[netip.Prefix]netip.Addr{}}
}

// SetConfig replaces the pools. Assignments whose addresses no pool holds
// any more are released, and their keys returned so the caller converges
// those services again; the others follow their addresses to the pool that
// now holds them.
func (a *Allocator) SetConfig(cfg *config.Config) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg == nil {
		cfg = &config.Config{}
	}
	a.cfg = cfg
	clear(a.hint)
	var released []string
	for _, k := range sortedKeys(a.allocated) {
		al := a.allocated[k]
		p := cfg.PoolFor(al.ips...)
		if p == nil {
			a.unassign(k)
			released = append(released, k)
			continue
		}
		al.pool = p.Name
	}
	return released
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IPs returns the addresses assigned to a service key, or nil.
func (a *Allocator) IPs(svcKey string) []netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if al := a.allocated[svcKey]; al != nil {
		return slices.Clone(al.ips)
	}
	return nil
}

// Pool returns the pool a service's addresses come from, or "".
func (a *Allocator) Pool(svcKey string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if al := a.allocated[svcKey]; al != nil {
		return al.pool
	}
	return ""
}

// Assignments returns every service key with its addresses.
func (a *Allocator) Assignments() map[string][]netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string][]netip.Addr, len(a.allocated))
	for k, al := range a.allocated {
		out[k] = slices.Clone(al.ips)
	}
	return out
}

// Release frees a service's addresses (the service was deleted or is no
// longer a LoadBalancer).
func (a *Allocator) Release(svcKey string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unassign(svcKey)
}

// Assign gives a service exactly these addresses, if configuration and
// address sharing allow it (MetalLB's Allocator.Assign).
func (a *Allocator) Assign(svc *api.Service, ips []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.assignChecked(svc, ips)
}

func (a *Allocator) assignChecked(svc *api.Service, ips []netip.Addr) error {
	k := ServiceKey(svc)
	pool := a.cfg.PoolFor(ips...)
	if pool == nil {
		return fmt.Errorf("%s is not allowed in config: no IPAddressPool holds it", quoteIPs(ips))
	}
	if !pool.ServiceAllocation.Matches(svc.Namespace, svc.Labels) {
		return fmt.Errorf("pool %s not compatible for ip assignment", pool.Name)
	}
	if len(ips) > 2 {
		return fmt.Errorf("more than two addresses %s", quoteIPs(ips))
	}
	if len(ips) == 2 && familyOf(ips[0]) == familyOf(ips[1]) {
		return fmt.Errorf("%q %q has the same family", ips[0].String(), ips[1].String())
	}
	sk := key{sharing: SharingKey(svc), backend: BackendKey(svc)}
	ports := Ports(svc)
	for _, ip := range ips {
		if err := a.checkSharing(k, ip, ports, sk); err != nil {
			return err
		}
	}
	a.assign(k, &alloc{pool: pool.Name, ips: slices.Clone(ips), ports: ports, key: sk})
	return nil
}

// assign records an allocation unconditionally.
func (a *Allocator) assign(k string, al *alloc) {
	a.unassign(k)
	a.allocated[k] = al
	for _, ip := range al.ips {
		u := a.byIP[ip]
		if u == nil {
			u = &ipUse{ports: map[Port]string{}, services: map[string]bool{}}
			a.byIP[ip] = u
		}
		u.key = al.key
		for _, p := range al.ports {
			u.ports[p] = k
		}
		u.services[k] = true
	}
}

func (a *Allocator) unassign(k string) {
	al := a.allocated[k]
	if al == nil {
		return
	}
	delete(a.allocated, k)
	for _, ip := range al.ips {
		u := a.byIP[ip]
		if u == nil {
			continue
		}
		for p, owner := range u.ports {
			if owner == k {
				delete(u.ports, p)
			}
		}
		delete(u.services, k)
		if len(u.services) == 0 {
			delete(a.byIP, ip)
			for p, h := range a.hint {
				if p.Contains(ip) && ip.Less(h) {
					a.hint[p] = ip
				}
			}
		}
	}
}

// checkSharing reports whether service k may use ip: the address is free,
// or its users allow sharing with the same key and backend and no port is
// taken by another service.
func (a *Allocator) checkSharing(k string, ip netip.Addr, ports []Port, sk key) error {
	u := a.byIP[ip]
	if u == nil {
		return nil
	}
	if err := sharingOK(u.key, sk); err != nil {
		var others []string
		for _, s := range sortedKeys(u.services) {
			if s != k {
				others = append(others, s)
			}
		}
		if len(others) > 0 {
			return fmt.Errorf("can't change sharing key for %q, address also in use by %s: %v", k, strings.Join(others, ","), err)
		}
	}
	for _, p := range ports {
		if owner, ok := u.ports[p]; ok && owner != k {
			return fmt.Errorf("port %s is already in use on %q", p, ip.String())
		}
	}
	return nil
}

func sharingOK(existing, want key) error {
	switch {
	case existing.sharing == "":
		return errors.New("existing service does not allow sharing")
	case want.sharing == "":
		return errors.New("new service does not allow sharing")
	case existing.sharing != want.sharing:
		return fmt.Errorf("sharing key %q does not match existing sharing key %q", want.sharing, existing.sharing)
	case existing.backend != want.backend:
		return fmt.Errorf("backend key %q does not match existing sharing key %q", want.backend, existing.backend)
	}
	return nil
}

// freeIP returns the first address of prefix that service k may use.
func (a *Allocator) freeIP(prefix netip.Prefix, avoidBuggy bool, k string, ports []Port, sk key) (netip.Addr, bool) {
	start := prefix.Masked().Addr()
	// A service that shares no address and holds none can only take an
	// unused one: start at the hint and skip used addresses without the
	// sharing checks.
	fast := sk.sharing == "" && a.allocated[k] == nil
	if h, ok := a.hint[prefix]; fast && ok {
		start = h
	}
	for ip := start; ip.IsValid() && prefix.Contains(ip); ip = ip.Next() {
		if avoidBuggy && config.AddrBuggy(ip) {
			continue
		}
		if fast {
			if a.byIP[ip] == nil {
				a.hint[prefix] = ip
				return ip, true
			}
			continue
		}
		if a.checkSharing(k, ip, ports, sk) == nil {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// candidate is the first free IPv4 and IPv6 address of one pool.
type candidate struct {
	pool       string
	ipv4, ipv6 netip.Addr
}

func (c candidate) forFamily(f Family) netip.Addr {
	if f == IPv4 {
		return c.ipv4
	}
	if f == IPv6 {
		return c.ipv6
	}
	return netip.Addr{}
}

func (a *Allocator) freeIPs(pool *config.Pool, k string, ports []Port, sk key) (candidate, error) {
	c := candidate{pool: pool.Name}
	for _, p := range pool.CIDRs {
		if p.Addr().Is4() && c.ipv4.IsValid() || p.Addr().Is6() && c.ipv6.IsValid() {
			continue
		}
		if ip, ok := a.freeIP(p, pool.AvoidBuggyIPs, k, ports, sk); ok {
			if ip.Is4() {
				c.ipv4 = ip
			} else {
				c.ipv6 = ip
			}
		}
	}
	if !c.ipv4.IsValid() && !c.ipv6.IsValid() {
		return c, fmt.Errorf("no available IPs in pool %s", pool.Name)
	}
	return c, nil
}

// selectIPs picks the addresses of a candidate for the service's family
// and family policy.
func (c candidate) selectIPs(fam Family, policy string) ([]netip.Addr, error) {
	switch fam {
	case IPv4, IPv6:
		if ip := c.forFamily(fam); ip.IsValid() {
			return []netip.Addr{ip}, nil
		}
	default:
		switch {
		case c.ipv4.IsValid() && c.ipv6.IsValid():
			return []netip.Addr{c.ipv4, c.ipv6}, nil
		case policy == api.IPFamilyPolicyPreferDualStack && c.ipv4.IsValid():
			return []netip.Addr{c.ipv4}, nil
		case policy == api.IPFamilyPolicyPreferDualStack && c.ipv6.IsValid():
			return []netip.Addr{c.ipv6}, nil
		}
	}
	return nil, fmt.Errorf("no available IPs in pool %s for %s IPFamily", c.pool, fam)
}

// bestPool is MetalLB's findBestPoolForService: the first pool that can
// serve the family completely, else for PreferDualStack the first pool with
// the primary family, then the first with the secondary one.
func (a *Allocator) bestPool(pools []*config.Pool, svc *api.Service, fam Family, ports []Port, sk key) (candidate, error) {
	k := ServiceKey(svc)
	primary, secondary := IPv4, IPv6
	if primaryIPv6(svc) {
		primary, secondary = IPv6, IPv4
	}
	prefer := FamilyPolicy(svc) == api.IPFamilyPolicyPreferDualStack && fam == DualStack
	var first, second *candidate
	for _, p := range pools {
		c, err := a.freeIPs(p, k, ports, sk)
		if err != nil {
			continue
		}
		if c.forFamily(fam).IsValid() {
			return c, nil
		}
		if c.ipv4.IsValid() && c.ipv6.IsValid() {
			return c, nil
		}
		if !prefer {
			continue
		}
		if c.forFamily(primary).IsValid() && first == nil {
			first = &c
		}
		if c.forFamily(secondary).IsValid() && second == nil {
			second = &c
		}
	}
	if first != nil {
		return *first, nil
	}
	if second != nil {
		return *second, nil
	}
	return candidate{}, fmt.Errorf("no suitable pool for %s IPFamily", fam)
}

// pinnedPools are the pools whose serviceAllocation selects the service,
// by priority (1 first, 0 last), then name.
func (a *Allocator) pinnedPools(svc *api.Service) []*config.Pool {
	var out []*config.Pool
	for _, p := range a.cfg.Pools {
		sa := p.ServiceAllocation
		if sa == nil || !p.AutoAssign {
			continue
		}
		if !sa.Namespaces[svc.Namespace] && len(sa.ServiceSelectors) == 0 {
			continue
		}
		if !sa.Matches(svc.Namespace, svc.Labels) {
			continue
		}
		out = append(out, p)
	}
	rank := func(p int) int {
		if p <= 0 {
			return math.MaxInt
		}
		return p
	}
	sort.SliceStable(out, func(i, j int) bool {
		return rank(out[i].ServiceAllocation.Priority) < rank(out[j].ServiceAllocation.Priority)
	})
	return out
}

// generalPools are the autoAssign pools without serviceAllocation, by name.
func (a *Allocator) generalPools() []*config.Pool {
	var out []*config.Pool
	for _, p := range a.cfg.Pools {
		if p.AutoAssign && p.ServiceAllocation == nil {
			out = append(out, p)
		}
	}
	return out
}

// Allocate gives a service the first free addresses of the best pool:
// pinned pools first, then the general ones (MetalLB's Allocator.Allocate).
func (a *Allocator) Allocate(svc *api.Service, fam Family) ([]netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.allocate(svc, fam)
}

func (a *Allocator) allocate(svc *api.Service, fam Family) ([]netip.Addr, error) {
	if al := a.allocated[ServiceKey(svc)]; al != nil {
		if err := a.assignChecked(svc, al.ips); err != nil {
			return nil, err
		}
		return slices.Clone(al.ips), nil
	}
	if ips, err := a.allocateFrom(a.pinnedPools(svc), svc, fam); err == nil {
		return ips, nil
	}
	if ips, err := a.allocateFrom(a.generalPools(), svc, fam); err == nil {
		return ips, nil
	}
	return nil, errors.New("no available IPs")
}

func (a *Allocator) allocateFrom(pools []*config.Pool, svc *api.Service, fam Family) ([]netip.Addr, error) {
	sk := key{sharing: SharingKey(svc), backend: BackendKey(svc)}
	c, err := a.bestPool(pools, svc, fam, Ports(svc), sk)
	if err != nil {
		return nil, err
	}
	ips, err := c.selectIPs(fam, FamilyPolicy(svc))
	if err != nil {
		return nil, err
	}
	if err := a.assignChecked(svc, ips); err != nil {
		return nil, err
	}
	return ips, nil
}

// AllocateFromPool gives a service the first free addresses of one pool,
// autoAssign or not (MetalLB's AllocateFromPool).
func (a *Allocator) AllocateFromPool(svc *api.Service, fam Family, poolName string) ([]netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.allocateFromPool(svc, fam, poolName)
}

func (a *Allocator) allocateFromPool(svc *api.Service, fam Family, poolName string) ([]netip.Addr, error) {
	pool := a.cfg.Pool(poolName)
	if pool == nil {
		return nil, fmt.Errorf("unknown pool %q", poolName)
	}
	if al := a.allocated[ServiceKey(svc)]; al != nil && al.pool == poolName {
		if err := a.assignChecked(svc, al.ips); err != nil {
			return nil, err
		}
		return slices.Clone(al.ips), nil
	}
	c, err := a.freeIPs(pool, ServiceKey(svc), Ports(svc), key{sharing: SharingKey(svc), backend: BackendKey(svc)})
	if err != nil {
		return nil, err
	}
	ips, err := c.selectIPs(fam, FamilyPolicy(svc))
	if err != nil {
		return nil, err
	}
	if err := a.assignChecked(svc, ips); err != nil {
		return nil, err
	}
	return ips, nil
}

// PoolCounters count a pool's addresses.
type PoolCounters struct {
	AssignedIPv4, AssignedIPv6   int64
	AvailableIPv4, AvailableIPv6 int64
}

// Counters returns the address counts of a pool (IPAddressPool status).
// Counts beyond int64 (large IPv6 pools) saturate at math.MaxInt64.
func (a *Allocator) Counters(poolName string) PoolCounters {
	a.mu.Lock()
	defer a.mu.Unlock()
	pool := a.cfg.Pool(poolName)
	if pool == nil {
		return PoolCounters{}
	}
	var c PoolCounters
	for ip := range a.byIP {
		if a.cfg.PoolFor(ip) != pool {
			continue
		}
		if ip.Is4() {
			c.AssignedIPv4++
		} else {
			c.AssignedIPv6++
		}
	}
	v4, v6 := poolSize(pool)
	c.AvailableIPv4 = saturate(new(big.Int).Sub(v4, big.NewInt(c.AssignedIPv4)))
	c.AvailableIPv6 = saturate(new(big.Int).Sub(v6, big.NewInt(c.AssignedIPv6)))
	return c
}

func saturate(b *big.Int) int64 {
	if b.IsInt64() {
		return b.Int64()
	}
	return math.MaxInt64
}

// poolSize counts the usable addresses of a pool per family.
func poolSize(p *config.Pool) (v4, v6 *big.Int) {
	v4, v6 = new(big.Int), new(big.Int)
	for _, c := range p.CIDRs {
		n := new(big.Int).Lsh(big.NewInt(1), uint(c.Addr().BitLen()-c.Bits()))
		if c.Addr().Is6() {
			v6.Add(v6, n)
			continue
		}
		if p.AvoidBuggyIPs {
			if c.Bits() <= 24 {
				n.Sub(n, big.NewInt(int64(2)<<(24-c.Bits())))
			} else {
				if config.AddrBuggy(c.Addr()) {
					n.Sub(n, big.NewInt(1))
				}
				if last := config.LastAddr(c); last != c.Addr() && config.AddrBuggy(last) {
					n.Sub(n, big.NewInt(1))
				}
			}
		}
		v4.Add(v4, n)
	}
	return v4, v6
}
