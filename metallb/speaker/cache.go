package speaker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// informer keeps a copy of one kind's objects: it lists them, then watches
// from the list's resource version, and lists again when the watch ends
// (the agent restarted, the watch fell behind). Every change pokes the
// speaker's reconcile loop.
type informer struct {
	kind      api.Kind
	namespace string // "" for all namespaces

	mu      sync.Mutex
	objs    map[string]api.Object // "namespace/name" → object
	synced  bool
	version uint64 // bumped on every change
	err     error  // last list/watch failure; nil while watching
	errTime time.Time
}

func newInformer(k api.Kind, namespace string) *informer {
	return &informer{kind: kube.Preferred(k), namespace: namespace, objs: map[string]api.Object{}}
}

func objKey(o api.Object) string {
	m := o.Meta()
	return m.Namespace + "/" + m.Name
}

// backoff bounds for list/watch retries.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// run lists and watches until ctx ends.
func (inf *informer) run(ctx context.Context, c kube.Interface, poke func(), log *slog.Logger) {
	backoff := time.Duration(0)
	wait := func() bool {
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
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
		l, err := c.List(ctx, inf.kind, inf.namespace, kube.ListOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			inf.fail(err, log)
			poke()
			if !wait() {
				return
			}
			continue
		}
		objs := make(map[string]api.Object, len(l.Items))
		for _, o := range l.Items {
			o = api.Normalize(o)
			objs[objKey(o)] = o
		}
		inf.mu.Lock()
		inf.objs, inf.synced, inf.err = objs, true, nil
		inf.version++
		inf.mu.Unlock()
		poke()

		w, err := c.Watch(ctx, inf.kind, inf.namespace, kube.ListOptions{ResourceVersion: l.ResourceVersion})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			inf.fail(err, log)
			poke()
			if !wait() {
				return
			}
			continue
		}
		received := false
		for ev := range w.Events() {
			received = true
			inf.apply(ev)
			poke()
		}
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		err = w.Err()
		if err != nil && kube.IsExpired(err) {
			// The watch fell behind or the server closed it: list again at
			// once, as a client-go reflector does.
			log.Debug("watch ended; listing again", "resource", kube.GroupResource(inf.kind), "err", err)
			if received {
				backoff = 0
			}
			continue
		}
		if err != nil {
			inf.fail(err, log)
			poke()
		}
		if !wait() {
			return
		}
	}
}

func (inf *informer) apply(ev kube.WatchEvent) {
	if ev.Object == nil {
		return
	}
	o := api.Normalize(ev.Object)
	k := objKey(o)
	inf.mu.Lock()
	defer inf.mu.Unlock()
	switch ev.Type {
	case kube.Added, kube.Modified:
		inf.objs[k] = o
	case kube.Deleted:
		delete(inf.objs, k)
	default:
		return
	}
	inf.version++
}

func (inf *informer) fail(err error, log *slog.Logger) {
	inf.mu.Lock()
	first := inf.err == nil || inf.err.Error() != err.Error()
	inf.err, inf.errTime = err, time.Now()
	inf.mu.Unlock()
	if first {
		log.Warn("cannot read from the cluster API; retrying", "resource", kube.GroupResource(inf.kind), "err", err)
	}
}

// snapshot returns the objects (shared; callers must not change them), the
// version and whether the informer has listed at least once.
func (inf *informer) snapshot() ([]api.Object, uint64, bool) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	out := make([]api.Object, 0, len(inf.objs))
	for _, o := range inf.objs {
		out = append(out, o)
	}
	return out, inf.version, inf.synced
}

func (inf *informer) state() (version uint64, synced bool, err error, at time.Time) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	return inf.version, inf.synced, inf.err, inf.errTime
}

// typed returns an informer's objects of type T.
func typed[T any, PT interface {
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
