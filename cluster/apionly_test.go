package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// The API, MetalLB's controller and the endpoints controller need no
// privileges; the socket works even where its path is longer than a unix
// socket address holds.
func TestAPIOnlyAgentOverALongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-long-directory-name/", 5), "nodes", "sno4")
	if len(cluster.SocketPath(dir)) <= 108 {
		t.Fatalf("path %d bytes: not long enough to test", len(cluster.SocketPath(dir)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- cluster.RunAgent(ctx, cluster.AgentOptions{Lab: "t", Node: "sno4", Dir: dir, APIOnly: true, Ready: func() { close(ready) }, Logger: newTestLogger(t)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	c := client.New(cluster.SocketPath(dir))
	defer c.Close()
	w, err := c.Watch(ctx, kube.KindFor[api.Service](), "onp-metallb", kube.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	docs, err := kube.DecodeManifests("seed", []byte(seedYAML(t)+`---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: metallb-system}
`))
	if err != nil {
		t.Fatal(err)
	}
	var objs []api.Object
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	res, err := c.Apply(ctx, objs, kube.ApplyOptions{Summary: true})
	if err != nil {
		t.Fatal(err)
	}
	// A summary names each object, without its content.
	for i, r := range res {
		m := r.Object.Meta()
		if r.Action != kube.ActionCreated || m.Name != objs[i].Meta().Name || m.UID == "" || m.Annotations != nil {
			t.Fatalf("result %d: %s %+v", i, r.Action, m)
		}
	}
	// The watch sees the service get its address.
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			s := ev.Object.(*api.Service)
			got = len(s.Status.LoadBalancer.Ingress) == 1 && s.Status.LoadBalancer.Ingress[0].IP == "10.0.0.10"
		case <-deadline:
			t.Fatal("no address within 10s")
		}
	}
	// L2 is reported as not supported.
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		l2, err := kube.Get[api.L2Advertisement](ctx, c, "metallb-system", "l2")
		if err != nil {
			return err
		}
		evs, err := kube.EventsFor(ctx, c, l2)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Reason == "NotSupported" && strings.Contains(e.Message, "BGP mode only") {
				return nil
			}
		}
		return fmt.Errorf("no NotSupported event on the L2Advertisement: %+v", evs)
	})
	// Its Node is registered with SNO's roles.
	n, err := kube.Get[api.Node](ctx, c, "", "sno4")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"node-role.kubernetes.io/master", "node-role.kubernetes.io/worker", "kubernetes.io/hostname"} {
		if _, ok := n.Labels[l]; !ok {
			t.Errorf("node lacks label %s: %v", l, n.Labels)
		}
	}
}
