package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// eventQueue records Events in the background, in order, as client-go's
// event broadcaster does for MetalLB's controller: a burst of allocations
// does not wait for its events. An event that cannot be written is
// dropped (logged).
type eventQueue struct {
	mu      sync.Mutex
	pending []queuedEvent
	wake    chan struct{}
	started bool
	rec     *kube.Recorder
	// writing serializes the writer and flush.
	writing sync.Mutex
}

type queuedEvent struct {
	obj                  api.Object
	typ, reason, message string
}

// add queues an event about obj (which must not change afterwards).
func (q *eventQueue) add(obj api.Object, typ, reason, message string) {
	q.mu.Lock()
	q.pending = append(q.pending, queuedEvent{obj, typ, reason, message})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// start runs the writer until ctx ends (once).
func (q *eventQueue) start(ctx context.Context, rec *kube.Recorder, log *slog.Logger) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return
	}
	q.started, q.rec = true, rec
	q.wake = make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			}
			q.write(ctx, log)
		}
	}()
}

// write records what is queued.
func (q *eventQueue) write(ctx context.Context, log *slog.Logger) {
	q.writing.Lock()
	defer q.writing.Unlock()
	for ctx.Err() == nil {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for i, e := range batch {
			if err := q.rec.Event(ctx, e.obj, e.typ, e.reason, e.message); err != nil && ctx.Err() == nil && !kube.IsNotFound(err) {
				log.Debug("cannot record the event", "object", api.Ref(e.obj), "reason", e.reason, "err", err)
			}
			if ctx.Err() != nil {
				// Back in the queue for flush.
				q.mu.Lock()
				q.pending = append(batch[i:], q.pending...)
				q.mu.Unlock()
				return
			}
		}
	}
}

// flush records what is still queued (the agent stops).
func (q *eventQueue) flush(log *slog.Logger) {
	q.mu.Lock()
	started := q.started
	q.mu.Unlock()
	if started {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.write(ctx, log)
	}
}
