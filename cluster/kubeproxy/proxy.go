// Package kubeproxy is the embedded cluster's kube-proxy: it sends traffic
// for Services' ClusterIPs, LoadBalancer ingress IPs, external IPs and node
// ports to their endpoints with nftables (github.com/google/nftables) in
// the node's network namespace, as kube-proxy's nftables mode does:
// random load balancing over ready endpoints, masquerade for
// externalTrafficPolicy Cluster and off-cluster clients of ClusterIPs,
// source addresses kept and local endpoints only for Local, and a reject
// for services without endpoints. It owns one table, which it recreates
// when it starts and then updates incrementally: it reads services and
// EndpointSlices from shared informers and reprograms only the services
// that changed (their chains and map elements, in one netlink batch), with
// a full comparison at start and every resync period.
package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sort"
	"strings"
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

	svcs, slices *kube.Informer
	dirty        kube.Dirty

	mu    sync.Mutex
	conn  *nftables.Conn
	table *nftables.Table
	sets  map[string]*nftables.Set
	// programmed is what the table holds, per service ("namespace/name").
	programmed map[string]*programmed
	// elements are the programmed map elements by id, with the service
	// that owns each.
	elements map[string]ownedElement
	// fresh is set while the table's creation waits in the batch.
	fresh bool
	// Updates counts programmed batches (tests, benchmarks).
	updates int
}

// programmed is one service's part of the table: its chains (name →
// content hash) and map elements.
type programmed struct {
	chains   map[string]uint64
	elements map[string]element
}

type ownedElement struct {
	element
	owner string
}

// Name implements the agent's Controller.
func (p *Proxy) Name() string { return "kube-proxy" }

// Watches implements the agent's Controller.
func (p *Proxy) Watches() []string { return []string{"services", "endpointslices"} }

const dirtyServices = "services"

// Inform implements the agent's Informed.
func (p *Proxy) Inform(inf *kube.Informers, notify func()) {
	p.dirty.SetNotify(notify)
	p.svcs = kube.InformerOf[api.Service](inf)
	p.slices = kube.InformerOf[api.EndpointSlice](inf)
	p.slices.AddIndex(kube.IndexService, kube.ServiceIndex)
	p.svcs.AddHandler(func(ch kube.Change) { p.dirty.Mark(dirtyServices, ch.Key) })
	p.slices.AddHandler(func(ch kube.Change) {
		var keys []string
		if ch.Old != nil {
			keys = kube.ServiceIndex(ch.Old)
		}
		if ch.New != nil {
			keys = append(keys, kube.ServiceIndex(ch.New)...)
		}
		if len(keys) > 0 {
			p.dirty.Mark(dirtyServices, keys...)
		}
	})
}

// Resync implements the agent's Informed.
func (p *Proxy) Resync() { p.dirty.MarkAll() }

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
	if p.svcs == nil {
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
	sets, all := p.dirty.Take()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		all = true
	}
	want := map[string][]Port{}
	if all {
		for _, o := range p.svcs.List() {
			want[kube.ObjectKey(o)] = nil
		}
	} else {
		for k := range sets[dirtyServices] {
			want[k] = nil
		}
	}
	for k := range want {
		o, ok := p.svcs.GetKey(k)
		if !ok {
			continue
		}
		slices := kube.Typed[api.EndpointSlice](p.slices.ByIndex(kube.IndexService, k))
		want[k] = Ports([]*api.Service{o.(*api.Service)}, slices, p.Node)
	}
	err := p.syncLocked(want, all)
	if err != nil {
		p.dirty.RequeueAll()
	}
	return err
}

// Sync programs exactly the given ports.
func (p *Proxy) Sync(ports []Port) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string][]Port{}
	for _, port := range ports {
		k := serviceOf(port.ID)
		want[k] = append(want[k], port)
	}
	return p.syncLocked(want, true)
}

// serviceOf is the service key ("namespace/name") of a port ID.
func serviceOf(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) < 2 {
		return id
	}
	return parts[0] + "/" + parts[1]
}

// syncLocked programs the ports of the services in want (none: the
// service is gone); complete says want holds every service, so that
// services not in it go too. p.mu held.
func (p *Proxy) syncLocked(want map[string][]Port, complete bool) error {
	if p.conn == nil {
		if err := p.start(); err != nil {
			return err
		}
		complete = true
	}
	if complete {
		for k := range p.programmed {
			if _, ok := want[k]; !ok {
				want[k] = nil
			}
		}
	}
	ds := make(map[string]desired, len(want))
	for k, ports := range want {
		ds[k] = build(ports, p.PodSubnet)
	}
	err := p.sync(ds)
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
	p.programmed, p.elements = map[string]*programmed{}, map[string]ownedElement{}
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

// sync moves the programmed rules of the services in ds (by service key;
// an empty desired removes the service) to their desired state in one
// batch, touching only chains whose content changed and elements that
// came, went or point elsewhere.
func (p *Proxy) sync(ds map[string]desired) error {
	conn, t := p.conn, p.table
	chain := func(name string) *nftables.Chain { return &nftables.Chain{Name: name, Table: t} }
	changed := 0
	keys := make([]string, 0, len(ds))
	for k := range ds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Chains to write (new or changed) and to remove, sorted so the batch
	// is deterministic.
	type chainWrite struct {
		spec   chainSpec
		exists bool
	}
	var writes []chainWrite
	var gone []string
	hashes := map[string]map[string]uint64{}
	for _, k := range keys {
		d, old := ds[k], p.programmed[k]
		hs := make(map[string]uint64, len(d.chains))
		hashes[k] = hs
		names := make([]string, 0, len(d.chains))
		for n := range d.chains {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			h := d.chains[n].hash()
			hs[n] = h
			var prev uint64
			exists := false
			if old != nil {
				prev, exists = old.chains[n]
			}
			if exists && prev == h {
				continue
			}
			writes = append(writes, chainWrite{d.chains[n], exists})
		}
		if old != nil {
			for n := range old.chains {
				if _, ok := d.chains[n]; !ok {
					gone = append(gone, n)
				}
			}
		}
	}
	sort.Strings(gone)
	// All new chains exist before any rule refers to them.
	for _, w := range writes {
		if !w.exists {
			conn.AddChain(chain(w.spec.name))
		}
	}
	for _, w := range writes {
		if w.exists {
			conn.FlushChain(chain(w.spec.name))
		}
		for _, r := range w.spec.rules {
			conn.AddRule(&nftables.Rule{Table: t, Chain: chain(w.spec.name), Exprs: r.exprs})
		}
		changed++
	}
	// Map elements: removed or changed ones go, new ones come.
	del := map[string][]nftables.SetElement{}
	add := map[string][]nftables.SetElement{}
	elems := maps.Clone(p.elements)
	for _, k := range keys {
		d, old := ds[k], p.programmed[k]
		if old == nil {
			continue
		}
		for id, e := range old.elements {
			if ne, ok := d.elements[id]; ok && ne.chain == e.chain {
				continue
			}
			if cur, ok := elems[id]; ok && cur.owner == k {
				del[e.set] = append(del[e.set], nftables.SetElement{Key: e.key})
				delete(elems, id)
			}
		}
	}
	for _, k := range keys {
		d, old := ds[k], p.programmed[k]
		ids := make([]string, 0, len(d.elements))
		for id := range d.elements {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			e := d.elements[id]
			if old != nil {
				if oe, ok := old.elements[id]; ok && oe.chain == e.chain {
					if cur, ok := elems[id]; ok && cur.owner == k {
						continue
					}
				}
			}
			if cur, ok := elems[id]; ok {
				// Another service's element with the same key: the last
				// one programmed wins.
				del[cur.set] = append(del[cur.set], nftables.SetElement{Key: cur.key})
			}
			add[e.set] = append(add[e.set], nftables.SetElement{Key: e.key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.chain}})
			elems[id] = ownedElement{e, k}
		}
	}
	for _, set := range sortedKeys(del) {
		if err := conn.SetDeleteElements(p.sets[set], del[set]); err != nil {
			return err
		}
		changed++
	}
	for _, set := range sortedKeys(add) {
		if err := conn.SetAddElements(p.sets[set], add[set]); err != nil {
			return err
		}
		changed++
	}
	// Chains nothing refers to any more (elements and jumps are gone now).
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
	p.elements = elems
	nchains, nelems := 0, 0
	for _, k := range keys {
		d := ds[k]
		if len(d.chains) == 0 && len(d.elements) == 0 {
			delete(p.programmed, k)
			continue
		}
		p.programmed[k] = &programmed{chains: hashes[k], elements: d.elements}
		nchains += len(d.chains)
		nelems += len(d.elements)
	}
	p.log().Debug("service rules updated", "services", len(keys), "chains", nchains, "elements", nelems, "changes", changed)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
