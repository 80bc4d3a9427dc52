// Package controllers holds the embedded cluster's API-only controllers:
// MetalLB's address allocation, EndpointSlices from services and pods, the
// node's own Node object and event expiry. Each is level-triggered; all
// but Node read shared informers and bring in line what changed, and
// everything at start and every resync period.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/allocator"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/config"
)

// MetalLB is MetalLB's controller: LoadBalancer services get addresses
// from the IPAddressPools (metallb/allocator, with MetalLB's annotations,
// pools, sharing and order), written to status.loadBalancer.ingress and
// the metallb.io/ip-allocated-from-pool annotation, released when the
// service goes. Assignments survive restarts: the allocator is rebuilt from
// the services' status before anything new is allocated. A service that
// cannot get an address stays pending with MetalLB's AllocationFailed
// event. L2Advertisements are reported as not supported.
//
// It reads shared informers and converges only the services that changed
// (in MetalLB's order: those with addresses in their status first, then by
// creation time), retrying pending services when addresses are released;
// a change of the pools, namespaces or the MetalLB resource, and every
// resync, converges them all (ConvergeAll).
type MetalLB struct {
	// Namespace is MetalLB's namespace (default metallb-system).
	Namespace string
	// LoadBalancerClass, when set, restricts the controller to services of
	// that class (MetalLB's --lb-class). A MetalLB resource's
	// spec.loadBalancerClass sets it too, as the operator does.
	LoadBalancerClass string
	Logger            *slog.Logger
	// Host names the node in events.
	Host string

	svcs, pools, nss, l2s, mlbs *kube.Informer
	dirty                       kube.Dirty
	// settled is, per service key, the pool annotation and addresses the
	// controller last left the service with: a change that only brings a
	// service there is the controller's own write coming back, and needs no
	// round (10,000 allocations are not converged twice).
	settledMu sync.Mutex
	settled   map[string]string

	alloc    *allocator.Allocator
	class    string
	cfgValid bool
	// poolsAt is when the pools' counters were last written; poolsLater
	// is set while a later write is scheduled.
	poolsAt    time.Time
	poolsLater bool
	events     eventQueue
	reported   map[string]string // service key → last failure reported
	l2seen     map[string]int64  // L2Advertisement uid → generation reported
}

// What the MetalLB controller notes as changed.
const (
	dirtyServices = "services"
	dirtyConfig   = "config"
	dirtyL2       = "l2"
	dirtyPools    = "pools"
)

// poolStatusEvery bounds how often the pools' counters are written while
// services keep changing (counting walks every assigned address).
const poolStatusEvery = 200 * time.Millisecond

// Name implements the agent's Controller.
func (m *MetalLB) Name() string { return "metallb-controller" }

// Watches implements the agent's Controller.
func (m *MetalLB) Watches() []string {
	return []string{"services", "ipaddresspools.metallb.io", "namespaces", "l2advertisements.metallb.io", "metallbs.metallb.io"}
}

func (m *MetalLB) namespace() string {
	if m.Namespace == "" {
		return api.DefaultMetalLBNamespace
	}
	return m.Namespace
}

// Inform implements the agent's Informed.
func (m *MetalLB) Inform(inf *kube.Informers, notify func()) {
	m.dirty.SetNotify(notify)
	m.svcs = kube.InformerOf[api.Service](inf)
	m.pools = kube.InformerOf[api.IPAddressPool](inf)
	m.nss = kube.InformerOf[api.Namespace](inf)
	m.l2s = kube.InformerOf[api.L2Advertisement](inf)
	m.mlbs = inf.ForNamespace(kube.KindFor[api.MetalLB](), m.namespace())
	m.svcs.AddHandler(func(ch kube.Change) {
		if m.echo(ch) {
			return
		}
		m.dirty.Mark(dirtyServices, ch.Key)
	})
	config := func(ch kube.Change) {
		if specChanged(ch) {
			m.dirty.Mark(dirtyConfig, "")
		}
	}
	m.pools.AddHandler(config)
	m.nss.AddHandler(config)
	m.mlbs.AddHandler(config)
	m.l2s.AddHandler(func(ch kube.Change) { m.dirty.Mark(dirtyL2, ch.Key) })
}

// specChanged reports whether a change is more than a status update: an
// object came or went, or its spec (generation), labels or deletion
// changed.
func specChanged(ch kube.Change) bool {
	if ch.Type != kube.Modified {
		return true
	}
	a, b := ch.Old.Meta(), ch.New.Meta()
	return a.Generation != b.Generation || !maps.Equal(a.Labels, b.Labels) || (a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil)
}

// settledState is what settled records of a service: its pool
// annotation and its status addresses.
func settledState(pool string, ingress []api.LoadBalancerIngress) string {
	var b strings.Builder
	b.WriteString(pool)
	for _, in := range ingress {
		b.WriteByte('|')
		b.WriteString(in.IP)
		b.WriteByte('/')
		b.WriteString(in.Hostname)
	}
	return b.String()
}

// settle records the state the controller leaves a service in, before it
// writes it (the store tells the informers while it commits).
func (m *MetalLB) settle(key, pool string, ingress []api.LoadBalancerIngress) {
	m.settledMu.Lock()
	defer m.settledMu.Unlock()
	if m.settled == nil {
		m.settled = map[string]string{}
	}
	m.settled[key] = settledState(pool, ingress)
}

// echo reports whether a service change is only the controller's own
// write: nothing but the pool annotation and the status changed, to what
// the controller left. Anything else (spec, labels, other annotations,
// deletion, someone else's status) is a change to converge.
func (m *MetalLB) echo(ch kube.Change) bool {
	if ch.Type == kube.Deleted {
		m.settledMu.Lock()
		delete(m.settled, ch.Key)
		m.settledMu.Unlock()
		return false
	}
	if ch.Type != kube.Modified || specChanged(ch) {
		return false
	}
	a, b := ch.Old.(*api.Service), ch.New.(*api.Service)
	if !equalBut(a.Annotations, b.Annotations, api.AnnotationIPAllocateFromPool) {
		return false
	}
	m.settledMu.Lock()
	defer m.settledMu.Unlock()
	st, ok := m.settled[ch.Key]
	return ok && st == settledState(b.Annotations[api.AnnotationIPAllocateFromPool], b.Status.LoadBalancer.Ingress)
}

// equalBut reports whether two maps are equal apart from key skip (this
// runs for every service change, with the store locked: no copies).
func equalBut(a, b map[string]string, skip string) bool {
	n := 0
	for k, v := range a {
		if k == skip {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			return false
		}
		n++
	}
	_, inB := b[skip]
	if inB {
		n++
	}
	return n == len(b)
}

// Resync implements the agent's Informed.
func (m *MetalLB) Resync() { m.dirty.MarkAll() }

// Close records the events still queued; the agent calls it when it
// stops.
func (m *MetalLB) Close() error {
	m.events.flush(m.log())
	return nil
}

func (m *MetalLB) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func byName[T api.Object](objs []T) []T {
	slices.SortFunc(objs, func(a, b T) int {
		x, y := a.Meta(), b.Meta()
		if x.Namespace != y.Namespace {
			return strings.Compare(x.Namespace, y.Namespace)
		}
		return strings.Compare(x.Name, y.Name)
	})
	return objs
}

// Reconcile implements the agent's Controller.
func (m *MetalLB) Reconcile(ctx context.Context, c kube.Interface) error {
	if m.svcs == nil {
		return errors.New("metallb-controller: not informed (run it with RunAgent or RunController)")
	}
	sets, all := m.dirty.Take()
	if m.reported == nil {
		m.reported = map[string]string{}
		m.l2seen = map[string]int64{}
	}
	rec := &kube.Recorder{Client: c, Component: "metallb-controller", Host: m.Host}
	m.events.start(ctx, rec, m.log())
	var errs []error
	if all || len(sets[dirtyConfig]) > 0 || m.alloc == nil {
		errs = append(errs, m.convergeAll(ctx, c, rec)...)
		for _, o := range m.l2s.List() {
			errs = append(errs, m.reportL2(ctx, rec, o.(*api.L2Advertisement)))
		}
	} else {
		changed, err := m.convergeChanged(ctx, c, rec, sets[dirtyServices])
		errs = append(errs, err...)
		if changed || len(sets[dirtyPools]) > 0 {
			if wait := poolStatusEvery - time.Since(m.poolsAt); wait > 0 {
				if !m.poolsLater {
					m.poolsLater = true
					time.AfterFunc(wait, func() { m.dirty.Mark(dirtyPools, "") })
				}
			} else {
				errs = append(errs, m.poolStatus(ctx, c)...)
			}
		}
		for k := range sets[dirtyL2] {
			if o, ok := m.l2s.GetKey(k); ok {
				errs = append(errs, m.reportL2(ctx, rec, o.(*api.L2Advertisement)))
			}
		}
	}
	return errors.Join(errs...)
}

// convergeAll recomputes the configuration and converges every service.
func (m *MetalLB) convergeAll(ctx context.Context, c kube.Interface, rec *kube.Recorder) []error {
	ns := m.namespace()
	pools := byName(kube.Typed[api.IPAddressPool](m.pools.List()))
	nss := byName(kube.Typed[api.Namespace](m.nss.List()))
	var objs []api.Object
	for _, p := range pools {
		objs = append(objs, p)
	}
	for _, n := range nss {
		objs = append(objs, n)
	}
	class := m.LoadBalancerClass
	mlbs := byName(kube.Typed[api.MetalLB](m.mlbs.List()))
	if len(mlbs) > 0 && mlbs[0].Spec.LoadBalancerClass != "" {
		class = mlbs[0].Spec.LoadBalancerClass
	}
	if m.alloc != nil && class != m.class {
		// A new class: start over; addresses in the services' status are
		// restored first, as after a restart.
		m.alloc = nil
	}
	m.class = class
	cfg, err := config.For(config.ResourcesFrom(ns, objs))
	if err != nil {
		// Admission keeps invalid pools out; this is a pool outside MetalLB's
		// namespace stored before, or the like. Keep the last good pools.
		m.log().Warn("IPAddressPools do not form a valid MetalLB configuration; keeping the previous pools", "err", err)
		if m.alloc == nil {
			m.alloc = allocator.New(nil, allocator.Options{LoadBalancerClass: class})
		}
	} else if m.alloc == nil {
		m.alloc = allocator.New(cfg, allocator.Options{LoadBalancerClass: class})
	} else {
		m.alloc.SetConfig(cfg)
	}
	m.cfgValid = cfg != nil
	svcs := kube.Typed[api.Service](m.svcs.List())
	byKey := make(map[string]*api.Service, len(svcs))
	for _, s := range svcs {
		byKey[allocator.ServiceKey(s)] = s
	}
	var errs []error
	b := m.newBatch(ctx, c)
	for _, out := range m.alloc.ConvergeAll(svcs) {
		if err := m.write(ctx, c, b, byKey[out.Key], out); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", out.Key, err))
			m.dirty.Requeue(dirtyServices, out.Key)
		}
	}
	errs = append(errs, b.flush()...)
	for k := range m.reported {
		if byKey[k] == nil {
			delete(m.reported, k)
		}
	}
	return append(errs, m.poolStatus(ctx, c)...)
}

// convergeChanged converges the services that changed, in ConvergeAll's
// order, and the pending ones when addresses were released. It reports
// whether any allocation may have changed.
func (m *MetalLB) convergeChanged(ctx context.Context, c kube.Interface, rec *kube.Recorder, keys map[string]bool) (bool, []error) {
	if len(keys) == 0 {
		return false, nil
	}
	changed, freed := false, false
	var batch []*api.Service
	for k := range keys {
		o, ok := m.svcs.GetKey(k)
		if !ok {
			if len(m.alloc.IPs(k)) > 0 {
				freed, changed = true, true
			}
			m.alloc.Release(k)
			delete(m.reported, k)
			continue
		}
		batch = append(batch, o.(*api.Service))
	}
	done := map[string]bool{}
	pending := func() []*api.Service {
		var out []*api.Service
		for k := range m.reported {
			if done[k] || keys[k] {
				continue
			}
			if o, ok := m.svcs.GetKey(k); ok {
				out = append(out, o.(*api.Service))
			}
		}
		return out
	}
	if freed {
		batch = append(batch, pending()...)
	}
	var errs []error
	for len(batch) > 0 {
		f, e := m.converge(ctx, c, rec, batch, done)
		changed = changed || len(batch) > 0
		errs = append(errs, e...)
		batch = nil
		if f {
			// Addresses came free: services still pending may have them.
			batch = pending()
		}
	}
	return changed, errs
}

// converge converges services as ConvergeAll would among themselves:
// existing addresses restored first, then in order. It reports whether
// any service gave up an address.
func (m *MetalLB) converge(ctx context.Context, c kube.Interface, rec *kube.Recorder, svcs []*api.Service, done map[string]bool) (bool, []error) {
	sortForConverge(svcs)
	for _, s := range svcs {
		if ips := statusIPs(s); len(ips) > 0 && s.Spec.Type == api.ServiceTypeLoadBalancer {
			_ = m.alloc.Assign(s, ips)
		}
	}
	freed := false
	var errs []error
	b := m.newBatch(ctx, c)
	for _, s := range svcs {
		k := allocator.ServiceKey(s)
		done[k] = true
		before := m.alloc.IPs(k)
		r, err := m.alloc.Converge(s)
		after := m.alloc.IPs(k)
		for _, ip := range before {
			if !slices.Contains(after, ip) {
				freed = true
			}
		}
		if err := m.write(ctx, c, b, s, allocator.Outcome{Result: r, Err: err}); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", k, err))
			m.dirty.Requeue(dirtyServices, k)
		}
	}
	return freed, append(errs, b.flush()...)
}

// sortForConverge orders services as allocator.ConvergeAll does: those
// with addresses in their status first (by key), then the others by
// creation time, then by key.
func sortForConverge(svcs []*api.Service) {
	type sortKey struct {
		has bool
		at  *time.Time
		key string
	}
	keys := make(map[*api.Service]sortKey, len(svcs))
	for _, s := range svcs {
		keys[s] = sortKey{len(statusIPs(s)) > 0, s.CreationTimestamp, allocator.ServiceKey(s)}
	}
	sort.SliceStable(svcs, func(i, j int) bool {
		a, b := keys[svcs[i]], keys[svcs[j]]
		if a.has != b.has {
			return a.has
		}
		if !a.has && a.at != nil && b.at != nil && !a.at.Equal(*b.at) {
			return a.at.Before(*b.at)
		}
		if !a.has && (a.at == nil) != (b.at == nil) {
			return a.at != nil
		}
		return a.key < b.key
	})
}

// statusIPs are the addresses in a service's status, as the allocator
// reads them (none if one does not parse).
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

// poolStatus writes the pools' address counters.
func (m *MetalLB) poolStatus(ctx context.Context, c kube.Interface) []error {
	m.poolsAt, m.poolsLater = time.Now(), false
	if !m.cfgValid {
		return nil
	}
	var errs []error
	for _, o := range m.pools.List() {
		p := o.(*api.IPAddressPool)
		cnt := m.alloc.Counters(p.Name)
		st := api.IPAddressPoolStatus{AssignedIPv4: cnt.AssignedIPv4, AssignedIPv6: cnt.AssignedIPv6, AvailableIPv4: cnt.AvailableIPv4, AvailableIPv6: cnt.AvailableIPv6}
		if p.Status == st {
			continue
		}
		p = kube.DeepCopy(p)
		p.Status = st
		if _, err := c.UpdateStatus(ctx, p); err != nil && !kube.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("IPAddressPool %s status: %w", p.Name, err))
			m.dirty.Requeue(dirtyPools, "")
		}
	}
	return errs
}

// reportL2 records once per generation that an L2Advertisement is not
// announced.
func (m *MetalLB) reportL2(ctx context.Context, rec *kube.Recorder, l *api.L2Advertisement) error {
	if m.l2seen[l.UID] == l.Generation {
		return nil
	}
	if err := rec.Event(ctx, l, kube.EventWarning, "NotSupported",
		"L2Advertisement is stored but not announced: onp's speaker announces in BGP mode only (use a BGPAdvertisement)"); err != nil {
		m.dirty.Requeue(dirtyL2, kube.ObjectKey(l))
		return err
	}
	m.l2seen[l.UID] = l.Generation
	return nil
}

// write brings one service's annotation, status and events in line with
// the allocator's outcome.
func (m *MetalLB) write(ctx context.Context, c kube.Interface, b *statusBatch, svc *api.Service, out allocator.Outcome) error {
	var ingress []api.LoadBalancerIngress
	pool := ""
	if out.Err == nil && out.Ignored == "" {
		ingress, pool = out.Ingress(), out.Pool
	}
	if out.Ignored == allocator.IgnoredLoadBalancerClass {
		return nil
	}
	if out.Ignored == allocator.IgnoredNotLoadBalancer && len(svc.Status.LoadBalancer.Ingress) == 0 && svc.Annotations[api.AnnotationIPAllocateFromPool] == "" {
		return nil
	}
	m.settle(out.Key, pool, ingress)
	// svc is the informer's: change a copy.
	own := false
	mine := func() {
		if !own {
			svc, own = kube.DeepCopy(svc), true
		}
	}
	// The annotation first (metadata), then the status subresource; both
	// in one change where the cluster can.
	su, both := c.(kube.StatusUpdater)
	both = both && svc.Annotations[api.AnnotationIPAllocateFromPool] != pool && !sameIngress(svc.Status.LoadBalancer.Ingress, ingress)
	if both {
		mine()
		anns := maps.Clone(svc.Annotations)
		if anns == nil {
			anns = map[string]string{}
		}
		if pool == "" {
			delete(anns, api.AnnotationIPAllocateFromPool)
		} else {
			anns[api.AnnotationIPAllocateFromPool] = pool
		}
		svc.Annotations = anns
		svc.Status.LoadBalancer.Ingress = ingress
		if b.add(svc, out, pool) {
			return nil // written with the batch, which then finishes it
		}
		updated, err := su.UpdateWithStatus(ctx, svc)
		if err != nil {
			return err
		}
		svc = updated.(*api.Service)
		m.log().Info("service addresses", "service", out.Key, "ips", out.IPs, "pool", pool)
	}
	if !both && svc.Annotations[api.AnnotationIPAllocateFromPool] != pool {
		mine()
		anns := maps.Clone(svc.Annotations)
		if anns == nil {
			anns = map[string]string{}
		}
		if pool == "" {
			delete(anns, api.AnnotationIPAllocateFromPool)
		} else {
			anns[api.AnnotationIPAllocateFromPool] = pool
		}
		svc.Annotations = anns
		updated, err := c.Update(ctx, svc)
		if err != nil {
			return err
		}
		svc = updated.(*api.Service)
	}
	if !both && !sameIngress(svc.Status.LoadBalancer.Ingress, ingress) {
		mine()
		svc.Status.LoadBalancer.Ingress = ingress
		updated, err := c.UpdateStatus(ctx, svc)
		if err != nil {
			return err
		}
		svc = updated.(*api.Service)
		m.log().Info("service addresses", "service", out.Key, "ips", out.IPs, "pool", pool)
	}
	m.finish(svc, out)
	return nil
}

// finish records a written service's events and remembers its failure.
func (m *MetalLB) finish(svc *api.Service, out allocator.Outcome) {
	for _, e := range out.Events {
		m.events.add(svc, e.Type, e.Reason, e.Message)
	}
	if out.Err != nil {
		var ae *allocator.Error
		reason := allocator.ReasonAllocationFailed
		if errors.As(out.Err, &ae) {
			reason = ae.Reason
		}
		msg := out.Err.Error()
		if m.reported[out.Key] != msg {
			m.log().Warn("service has no address", "service", out.Key, "reason", reason, "err", msg)
			m.events.add(svc, kube.EventWarning, reason, msg)
			m.reported[out.Key] = msg
		}
	} else {
		delete(m.reported, out.Key)
	}
}

// statusBatchSize is how many services' addresses go to the cluster in
// one change: big enough that 10,000 allocations are a few changes, small
// enough that the speaker starts announcing the first while the rest are
// assigned.
const statusBatchSize = 1000

// statusBatch collects the services whose annotation and status change
// together, for a cluster that writes many in one change
// (kube.BatchStatusUpdater, the agent's store).
type statusBatch struct {
	m     *MetalLB
	ctx   context.Context
	bu    kube.BatchStatusUpdater
	items []batchItem
	errs  []error
}

// batchItem is a service to write and what its write finishes.
type batchItem struct {
	svc  *api.Service
	out  allocator.Outcome
	pool string
}

func (m *MetalLB) newBatch(ctx context.Context, c kube.Interface) *statusBatch {
	b := &statusBatch{m: m, ctx: ctx}
	b.bu, _ = c.(kube.BatchStatusUpdater)
	return b
}

// add takes svc (the controller's own copy) into the batch; false when the
// cluster has no batches.
func (b *statusBatch) add(svc *api.Service, out allocator.Outcome, pool string) bool {
	if b == nil || b.bu == nil {
		return false
	}
	b.items = append(b.items, batchItem{svc, out, pool})
	if len(b.items) >= statusBatchSize {
		b.write()
	}
	return true
}

func (b *statusBatch) write() {
	if len(b.items) == 0 {
		return
	}
	objs := make([]api.Object, len(b.items))
	for i, it := range b.items {
		objs[i] = it.svc
	}
	for i, err := range b.bu.UpdateWithStatusAll(b.ctx, objs) {
		it := b.items[i]
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("service %s: %w", it.out.Key, err))
			b.m.dirty.Requeue(dirtyServices, it.out.Key)
			continue
		}
		b.m.log().Info("service addresses", "service", it.out.Key, "ips", it.out.IPs, "pool", it.pool)
		b.m.finish(it.svc, it.out)
	}
	b.items = b.items[:0]
}

// flush writes what is left and returns the failures of the batch.
func (b *statusBatch) flush() []error {
	b.write()
	errs := b.errs
	b.errs = nil
	return errs
}

func sameIngress(a, b []api.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y api.LoadBalancerIngress) bool { return x.IP == y.IP && x.Hostname == y.Hostname })
}
