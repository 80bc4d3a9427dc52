package netns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/topology"
)

// The test binary doubles as the lab supervisor.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__supervise" {
		if err := supervisor.Run(context.Background(), os.Args[2], nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func manager(t *testing.T) *lab.Manager {
	testutil.RequireRoot(t)
	exe, _ := os.Executable()
	return &lab.Manager{
		Paths:    lab.Paths{Home: t.TempDir()},
		Provider: &netns.Provider{SupervisorArgv: func(dir string) []string { return []string{exe, "__supervise", dir} }},
		Kinds:    map[string]lab.Kind{"host": kinds.Host{}},
	}
}

const routed = `
name: %s
networks:
  - {name: lan1, subnet: 10.1.1.0/24}
  - {name: lan2, subnet: 10.1.2.0/24}
nodes:
  - name: h1
    kind: host
    interfaces: [{network: lan1, address: 10.1.1.10}]
    routes: [{to: default, via: 10.1.1.1}]
  - name: r1
    kind: host
    forwarding: true
    interfaces: [{network: lan1, address: 10.1.1.1}, {network: lan2, address: 10.1.2.1}]
  - name: h2
    kind: host
    interfaces: [{network: lan2, address: 10.1.2.10}]
    routes: [{to: default, via: 10.1.2.1}]
  - name: h3
    kind: host
    interfaces: [{network: lan2, address: 10.1.2.30}]
`

func parse(t *testing.T, src string, args ...any) *topology.Topology {
	t.Helper()
	top, err := topology.Parse("test.yaml", []byte(fmt.Sprintf(src, args...)))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func up(t *testing.T, m *lab.Manager, top *topology.Topology) *lab.Lab {
	t.Helper()
	l, err := m.Up(context.Background(), top, lab.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), l.Name) })
	return l
}

func run(t *testing.T, m *lab.Manager, l *lab.Lab, node string, argv ...string) (string, int) {
	t.Helper()
	n, err := m.Node(l, node)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := n.Exec(context.Background(), argv, lab.ExecOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), res.ExitCode
}

func ping(t *testing.T, m *lab.Manager, l *lab.Lab, from, to string) bool {
	t.Helper()
	_, code := run(t, m, l, from, "ping", "-c1", "-W1", "-n", to)
	return code == 0
}

// assertGone checks that nothing of the lab is left on the machine.
func assertGone(t *testing.T, name string) {
	t.Helper()
	all, _ := nsx.List()
	for _, ns := range all {
		if ns == topology.FabricNamespace(name) || strings.HasPrefix(ns, topology.FabricNamespace(name)+".") {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Alias, "onp/"+name+"/") {
			t.Errorf("link %s (%s) left behind", l.Attrs().Name, l.Attrs().Alias)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), "/run/netns/"+topology.FabricNamespace(name)) {
		t.Errorf("netns mount left behind:\n%s", mi)
	}
}

func TestRoutedLabPingsWhereTheFileSays(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("t", 6)
	l := up(t, m, parse(t, routed, name))
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"h1", "10.1.1.1", true},   // same bridge
		{"h1", "10.1.2.1", true},   // the router's other side
		{"h1", "10.1.2.10", true},  // routed through r1, h2 has a route back
		{"h2", "10.1.1.10", true},  // and the other way
		{"h1", "10.1.2.30", false}, // h3 has no route back to lan1
		{"h3", "10.1.2.10", true},  // but reaches its own bridge
		{"h3", "10.1.1.10", false}, // and nothing beyond
	} {
		if got := ping(t, m, l, c.from, c.to); got != c.ok {
			t.Errorf("ping %s -> %s: got %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	if out, _ := run(t, m, l, "r1", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(out) != "1" {
		t.Errorf("r1 does not forward: %q", out)
	}
	if out, _ := run(t, m, l, "h1", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(out) != "0" {
		t.Errorf("h1 forwards: %q", out)
	}
	inv, err := m.Inspect(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(inv.Networks[1].Ports, ","); got != "h2-eth0,h3-eth0,r1-eth1" {
		t.Errorf("lan2 ports: %s", got)
	}
	if inv.Nodes[1].Interfaces[1].Addrs[0] != "10.1.2.1/24" || !inv.Nodes[1].Interfaces[1].Up {
		t.Errorf("r1 eth1: %+v", inv.Nodes[1].Interfaces[1])
	}
	// Nothing of the lab is in the root namespace.
	links, _ := netlink.LinkList()
	for _, link := range links {
		if strings.HasPrefix(link.Attrs().Alias, "onp/"+name) {
			t.Errorf("lab link %s in the root namespace", link.Attrs().Name)
		}
	}
	rep, err := m.Down(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Namespaces) != 5 {
		t.Errorf("removed %v", rep.Namespaces)
	}
	assertGone(t, name)
	if _, err := os.Stat(m.Paths.LabDir(name)); !os.IsNotExist(err) {
		t.Errorf("lab directory left: %v", err)
	}
	rep, err = m.Down(context.Background(), name)
	if err != nil || !rep.Empty() {
		t.Errorf("second down: %+v %v", rep, err)
	}
}

// Two labs with identical addressing run side by side; each node reaches its
// neighbours in its own lab only.
func TestTwoIdenticalLabs(t *testing.T) {
	m := manager(t)
	testutil.RequireBinary(t, "busybox", "busybox-static")
	a, b := testutil.RandName("a", 6), testutil.RandName("b", 6)
	src := routed + `    host:
      services:
        - name: listener
          command: [sh, -c, "exec busybox nc -ll -p 7000 -e echo %s"]
`
	la := up(t, m, parse(t, src, a, a))
	lb := up(t, m, parse(t, src, b, b))
	for _, l := range []*lab.Lab{la, lb} {
		if !ping(t, m, l, "h1", "10.1.2.10") || !ping(t, m, l, "h3", "10.1.2.10") {
			t.Fatalf("lab %s: pings fail", l.Name)
		}
	}
	// The same address answers with its own lab's identity.
	for _, l := range []*lab.Lab{la, lb} {
		testutil.Eventually(t, 5*time.Second, 50*time.Millisecond, func() error {
			out, _ := run(t, m, l, "h2", "sh", "-c", "echo | busybox nc -w1 10.1.2.30 7000")
			if strings.TrimSpace(out) != l.Name {
				return fmt.Errorf("lab %s: h3 answered %q", l.Name, out)
			}
			return nil
		})
	}
	// MAC addresses differ between labs, so ARP caches prove isolation too.
	na, _ := run(t, m, la, "h1", "ip", "-o", "link", "show", "eth0")
	nb, _ := run(t, m, lb, "h1", "ip", "-o", "link", "show", "eth0")
	if na == nb {
		t.Errorf("both labs' h1 have the same link: %s", na)
	}
	neigh, _ := run(t, m, la, "h1", "ip", "neigh", "show", "10.1.1.1")
	rb, _ := run(t, m, lb, "r1", "ip", "-o", "link", "show", "eth0")
	if f := strings.Fields(neigh); len(f) > 4 && strings.Contains(rb, f[4]) {
		t.Errorf("lab %s's h1 learned lab %s's router MAC %s", a, b, f[4])
	}
}

func TestHostAccess(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("h", 6)
	l := up(t, m, parse(t, `
name: %s
networks:
  - name: mgmt
    subnet: 10.77.%d.0/24
    hostAccess: {address: 10.77.%d.1}
nodes:
  - name: n1
    kind: host
    interfaces: [{network: mgmt, address: 10.77.%d.2}]
`, name, os.Getpid()%200, os.Getpid()%200, os.Getpid()%200))
	hostLink := topology.HostLinkName(name, "mgmt")
	link, err := netlink.LinkByName(hostLink)
	if err != nil {
		t.Fatalf("host link %s: %v", hostLink, err)
	}
	if link.Attrs().Alias != "onp/"+name+"/host/mgmt" {
		t.Errorf("host link tag %q", link.Attrs().Alias)
	}
	if !ping(t, m, l, "n1", fmt.Sprintf("10.77.%d.1", os.Getpid()%200)) {
		t.Error("node cannot reach the host")
	}
	if _, err := m.Down(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(hostLink); err == nil {
		t.Error("host link left after down")
	}
	assertGone(t, name)
}

// A namespace with a lab's name that onp did not create is never touched.
func TestForeignNamespaceUntouched(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("f", 6)
	foreign := topology.NodeNamespace(name, "h1")
	if err := nsx.Create(foreign); err != nil {
		t.Fatal(err)
	}
	defer nsx.Delete(foreign)
	_, err := m.Up(context.Background(), parse(t, routed, name), lab.UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "network namespace "+foreign+" already exists and onp does not own it") {
		t.Fatalf("want a preflight error naming %s, got %v", foreign, err)
	}
	if nsx.Exists(topology.FabricNamespace(name)) {
		t.Fatal("preflight failed but the fabric was created")
	}
	rep, err := m.Down(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Foreign) != 1 || !nsx.IsMounted(foreign) {
		t.Fatalf("foreign namespace not reported or removed: %+v", rep)
	}
}

type failingKind struct{ kinds.Host }

func (failingKind) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	if n.Name == "h3" {
		return errors.New("injected failure")
	}
	return kinds.Host{}.Deploy(ctx, l, node, n)
}

func TestFailureRollsBack(t *testing.T) {
	m := manager(t)
	m.Kinds["host"] = failingKind{}
	src := routed + "    host: {services: [{name: s, command: [sleep, \"3600\"]}]}\n"
	name := testutil.RandName("r", 6)
	_, err := m.Up(context.Background(), parse(t, src, name), lab.UpOptions{})
	var se *lab.StepError
	if !errors.As(err, &se) || !se.RolledBack || !strings.Contains(err.Error(), "start host node h3: injected failure") {
		t.Fatalf("want a rolled-back step error, got %v", err)
	}
	assertGone(t, name)
	// With --keep-on-failure everything stays for debugging.
	_, err = m.Up(context.Background(), parse(t, src, name), lab.UpOptions{KeepOnFailure: true})
	if !errors.As(err, &se) || se.RolledBack {
		t.Fatalf("want a kept step error, got %v", err)
	}
	if !nsx.Exists(topology.NodeNamespace(name, "h1")) {
		t.Fatal("kept lab has no h1")
	}
	if _, err := m.Down(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	assertGone(t, name)
}

// oneHostLab is a lab of one host node running one service (the
// arguments: the lab's name, the service in YAML flow style).
const oneHostLab = `
name: %s
networks: [{name: n, subnet: 10.3.0.0/24}]
nodes:
  - name: a
    kind: host
    interfaces: [{network: n, address: 10.3.0.2}]
    host:
      services:
        - %s
`

func TestServicesAreSupervisedAndStoppedOnDown(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("s", 6)
	marker := fmt.Sprint(100000 + os.Getpid()%800000)
	l := up(t, m, parse(t, oneHostLab, name, fmt.Sprintf(`{name: sleeper, command: [sleep, "%s"]}`, marker)))
	inv, _ := m.Inspect(context.Background(), l)
	svc := inv.Nodes[0].Services
	if len(svc) != 1 || !svc[0].Running {
		t.Fatalf("service not running: %+v", svc)
	}
	pid1 := svc[0].Pid
	ino, _ := nsx.Inode(nsx.Path(topology.NodeNamespace(name, "a")))
	if pids, _ := nsx.Pids(map[uint64]bool{ino: true}); pids[pid1] == 0 {
		t.Fatal("service is not in the node's namespace")
	}
	if err := supervisor.NewClient(l.Dir).Signal(context.Background(), "a/sleeper", 9); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		inv, _ := m.Inspect(context.Background(), l)
		s := inv.Nodes[0].Services[0]
		if !s.Running || s.Pid == pid1 || s.Restarts != 1 {
			return fmt.Errorf("not restarted: %+v", s)
		}
		return nil
	})
	rep, err := m.Down(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processes) != 2 {
		t.Errorf("stopped processes %v, want the supervisor and the service", rep.Processes)
	}
	if procWithArg(marker) {
		t.Error("service process left after down")
	}
	assertGone(t, name)
}

// A process that starts while the lab goes down (here: a service's
// trap on SIGTERM starts one in a session of its own) is stopped too.
func TestDownStopsLateProcesses(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("s", 6)
	late := fmt.Sprint(100000 + (os.Getpid()+7)%800000)
	l := up(t, m, parse(t, oneHostLab, name, fmt.Sprintf(`{name: trapper, command: [sh, -c, "trap 'setsid sleep %s & exit 0' TERM; while :; do sleep 1 & wait; done"]}`, late)))
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		inv, _ := m.Inspect(context.Background(), l)
		if s := inv.Nodes[0].Services; len(s) != 1 || !s[0].Running {
			return fmt.Errorf("service not running: %+v", s)
		}
		return nil
	})
	if _, err := m.Down(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if procWithArg(late) {
		t.Error("a process started during down was left running")
	}
	assertGone(t, name)
}

func procWithArg(arg string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte("\x00"+arg+"\x00")) {
			return true
		}
	}
	return false
}
