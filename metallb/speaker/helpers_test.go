package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/kubelet"
	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// testWriter sends log lines to t.Log until the test ends.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// shortDir is a temporary directory with a short path (unix sockets live
// in it), removed at the end of the test.
func shortDir(t testing.TB, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// testLab is the node sno4 (this process's namespace) with its cluster
// agent, and routers in namespaces of their own.
type testLab struct {
	t    testing.TB
	node *testutil.Netns
	lab  string
	dir  string
	full bool
	c    *client.Client
	// stopAgent stops the cluster agent (a no-op when it is stopped).
	stopAgent func()
}

const (
	nodeIP   = "192.168.126.2"
	routerIP = "192.168.126.3"
)

// newTestLab starts the node's cluster agent: full (pods run, kube-proxy
// programs the node) or API only (store, API, MetalLB's controller,
// endpointslices, node).
func newTestLab(t testing.TB, full bool) *testLab {
	t.Helper()
	node := requireNode(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	l := &testLab{t: t, node: node, lab: testutil.RandName("t", 8), dir: shortDir(t, "onpspk"), full: full}
	l.startAgent()
	l.c = client.New(cluster.SocketPath(l.dir))
	t.Cleanup(func() {
		l.stopAgent()
		l.c.Close()
		names, _ := nsx.List()
		for _, n := range names {
			if strings.HasPrefix(n, kubelet.PodNetnsPrefix(l.lab, "sno4")) {
				nsx.Delete(n)
			}
		}
	})
	return l
}

// startAgent runs the cluster agent until stopAgent.
func (l *testLab) startAgent() {
	t := l.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	stopped := make(chan error, 1)
	go func() {
		stopped <- cluster.RunAgent(ctx, cluster.AgentOptions{
			Lab: l.lab, Node: "sno4", Dir: l.dir, APIOnly: !l.full,
			NodeAddresses: []netip.Addr{netip.MustParseAddr(nodeIP)},
			Ready:         func() { close(ready) }, Logger: testLogger(t, slog.LevelInfo).With("component", "agent"),
		})
	}()
	select {
	case <-ready:
	case err := <-stopped:
		cancel()
		t.Fatalf("cluster agent: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("cluster agent not ready after 20s")
	}
	l.stopAgent = func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("cluster agent: %v", err)
		}
		l.stopAgent = func() {}
	}
}

// apply applies YAML through the cluster API, as `onp apply -f` does.
func (l *testLab) apply(yaml string) {
	l.t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		l.t.Fatal(err)
	}
	objs := make([]api.Object, len(docs))
	for i, d := range docs {
		objs[i] = d.Object
	}
	if _, err := l.c.Apply(context.Background(), objs, kube.ApplyOptions{Mode: kube.ModeApply}); err != nil {
		l.t.Fatalf("apply: %v", err)
	}
}

func (l *testLab) delete(k api.Kind, namespace, name string) {
	l.t.Helper()
	if err := l.c.Delete(context.Background(), k, namespace, name, kube.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		l.t.Fatalf("delete %s %s/%s: %v", k.GVK.Kind, namespace, name, err)
	}
}

const metallbNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: metallb-system}\n---\n"

// seedFile reads the seed lab's manifests as shipped with onp.
func seedFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "topology", "builtin", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// router is an FRR instance (zebra + bgpd) in a namespace of its own,
// linked to the node.
type router struct {
	t      testing.TB
	ns     *testutil.Netns
	frr    *frr.Instance
	addr   netip.Addr // the router's address
	nodeIP netip.Addr // the node's address on the link
}

// addRouter links a new router namespace to the node (node side ifName
// with nodeCIDR, router side eth0 with routerCIDR) and starts FRR in it
// with bgpdConf.
func (l *testLab) addRouter(ifName, nodeCIDR, routerCIDR, bgpdConf string) *router {
	t := l.t
	t.Helper()
	ns := testutil.NewNetns(t)
	testutil.Link(t, l.node, ifName, nodeCIDR, ns, "eth0", routerCIDR)
	t.Cleanup(func() {
		if lk, err := netlink.LinkByName(ifName); err == nil {
			netlink.LinkDel(lk)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := frr.Start(ctx, frr.Options{Dir: shortDir(t, "onpfrr"), NetnsPath: ns.Path, Daemons: []string{frr.Zebra, frr.Bgpd}})
	if err != nil {
		t.Fatalf("start FRR: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(in.Dir(), "bgpd.log"))
			t.Logf("bgpd.log (tail):\n%s", tail(string(b), 40))
		}
		in.Stop(context.Background())
	})
	if _, err := in.Apply(ctx, bgpdConf); err != nil {
		t.Fatalf("configure FRR: %v", err)
	}
	r := &router{t: t, ns: ns, frr: in}
	r.addr = netip.MustParsePrefix(routerCIDR).Addr()
	r.nodeIP = netip.MustParsePrefix(nodeCIDR).Addr()
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// seedRouter is the reference lab's router, configured as
// 04-vyos-commands.txt renders into FRR.
func (l *testLab) seedRouter() *router {
	return l.addRouter("eth0", nodeIP+"/24", routerIP+"/24", fmt.Sprintf(`hostname vyos
router bgp 64512
 bgp router-id %s
 neighbor %s remote-as 64512
 address-family ipv4 unicast
  neighbor %s activate
 exit-address-family
`, routerIP, nodeIP, nodeIP))
}

// frrPath is the part of `show bgp ipv4 unicast PREFIX json` the tests read.
type frrPath struct {
	Origin    string `json:"origin"`
	LocPrf    *int   `json:"locPrf"`
	Community *struct {
		String string   `json:"string"`
		List   []string `json:"list"`
	} `json:"community"`
	LargeCommunity *struct {
		String string `json:"string"`
	} `json:"largeCommunity"`
	Aspath struct {
		String string `json:"string"`
	} `json:"aspath"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
}

func (r *router) paths(prefix string) ([]frrPath, error) {
	var out struct {
		Paths []frrPath `json:"paths"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.frr.ShowJSON(ctx, "show bgp ipv4 unicast "+prefix+" json", &out)
	return out.Paths, err
}

// waitRoute waits until the router has exactly one path for prefix and
// returns it.
func (r *router) waitRoute(prefix string) frrPath {
	r.t.Helper()
	var p frrPath
	testutil.Eventually(r.t, 20*time.Second, 50*time.Millisecond, func() error {
		ps, err := r.paths(prefix)
		if err != nil {
			return err
		}
		if len(ps) != 1 {
			return fmt.Errorf("router %s has %d paths for %s", r.addr, len(ps), prefix)
		}
		p = ps[0]
		return nil
	})
	return p
}

// waitNoRoute waits until the router has no path for prefix.
func (r *router) waitNoRoute(prefix string) {
	r.t.Helper()
	testutil.Eventually(r.t, 20*time.Second, 50*time.Millisecond, func() error {
		ps, err := r.paths(prefix)
		if err != nil {
			return err
		}
		if len(ps) != 0 {
			return fmt.Errorf("router %s still has %d paths for %s", r.addr, len(ps), prefix)
		}
		return nil
	})
}

func (r *router) neighbor(addr netip.Addr) (frr.BGPNeighbor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := r.frr.BGPNeighbors(ctx)
	if err != nil {
		return frr.BGPNeighbor{}, err
	}
	n, ok := ns[addr.String()]
	if !ok {
		return n, fmt.Errorf("FRR has no neighbor %s", addr)
	}
	return n, nil
}

func (r *router) waitNeighbor(state string) frr.BGPNeighbor {
	r.t.Helper()
	var n frr.BGPNeighbor
	testutil.Eventually(r.t, 30*time.Second, 50*time.Millisecond, func() error {
		var err error
		n, err = r.neighbor(r.nodeIP)
		if err != nil {
			return err
		}
		if (n.BGPState == "Established") != (state == "Established") {
			return fmt.Errorf("FRR neighbor %s is %s, want %s (last reset: %s)", r.nodeIP, n.BGPState, state, n.LastResetDueTo)
		}
		return nil
	})
	return n
}

// inFIB reports whether the router's kernel has prefix via gw.
func (r *router) inFIB(h *netlink.Handle, prefix netip.Prefix, gw netip.Addr) bool {
	dst := &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())}
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: dst}, netlink.RT_FILTER_DST)
	if err != nil {
		return false
	}
	for _, rt := range rs {
		if rt.Gw != nil && rt.Gw.Equal(net.IP(gw.AsSlice())) {
			return true
		}
	}
	return false
}

// runningSpeaker is a speaker started by a test.
type runningSpeaker struct {
	t      testing.TB
	status string
	stop   func()
	cmd    *exec.Cmd // when it runs as a child process
	exited chan struct{}
}

// terminate stops a speaker process with SIGTERM (it closes its sessions)
// and waits for it.
func (rs *runningSpeaker) terminate() {
	syscall.Kill(rs.cmd.Process.Pid, syscall.SIGTERM)
	<-rs.exited
}

func (l *testLab) speakerOptions() Options {
	return Options{
		NodeName: "sno4", APISocket: cluster.SocketPath(l.dir), StatusSocket: filepath.Join(l.dir, "speaker.sock"),
		MetricsAddr: MetricsOff,
	}
}

// startSpeaker runs the speaker in this process until stop or the end of
// the test.
func (l *testLab) startSpeaker(o Options) *runningSpeaker {
	t := l.t
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t, slog.LevelDebug).With("component", "speaker")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	o.Ready = func() { close(ready) }
	go func() { done <- Run(ctx, o) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("speaker: %v", err)
	}
	rs := &runningSpeaker{t: t, status: o.StatusSocket}
	var once sync.Once
	rs.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("speaker: %v", err)
			}
		})
	}
	t.Cleanup(rs.stop)
	return rs
}

// helperEnv carries the options of a speaker run as a child process.
const helperEnv = "ONP_SPEAKER_TEST_HELPER"

// TestSpeakerHelperProcess is not a test: it is the child process of
// startSpeakerProcess (a speaker as onp runs it, in the node's namespace,
// that a test can SIGKILL).
func TestSpeakerHelperProcess(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process for other tests")
	}
	var o Options
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopProfile := profileTo(os.Getenv("ONP_SPEAKER_CPUPROFILE"))
	err := Run(ctx, o)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// startSpeakerProcess runs the speaker as a child process (in this
// namespace) and waits until its status socket answers.
func (l *testLab) startSpeakerProcess(o Options) *runningSpeaker {
	t := l.t
	t.Helper()
	raw, _ := json.Marshal(struct {
		NodeName, APISocket, StatusSocket, MetricsAddr string
		DisableEvents                                  bool
	}{o.NodeName, o.APISocket, o.StatusSocket, o.MetricsAddr, o.DisableEvents})
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpeakerHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rs := &runningSpeaker{t: t, status: o.StatusSocket, cmd: cmd, exited: exited}
	go func() {
		cmd.Wait()
		close(exited)
	}()
	rs.stop = func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(func() {
		rs.stop()
		if t.Failed() {
			mu.Lock()
			t.Logf("speaker process output:\n%s", tail(out.String(), 60))
			mu.Unlock()
		}
	})
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		_, err := Status(context.Background(), o.StatusSocket)
		return err
	})
	return rs
}

// agentHelperEnv carries the options of a cluster agent run as a child
// process.
const agentHelperEnv = "ONP_AGENT_TEST_HELPER"

// profileTo writes a CPU profile to path (none if empty) until the
// returned function is called: a helper process profiled for a benchmark.
func profileTo(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	pprof.StartCPUProfile(f)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

type agentHelperOptions struct {
	Lab, Node, Dir string
	NodeAddresses  []netip.Addr
}

// TestAgentHelperProcess is not a test: it is the child process of
// startAgentProcess (an API-only cluster agent as onp runs it, in the
// node's namespace).
func TestAgentHelperProcess(t *testing.T) {
	raw := os.Getenv(agentHelperEnv)
	if raw == "" {
		t.Skip("helper process for other tests")
	}
	var a agentHelperOptions
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o := cluster.AgentOptions{Lab: a.Lab, Node: a.Node, Dir: a.Dir, APIOnly: true, NodeAddresses: a.NodeAddresses}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopProfile := profileTo(os.Getenv("ONP_AGENT_CPUPROFILE"))
	err := cluster.RunAgent(ctx, o)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// newProcessLab is newTestLab with an API-only agent running as a child
// process (whose memory can be measured on its own).
func newProcessLab(t testing.TB) (*testLab, *exec.Cmd) {
	t.Helper()
	node := requireNode(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	l := &testLab{t: t, node: node, lab: testutil.RandName("t", 8), dir: shortDir(t, "onpspk")}
	raw, _ := json.Marshal(agentHelperOptions{Lab: l.lab, Node: "sno4", Dir: l.dir, NodeAddresses: []netip.Addr{netip.MustParseAddr(nodeIP)}})
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentHelperProcess$")
	cmd.Env = append(os.Environ(), agentHelperEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	l.stopAgent = func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		<-exited
		l.stopAgent = func() {}
	}
	l.c = client.New(cluster.SocketPath(l.dir))
	t.Cleanup(func() {
		l.stopAgent()
		l.c.Close()
	})
	testutil.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error { return l.c.Ping(context.Background()) })
	return l, cmd
}

// rssMiB is a process's resident memory (VmRSS) and its peak (VmHWM).
func rssMiB(pid int) (rss, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range []struct {
			key string
			v   *float64
		}{{"VmRSS:", &rss}, {"VmHWM:", &peak}} {
			if v, ok := strings.CutPrefix(line, f.key); ok {
				var kb float64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
				*f.v = kb / 1024
			}
		}
	}
	return rss, peak
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitStatus polls the speaker's status until check passes.
func (rs *runningSpeaker) waitStatus(check func(*StatusReport) error) *StatusReport {
	rs.t.Helper()
	var rep *StatusReport
	testutil.Eventually(rs.t, 30*time.Second, 20*time.Millisecond, func() error {
		var err error
		rep, err = Status(context.Background(), rs.status)
		if err != nil {
			return err
		}
		return check(rep)
	})
	return rep
}

func sessionState(name, want string) func(*StatusReport) error {
	return func(r *StatusReport) error {
		s := r.Session(name)
		if s == nil {
			return fmt.Errorf("no session %s (speaker %s: %s)", name, r.State, r.Message)
		}
		if s.State != want {
			return fmt.Errorf("session %s is %s, want %s (last error: %s)", name, s.State, want, s.LastError)
		}
		return nil
	}
}

func serviceDecided(ns, name string, announced bool, reason string) func(*StatusReport) error {
	return func(r *StatusReport) error {
		s := r.Service(ns, name)
		if s == nil {
			return fmt.Errorf("no service %s/%s in the status (speaker %s: %s)", ns, name, r.State, r.Message)
		}
		if s.Announced != announced || s.Reason != reason {
			return fmt.Errorf("service %s/%s: announced=%v reason=%q (%s), want announced=%v reason=%q", ns, name, s.Announced, s.Reason, s.Message, announced, reason)
		}
		return nil
	}
}

func all(checks ...func(*StatusReport) error) func(*StatusReport) error {
	return func(r *StatusReport) error {
		for _, c := range checks {
			if err := c(r); err != nil {
				return err
			}
		}
		return nil
	}
}
