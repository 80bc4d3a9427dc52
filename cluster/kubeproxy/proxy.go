// Package kubeproxy is the embedded cluster's kube-proxy: it sends traffic
// for Services' ClusterIPs, LoadBalancer ingress IPs, external IPs and node
// ports to their endpoints with nftables (github.com/google/nftables) in
// the node's network namespace, as kube-proxy's nftables mode does:
// random load balancing over ready endpoints, masquerade for
// externalTrafficPolicy Cluster and off-cluster clients of ClusterIPs,
// source addresses kept and local endpoints only for Local, and a reject
// for services without endpoints. It owns one table, which it recreates
// when it starts and then updates incrementally.
package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/metallb/api"
)

// DefaultTable is the nftables table kube-proxy owns.
const DefaultTable = "onp-kube-proxy"

// Proxy programs the node's service rules.
type Proxy struct {
	// NodeNetns is the path of the node's network namespace; empty means
	// the namespace the agent runs in.
	NodeNetns string
	// Node is the node's name (local endpoints are those on it).
	Node string
	// PodSubnet is the cluster's pod network: ClusterIP traffic from
	// outside it is masqueraded, traffic from it to LB IPs short-circuits
	// externalTrafficPolicy Local.
	PodSubnet netip.Prefix
	// ServiceSubnet, when set, is routed to the node's loopback so that
	// connections the node itself opens to ClusterIPs reach the NAT hook
	// (a node without a default route has no route to them otherwise).
	ServiceSubnet netip.Prefix
	// Table is the table name (default onp-kube-proxy).
	Table  string
	Logger *slog.Logger

	mu       sync.Mutex
	conn     *nftables.Conn
	table    *nftables.Table
	sets     map[string]*nftables.Set
	chains   map[string]string // programmed chain → content hash
	elements map[string]element
	// fresh is set while the table's creation waits in the batch.
	fresh bool
	// Updates counts programmed batches (tests, benchmarks).
	updates int
}

// Name implements the agent's Controller.
func (p *Proxy) Name() string { return "kube-proxy" }

// Watches implements the agent's Controller.
func (p *Proxy) Watches() []string { return []string{"services", "endpointslices"} }

func (p *Proxy) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Proxy) tableName() string {
	if p.Table == "" {
		return DefaultTable
	}
	return p.Table
}

// Close releases the netlink connection. The rules stay in place until the
// next start recreates them (or the node's namespace goes).
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.CloseLasting()
		p.conn = nil
	}
	return nil
}

// Updates returns how many rule updates were programmed.
func (p *Proxy) Updates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.updates
}

// Reconcile implements the agent's Controller.
func (p *Proxy) Reconcile(ctx context.Context, c kube.Interface) error {
	svcs, _, err := kube.ListOf[api.Service](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	slices, _, err := kube.ListOf[api.EndpointSlice](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	return p.Sync(Ports(svcs, slices, p.Node))
}

// Sync programs exactly the given ports.
func (p *Proxy) Sync(ports []Port) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		if err := p.start(); err != nil {
			return err
		}
	}
	err := p.sync(build(ports, p.PodSubnet))
	if err != nil {
		// Start over from a fresh table next time.
		p.log().Warn("programming service rules failed; recreating the table", "err", err)
		p.conn.CloseLasting()
		p.conn = nil
	}
	return err
}

// start opens a netlink connection in the node's namespace and recreates
// the table with its fixed chains and maps.
func (p *Proxy) start() error {
	if !p.PodSubnet.IsValid() {
		return errors.New("kube-proxy: no pod subnet")
	}
	path := p.NodeNetns
	if path == "" {
		path = "/proc/self/ns/net"
	}
	var conn *nftables.Conn
	err := nsx.Do(path, func() error {
		var err error
		conn, err = nftables.New(nftables.AsLasting())
		return err
	})
	if err != nil {
		return fmt.Errorf("nftables in node %s: %w", p.Node, err)
	}
	if p.ServiceSubnet.IsValid() {
		if err := routeToLoopback(path, p.ServiceSubnet); err != nil {
			conn.CloseLasting()
			return fmt.Errorf("node %s: route for the service network %s: %w", p.Node, p.ServiceSubnet, err)
		}
	}
	t := &nftables.Table{Name: p.tableName(), Family: nftables.TableFamilyIPv4}
	// The old table (from an earlier run) goes in the same batch that
	// creates the new one and its first rules: traffic to services keeps
	// flowing across an agent restart.
	if existing, err := conn.ListTableOfFamily(t.Name, t.Family); err == nil && existing != nil {
		conn.DelTable(t)
	}
	conn.AddTable(t)
	sets := map[string]*nftables.Set{
		"service-ips":           {Table: t, Name: "service-ips", IsMap: true, Concatenation: true, KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService), DataType: nftables.TypeVerdict},
		"no-endpoint-services":  {Table: t, Name: "no-endpoint-services", IsMap: true, Concatenation: true, KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService), DataType: nftables.TypeVerdict},
		"service-nodeports":     {Table: t, Name: "service-nodeports", IsMap: true, Concatenation: true, KeyType: nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService), DataType: nftables.TypeVerdict},
		"no-endpoint-nodeports": {Table: t, Name: "no-endpoint-nodeports", IsMap: true, Concatenation: true, KeyType: nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService), DataType: nftables.TypeVerdict},
	}
	// Regular chains first: the maps and base chains refer to them.
	regular := map[string]*nftables.Chain{}
	for _, name := range []string{"mark-for-masquerade", "masquerading", "services", "service-endpoints-check", "nodeport-endpoints-check", "reject-chain"} {
		regular[name] = conn.AddChain(&nftables.Chain{Name: name, Table: t})
	}
	names := []string{"service-ips", "no-endpoint-services", "service-nodeports", "no-endpoint-nodeports"}
	for _, n := range names {
		if err := conn.AddSet(sets[n], nil); err != nil {
			conn.CloseLasting()
			return fmt.Errorf("map %s: %w", n, err)
		}
	}
	rule := func(chain string, exprs []expr.Any) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: regular[chain], Exprs: exprs})
	}
	rule("mark-for-masquerade", setMarkBits(masqBit))
	rule("masquerading", []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native(masqBit), Xor: native(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native(0)},
		&expr.Verdict{Kind: expr.VerdictReturn},
	})
	rule("masquerading", concat([]expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native(^uint32(masqBit)), Xor: native(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}, []expr.Any{&expr.Masq{FullyRandom: true}}))
	rule("services", lookupIPProtoPort(sets["service-ips"]))
	rule("services", concat(fibDaddrLocal(), lookupProtoPort(sets["service-nodeports"])))
	rule("service-endpoints-check", lookupIPProtoPort(sets["no-endpoint-services"]))
	rule("nodeport-endpoints-check", concat(fibDaddrLocal(), lookupProtoPort(sets["no-endpoint-nodeports"])))
	rule("reject-chain", concat(matchL4(unix.IPPROTO_TCP), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}))
	rule("reject-chain", []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}})
	filterPrio := nftables.ChainPriorityRef(-10)
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority, exprs ...[]expr.Any) {
		ch := conn.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio})
		for _, e := range exprs {
			conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e})
		}
	}
	base("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, jump("services"))
	base("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, jump("services"))
	base("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, jump("masquerading"))
	checks := [][]expr.Any{concat(ctStateNew(), jump("service-endpoints-check"))}
	// Rejecting in prerouting (before DNAT) answers at once even when the
	// node has no route for a LoadBalancer address.
	base("filter-prerouting", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRef(-110), checks...)
	base("filter-forward", nftables.ChainTypeFilter, nftables.ChainHookForward, filterPrio, checks...)
	base("filter-output", nftables.ChainTypeFilter, nftables.ChainHookOutput, filterPrio, checks...)
	base("filter-input", nftables.ChainTypeFilter, nftables.ChainHookInput, filterPrio, append(checks, concat(ctStateNew(), jump("nodeport-endpoints-check")))...)
	p.conn, p.table, p.sets = conn, t, sets
	p.chains, p.elements = map[string]string{}, map[string]element{}
	p.fresh = true
	return nil
}

func routeToLoopback(nsPath string, pfx netip.Prefix) error {
	fd, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	dst := &net.IPNet{IP: pfx.Masked().Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}
	return h.RouteReplace(&netlink.Route{Dst: dst, LinkIndex: lo.Attrs().Index, Scope: netlink.SCOPE_LINK})
}

func native(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// sync moves the programmed rules to d in one batch.
func (p *Proxy) sync(d desired) error {
	conn, t := p.conn, p.table
	chain := func(name string) *nftables.Chain { return &nftables.Chain{Name: name, Table: t} }
	changed := 0
	// New and changed chains, sorted so the batch is deterministic.
	var names []string
	for n := range d.chains {
		names = append(names, n)
	}
	sort.Strings(names)
	// All new chains exist before any rule refers to them.
	var write []string
	for _, n := range names {
		old, exists := p.chains[n]
		if exists && old == d.chains[n].hash() {
			continue
		}
		if !exists {
			conn.AddChain(chain(n))
		}
		write = append(write, n)
	}
	for _, n := range write {
		if _, exists := p.chains[n]; exists {
			conn.FlushChain(chain(n))
		}
		for _, r := range d.chains[n].rules {
			conn.AddRule(&nftables.Rule{Table: t, Chain: chain(n), Exprs: r.exprs})
		}
		changed++
	}
	// Map elements: removed or changed ones go, new ones come.
	del := map[string][]nftables.SetElement{}
	add := map[string][]nftables.SetElement{}
	for id, e := range p.elements {
		if ne, ok := d.elements[id]; !ok || ne.chain != e.chain {
			del[e.set] = append(del[e.set], nftables.SetElement{Key: e.key})
		}
	}
	for id, e := range d.elements {
		if old, ok := p.elements[id]; !ok || old.chain != e.chain {
			add[e.set] = append(add[e.set], nftables.SetElement{Key: e.key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.chain}})
		}
	}
	for set, els := range del {
		if err := conn.SetDeleteElements(p.sets[set], els); err != nil {
			return err
		}
		changed++
	}
	for set, els := range add {
		if err := conn.SetAddElements(p.sets[set], els); err != nil {
			return err
		}
		changed++
	}
	// Chains nothing refers to any more (elements and jumps are gone now).
	var gone []string
	for n := range p.chains {
		if _, ok := d.chains[n]; !ok {
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	for _, n := range gone {
		conn.FlushChain(chain(n))
	}
	for _, n := range gone {
		conn.DelChain(chain(n))
		changed++
	}
	if changed == 0 && !p.fresh {
		return nil
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("update table %s in node %s: %w", t.Name, p.Node, err)
	}
	p.updates++
	p.fresh = false
	p.chains = map[string]string{}
	for n, spec := range d.chains {
		p.chains[n] = spec.hash()
	}
	p.elements = d.elements
	p.log().Debug("service rules updated", "chains", len(d.chains), "elements", len(d.elements), "changes", changed)
	return nil
}
