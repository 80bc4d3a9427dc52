package bgp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
	"github.com/vishvananda/netlink"
)

// lab is the speaker's namespace (this process) linked to one router
// namespace: node 10.126.N.2/24 on interface rN, router 10.126.N.1/24 on
// eth0, N unique per lab.
type lab struct {
	t        testing.TB
	node     *testutil.Netns
	router   *testutil.Netns
	ifName   string
	nodeIP   netip.Addr
	routerIP netip.Addr
}

var labSeq atomic.Int32

func newLab(t testing.TB) *lab {
	t.Helper()
	node := requireSpeakerNetns(t)
	n := labSeq.Add(1)
	if n > 250 {
		t.Fatal("too many labs in one test binary")
	}
	l := &lab{
		t: t, node: node, router: testutil.NewNetns(t), ifName: fmt.Sprintf("r%d", n),
		nodeIP:   netip.MustParseAddr(fmt.Sprintf("10.126.%d.2", n)),
		routerIP: netip.MustParseAddr(fmt.Sprintf("10.126.%d.1", n)),
	}
	testutil.Link(t, node, l.ifName, l.nodeIP.String()+"/24", l.router, "eth0", l.routerIP.String()+"/24")
	t.Cleanup(func() {
		// Deleting the router namespace removes the veth pair; do it
		// explicitly too in case something still holds that namespace.
		if lk, err := netlink.LinkByName(l.ifName); err == nil {
			netlink.LinkDel(lk)
		}
	})
	return l
}

// addNodeAddr adds another address to the node's end of the link.
func (l *lab) addNodeAddr(cidr string) {
	l.t.Helper()
	lk, err := netlink.LinkByName(l.ifName)
	if err != nil {
		l.t.Fatal(err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := netlink.AddrAdd(lk, a); err != nil {
		l.t.Fatalf("add %s on %s: %v", cidr, l.ifName, err)
	}
}

// ---- logging ----

// testLogger logs through t.Log until the test's cleanups have run.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// ---- processes ----

// stopPid sends SIGTERM, waits up to 5 s, then SIGKILL.
func stopPid(pid int) {
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	if testutil.Poll(5*time.Second, 20*time.Millisecond, func() error {
		if syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("alive")
		}
		return nil
	}) != nil {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func readPidFile(t testing.TB, path string) int {
	t.Helper()
	var pid int
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// tempDir is a directory the FRR user can use; removed at cleanup.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ---- FRR ----

// frrRouter runs zebra, bgpd and (optionally) bfdd in a namespace with
// explicit paths (frr-netns.md recipe B).
type frrRouter struct {
	t       testing.TB
	dir     string
	run     string
	daemons []string
}

// startFRR starts zebra + bgpd (+ bfdd when bfddConf is not empty).
func startFRR(t testing.TB, ns *testutil.Netns, bgpdConf, bfddConf string) *frrRouter {
	t.Helper()
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	u, err := user.Lookup("frr")
	if err != nil {
		t.Skipf("skipped: no frr user (apt-get install -y frr): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := tempDir(t, "onp-bgp-frr-")
	f := &frrRouter{t: t, dir: dir, run: filepath.Join(dir, "run"), daemons: []string{"zebra", "bgpd"}}
	if bfddConf != "" {
		f.daemons = append(f.daemons, "bfdd")
	}
	os.MkdirAll(f.run, 0o755)
	confs := map[string]string{"zebra": "hostname r\n", "bgpd": bgpdConf, "bfdd": bfddConf}
	for _, d := range f.daemons {
		p := filepath.Join(dir, d+".conf")
		if err := os.WriteFile(p, []byte(confs[d]), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, uid, gid)
	}
	os.Chown(dir, uid, gid)
	os.Chown(f.run, uid, gid)
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			stopPid(pid)
		}
		if t.Failed() {
			for _, d := range f.daemons[1:] {
				b, _ := os.ReadFile(filepath.Join(dir, d+".log"))
				t.Logf("%s.log (tail):\n%s", d, lastLines(string(b), 60))
			}
		}
	})
	for _, d := range f.daemons {
		args := []string{"-d", "-P", "0", "--vty_socket", f.run, "-z", filepath.Join(f.run, "zserv.api"),
			"-i", filepath.Join(f.run, d+".pid"), "-f", filepath.Join(dir, d+".conf"),
			"--log", "file:" + filepath.Join(dir, d+".log"), "--log-level", "debug"}
		if d == "bfdd" {
			args = append(args, "--bfdctl", filepath.Join(f.run, "bfdd.sock"))
		}
		// The daemon forks and keeps the launcher's stdout and stderr: give
		// it a file, not a pipe, or Run would wait for the pipe to close.
		outPath := filepath.Join(dir, d+".out")
		out, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := ns.Command("/usr/lib/frr/"+d, args...)
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Run()
		out.Close()
		if err != nil {
			b, _ := os.ReadFile(outPath)
			t.Fatalf("start %s: %v\n%s", d, err, b)
		}
		pids = append([]int{readPidFile(t, filepath.Join(f.run, d+".pid"))}, pids...)
	}
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := f.vtysh("show bgp summary")
		return err
	})
	return f
}

func (f *frrRouter) vtysh(cmds ...string) (string, error) {
	args := []string{"--vty_socket", f.run}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("vtysh", args...).Output()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w: %s", cmds, err, out)
	}
	return string(out), nil
}

func (f *frrRouter) json(cmd string, v any) error {
	out, err := f.vtysh(cmd)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("decode %q output: %w\n%s", cmd, err, out)
	}
	return nil
}

// frrNeighbor is the part of `show bgp neighbors json` the tests read.
type frrNeighbor struct {
	BgpState               string `json:"bgpState"`
	ConnectionsEstablished int    `json:"connectionsEstablished"`
	ConnectionsDropped     int    `json:"connectionsDropped"`
	LastNotificationReason string `json:"lastNotificationReason"`
	LastResetDueTo         string `json:"lastResetDueTo"`
	PeerBfdInfo            *struct {
		Status string `json:"status"`
	} `json:"peerBfdInfo"`
}

func (f *frrRouter) neighbor(addr netip.Addr) (frrNeighbor, error) {
	var m map[string]frrNeighbor
	if err := f.json("show bgp neighbors "+addr.String()+" json", &m); err != nil {
		return frrNeighbor{}, err
	}
	n, ok := m[addr.String()]
	if !ok {
		return n, fmt.Errorf("FRR has no neighbor %s", addr)
	}
	return n, nil
}

func (f *frrRouter) waitEstablished(t testing.TB, addr netip.Addr, timeout time.Duration) frrNeighbor {
	t.Helper()
	var n frrNeighbor
	testutil.Eventually(t, timeout, 100*time.Millisecond, func() error {
		var err error
		n, err = f.neighbor(addr)
		if err != nil {
			return err
		}
		if n.BgpState != "Established" {
			return fmt.Errorf("FRR neighbor %s is %s (last reset: %s)", addr, n.BgpState, n.LastResetDueTo)
		}
		return nil
	})
	return n
}

// frrPath is one path of `show bgp ipv4 unicast PREFIX json`.
type frrPath struct {
	Origin string `json:"origin"`
	LocPrf *int   `json:"locPrf"`
	Aspath struct {
		String string `json:"string"`
	} `json:"aspath"`
	Community *struct {
		String string `json:"string"`
	} `json:"community"`
	LargeCommunity *struct {
		String string `json:"string"`
	} `json:"largeCommunity"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
}

func (f *frrRouter) route(prefix string) ([]frrPath, error) {
	var r struct {
		Prefix string    `json:"prefix"`
		Paths  []frrPath `json:"paths"`
	}
	if err := f.json("show bgp ipv4 unicast "+prefix+" json", &r); err != nil {
		return nil, err
	}
	return r.Paths, nil
}

// ribCount is the number of prefixes FRR's BGP table holds for the family.
func (f *frrRouter) summary() (ribCount int, peers map[string]struct {
	State  string `json:"state"`
	PfxRcd int    `json:"pfxRcd"`
}, err error) {
	var s struct {
		IPv4Unicast struct {
			RIBCount int `json:"ribCount"`
			Peers    map[string]struct {
				State  string `json:"state"`
				PfxRcd int    `json:"pfxRcd"`
			} `json:"peers"`
		} `json:"ipv4Unicast"`
	}
	if err := f.json("show bgp summary json", &s); err != nil {
		return 0, nil, err
	}
	return s.IPv4Unicast.RIBCount, s.IPv4Unicast.Peers, nil
}

// frrBGPConf renders a bgpd.conf with one neighbor (the node).
func frrBGPConf(l *lab, routerAS, nodeAS uint32, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname r\ndebug bgp neighbor-events\n!\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n", routerAS, l.routerIP)
	fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers connect 1\n", l.nodeIP, nodeAS, l.nodeIP)
	for _, e := range extra {
		fmt.Fprintf(&b, " neighbor %s %s\n", l.nodeIP, e)
	}
	fmt.Fprintf(&b, " address-family ipv4 unicast\n  neighbor %s activate\n exit-address-family\n!\n", l.nodeIP)
	return b.String()
}
