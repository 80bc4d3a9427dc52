package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
)

// RunController runs a controller against any cluster API — the client of
// a node's socket, as a process outside the agent (the speaker) does —
// exactly as the agent runs its own: Reconcile at start, after changes to
// the resources it Watches (coalesced, through watches that resume after
// interruptions and list again when too far behind), every resync period
// (default 30s), and with backoff after errors, until ctx ends. An
// Informed controller gets informers that list and watch through c.
func RunController(ctx context.Context, c kube.Interface, ctrl Controller, resync time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if resync == 0 {
		resync = 30 * time.Second
	}
	r := &runner{c: ctrl, trigger: make(chan struct{}, 1), watches: map[string]bool{}, log: log.With("controller", ctrl.Name())}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ic, ok := ctrl.(Informed); ok {
		// The controller's informers list and watch what it reads.
		infs := kube.NewInformers(c, log)
		r.informed, r.infs = ic, infs
		ic.Inform(infs, r.poke)
		infs.Start(ctx)
		r.run(ctx, c, resync)
		cancel()
		infs.Wait()
		return nil
	}
	for _, w := range ctrl.Watches() {
		k, ok := kube.LookupResource(w)
		if !ok {
			return fmt.Errorf("controller %s watches %q, which is not a resource of the cluster", ctrl.Name(), w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rv := ""
			backoff := time.Duration(0)
			for ctx.Err() == nil {
				w, err := c.Watch(ctx, k, "", kube.ListOptions{ResourceVersion: rv})
				if err == nil {
					backoff = 0
					for ev := range w.Events() {
						rv = ev.Object.Meta().ResourceVersion
						r.poke()
					}
					err = w.Err()
				}
				if ctx.Err() != nil {
					return
				}
				if kube.IsExpired(err) || kube.ReasonOf(err) == kube.ReasonBadRequest {
					rv = "" // start over from the current state
				}
				if err != nil {
					backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
					r.log.Debug("watch interrupted; watching again", "resource", k.Resource, "err", err, "in", backoff)
					select {
					case <-ctx.Done():
						return
					case <-time.After(backoff):
					}
				}
				r.poke()
			}
		}()
	}
	r.run(ctx, c, resync)
	return nil
}
