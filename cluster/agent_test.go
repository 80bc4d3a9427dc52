package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/kubelet"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// env is a cluster node namespace with a running agent and a client
// namespace routed to it (a static route stands in for BGP).
type env struct {
	t       testing.TB
	lab     string
	dir     string
	node    *testutil.Netns
	client  *testutil.Netns
	c       *client.Client
	stop    func()
	nodeIP  netip.Addr
	stopped chan error
}

const (
	nodeAddr   = "192.168.126.2"
	clientAddr = "192.168.126.99"
)

func newEnv(t *testing.T) *env { return benchEnv(t) }

func benchEnv(t testing.TB) *env {
	t.Helper()
	testutil.RequireRoot(t)
	e := &env{t: t, lab: testutil.RandName("t", 8), dir: filepath.Join(t.TempDir(), "nodes", "sno4")}
	e.node = testutil.NewNetns(t)
	e.client = testutil.NewNetns(t)
	testutil.Link(t, e.node, "eth0", nodeAddr+"/24", e.client, "eth0", clientAddr+"/24")
	e.nodeIP = netip.MustParseAddr(nodeAddr)
	ch := e.client.Handle(t)
	for _, dst := range []string{"10.0.0.0/24", "10.128.0.0/23", "172.30.0.0/16"} {
		_, n, _ := net.ParseCIDR(dst)
		if err := ch.RouteAdd(&netlink.Route{Dst: n, Gw: net.ParseIP(nodeAddr)}); err != nil {
			t.Fatalf("route %s in the client: %v", dst, err)
		}
	}
	t.Cleanup(func() {
		if e.stop != nil {
			e.stop()
		}
		removePodNamespaces(e.lab)
	})
	e.start()
	return e
}

func removePodNamespaces(lab string) {
	names, _ := nsx.List()
	for _, n := range names {
		if strings.HasPrefix(n, kubelet.PodNetnsPrefix(lab, "sno4")) {
			nsx.Delete(n)
		}
	}
}

func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	e.stopped = make(chan error, 1)
	log := testLogger(e.t)
	if _, bench := e.t.(*testing.B); bench {
		log = nil
	}
	go func() {
		e.stopped <- cluster.RunAgent(ctx, cluster.AgentOptions{
			Lab: e.lab, Node: "sno4", Dir: e.dir, NodeNetns: e.node.Path,
			NodeAddresses: []netip.Addr{e.nodeIP}, Ready: func() { close(ready) },
			Logger: log,
		})
	}()
	select {
	case <-ready:
	case err := <-e.stopped:
		cancel()
		e.t.Fatalf("agent: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		e.t.Fatal("agent not ready after 10s")
	}
	e.c = client.New(cluster.SocketPath(e.dir))
	e.stop = func() {
		cancel()
		if err := <-e.stopped; err != nil {
			e.t.Errorf("agent: %v", err)
		}
		e.c.Close()
		e.stop = nil
	}
}

func testLogger(t testing.TB) *slogLogger { return newTestLogger(t) }

// apply decodes YAML and applies it.
func (e *env) apply(yaml string) ([]kube.ApplyResult, error) {
	e.t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		e.t.Fatal(err)
	}
	var objs []api.Object
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	return e.c.Apply(context.Background(), objs, kube.ApplyOptions{Mode: kube.ModeApply})
}

func seedYAML(t testing.TB) string {
	var b strings.Builder
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "topology", "builtin", "seed", f))
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.String()
}

func (e *env) pod(ns, name string) *api.Pod {
	p, err := kube.Get[api.Pod](context.Background(), e.c, ns, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) svc(ns, name string) *api.Service {
	s, err := kube.Get[api.Service](context.Background(), e.c, ns, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// waitRunning waits for a pod to run and returns its IP.
func (e *env) waitRunning(ns, name string) string {
	e.t.Helper()
	var ip string
	testutil.Eventually(e.t, 10*time.Second, 10*time.Millisecond, func() error {
		p := e.pod(ns, name)
		if p.Status.Phase != "Running" || p.Status.PodIP == "" || !p.Ready() {
			return fmt.Errorf("pod %s/%s: phase %q ip %q", ns, name, p.Status.Phase, p.Status.PodIP)
		}
		ip = p.Status.PodIP
		return nil
	})
	return ip
}

func (e *env) waitIngress(ns, name string) string {
	e.t.Helper()
	var ip string
	testutil.Eventually(e.t, 10*time.Second, 10*time.Millisecond, func() error {
		s := e.svc(ns, name)
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("service %s/%s has no ingress", ns, name)
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	return ip
}

// get sends an HTTP GET from inside a namespace.
func get(ns *testutil.Netns, url string) (string, error) { return getTimeout(ns, url, 2*time.Second) }

// getFast gives up on a connection after 2ms (benchmarks poll with it).
func getFast(ns *testutil.Netns, url string) (string, error) {
	return getTimeout(ns, url, 2*time.Millisecond)
}

func getTimeout(ns *testutil.Netns, url string, dial time.Duration) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nsx.Do(ns.Path, func() error {
			d := net.Dialer{Timeout: dial}
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// eventuallyGet polls until the answer contains want.
func eventuallyGet(t testing.TB, ns *testutil.Netns, url string, want ...string) string {
	t.Helper()
	var body string
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		b, err := get(ns, url)
		if err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(b, w) {
				return fmt.Errorf("GET %s: answer lacks %q:\n%s", url, w, b)
			}
		}
		body = b
		return nil
	})
	return body
}

func TestAgentSeedLab(t *testing.T) {
	e := newEnv(t)
	res, err := e.apply(seedYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 {
		t.Fatalf("%d results", len(res))
	}
	podIP := e.waitRunning("onp-metallb", "echoserver")
	lbIP := e.waitIngress("onp-metallb", "echoserver")
	if lbIP != "10.0.0.10" {
		t.Fatalf("EXTERNAL-IP %s, want 10.0.0.10", lbIP)
	}
	svc := e.svc("onp-metallb", "echoserver")
	if svc.Annotations[api.AnnotationIPAllocateFromPool] != "onp-bgp-pool" {
		t.Errorf("annotations %v", svc.Annotations)
	}
	// The pod answers on its IP, from the node.
	body := eventuallyGet(t, e.node, "http://"+podIP+":8080/hello?x=1", "Hostname: echoserver", "real path=/hello?x=1", "query=x=1", "client_address=10.128.0.1")
	t.Logf("pod answer:\n%s", body)
	// The node's own port does not answer.
	if _, err := get(e.node, "http://"+nodeAddr+":8080/"); err == nil {
		t.Error("the node's own port 8080 answers; only the pod should")
	}
	// ClusterIP from the node: masqueraded to the node's pod-network address.
	eventuallyGet(t, e.node, "http://"+svc.Spec.ClusterIP+":8080/", "client_address=10.128.0.1", "request_uri=http://"+svc.Spec.ClusterIP+":8080/")
	// LoadBalancer IP from the client: Cluster masquerades.
	eventuallyGet(t, e.client, "http://10.0.0.10:8080/", "client_address=10.128.0.1", "host=10.0.0.10:8080")
	// Local keeps the client's address.
	svc.Spec.ExternalTrafficPolicy = "Local"
	if _, err := e.c.Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	eventuallyGet(t, e.client, "http://10.0.0.10:8080/", "client_address="+clientAddr)
	// The node port answers on the node's address.
	eventuallyGet(t, e.client, fmt.Sprintf("http://%s:%d/", nodeAddr, svc.Spec.Ports[0].NodePort), "Hostname: echoserver")
}

func netnsHandle(name string) (*netlink.Handle, error) {
	fd, err := netns.GetFromPath(nsx.Path(name))
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	return netlink.NewHandleAt(fd)
}
