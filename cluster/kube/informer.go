package kube

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// SyncSource is implemented by an in-process store that can feed an
// informer synchronously: fn receives every current object of the kind as
// Added, then every committed change as it is committed, before the write
// that made it returns (so a controller reads its own writes at once).
// The objects are the store's own and must never be changed. fn runs with
// the store locked: it must not call the store. The returned function
// stops the feed.
type SyncSource interface {
	Inform(k api.Kind, namespace string, fn func(typ string, o api.Object)) (stop func(), err error)
}

// Change is one change an Informer saw: Old is nil for Added, New is nil
// for Deleted.
type Change struct {
	Type     string
	Key      string
	Old, New api.Object
}

// Object returns the object of the change: New, or Old for Deleted.
func (c Change) Object() api.Object {
	if c.New != nil {
		return c.New
	}
	return c.Old
}

// Informer keeps the objects of one kind in memory, decoded once: from an
// in-process store (SyncSource) directly, else by listing and watching
// through the Interface (listing again when the watch ends, and telling
// handlers only what differs). Objects it hands out are shared: callers
// must not change them (kube.Clone first).
type Informer struct {
	kind      api.Kind
	namespace string
	c         Interface
	log       *slog.Logger

	// dispatch serializes changes and the handlers that see them.
	dispatch sync.Mutex
	mu       sync.RWMutex
	objs     map[string]api.Object
	synced   bool
	syncedCh chan struct{}
	err      error
	errTime  time.Time
	handlers []func(Change)
	indexes  map[string]*index
}

type index struct {
	fn func(api.Object) []string
	m  map[string]map[string]api.Object
}

// NewInformer returns an informer over c for the kind's objects in
// namespace ("" for all). Add handlers and indexes before Run.
func NewInformer(c Interface, k api.Kind, namespace string, log *slog.Logger) *Informer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !k.Namespaced {
		namespace = ""
	}
	return &Informer{kind: Preferred(k), namespace: namespace, c: c, log: log,
		objs: map[string]api.Object{}, syncedCh: make(chan struct{}), indexes: map[string]*index{}}
}

// Kind is the informer's kind.
func (i *Informer) Kind() api.Kind { return i.kind }

// ObjectKey is "namespace/name", how an informer keys objects.
func ObjectKey(o api.Object) string {
	m := o.Meta()
	return m.Namespace + "/" + m.Name
}

// AddHandler registers fn for every change from now on. fn runs in the
// informer's feed (for a store, with the store locked): it must only take
// note and return, and never call the cluster.
func (i *Informer) AddHandler(fn func(Change)) {
	i.dispatch.Lock()
	defer i.dispatch.Unlock()
	i.handlers = append(i.handlers, fn)
}

// AddIndex maintains a secondary index: fn returns the values an object is
// found under with ByIndex. An index of that name already there is kept
// (shared informers: the same name means the same function).
func (i *Informer) AddIndex(name string, fn func(api.Object) []string) {
	i.dispatch.Lock()
	defer i.dispatch.Unlock()
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.indexes[name]; ok {
		return
	}
	ix := &index{fn: fn, m: map[string]map[string]api.Object{}}
	for k, o := range i.objs {
		ix.add(k, o)
	}
	i.indexes[name] = ix
}

func (ix *index) add(key string, o api.Object) {
	for _, v := range ix.fn(o) {
		m := ix.m[v]
		if m == nil {
			m = map[string]api.Object{}
			ix.m[v] = m
		}
		m[key] = o
	}
}

func (ix *index) remove(key string, o api.Object) {
	for _, v := range ix.fn(o) {
		if m := ix.m[v]; m != nil {
			delete(m, key)
			if len(m) == 0 {
				delete(ix.m, v)
			}
		}
	}
}

// Get returns the object namespace/name (shared), if present.
func (i *Informer) Get(namespace, name string) (api.Object, bool) {
	return i.GetKey(namespace + "/" + name)
}

// GetKey returns the object with key "namespace/name" (shared).
func (i *Informer) GetKey(key string) (api.Object, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	o, ok := i.objs[key]
	return o, ok
}

// List returns every object (shared), in no particular order.
func (i *Informer) List() []api.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]api.Object, 0, len(i.objs))
	for _, o := range i.objs {
		out = append(out, o)
	}
	return out
}

// Len is how many objects the informer holds.
func (i *Informer) Len() int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return len(i.objs)
}

// ByIndex returns the objects filed under value in the named index
// (shared), in no particular order.
func (i *Informer) ByIndex(name, value string) []api.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	ix := i.indexes[name]
	if ix == nil {
		return nil
	}
	m := ix.m[value]
	out := make([]api.Object, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
}

// HasSynced reports whether the informer holds the complete set (it listed
// at least once).
func (i *Informer) HasSynced() bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.synced
}

// WaitForSync waits until the informer has synced or ctx ends.
func (i *Informer) WaitForSync(ctx context.Context) bool {
	select {
	case <-i.syncedCh:
		return true
	case <-ctx.Done():
		return false
	}
}

// State returns whether the informer has synced and its last list or watch
// failure (nil while watching), with when it happened.
func (i *Informer) State() (synced bool, err error, at time.Time) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.synced, i.err, i.errTime
}

// set stores o (nil: removes key) and keeps the indexes; mu held.
func (i *Informer) set(key string, old, o api.Object) {
	for _, ix := range i.indexes {
		if old != nil {
			ix.remove(key, old)
		}
		if o != nil {
			ix.add(key, o)
		}
	}
	if o == nil {
		delete(i.objs, key)
	} else {
		i.objs[key] = o
	}
}

// apply records one event; dispatch held. It returns the change to
// announce, if any.
func (i *Informer) apply(typ string, o api.Object) (Change, bool) {
	if o == nil {
		return Change{}, false
	}
	o = api.Normalize(o)
	key := ObjectKey(o)
	rv := ResourceVersionOf(o)
	i.mu.Lock()
	defer i.mu.Unlock()
	old, had := i.objs[key]
	switch typ {
	case Added, Modified:
		if had && rv != 0 && ResourceVersionOf(old) == rv {
			return Change{}, false
		}
		i.set(key, old, o)
		if had {
			return Change{Type: Modified, Key: key, Old: old, New: o}, true
		}
		return Change{Type: Added, Key: key, New: o}, true
	case Deleted:
		if !had {
			return Change{}, false
		}
		i.set(key, old, nil)
		return Change{Type: Deleted, Key: key, Old: old}, true
	}
	return Change{}, false
}

func (i *Informer) announce(ch Change) {
	for _, h := range i.handlers {
		h(ch)
	}
}

// feed applies one event and tells the handlers.
func (i *Informer) feed(typ string, o api.Object) {
	i.dispatch.Lock()
	defer i.dispatch.Unlock()
	if ch, ok := i.apply(typ, o); ok {
		i.announce(ch)
	}
}

// replace makes objs the complete set (a list), telling the handlers what
// differs from what the informer held.
func (i *Informer) replace(objs []api.Object) {
	i.dispatch.Lock()
	defer i.dispatch.Unlock()
	var changes []Change
	i.mu.Lock()
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		o = api.Normalize(o)
		key := ObjectKey(o)
		seen[key] = true
		old, had := i.objs[key]
		if had && ResourceVersionOf(old) == ResourceVersionOf(o) && ResourceVersionOf(o) != 0 {
			continue
		}
		i.set(key, old, o)
		if had {
			changes = append(changes, Change{Type: Modified, Key: key, Old: old, New: o})
		} else {
			changes = append(changes, Change{Type: Added, Key: key, New: o})
		}
	}
	for key, old := range i.objs {
		if !seen[key] {
			i.set(key, old, nil)
			changes = append(changes, Change{Type: Deleted, Key: key, Old: old})
		}
	}
	i.err = nil
	first := !i.synced
	i.synced = true
	i.mu.Unlock()
	if first {
		close(i.syncedCh)
	}
	for _, ch := range changes {
		i.announce(ch)
	}
}

func (i *Informer) fail(err error) {
	i.mu.Lock()
	first := i.err == nil || i.err.Error() != err.Error()
	i.err, i.errTime = err, time.Now()
	i.mu.Unlock()
	if first {
		i.log.Warn("cannot read from the cluster API; retrying", "resource", GroupResource(i.kind), "err", err)
	}
}

// informer backoff bounds for list/watch retries.
const (
	informerMinBackoff = 50 * time.Millisecond
	informerMaxBackoff = 2 * time.Second
)

// Run feeds the informer until ctx ends.
func (i *Informer) Run(ctx context.Context) {
	if src, ok := i.c.(SyncSource); ok {
		stop, err := src.Inform(i.kind, i.namespace, i.syncFeed())
		if err == nil {
			i.mu.Lock()
			first := !i.synced
			i.synced, i.err = true, nil
			i.mu.Unlock()
			if first {
				close(i.syncedCh)
			}
			<-ctx.Done()
			stop()
			return
		}
		i.fail(err)
	}
	i.listWatch(ctx)
}

// syncFeed receives a SyncSource's events. The initial objects arrive
// before Inform returns.
func (i *Informer) syncFeed() func(string, api.Object) {
	return func(typ string, o api.Object) { i.feed(typ, o) }
}

func (i *Informer) listWatch(ctx context.Context) {
	backoff := time.Duration(0)
	wait := func() bool {
		backoff = min(max(2*backoff, informerMinBackoff), informerMaxBackoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		l, err := i.c.List(ctx, i.kind, i.namespace, ListOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			i.fail(err)
			if !wait() {
				return
			}
			continue
		}
		i.replace(l.Items)
		w, err := i.c.Watch(ctx, i.kind, i.namespace, ListOptions{ResourceVersion: l.ResourceVersion})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			i.fail(err)
			if !wait() {
				return
			}
			continue
		}
		received := false
		for ev := range w.Events() {
			received = true
			i.feed(ev.Type, ev.Object)
		}
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		err = w.Err()
		if err != nil && IsExpired(err) {
			// The watch fell behind or the server closed it: list again at
			// once, as a client-go reflector does.
			i.log.Debug("watch ended; listing again", "resource", GroupResource(i.kind), "err", err)
			if received {
				backoff = 0
			}
			continue
		}
		if err != nil {
			i.fail(err)
		}
		if !wait() {
			return
		}
	}
}

// Informers is a set of shared informers over one cluster API, one per
// kind and namespace: controllers of one process that watch the same kind
// share its objects and its watch.
type Informers struct {
	c   Interface
	log *slog.Logger

	mu      sync.Mutex
	m       map[string]*Informer
	ctx     context.Context
	wg      sync.WaitGroup
	started bool
}

// NewInformers returns an empty set over c.
func NewInformers(c Interface, log *slog.Logger) *Informers {
	return &Informers{c: c, log: log, m: map[string]*Informer{}}
}

// For returns the informer of a kind in all namespaces.
func (f *Informers) For(k api.Kind) *Informer { return f.ForNamespace(k, "") }

// ForNamespace returns the informer of a kind in one namespace ("" for
// all), created on first use (and started at once if the set runs).
func (f *Informers) ForNamespace(k api.Kind, namespace string) *Informer {
	k = Preferred(k)
	if !k.Namespaced {
		namespace = ""
	}
	key := ResourceKey(k) + "|" + namespace
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.m[key]; ok {
		return i
	}
	i := NewInformer(f.c, k, namespace, f.log)
	f.m[key] = i
	if f.started {
		f.run(i)
	}
	return i
}

// InformerOf returns the informer of Go type T in all namespaces.
func InformerOf[T any, PT interface {
	*T
	api.Object
}](f *Informers) *Informer {
	return f.For(KindFor[T, PT]())
}

func (f *Informers) run(i *Informer) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		i.Run(f.ctx)
	}()
}

// Start runs every informer until ctx ends; informers created later start
// at once.
func (f *Informers) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return
	}
	f.started, f.ctx = true, ctx
	for _, i := range f.m {
		f.run(i)
	}
}

// WaitForSync waits until every informer has synced, or ctx ends.
func (f *Informers) WaitForSync(ctx context.Context) bool {
	f.mu.Lock()
	all := make([]*Informer, 0, len(f.m))
	for _, i := range f.m {
		all = append(all, i)
	}
	f.mu.Unlock()
	for _, i := range all {
		if !i.WaitForSync(ctx) {
			return false
		}
	}
	return true
}

// Wait waits for the informers' goroutines after their context ended.
func (f *Informers) Wait() { f.wg.Wait() }

// Typed returns the objects of type T among objs.
func Typed[T any, PT interface {
	*T
	api.Object
}](objs []api.Object) []PT {
	out := make([]PT, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(PT); ok {
			out = append(out, t)
		}
	}
	return out
}

// Dirty collects what changed between two reconciles of a controller:
// keys in named sets, or everything. Marking calls notify (the
// controller's trigger). It is safe for concurrent use.
type Dirty struct {
	mu     sync.Mutex
	sets   map[string]map[string]bool
	all    bool
	notify func()
}

// SetNotify sets what Mark calls.
func (d *Dirty) SetNotify(fn func()) {
	d.mu.Lock()
	d.notify = fn
	d.mu.Unlock()
}

// Mark adds keys to a set.
func (d *Dirty) Mark(set string, keys ...string) {
	d.mu.Lock()
	if d.sets == nil {
		d.sets = map[string]map[string]bool{}
	}
	s := d.sets[set]
	if s == nil {
		s = map[string]bool{}
		d.sets[set] = s
	}
	for _, k := range keys {
		s[k] = true
	}
	fn := d.notify
	d.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Requeue adds keys to a set without notifying: a failed key waits for
// the controller's retry.
func (d *Dirty) Requeue(set string, keys ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sets == nil {
		d.sets = map[string]map[string]bool{}
	}
	s := d.sets[set]
	if s == nil {
		s = map[string]bool{}
		d.sets[set] = s
	}
	for _, k := range keys {
		s[k] = true
	}
}

// RequeueAll asks for everything without notifying (after a failure).
func (d *Dirty) RequeueAll() {
	d.mu.Lock()
	d.all = true
	d.mu.Unlock()
}

// MarkAll asks for everything to be reconciled.
func (d *Dirty) MarkAll() {
	d.mu.Lock()
	d.all = true
	fn := d.notify
	d.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Take returns and clears what was marked.
func (d *Dirty) Take() (sets map[string]map[string]bool, all bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sets, all = d.sets, d.all
	d.sets, d.all = nil, false
	if sets == nil {
		sets = map[string]map[string]bool{}
	}
	return sets, all
}

// Indexes informers of several controllers share (AddIndex with the same
// name and function).
const (
	// IndexNamespace files objects by namespace.
	IndexNamespace = "namespace"
	// IndexService files EndpointSlices by their service,
	// "namespace/name" (label kubernetes.io/service-name).
	IndexService = "service"
)

// NamespaceIndex is the function of IndexNamespace.
func NamespaceIndex(o api.Object) []string { return []string{o.Meta().Namespace} }

// ServiceIndex is the function of IndexService.
func ServiceIndex(o api.Object) []string {
	m := o.Meta()
	if n := m.Labels[api.LabelServiceName]; n != "" {
		return []string{m.Namespace + "/" + n}
	}
	return nil
}
