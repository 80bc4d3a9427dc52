package speaker

import (
	"context"
	"log/slog"
	"sync"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// eventQueue records Kubernetes Events on services in the background, so
// that writing them never delays an announcement. Only the latest pending
// event per service is kept: a service that changes twice before the
// first event is written gets the second one only.
type eventQueue struct {
	rec *kube.Recorder
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]pendingEvent
	order   []string
	wake    chan struct{}
}

type pendingEvent struct {
	obj              api.Object
	typ, reason, msg string
}

func newEventQueue(c kube.Interface, node string, log *slog.Logger) *eventQueue {
	return &eventQueue{
		rec:     &kube.Recorder{Client: c, Component: "metallb-speaker", Host: node},
		log:     log,
		pending: map[string]pendingEvent{},
		wake:    make(chan struct{}, 1),
	}
}

func (q *eventQueue) add(svc *api.Service, typ, reason, msg string) {
	k := serviceKey(svc.Namespace, svc.Name)
	q.mu.Lock()
	if _, ok := q.pending[k]; !ok {
		q.order = append(q.order, k)
	}
	q.pending[k] = pendingEvent{obj: svc, typ: typ, reason: reason, msg: msg}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) next() (pendingEvent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) > 0 {
		k := q.order[0]
		q.order = q.order[1:]
		if e, ok := q.pending[k]; ok {
			delete(q.pending, k)
			return e, true
		}
	}
	return pendingEvent{}, false
}

func (q *eventQueue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		for {
			e, ok := q.next()
			if !ok {
				break
			}
			if err := q.rec.Event(ctx, e.obj, e.typ, e.reason, e.msg); err != nil && ctx.Err() == nil && !kube.IsNotFound(err) {
				q.log.Debug("cannot record the event", "object", api.Ref(e.obj), "reason", e.reason, "err", err)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}
