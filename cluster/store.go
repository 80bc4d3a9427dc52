package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// StoreOptions configure a Store.
type StoreOptions struct {
	// Dir is where objects persist; empty keeps them in memory only.
	Dir string
	// Node is the cluster's node: pods without spec.nodeName are scheduled
	// to it.
	Node string
	// ServiceSubnet is where ClusterIPs come from (default 172.30.0.0/16,
	// OpenShift's).
	ServiceSubnet netip.Prefix
	// MetalLBNamespace is where MetalLB's resources must live (default
	// metallb-system).
	MetalLBNamespace string
	// GracefulPodDeletion makes deleting a pod mark it Terminating; the
	// kubelet removes it once its network namespace is gone. Without it (no
	// kubelet) pods are removed at once.
	GracefulPodDeletion bool
	Logger              *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Default network settings of the embedded cluster.
var (
	DefaultServiceSubnet = netip.MustParsePrefix("172.30.0.0/16")
	DefaultPodSubnet     = netip.MustParsePrefix("10.128.0.0/23")
)

// NodePortMin and NodePortMax bound the ports of NodePort services.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// Namespaces every cluster has; they cannot be deleted.
var systemNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// LastAppliedAnnotation is where apply keeps the configuration it was
// given, as kubectl does, to remove labels and annotations the user drops.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

type objKey struct {
	res, ns, name string
}

// entry is one stored object. It is never changed once stored.
type entry struct {
	kind api.Kind
	obj  api.Object
	raw  []byte
	rv   uint64
	// spec caches specOf(obj).
	spec []byte
}

// storeEvent is one committed change.
type storeEvent struct {
	typ string
	e   *entry
	rv  uint64
}

// historySize is how many changes a watch can resume from.
const historySize = 4096

// Store holds the cluster's objects: Kubernetes semantics (create, update,
// apply, status, delete, list by label selector, watch with resource
// versions), defaulting, validation and admission, persisted on disk. It
// implements kube.Interface for in-process callers and is served over HTTP
// by Server. It is safe for concurrent use.
type Store struct {
	opts StoreOptions
	log  *slog.Logger

	mu      sync.RWMutex
	rv      uint64
	objs    map[string]map[objKey]*entry // by resource key
	disk    *disk
	history []storeEvent // ring, oldest first once full
	histPos int
	subs    map[*subscription]struct{}
	hooks   map[int]func(res string)
	hookID  int
	informs map[string]map[*informHook]struct{}
	closed  bool

	clusterIPs map[netip.Addr]objKey
	nodePorts  map[int32]objKey
	// owned files objects by the UIDs of their owners.
	owned map[string]map[objKey]struct{}
}

var _ kube.Interface = (*Store)(nil)

// OpenStore loads (or creates) a store.
func OpenStore(opts StoreOptions) (*Store, error) {
	if !opts.ServiceSubnet.IsValid() {
		opts.ServiceSubnet = DefaultServiceSubnet
	}
	if opts.MetalLBNamespace == "" {
		opts.MetalLBNamespace = api.DefaultMetalLBNamespace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		opts: opts, log: opts.Logger,
		objs:       map[string]map[objKey]*entry{},
		subs:       map[*subscription]struct{}{},
		hooks:      map[int]func(string){},
		informs:    map[string]map[*informHook]struct{}{},
		clusterIPs: map[netip.Addr]objKey{},
		nodePorts:  map[int32]objKey{},
		owned:      map[string]map[objKey]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Dir != "" {
		d, snap, recs, err := openDisk(opts.Dir)
		if err != nil {
			return nil, err
		}
		s.disk = d
		s.rv = snap.ResourceVersion
		for _, raw := range snap.Objects {
			s.load(raw)
		}
		for _, rec := range recs {
			for _, k := range rec.Del {
				s.remove(objKey{k.Resource, k.Namespace, k.Name})
			}
			for _, raw := range rec.Put {
				s.load(raw)
			}
			s.rv = max(s.rv, rec.RV)
		}
	}
	// Namespaces every cluster has.
	var missing []api.Object
	for _, ns := range systemNamespaces {
		if _, ok := s.lookup(objKey{"/namespaces", "", ns}); !ok {
			n := &api.Namespace{ObjectMeta: api.ObjectMeta{Name: ns}}
			n.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Namespace"})
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if _, err := s.Apply(context.Background(), missing, kube.ApplyOptions{Mode: kube.ModeCreate}); err != nil {
			s.Close()
			return nil, fmt.Errorf("create system namespaces: %w", err)
		}
	}
	return s, nil
}

// load adds a stored object read from disk.
func (s *Store) load(raw json.RawMessage) {
	o, err := kube.Decode(raw)
	if err != nil {
		s.log.Warn("dropping a stored object this version cannot read", "err", err)
		return
	}
	k, _ := kube.KindOf(o)
	e := &entry{kind: k, obj: o, raw: append([]byte(nil), raw...), rv: kube.ResourceVersionOf(o)}
	s.put(e)
}

func keyOf(k api.Kind, m *api.ObjectMeta) objKey {
	return objKey{kube.ResourceKey(k), m.Namespace, m.Name}
}

func (s *Store) lookup(k objKey) (*entry, bool) {
	e, ok := s.objs[k.res][k]
	return e, ok
}

// put stores an entry and keeps the allocation indexes.
func (s *Store) put(e *entry) {
	k := keyOf(e.kind, e.obj.Meta())
	if old, ok := s.lookup(k); ok {
		s.unindex(k, old)
	}
	m := s.objs[k.res]
	if m == nil {
		m = map[objKey]*entry{}
		s.objs[k.res] = m
	}
	m[k] = e
	for _, ref := range e.obj.Meta().OwnerReferences {
		if ref.UID == "" {
			continue
		}
		if s.owned[ref.UID] == nil {
			s.owned[ref.UID] = map[objKey]struct{}{}
		}
		s.owned[ref.UID][k] = struct{}{}
	}
	if svc, ok := e.obj.(*api.Service); ok {
		for _, ip := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				s.clusterIPs[a] = k
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				s.nodePorts[p.NodePort] = k
			}
		}
	}
}

func (s *Store) remove(k objKey) {
	if old, ok := s.lookup(k); ok {
		s.unindex(k, old)
		delete(s.objs[k.res], k)
	}
}

func (s *Store) unindex(k objKey, e *entry) {
	for _, ref := range e.obj.Meta().OwnerReferences {
		if m := s.owned[ref.UID]; m != nil {
			delete(m, k)
			if len(m) == 0 {
				delete(s.owned, ref.UID)
			}
		}
	}
	if svc, ok := e.obj.(*api.Service); ok {
		for _, ip := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil && s.clusterIPs[a] == k {
				delete(s.clusterIPs, a)
			}
		}
		for _, p := range svc.Spec.Ports {
			if s.nodePorts[p.NodePort] == k {
				delete(s.nodePorts, p.NodePort)
			}
		}
	}
}

// Close stops every watch and closes the store's files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for sub := range s.subs {
		sub.close(nil)
	}
	s.subs = nil
	if s.disk != nil {
		return s.disk.close()
	}
	return nil
}

// ResourceVersion is the store's current version.
func (s *Store) ResourceVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

// OnChange registers fn to be called, with the resource key
// ("/services", "metallb.io/ipaddresspools"), after every committed change
// of that resource. fn runs with the store locked: it must only take note
// (set a flag, signal a channel) and return. The returned function
// unregisters it.
func (s *Store) OnChange(fn func(resource string)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookID++
	id := s.hookID
	s.hooks[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.hooks, id)
		s.mu.Unlock()
	}
}

// Get implements kube.Interface.
func (s *Store) Get(ctx context.Context, k api.Kind, namespace, name string) (api.Object, error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	s.mu.RLock()
	e, ok := s.lookup(objKey{kube.ResourceKey(k), namespace, name})
	s.mu.RUnlock()
	if !ok {
		return nil, kube.NotFound(k, name)
	}
	return kube.DeepCopy(e.obj), nil
}

// GetRaw returns an object's stored JSON.
func (s *Store) GetRaw(k api.Kind, namespace, name string) ([]byte, error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.lookup(objKey{kube.ResourceKey(k), namespace, name})
	if !ok {
		return nil, kube.NotFound(k, name)
	}
	return e.raw, nil
}

// listEntries returns matching entries sorted by namespace and name.
func (s *Store) listEntries(k api.Kind, namespace string, sel api.LabelSelector) []*entry {
	var out []*entry
	for key, e := range s.objs[kube.ResourceKey(k)] {
		if namespace != "" && key.ns != namespace {
			continue
		}
		if !sel.Matches(e.obj.Meta().Labels) {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].obj.Meta(), out[j].obj.Meta()
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// List implements kube.Interface.
func (s *Store) List(ctx context.Context, k api.Kind, namespace string, opts kube.ListOptions) (*kube.List, error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	sel, err := kube.ParseSelector(opts.LabelSelector)
	if err != nil {
		return nil, kube.BadRequest("%v", err)
	}
	s.mu.RLock()
	es := s.listEntries(k, namespace, sel)
	rv := strconv.FormatUint(s.rv, 10)
	s.mu.RUnlock()
	l := &kube.List{ResourceVersion: rv, Items: make([]api.Object, 0, len(es))}
	for _, e := range es {
		l.Items = append(l.Items, kube.DeepCopy(e.obj))
	}
	return l, nil
}

// ListRaw is List returning the stored JSON of each object.
func (s *Store) ListRaw(k api.Kind, namespace string, opts kube.ListOptions) ([][]byte, string, error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	sel, err := kube.ParseSelector(opts.LabelSelector)
	if err != nil {
		return nil, "", kube.BadRequest("%v", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	es := s.listEntries(k, namespace, sel)
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = e.raw
	}
	return out, strconv.FormatUint(s.rv, 10), nil
}

// subscription is one watch: a queue the store appends committed events
// to and one reader drains.
type subscription struct {
	res    string
	ns     string
	sel    api.LabelSelector
	mu     sync.Mutex
	queue  []storeEvent
	wake   chan struct{}
	done   bool
	err    error
	store  *Store
	cancel context.CancelFunc
}

// watchBuffer is how many events a watcher may fall behind before it is
// dropped (it then lists again, as with a real API server). It is large
// enough for a watcher to take in one apply of tens of thousands of
// objects and the controllers' writes that follow.
const watchBuffer = 1 << 17

func (sub *subscription) signal() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// close ends the watch once the queued events are read.
func (sub *subscription) close(err error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.done {
		return
	}
	sub.done = true
	sub.err = err
	sub.signal()
}

func (sub *subscription) matches(e *entry) bool {
	m := e.obj.Meta()
	return (sub.ns == "" || m.Namespace == sub.ns) && sub.sel.Matches(m.Labels)
}

// deliver queues an event; a watcher too far behind is ended.
func (sub *subscription) deliver(ev storeEvent) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.done {
		return
	}
	if len(sub.queue) >= watchBuffer {
		sub.queue = nil
		sub.done = true
		sub.err = kube.Expired("watch fell more than %d events behind; list again", watchBuffer)
		sub.signal()
		return
	}
	sub.queue = append(sub.queue, ev)
	sub.signal()
}

// next waits for events and returns all that are queued; false once the
// watch has ended and everything was read.
func (sub *subscription) next() ([]storeEvent, bool) {
	for {
		sub.mu.Lock()
		if len(sub.queue) > 0 {
			q := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			return q, true
		}
		if sub.done {
			sub.mu.Unlock()
			return nil, false
		}
		sub.mu.Unlock()
		<-sub.wake
	}
}

// failure is why the watch ended (nil after a cancel).
func (sub *subscription) failure() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// subscribe starts a raw watch: events after rv ("" or "0": the current
// objects as ADDED first).
func (s *Store) subscribe(ctx context.Context, k api.Kind, namespace string, opts kube.ListOptions) (*subscription, error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	sel, err := kube.ParseSelector(opts.LabelSelector)
	if err != nil {
		return nil, kube.BadRequest("%v", err)
	}
	var from uint64
	resume := opts.ResourceVersion != "" && opts.ResourceVersion != "0"
	if resume {
		from, err = strconv.ParseUint(opts.ResourceVersion, 10, 64)
		if err != nil {
			return nil, kube.BadRequest("invalid resourceVersion %q", opts.ResourceVersion)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, kube.NewStatusError(kube.ReasonServiceUnavailable, 503, "the cluster is shutting down")
	}
	cctx, cancel := context.WithCancel(ctx)
	sub := &subscription{res: kube.ResourceKey(k), ns: namespace, sel: sel, wake: make(chan struct{}, 1), store: s, cancel: cancel}
	var backlog []storeEvent
	if !resume {
		for _, e := range s.listEntries(k, namespace, sel) {
			backlog = append(backlog, storeEvent{typ: kube.Added, e: e, rv: e.rv})
		}
	} else {
		if from > s.rv {
			cancel()
			return nil, kube.BadRequest("resourceVersion %d is newer than the cluster's (%d)", from, s.rv)
		}
		hist := s.orderedHistory()
		oldest := s.rv + 1
		if len(hist) > 0 {
			oldest = hist[0].rv
		}
		if from+1 < oldest && from < s.rv {
			cancel()
			return nil, kube.Expired("too old resource version: %d (%d)", from, oldest-1)
		}
		for _, ev := range hist {
			if ev.rv > from && kube.ResourceKey(ev.e.kind) == sub.res && sub.matches(ev.e) {
				backlog = append(backlog, ev)
			}
		}
	}
	sub.queue = backlog
	s.subs[sub] = struct{}{}
	go func() {
		<-cctx.Done()
		s.mu.Lock()
		if s.subs != nil {
			delete(s.subs, sub)
		}
		s.mu.Unlock()
		sub.close(nil)
	}()
	return sub, nil
}

func (s *Store) orderedHistory() []storeEvent {
	if len(s.history) < historySize {
		return s.history
	}
	return append(append([]storeEvent(nil), s.history[s.histPos:]...), s.history[:s.histPos]...)
}

// publish records and fans out committed events; called with s.mu held.
func (s *Store) publish(evs []storeEvent) {
	changed := map[string]bool{}
	for _, ev := range evs {
		if len(s.history) < historySize {
			s.history = append(s.history, ev)
		} else {
			s.history[s.histPos] = ev
			s.histPos = (s.histPos + 1) % historySize
		}
		res := kube.ResourceKey(ev.e.kind)
		changed[res] = true
		for sub := range s.subs {
			if sub.res == res && sub.matches(ev.e) {
				sub.deliver(ev)
			}
		}
		for h := range s.informs[res] {
			if h.ns == "" || h.ns == ev.e.obj.Meta().Namespace {
				h.fn(ev.typ, ev.e.obj)
			}
		}
	}
	for res := range changed {
		for _, fn := range s.hooks {
			fn(res)
		}
	}
}

// storeWatcher adapts a subscription to kube.Watcher.
type storeWatcher struct {
	sub *subscription
	out chan kube.WatchEvent
}

func (w *storeWatcher) Events() <-chan kube.WatchEvent { return w.out }
func (w *storeWatcher) Stop()                          { w.sub.cancel() }
func (w *storeWatcher) Err() error                     { return w.sub.failure() }

// Watch implements kube.Interface.
func (s *Store) Watch(ctx context.Context, k api.Kind, namespace string, opts kube.ListOptions) (kube.Watcher, error) {
	sub, err := s.subscribe(ctx, k, namespace, opts)
	if err != nil {
		return nil, err
	}
	w := &storeWatcher{sub: sub, out: make(chan kube.WatchEvent)}
	go func() {
		defer close(w.out)
		for {
			evs, ok := sub.next()
			if !ok {
				return
			}
			for _, ev := range evs {
				o, err := kube.Decode(ev.e.raw)
				if err != nil {
					continue
				}
				select {
				case w.out <- kube.WatchEvent{Type: ev.typ, Object: o}:
				case <-ctx.Done():
					sub.cancel()
					return
				}
			}
		}
	}()
	return w, nil
}

// informHook is one synchronous feed (Inform).
type informHook struct {
	ns string
	fn func(typ string, o api.Object)
}

var _ kube.SyncSource = (*Store)(nil)

// Inform implements kube.SyncSource: fn gets every current object of the
// kind in namespace ("" for all) as ADDED, then every committed change,
// with the store locked, before the write returns. The objects are the
// stored ones, which the store never changes; fn and whoever it hands them
// to must not change them either.
func (s *Store) Inform(k api.Kind, namespace string, fn func(typ string, o api.Object)) (func(), error) {
	k = kube.Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	res := kube.ResourceKey(k)
	h := &informHook{ns: namespace, fn: fn}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, kube.NewStatusError(kube.ReasonServiceUnavailable, 503, "the cluster is shutting down")
	}
	for key, e := range s.objs[res] {
		if namespace == "" || key.ns == namespace {
			fn(kube.Added, e.obj)
		}
	}
	if s.informs[res] == nil {
		s.informs[res] = map[*informHook]struct{}{}
	}
	s.informs[res][h] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.informs[res], h)
		s.mu.Unlock()
	}, nil
}
