package frr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
)

// startTestInstance starts an FRR instance in a throwaway namespace with a
// short runtime directory, stopped at the end of the test.
func startTestInstance(t testing.TB, opts Options) (*Instance, *testutil.Netns) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	ns := testutil.NewNetns(t)
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "onpfrr")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		opts.Dir = dir
	}
	opts.NetnsPath = ns.Path
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start frr: %v", err)
	}
	t.Cleanup(func() { in.Stop(context.Background()) })
	return in, ns
}

func TestStartStop(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	pids := in.Pids()
	if len(pids) != 4 {
		t.Fatalf("pids = %v, want 4 daemons", pids)
	}
	for d, pid := range pids {
		b, err := os.ReadFile(filepath.Join(in.Dir(), d+".pid"))
		if err != nil {
			t.Fatalf("%s pid file: %v", d, err)
		}
		if strings.TrimSpace(string(b)) != fmt.Sprint(pid) {
			t.Errorf("%s pid file says %s, process is %d", d, b, pid)
		}
	}
	for _, f := range []string{"zserv.api", "bfdd.sock", "zebra.vty", "bgpd.vty", "staticd.vty", "bfdd.vty"} {
		if _, err := os.Stat(filepath.Join(in.Dir(), f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	cfg, err := in.RunningConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg, "frr version") {
		t.Errorf("running config looks wrong:\n%s", cfg)
	}
	if err := in.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if len(in.Pids()) != 0 {
		t.Errorf("daemons still running after Stop: %v", in.Pids())
	}
	if _, err := os.Stat(filepath.Join(in.Dir(), "bgpd.vty")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bgpd.vty left behind after Stop (err=%v)", err)
	}
}

func TestSocketPathTooLong(t *testing.T) {
	dir := "/tmp/" + strings.Repeat("d", 100)
	_, err := Start(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "unix socket limit") {
		t.Fatalf("err = %v, want a socket-length error", err)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("Start created %s although it refused the path", dir)
	}
}

func TestTwoInstances(t *testing.T) {
	a, _ := startTestInstance(t, Options{})
	b, _ := startTestInstance(t, Options{})
	ctx := context.Background()
	if _, err := a.Apply(ctx, "router bgp 64512\n bgp router-id 10.0.0.1\nexit\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, "router bgp 64513\n bgp router-id 10.0.0.2\nexit\n"); err != nil {
		t.Fatal(err)
	}
	ca, _ := a.RunningConfig(ctx)
	cb, _ := b.RunningConfig(ctx)
	if !strings.Contains(ca, "router bgp 64512") || strings.Contains(ca, "64513") {
		t.Errorf("instance a:\n%s", ca)
	}
	if !strings.Contains(cb, "router bgp 64513") || strings.Contains(cb, "64512") {
		t.Errorf("instance b:\n%s", cb)
	}
	for d, pa := range a.Pids() {
		if pb := b.Pids()[d]; pa == pb {
			t.Errorf("%s has the same pid %d in both instances", d, pa)
		}
	}
}

func TestSameDirRefused(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	_, err := Start(context.Background(), Options{Dir: in.Dir()})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start on %s: err = %v, want 'already running'", in.Dir(), err)
	}
	if !in.Running() {
		t.Fatal("first instance damaged by the refused start")
	}
}

func TestKillRestartReapply(t *testing.T) {
	exits := make(chan string, 4)
	in, _ := startTestInstance(t, Options{OnExit: func(d string, err error) { exits <- d }})
	ctx := context.Background()
	target := "router bgp 64512\n neighbor 198.51.100.2 remote-as 64512\nexit\n"
	if _, err := in.Apply(ctx, target); err != nil {
		t.Fatal(err)
	}
	old := in.Pids()[Bgpd]
	if err := in.Kill(Bgpd); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-exits:
		if d != Bgpd {
			t.Fatalf("OnExit for %s, want bgpd", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnExit not called after bgpd was killed")
	}
	if err := in.Restart(ctx, Bgpd); err != nil {
		t.Fatal(err)
	}
	if in.Pids()[Bgpd] == old || in.Pids()[Bgpd] == 0 {
		t.Fatalf("bgpd pid %d after restart (was %d)", in.Pids()[Bgpd], old)
	}
	cfg, _ := in.RunningConfig(ctx)
	if strings.Contains(cfg, "198.51.100.2") {
		t.Fatalf("restarted bgpd kept config?\n%s", cfg)
	}
	res, err := in.Apply(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commands) == 0 {
		t.Fatal("re-apply after restart sent nothing")
	}
	cfg, _ = in.RunningConfig(ctx)
	if !strings.Contains(cfg, "neighbor 198.51.100.2 remote-as 64512") {
		t.Fatalf("config not re-applied:\n%s", cfg)
	}
	select {
	case d := <-exits:
		t.Fatalf("unexpected OnExit(%s) for a requested restart", d)
	default:
	}
}

// applyCases are configurations applied in sequence to one instance; after
// each, the plan against the running config must be empty (the target is
// in FRR's canonical form, or normalized to it) and the expected lines
// must be present.
var applyCases = []struct {
	name   string
	target string
	want   []string
	absent []string
}{
	{
		name: "vyos 1.4 shape",
		target: `router bgp 64512
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 !
 address-family ipv4 unicast
  network 10.0.0.0/8
  redistribute connected
  aggregate-address 10.1.0.0/16  summary-only
  maximum-paths 4
 exit-address-family
 !
 neighbor PG peer-group
 neighbor PG remote-as 65001
 !
 neighbor 192.0.2.1 remote-as 100
 neighbor 192.0.2.1 bfd
 neighbor 192.0.2.1 description foo bar baz
 neighbor 192.0.2.1 password VyOS-Secure123
 neighbor 192.0.2.1 timers connect 10
 neighbor 192.0.2.1 timers 3 9
 !
 address-family ipv4 unicast
  neighbor 192.0.2.1 route-map IN in
  neighbor 192.0.2.1 prefix-list PL out
  no neighbor 192.0.2.1 send-community extended
  neighbor 192.0.2.1 activate
 exit-address-family
 neighbor 192.0.2.3 peer-group PG
 address-family ipv4 unicast
  neighbor 192.0.2.3 activate
 exit-address-family
 bgp listen limit 10
 bgp listen range 192.0.2.128/25 peer-group PG
 bgp router-id 192.0.2.254
 bgp log-neighbor-changes
 bgp default local-preference 500
 timers bgp 3 9
exit
!
bfd
 profile fast
  detect-multiplier 3
  receive-interval 300
  transmit-interval 300
  no shutdown
 exit
 peer 192.0.2.10 multihop local-address 192.0.2.254
  detect-multiplier 10
  receive-interval 500
  transmit-interval 600
  minimum-ttl 20
  no shutdown
 exit
 peer 192.0.2.30
  passive-mode
  profile fast
 exit
exit
!
ip prefix-list PL seq 10 permit 10.0.0.0/8 le 32
route-map IN permit 10
 match ip address prefix-list PL
 set local-preference 200
 set community 65000:1 additive
 set as-path prepend 65000 65000
ip route 203.0.113.0/24 blackhole
ip route 198.51.100.0/24 192.0.2.1 20
hostname vyos
`,
		want: []string{"neighbor 192.0.2.1 timers 3 9", "bgp listen range 192.0.2.128/25 peer-group PG", "passive-mode", "profile fast"},
	},
	{
		name: "change AS, drop neighbor, change route-map",
		target: `router bgp 64999
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.0.2.1 remote-as 200
 neighbor 192.0.2.1 timers connect 5
 address-family ipv4 unicast
  neighbor 192.0.2.1 activate
 exit-address-family
exit
route-map IN deny 10
 match ip address prefix-list PL
ip prefix-list PL seq 10 permit 10.0.0.0/8
hostname vyos
`,
		want:   []string{"router bgp 64999", "neighbor 192.0.2.1 remote-as 200", "route-map IN deny 10", "ip prefix-list PL seq 10 permit 10.0.0.0/8"},
		absent: []string{"router bgp 64512", "bfd", "route-map IN permit 10", "ip route", "le 32"},
	},
	{
		name: "1.3 defaults: ipv4 unicast on, activate hidden",
		target: `router bgp 64999
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 192.0.2.1 remote-as 200
 neighbor 192.0.2.2 remote-as 64999
 address-family ipv4 unicast
  neighbor 192.0.2.1 activate
  neighbor 192.0.2.2 activate
  neighbor 192.0.2.2 next-hop-self
  neighbor 192.0.2.2 soft-reconfiguration inbound
 exit-address-family
exit
hostname vyos
`,
		want:   []string{"neighbor 192.0.2.2 next-hop-self", "neighbor 192.0.2.2 soft-reconfiguration inbound"},
		absent: []string{"no bgp default ipv4-unicast", "route-map", "prefix-list"},
	},
	{
		name: "neighbor joins a peer-group, remote-as moves to the group",
		target: `router bgp 64999
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor PG peer-group
 neighbor PG remote-as 200
 neighbor 192.0.2.1 peer-group PG
 neighbor 192.0.2.2 remote-as 64999
 neighbor 192.0.2.2 shutdown
exit
hostname vyos
`,
		want:   []string{"neighbor 192.0.2.1 peer-group PG", "neighbor 192.0.2.2 shutdown"},
		absent: []string{"neighbor 192.0.2.1 remote-as", "next-hop-self"},
	},
	{
		name:   "empty",
		target: "hostname vyos\n",
		absent: []string{"router bgp", "bfd", "route-map"},
	},
}

func TestApplyConverges(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	ctx := context.Background()
	for _, c := range applyCases {
		res, err := in.Apply(ctx, c.target)
		if err != nil {
			t.Fatalf("%s: apply: %v", c.name, err)
		}
		running, err := in.RunningConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left := Plan(running, c.target); len(left) != 0 {
			t.Errorf("%s: not converged; sent:\n  %s\nstill planned:\n  %s\nrunning:\n%s", c.name,
				strings.Join(res.Commands, "\n  "), strings.Join(left, "\n  "), running)
		}
		norm := normLines(running)
		for _, w := range c.want {
			if !norm[w] {
				t.Errorf("%s: missing %q in running config:\n%s", c.name, w, running)
			}
		}
		for _, a := range c.absent {
			for l := range norm {
				if strings.Contains(l, a) {
					t.Errorf("%s: %q should be gone, found %q", c.name, a, l)
				}
			}
		}
	}
}

func normLines(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[normalize(l)] = true
	}
	return m
}

func TestApplyRollsBack(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	ctx := context.Background()
	good := "router bgp 64512\n neighbor 192.0.2.1 remote-as 100\nexit\nip route 203.0.113.0/24 blackhole\nhostname vyos\n"
	if _, err := in.Apply(ctx, good); err != nil {
		t.Fatal(err)
	}
	before, _ := in.RunningConfig(ctx)
	// The bfd peer is accepted by vtysh's parser but rejected by bfdd
	// (minimum-ttl needs multihop); by then the BGP and static changes are
	// already in.
	bad := "router bgp 64512\n neighbor 192.0.2.1 remote-as 200\n neighbor 192.0.2.9 remote-as 9\nexit\nip route 203.0.114.0/24 blackhole\nbfd\n peer 192.0.2.30\n  minimum-ttl 20\n exit\nexit\nhostname vyos\n"
	_, err := in.Apply(ctx, bad)
	var aerr *ApplyError
	if !errors.As(err, &aerr) {
		t.Fatalf("apply of a bad config: err = %v, want *ApplyError", err)
	}
	if !aerr.RolledBack {
		t.Fatalf("rollback failed: %v", aerr.RollbackErr)
	}
	if !strings.Contains(err.Error(), "Minimum TTL") {
		t.Errorf("error does not carry FRR's text: %v", err)
	}
	after, _ := in.RunningConfig(ctx)
	if left := Plan(after, before); len(left) != 0 {
		t.Fatalf("not restored; differences: %v\nbefore:\n%s\nafter:\n%s", left, before, after)
	}
}

// lines20 returns a target that differs from the base by 20 lines.
func lines20(base string, gen int) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("router bgp 64512\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n")
	for i := 0; i < 5; i++ {
		n := fmt.Sprintf("198.51.100.%d", 10+i)
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s description peer-%d-%d\n", n, 65000+gen, n, i, gen)
	}
	b.WriteString(" address-family ipv4 unicast\n")
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "  neighbor 198.51.100.%d activate\n", 10+i)
	}
	b.WriteString(" exit-address-family\nexit\n")
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "ip prefix-list G%d seq %d permit 10.%d.0.0/16\n", gen, 10+i, i)
	}
	return b.String()
}

// BenchmarkApply20 measures Apply of a 20-line change (5 neighbors'
// remote-as and description, 5 activations, 5 prefix-list entries)
// alternating between two configurations, against a real FRR.
func BenchmarkApply20(b *testing.B) {
	in, _ := startTestInstance(b, Options{})
	ctx := context.Background()
	base := "hostname vyos\n"
	if _, err := in.Apply(ctx, lines20(base, 0)); err != nil {
		b.Fatal(err)
	}
	var durs []time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := in.Apply(ctx, lines20(base, 1+i%2))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Commands) == 0 {
			b.Fatal("no commands planned")
		}
		mu.Lock()
		durs = append(durs, time.Since(start))
		mu.Unlock()
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "median-ms")
		b.ReportMetric(float64(durs[(len(durs)*95)/100].Microseconds())/1000, "p95-ms")
	}
}

// TestDirectReadMatchesVtysh checks that the merged per-daemon running
// configuration Apply plans against says the same as vtysh's.
func TestDirectReadMatchesVtysh(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	ctx := context.Background()
	if _, err := in.Apply(ctx, applyCases[0].target); err != nil {
		t.Fatal(err)
	}
	direct, err := in.runningConfigDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	viaVtysh, err := in.RunningConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := Plan(direct, viaVtysh); len(p) != 0 {
		t.Errorf("direct read differs from vtysh: %v\ndirect:\n%s", p, direct)
	}
	if p := Plan(viaVtysh, direct); len(p) != 0 {
		t.Errorf("vtysh differs from direct read: %v", p)
	}
}

func TestStateJSON(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	ctx := context.Background()
	if _, err := in.Apply(ctx, "router bgp 64512\n bgp router-id 10.0.0.1\n neighbor 198.51.100.2 remote-as 65000\n neighbor 198.51.100.2 description speaker\nexit\nip route 203.0.113.0/24 blackhole\nbfd\n peer 198.51.100.2\n exit\nexit\n"); err != nil {
		t.Fatal(err)
	}
	sum, err := in.BGPSummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v4 := sum["ipv4Unicast"]
	if v4.AS != 64512 || v4.RouterID != "10.0.0.1" || v4.Peers["198.51.100.2"].RemoteAS != 65000 {
		t.Errorf("summary: %+v", sum)
	}
	nbrs, err := in.BGPNeighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := nbrs["198.51.100.2"]; n.RemoteAS != 65000 || n.BGPState == "" || n.Description != "speaker" {
		t.Errorf("neighbor: %+v", n)
	}
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		routes, err := in.Routes(ctx, "static")
		if err != nil {
			return err
		}
		r := routes["203.0.113.0/24"]
		if len(r) != 1 || r[0].Protocol != "static" || len(r[0].Nexthops) != 1 || !r[0].Nexthops[0].Blackhole {
			return fmt.Errorf("static routes: %+v", routes)
		}
		return nil
	})
	peers, err := in.BFDPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].Peer != "198.51.100.2" || peers[0].DetectMultiplier != 3 {
		t.Errorf("bfd peers: %+v", peers)
	}
}

// "write memory" makes each daemon rename its config file to .sav and write
// a new one: that must happen in the instance's directory, never to a file
// shared with the host (FRR given -f /dev/null replaced the host's /dev/null
// with a regular file).
func TestWriteMemoryStaysInTheInstance(t *testing.T) {
	in, _ := startTestInstance(t, Options{})
	before, err := os.Stat("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	etcBefore, _ := os.ReadFile("/etc/frr/frr.conf")
	if _, err := in.Apply(context.Background(), "router bgp 64999\n bgp router-id 10.9.9.9\nexit\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := in.Vtysh(context.Background(), "write memory")
	after, err := os.Stat("/dev/null")
	if err != nil || after.Mode()&os.ModeCharDevice == 0 || !os.SameFile(before, after) {
		t.Fatalf("/dev/null changed by write memory (%v): %v %v", out, after.Mode(), err)
	}
	if etcAfter, _ := os.ReadFile("/etc/frr/frr.conf"); string(etcAfter) != string(etcBefore) {
		t.Fatalf("write memory changed the host's /etc/frr/frr.conf (vtysh said %s)", out)
	}
	b, err := os.ReadFile(filepath.Join(in.Dir(), "bgpd.conf"))
	if err != nil || !strings.Contains(string(b), "router bgp 64999") {
		t.Fatalf("bgpd.conf in the instance directory: %q %v (vtysh said %s)", b, err, out)
	}
	// A restarted daemon starts empty again and is configured through Apply.
	if err := in.Kill(Bgpd); err != nil {
		t.Fatal(err)
	}
	in.Wait(context.Background(), Bgpd)
	if err := in.Restart(context.Background(), Bgpd); err != nil {
		t.Fatal(err)
	}
	cfg, _ := in.RunningConfig(context.Background())
	if strings.Contains(cfg, "64999") {
		t.Fatalf("a restarted bgpd loaded the saved configuration:\n%s", cfg)
	}
}
