package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)/2]), name+"-median-ms")
	b.ReportMetric(ms(ds[(len(ds)*95)/100]), name+"-p95-ms")
}

// newBenchEnv is newEnv for benchmarks.
func newBenchEnv(b *testing.B) *env {
	b.Helper()
	testutil.RequireRoot(b)
	return benchEnv(b)
}

// Service created → EXTERNAL-IP assigned, and → HTTP answering on it from
// a client routed to the node (the service's rules are programmed and the
// echoserver pod answers).
func BenchmarkServiceToIngressAndHTTP(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	if _, err := e.apply(seedYAML(b)); err != nil {
		b.Fatal(err)
	}
	e.waitRunning("onp-metallb", "echoserver")
	var toIP, toHTTP []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		port := 20000 + i%1000
		name := fmt.Sprintf("bench-%d", i)
		svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "onp-metallb"}, Spec: api.ServiceSpec{
			Type: api.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "echoserver"},
			Ports: []api.ServicePort{{Port: int32(port), TargetPort: ptr(api.FromInt(8080))}},
		}}
		svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
		w, err := e.c.Watch(ctx, kube.KindFor[api.Service](), "onp-metallb", kube.ListOptions{ResourceVersion: strconv.FormatUint(currentRV(b, e.c), 10)})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := e.c.Create(ctx, svc); err != nil {
			b.Fatal(err)
		}
		ip := ""
		for ev := range w.Events() {
			s := ev.Object.(*api.Service)
			if s.Name == name && len(s.Status.LoadBalancer.Ingress) > 0 {
				ip = s.Status.LoadBalancer.Ingress[0].IP
				break
			}
		}
		toIP = append(toIP, time.Since(start))
		w.Stop()
		url := fmt.Sprintf("http://%s:%d/", ip, port)
		for {
			if body, err := getFast(e.client, url); err == nil && strings.Contains(body, "Hostname: echoserver") {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("%s does not answer after 10s", url)
			}
		}
		toHTTP = append(toHTTP, time.Since(start))
		b.StopTimer()
		if err := e.c.Delete(ctx, kube.KindFor[api.Service](), "onp-metallb", name, kube.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	report(b, "ingress", toIP)
	report(b, "http", toHTTP)
}

func ptr[T any](v T) *T { return &v }

func currentRV(b *testing.B, c *client.Client) uint64 {
	l, err := c.List(context.Background(), kube.KindFor[api.Service](), "onp-metallb", kube.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	v, _ := strconv.ParseUint(l.ResourceVersion, 10, 64)
	return v
}

// The agent's memory with the seed lab and a few more pods: the target
// is 64 MiB for a whole lab.
func BenchmarkAgentRSS(b *testing.B) {
	testutil.RequireRoot(b)
	node := testutil.NewNetns(b)
	exe, _ := os.Executable()
	labName := testutil.RandName("b", 6)
	dir := filepath.Join(b.TempDir(), "nodes", "sno4")
	b.Cleanup(func() { removePodNamespaces(labName) })
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(exe, "__cluster-agent", "--lab", labName, "--node", "sno4", "--dir", dir, "--address", "192.168.126.2")
		if err := nsx.Start(node.Path, cmd); err != nil {
			b.Fatal(err)
		}
		c := client.New(cluster.SocketPath(dir))
		testutil.Eventually(b, 10*time.Second, 10*time.Millisecond, func() error { return c.Ping(context.Background()) })
		docs, _ := api.Decode("seed", []byte(seedYAML(b)))
		var objs []api.Object
		for _, d := range docs {
			objs = append(objs, d.Object)
		}
		for j := range 4 {
			objs = append(objs, &api.Pod{TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("extra-%d", j), Namespace: "onp-metallb", Labels: map[string]string{"app": "echoserver"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"netexec", "--http-port=8080"}}}}})
		}
		if _, err := c.Apply(context.Background(), objs, kube.ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		testutil.Eventually(b, 10*time.Second, 20*time.Millisecond, func() error {
			pods, _, err := kube.ListOf[api.Pod](context.Background(), c, "onp-metallb", kube.ListOptions{})
			if err != nil {
				return err
			}
			for _, p := range pods {
				if p.Status.Phase != "Running" {
					return fmt.Errorf("%s %s", p.Name, p.Status.Phase)
				}
			}
			return nil
		})
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				b.ReportMetric(float64(kb)/1024, "agent-rss-MiB")
			}
		}
		c.Close()
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

// BenchmarkAPIOnlyServicesToIngress: N LoadBalancer Services (without
// node ports: a node has 2,768) applied in one request to an API-only
// agent (store, API, MetalLB's controller, endpointslices) → every one has
// its EXTERNAL-IP (seen through a watch over the socket, as the speaker
// sees them); then all deleted one by one. Reported: the apply call, apply
// → all assigned, and the deletes. With requested=true every service asks
// for its address (metallb.io/loadBalancerIPs), which takes the
// allocator's search for a free address out of the path.
func BenchmarkAPIOnlyServicesToIngress(b *testing.B) {
	for _, tc := range []struct {
		n         int
		requested bool
	}{{1000, false}, {10000, false}, {10000, true}} {
		n := tc.n
		b.Run(fmt.Sprintf("services=%d/requested=%v", n, tc.requested), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "nodes", "sno4")
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- cluster.RunAgent(ctx, cluster.AgentOptions{Lab: "b", Node: "sno4", Dir: dir, APIOnly: true, Ready: func() { close(ready) }})
			}()
			b.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
			})
			<-ready
			c := client.New(cluster.SocketPath(dir))
			defer c.Close()
			var objs []api.Object
			docs, err := api.Decode("pool", []byte(`apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {namespace: metallb-system, name: big}
spec: {addresses: [10.100.0.0/16]}
`))
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range docs {
				objs = append(objs, d.Object)
			}
			if _, err := c.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
				b.Fatal(err)
			}
			svcs := make([]api.Object, n)
			noNodePorts := false
			for i := range svcs {
				svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("s%05d", i), Namespace: "apps"}, Spec: api.ServiceSpec{
					Type: api.ServiceTypeLoadBalancer, Ports: []api.ServicePort{{Port: 80, Protocol: api.ProtocolTCP}},
					AllocateLoadBalancerNodePorts: &noNodePorts,
				}}
				if tc.requested {
					svc.Annotations = map[string]string{"metallb.io/loadBalancerIPs": fmt.Sprintf("10.100.%d.%d", i/256, i%256)}
				}
				svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
				svcs[i] = svc
			}
			var applyT, ingressT, deleteT time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w, err := c.Watch(ctx, kube.KindFor[api.Service](), "apps", kube.ListOptions{ResourceVersion: strconv.FormatUint(currentRV(b, c), 10)})
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if _, err := c.Apply(ctx, svcs, kube.ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
				applyT += time.Since(t0)
				have := map[string]bool{}
				for ev := range w.Events() {
					if s := ev.Object.(*api.Service); len(s.Status.LoadBalancer.Ingress) > 0 {
						have[s.Name] = true
					}
					if len(have) == n {
						break
					}
				}
				w.Stop()
				ingressT += time.Since(t0)
				t1 := time.Now()
				for j := range n {
					if err := c.Delete(ctx, kube.KindFor[api.Service](), "apps", fmt.Sprintf("s%05d", j), kube.DeleteOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				deleteT += time.Since(t1)
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			b.ReportMetric(ms(applyT), "apply-ms")
			b.ReportMetric(ms(ingressT), "all-assigned-ms")
			b.ReportMetric(ms(deleteT), "delete-all-ms")
		})
	}
}
