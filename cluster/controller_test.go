package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
)

type countingController struct{ n atomic.Int64 }

func (c *countingController) Name() string      { return "counter" }
func (c *countingController) Watches() []string { return []string{"svc"} }
func (c *countingController) Reconcile(ctx context.Context, _ kube.Interface) error {
	c.n.Add(1)
	return nil
}

func TestRunControllerReactsToChanges(t *testing.T) {
	s := openTestStore(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	ctrl := &countingController{}
	done := make(chan error, 1)
	go func() { done <- RunController(ctx, s, ctrl, time.Hour, nil) }()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if ctrl.n.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	before := ctrl.n.Load()
	if _, err := s.Create(ctx, decode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n")[0]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if ctrl.n.Load() <= before {
			return errNotYet
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

var errNotYet = errors.New("not yet")
