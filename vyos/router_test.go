package vyos

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/vishvananda/netlink"
)

// labPair builds the reference lab's wiring in throwaway namespaces: the
// router's eth0 and a "node" namespace at 192.168.126.2/24 on a veth pair.
func labPair(t testing.TB) (setup func(ns *testutil.Netns), node func() *testutil.Netns) {
	var peer *testutil.Netns
	setup = func(ns *testutil.Netns) {
		peer = testutil.NewNetns(t)
		testutil.Link(t, ns, "eth0", "", peer, "eth0", "192.168.126.2/24")
	}
	return setup, func() *testutil.Netns { return peer }
}

func linkAddrs(t testing.TB, ns *testutil.Netns, ifname string) ([]string, netlink.Link) {
	t.Helper()
	h := ns.Handle(t)
	l, err := h.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.IPNet.String())
	}
	sort.Strings(out)
	return out, l
}

// TestSeedCommands types the reference lab's router commands
// (testdata/seed-04-vyos-commands.txt, VyOS 1.3) into a session and checks
// prompts, outputs, FRR's configuration, the interface address, config.boot,
// and finally that a BGP session with a real peer at 192.168.126.2 reaches
// Established.
func TestSeedCommands(t *testing.T) {
	setup, node := labPair(t)
	tr := newTestRouter(t, V13, setup)
	b, err := os.ReadFile("testdata/seed-04-vyos-commands.txt")
	if err != nil {
		t.Fatal(err)
	}
	sh := tr.NewShell("vyos")
	ctx := context.Background()
	if p := sh.Prompt(); p != "vyos@vyos:~$ " {
		t.Fatalf("op prompt %q", p)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		out, exit := sh.Exec(ctx, line)
		if exit {
			t.Fatalf("%q ended the session", line)
		}
		want := ""
		switch line {
		case "save":
			want = "Saving configuration to '/config/config.boot'...\nDone\n"
		case "exit":
			want = "exit\n"
		}
		if out != want {
			t.Fatalf("%q printed %q, want %q", line, out, want)
		}
		if line == "configure" {
			if p := sh.Prompt(); p != "[edit]\nvyos@vyos# " {
				t.Fatalf("config prompt %q", p)
			}
		}
	}
	if p := sh.Prompt(); p != "vyos@vyos:~$ " {
		t.Fatalf("prompt after exit %q", p)
	}
	running := tr.running(t)
	for _, l := range []string{"router bgp 64512", "bgp router-id 192.168.126.3", "neighbor 192.168.126.2 remote-as 64512"} {
		if !hasLine(running, l) {
			t.Errorf("missing %q:\n%s", l, strings.Join(running, "\n"))
		}
	}
	nbrs, err := tr.frr.BGPNeighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := nbrs["192.168.126.2"]; !ok {
		t.Fatalf("no BGP neighbor 192.168.126.2 in FRR: %v", nbrs)
	}
	if addrs, _ := linkAddrs(t, tr.ns, "eth0"); len(addrs) != 1 || addrs[0] != "192.168.126.3/24" {
		t.Errorf("eth0 addresses %v", addrs)
	}
	boot, err := os.ReadFile(filepath.Join(tr.dir, ConfigBoot))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"bgp 64512 {", "remote-as 64512", "address 192.168.126.3/24", "// Release version: 1.3"} {
		if !strings.Contains(string(boot), w) {
			t.Errorf("config.boot lacks %q:\n%s", w, boot)
		}
	}

	// A real peer on the node side: the session must come up.
	peer := startFRR(t, node())
	if _, err := peer.Apply(ctx, "router bgp 64512\n bgp router-id 192.168.126.2\n neighbor 192.168.126.3 remote-as 64512\n neighbor 192.168.126.3 timers connect 1\nexit\n"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		n, err := tr.frr.BGPNeighbors(ctx)
		if err != nil {
			return err
		}
		if s := n["192.168.126.2"].BGPState; s != "Established" {
			return fmt.Errorf("router's session with 192.168.126.2 is %s", s)
		}
		return nil
	})
	out, _ := sh.Exec(ctx, "show ip bgp summary")
	if !strings.Contains(out, "192.168.126.2") || !strings.Contains(out, "local AS number 64512") {
		t.Errorf("show ip bgp summary:\n%s", out)
	}
}

// TestCommitAtomic checks that a failing commit changes nothing: neither
// FRR nor the interfaces, whether the check that fails is VyOS's own or
// FRR's rejection of a command.
func TestCommitAtomic(t *testing.T) {
	setup, _ := labPair(t)
	tr := newTestRouter(t, V14, setup)
	ctx := context.Background()
	sh := tr.NewShell("vyos")
	mustExec(t, sh, "configure",
		"set interfaces ethernet eth0 address 192.168.126.3/24",
		"set protocols bgp system-as 64512",
		"set protocols bgp neighbor 192.168.126.2 remote-as 64512",
		"set protocols bgp neighbor 192.168.126.2 address-family ipv4-unicast",
		"set protocols static route 203.0.113.0/24 blackhole",
		"commit")
	before := tr.running(t)
	addrsBefore, linkBefore := linkAddrs(t, tr.ns, "eth0")

	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{
			name: "verify fails",
			lines: []string{
				"set interfaces ethernet eth0 address 192.168.126.4/24",
				"set interfaces ethernet eth0 description changed",
				"set protocols static route 198.51.100.0/24 blackhole",
				"set protocols bgp neighbor 192.168.126.9 password 'two words'",
				"set protocols bgp neighbor 192.168.126.9 remote-as 1",
			},
			want: []string{"[ protocols bgp ]", "Whitespace is not allowed in passwords!", "[[protocols bgp]] failed", "Commit failed"},
		},
		{
			name: "FRR rejects",
			lines: []string{
				"set interfaces ethernet eth0 address 192.168.126.4/24",
				"set interfaces ethernet eth0 disable",
				"set protocols static route 198.51.100.0/24 blackhole",
				"set protocols bgp parameters router-id 192.168.126.3",
				// FRR refuses a local-as equal to the instance's AS.
				"set protocols bgp neighbor 192.168.126.2 local-as 64512",
			},
			want: []string{"[ protocols bgp ]", "FRR rejected the configuration", "[[protocols bgp]] failed", "Commit failed"},
		},
		{
			name:  "missing interface",
			lines: []string{"set protocols static route 198.51.100.0/24 blackhole", "set interfaces ethernet eth7 address 10.7.0.1/24"},
			want:  []string{"[ interfaces ethernet eth7 ]", `Interface "eth7" does not exist!`, "[[interfaces ethernet eth7]] failed", "Commit failed"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustExec(t, sh, c.lines...)
			out, _ := sh.Exec(ctx, "commit")
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("commit output lacks %q:\n%s", w, out)
				}
			}
			after := tr.running(t)
			if strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("FRR changed by a failed commit:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
			}
			addrs, l := linkAddrs(t, tr.ns, "eth0")
			if strings.Join(addrs, ",") != strings.Join(addrsBefore, ",") {
				t.Errorf("eth0 addresses changed: %v -> %v", addrsBefore, addrs)
			}
			if l.Attrs().Alias != linkBefore.Attrs().Alias || l.Attrs().Flags&net.FlagUp != linkBefore.Attrs().Flags&net.FlagUp {
				t.Errorf("eth0 alias/state changed: %q/%v -> %q/%v", linkBefore.Attrs().Alias, linkBefore.Attrs().Flags, l.Attrs().Alias, l.Attrs().Flags)
			}
			if !sh.Changed() {
				t.Error("the session lost its uncommitted changes")
			}
			sh.Exec(ctx, "discard")
		})
	}
}

// TestSaveAndRestore checks that a new Router on the same directory loads
// config.boot and applies it, here to a brand-new FRR.
func TestSaveAndRestore(t *testing.T) {
	for _, d := range []Dialect{V13, V14} {
		t.Run(string(d), func(t *testing.T) {
			setup, _ := labPair(t)
			tr := newTestRouter(t, d, setup)
			ctx := context.Background()
			sh := tr.NewShell("vyos")
			bgp := "set protocols bgp 64512 "
			lines := []string{"configure"}
			if d == V14 {
				bgp = "set protocols bgp "
				lines = append(lines, bgp+"system-as 64512")
			}
			lines = append(lines,
				"set system host-name r1",
				"set interfaces ethernet eth0 address 192.168.126.3/24",
				"set interfaces ethernet eth0 description 'to the node'",
				bgp+"neighbor 192.168.126.2 remote-as 64512",
				bgp+"neighbor 192.168.126.2 address-family ipv4-unicast",
				bgp+"neighbor 192.168.126.2 description 'metallb speaker'",
				"set protocols bfd peer 192.168.126.2",
				"commit")
			mustExec(t, sh, lines...)
			out, _ := sh.Exec(ctx, "exit")
			if !strings.Contains(out, "Warning: configuration changes have not been saved.") {
				t.Errorf("exit after commit without save: %q", out)
			}
			mustExec(t, sh, "configure", "save", "exit")
			active := tr.Active()
			tr.Close()

			// A new router process: fresh FRR, same directory.
			in2 := startFRR(t, tr.ns)
			if _, err := tr.frr.Apply(ctx, ""); err != nil {
				t.Fatal(err)
			}
			r2, err := NewRouter(ctx, RouterOptions{Dir: tr.dir, Dialect: d, FRR: in2, NetnsPath: tr.ns.Path})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if !r2.Active().Equal(active) {
				t.Errorf("restored configuration differs:\n%s\nwant\n%s", r2.Active(), active)
			}
			if r2.HostName() != "r1" || r2.NewShell("vyos").Prompt() != "vyos@r1:~$ " {
				t.Errorf("host name %q", r2.HostName())
			}
			cfg, _ := in2.RunningConfig(ctx)
			for _, l := range []string{"neighbor 192.168.126.2 remote-as 64512", "neighbor 192.168.126.2 description metallb speaker", "peer 192.168.126.2"} {
				if !hasLine(normalizedLines(cfg), l) {
					t.Errorf("restored FRR lacks %q:\n%s", l, cfg)
				}
			}
			if !r2.Saved() {
				t.Error("a router loaded from config.boot should count as saved")
			}
		})
	}
}

// TestTwoRouters runs two routers, both called vyos, with their own FRR
// instances at once.
func TestTwoRouters(t *testing.T) {
	a := newTestRouter(t, V13, nil)
	b := newTestRouter(t, V14, nil)
	mustExec(t, a.NewShell("vyos"), "configure", "set protocols bgp 65001 neighbor 198.51.100.1 remote-as 65000", "commit")
	mustExec(t, b.NewShell("vyos"), "configure", "set protocols bgp system-as 65002",
		"set protocols bgp neighbor 198.51.100.1 remote-as 65000", "set protocols bgp neighbor 198.51.100.1 address-family ipv4-unicast", "commit")
	ra, rb := strings.Join(a.running(t), "\n"), strings.Join(b.running(t), "\n")
	if !strings.Contains(ra, "router bgp 65001") || strings.Contains(ra, "65002") {
		t.Errorf("router a:\n%s", ra)
	}
	if !strings.Contains(rb, "router bgp 65002") || strings.Contains(rb, "65001") {
		t.Errorf("router b:\n%s", rb)
	}
	if a.frr.Dir() == b.frr.Dir() {
		t.Error("both routers share an FRR directory")
	}
}

// TestFRRRestartReapply kills bgpd (and then zebra), restarts the daemons
// as a supervisor would, and checks that Reapply restores the committed
// configuration.
func TestFRRRestartReapply(t *testing.T) {
	tr := newTestRouter(t, V14, nil)
	ctx := context.Background()
	mustExec(t, tr.NewShell("vyos"), "configure", "set protocols bgp system-as 64512",
		"set protocols bgp neighbor 198.51.100.1 remote-as 65000", "set protocols bgp neighbor 198.51.100.1 address-family ipv4-unicast",
		"set protocols static route 203.0.113.0/24 blackhole", "set protocols bfd peer 198.51.100.1", "commit")
	want := tr.running(t)
	for _, daemons := range [][]string{{frr.Bgpd}, tr.frr.Daemons()} {
		victim := daemons[0]
		if err := tr.frr.Kill(victim); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tr.frr.Wait(wctx, victim)
		cancel()
		if err := tr.frr.Restart(ctx, daemons...); err != nil {
			t.Fatal(err)
		}
		if got := tr.running(t); strings.Join(got, "\n") == strings.Join(want, "\n") {
			t.Fatalf("restarted %s still has the configuration; the test proves nothing", victim)
		}
		if err := tr.Reapply(ctx); err != nil {
			t.Fatal(err)
		}
		if got := tr.running(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("after restarting %v and Reapply:\n%s\nwant\n%s", daemons, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// BenchmarkCommit20 measures the commit latency of a 20-line change
// (neighbors, their options, prefix-list rules) against a real FRR,
// alternating between two configurations, and reports median and p95.
func BenchmarkCommit20(b *testing.B) {
	tr := newTestRouter(b, V14, nil)
	ctx := context.Background()
	gen := func(g int) *Config {
		var lines []string
		lines = append(lines, "set protocols bgp system-as 64512")
		for i := 0; i < 4; i++ {
			n := fmt.Sprintf("set protocols bgp neighbor 198.51.100.%d ", 10+i)
			lines = append(lines, n+fmt.Sprintf("remote-as %d", 65000+g), n+fmt.Sprintf("description 'peer %d gen %d'", i, g),
				n+"address-family ipv4-unicast", n+fmt.Sprintf("timers connect %d", 5+g))
		}
		for i := 0; i < 4; i++ {
			lines = append(lines, fmt.Sprintf("set policy prefix-list G%d rule %d action permit", g, 10+i),
				fmt.Sprintf("set policy prefix-list G%d rule %d prefix 10.%d.0.0/16", g, 10+i, i))
		}
		c, err := ParseCommands(V14, strings.Join(lines, "\n"))
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	configs := []*Config{gen(1), gen(2)}
	if res := tr.Commit(ctx, configs[1]); !res.OK {
		b.Fatal(res.Output)
	}
	var durs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if res := tr.Commit(ctx, configs[i%2]); !res.OK {
			b.Fatal(res.Output)
		}
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(durs[(len(durs)*95)/100].Microseconds())/1000, "p95-ms")
}

// TestInterfaces checks addresses, description (alias), disable and
// removal against the kernel.
func TestInterfaces(t *testing.T) {
	setup, _ := labPair(t)
	tr := newTestRouter(t, V13, setup)
	sh := tr.NewShell("vyos")
	var commits []*Config
	tr.opts.OnCommit = func(c *Config) { commits = append(commits, c) }
	check := func(wantAddrs []string, alias string, up bool) {
		t.Helper()
		addrs, l := linkAddrs(t, tr.ns, "eth0")
		if strings.Join(addrs, ",") != strings.Join(wantAddrs, ",") {
			t.Errorf("addresses %v, want %v", addrs, wantAddrs)
		}
		if l.Attrs().Alias != alias {
			t.Errorf("alias %q, want %q", l.Attrs().Alias, alias)
		}
		if (l.Attrs().Flags&net.FlagUp != 0) != up {
			t.Errorf("up = %v, want %v", !up, up)
		}
	}
	mustExec(t, sh, "configure",
		"set interfaces ethernet eth0 address 192.168.126.3/24",
		"set interfaces ethernet eth0 address 10.1.0.1/16",
		"set interfaces ethernet eth0 description 'to node'",
		"set interfaces ethernet eth0 disable",
		"set interfaces loopback lo address 203.0.113.10/32",
		"commit")
	check([]string{"10.1.0.1/16", "192.168.126.3/24"}, "to node", false)
	if lo, _ := linkAddrs(t, tr.ns, "lo"); !contains(lo, "203.0.113.10/32") {
		t.Errorf("lo addresses %v", lo)
	}
	mustExec(t, sh, "delete interfaces ethernet eth0 disable", "delete interfaces ethernet eth0 address 10.1.0.1/16", "commit")
	check([]string{"192.168.126.3/24"}, "to node", true)
	out, _ := sh.Exec(context.Background(), "run show interfaces ethernet eth0")
	if !strings.Contains(out, "192.168.126.3/24") || !strings.Contains(out, "u/u") || !strings.Contains(out, "to node") {
		t.Errorf("show interfaces:\n%s", out)
	}
	mustExec(t, sh, "delete interfaces ethernet eth0", "commit")
	check(nil, "", false)
	if len(commits) != 3 {
		t.Errorf("OnCommit called %d times, want 3", len(commits))
	}
}

// TestCommitSequenceConverges commits a sequence of related configurations
// (the full render cases, thinned out, with changed AS numbers and
// peer-group memberships, and empty) and checks after each commit that FRR
// holds exactly the rendered configuration: frr.Apply's diffs are right
// for realistic transitions, not only from an empty FRR.
func TestCommitSequenceConverges(t *testing.T) {
	for _, name := range []string{"full14", "full13"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/render/" + name + ".cmds")
			if err != nil {
				t.Fatal(err)
			}
			d := V13
			if strings.Contains(string(b), "# dialect 1.4") {
				d = V14
			}
			setup, _ := labPair(t)
			tr := newTestRouter(t, d, setup)
			full := string(b)
			// Thin out: drop every third line unless that breaks VyOS's
			// checks.
			verifies := func(lines []string) bool {
				c, err := ParseCommands(d, strings.Join(lines, "\n"))
				if err != nil {
					return false
				}
				for _, is := range Verify(c, VerifyEnv{}) {
					if !is.Warning {
						return false
					}
				}
				return true
			}
			thin := strings.Split(full, "\n")
			for i := len(thin) - 1; i >= 0; i-- {
				if i%3 != 1 {
					continue
				}
				try := append(append([]string(nil), thin[:i]...), thin[i+1:]...)
				if verifies(try) {
					thin = try
				}
			}
			changed := strings.NewReplacer(
				"remote-as 65001", "remote-as 65009",
				"remote-as 64513", "remote-as 64599",
				"neighbor 198.51.100.5 peer-group IBGP", "neighbor 198.51.100.5 remote-as internal",
				"neighbor 192.168.126.2 peer-group METALLB", "neighbor 192.168.126.2 remote-as 64512",
				"set protocols bgp 64512 ", "set protocols bgp 64512 ",
				"timers holdtime 9", "timers holdtime 30",
				"rule 10 set local-preference 200", "rule 10 set local-preference 250",
			).Replace(full)
			steps := []struct{ name, text string }{
				{"full", full}, {"thinned", strings.Join(thin, "\n")}, {"full again", full},
				{"changed", changed}, {"full again", full}, {"empty", ""},
			}
			ctx := context.Background()
			for _, st := range steps {
				cfg, err := ParseCommands(d, st.text)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				skip := false
				for _, is := range Verify(cfg, VerifyEnv{}) {
					if !is.Warning {
						t.Logf("%s: skipped, does not verify: %s", st.name, is.Message)
						skip = true
						break
					}
				}
				if skip {
					continue
				}
				if res := tr.Commit(ctx, cfg); !res.OK && !strings.Contains(res.Output, "No configuration changes") {
					t.Fatalf("%s: commit failed:\n%s", st.name, res.Output)
				}
				running, err := tr.frr.RunningConfig(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if left := frr.Plan(running, Render(cfg)); len(left) != 0 {
					t.Errorf("%s: FRR differs from the rendered configuration:\n  %s\nrunning:\n%s", st.name, strings.Join(left, "\n  "), running)
				}
			}
		})
	}
}
