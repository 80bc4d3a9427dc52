package bgp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
)

// ---- BIRD ----

type birdRouter struct {
	ctl, dir string
}

func startBIRD(t *testing.T, l *lab, routerAS, nodeAS uint32) *birdRouter {
	t.Helper()
	testutil.RequireBinary(t, "bird", "bird2")
	testutil.RequireBinary(t, "birdc", "bird2")
	dir := tempDir(t, "onp-bgp-bird-")
	b := &birdRouter{ctl: filepath.Join(dir, "bird.ctl"), dir: dir}
	direct := ""
	if routerAS == nodeAS {
		direct = "  direct;\n" // iBGP is multihop in BIRD unless told otherwise
	}
	conf := fmt.Sprintf(`log "%s/bird.log" all;
router id %s;
debug protocols { states, events };
protocol device { scan time 10; }
protocol bgp node {
  local %s as %d;
  neighbor %s as %d;
%s  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 10;
  ipv4 { gateway direct; import all; export none; };
}
`, dir, l.routerIP, l.routerIP, routerAS, l.nodeIP, nodeAS, direct)
	cf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "bird.pid")
	var out strings.Builder
	cmd := l.router.Command("bird", "-c", cf, "-s", b.ctl, "-P", pidFile)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("start bird: %v\n%s", err, out.String())
	}
	pid := readPidFile(t, pidFile)
	t.Cleanup(func() {
		stopPid(pid)
		if t.Failed() {
			lb, _ := os.ReadFile(filepath.Join(dir, "bird.log"))
			t.Logf("bird.log (tail):\n%s", lastLines(string(lb), 40))
		}
	})
	return b
}

func (b *birdRouter) birdc(args ...string) (string, error) {
	out, err := execOutput("birdc", append([]string{"-s", b.ctl}, args...)...)
	if err != nil {
		return out, fmt.Errorf("birdc %v: %w: %s", args, err, out)
	}
	return out, nil
}

func TestBIRDiBGP(t *testing.T) {
	l := newLab(t)
	b := startBIRD(t, l, 64512, 64512)
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "bird", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	advs := []Advertisement{
		{Prefix: netip.MustParsePrefix("10.0.5.10/32"), LocalPref: 150, Communities: []Community{NewCommunity(65535, 65282)}, LargeCommunities: []LargeCommunity{{64512, 1, 2}}},
		{Prefix: netip.MustParsePrefix("10.0.5.11/32")},
	}
	if err := s.Set(advs...); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 15*time.Second)
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := b.birdc("show", "protocols", "all", "node")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "BGP state:          Established") {
			return fmt.Errorf("BIRD not established:\n%s", out)
		}
		out, err = b.birdc("show", "route", "all", "10.0.5.10/32")
		if err != nil {
			return err
		}
		for _, want := range []string{
			"10.0.5.10/32", "via " + l.nodeIP.String(), "BGP.origin: IGP", "BGP.local_pref: 150",
			"BGP.community: (65535,65282)", "BGP.large_community: (64512, 1, 2)", "BGP.next_hop: " + l.nodeIP.String(),
		} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("BIRD route lacks %q:\n%s", want, out)
			}
		}
		out, err = b.birdc("show", "route", "all", "10.0.5.11/32")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "BGP.local_pref: 100") {
			return fmt.Errorf("10.0.5.11/32 should carry the default local-pref 100:\n%s", out)
		}
		return nil
	})
	// Withdraw.
	if err := s.Set(advs[0]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := b.birdc("show", "route", "10.0.5.11/32")
		if err != nil && strings.Contains(out, "Network not found") {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.Contains(out, "10.0.5.11/32") {
			return fmt.Errorf("still there:\n%s", out)
		}
		return nil
	})
}

func TestBIRDeBGP(t *testing.T) {
	l := newLab(t)
	b := startBIRD(t, l, 64513, 64512)
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "bird-ebgp", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64513})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("10.0.6.0/24"), LocalPref: 200}); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 15*time.Second)
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := b.birdc("show", "route", "all", "10.0.6.0/24")
		if err != nil {
			return err
		}
		for _, want := range []string{"BGP.as_path: 64512", "BGP.origin: IGP", "BGP.next_hop: " + l.nodeIP.String()} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("BIRD route lacks %q:\n%s", want, out)
			}
		}
		// BIRD gives routes from eBGP its own default (100); 200 would
		// mean ours crossed the eBGP session.
		if strings.Contains(out, "BGP.local_pref: 200") {
			return fmt.Errorf("LOCAL_PREF reached an eBGP peer:\n%s", out)
		}
		return nil
	})
}

// ---- gobgpd (Debian's, 3.10) ----

func execOutput(name string, args ...string) (string, error) {
	var out strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

type gobgpdRouter struct {
	ns  *testutil.Netns
	api string
}

// startGobgpd runs gobgpd in ns with one passive neighbor; its API listens
// on api (host:port) inside ns.
func startGobgpd(t testing.TB, ns *testutil.Netns, routerIP netip.Addr, routerAS uint32, neighbor netip.Addr, neighborAS uint32, listen bool, api string) *gobgpdRouter {
	t.Helper()
	testutil.RequireBinary(t, "/usr/bin/gobgpd", "gobgpd")
	testutil.RequireBinary(t, "/usr/bin/gobgp", "gobgpd")
	dir := tempDir(t, "onp-bgp-gobgpd-")
	port := "179"
	if !listen {
		port = "-1"
	}
	passive := "true"
	if !listen {
		passive = "false"
	}
	conf := fmt.Sprintf(`[global.config]
  as = %d
  router-id = "%s"
  port = %s
  local-address-list = ["%s"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "%s"
    peer-as = %d
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    passive-mode = %s
    local-address = "%s"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`, routerAS, routerIP, port, routerIP, neighbor, neighborAS, passive, routerIP)
	cf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "gobgpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command("/usr/bin/gobgpd", "-f", cf, "-p", "--api-hosts", api, "--pprof-disable", "-l", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gobgpd: %v", err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait()
	t.Cleanup(func() {
		stopPid(pid)
		logf.Close()
		if t.Failed() {
			lb, _ := os.ReadFile(filepath.Join(dir, "gobgpd.log"))
			t.Logf("gobgpd.log (tail):\n%s", lastLines(string(lb), 30))
		}
	})
	g := &gobgpdRouter{ns: ns, api: api}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		_, err := g.cli("global")
		return err
	})
	return g
}

func (g *gobgpdRouter) cli(args ...string) (string, error) {
	host, port, _ := strings.Cut(g.api, ":")
	var out strings.Builder
	cmd := g.ns.Command("/usr/bin/gobgp", append([]string{"-u", host, "-p", port}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("gobgp %v: %w: %s", args, err, out.String())
	}
	return out.String(), nil
}

// gobgpRIBPath is one path of `gobgp global rib -j` (gobgp 3.10).
type gobgpRIBPath struct {
	Attrs []map[string]any `json:"attrs"`
}

func TestGobgpdiBGP(t *testing.T) {
	l := newLab(t)
	g := startGobgpd(t, l.router, l.routerIP, 64512, l.nodeIP, 64512, true, "127.0.0.1:50051")
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "gobgpd", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	advs := []Advertisement{
		{Prefix: netip.MustParsePrefix("10.0.7.10/32"), LocalPref: 150, Communities: []Community{NewCommunity(65535, 65282)}, LargeCommunities: []LargeCommunity{{64512, 1, 2}}},
		{Prefix: netip.MustParsePrefix("10.0.7.11/32")},
	}
	if err := s.Set(advs...); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 15*time.Second)
	var raw string
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := g.cli("global", "rib", "-a", "ipv4", "-j")
		if err != nil {
			return err
		}
		raw = out
		var rib map[string][]gobgpRIBPath
		if err := json.Unmarshal([]byte(out), &rib); err != nil {
			return fmt.Errorf("decode %q: %w", out, err)
		}
		p10, ok := rib["10.0.7.10/32"]
		if !ok || len(p10) != 1 || len(rib["10.0.7.11/32"]) != 1 {
			return fmt.Errorf("rib %s", out)
		}
		attrs := map[float64]map[string]any{}
		for _, a := range p10[0].Attrs {
			attrs[a["type"].(float64)] = a
		}
		if v := attrs[1]["value"]; v != float64(0) {
			return fmt.Errorf("origin %v, want 0 (IGP)", v)
		}
		if v := attrs[3]["nexthop"]; v != l.nodeIP.String() {
			return fmt.Errorf("next hop %v", v)
		}
		if v := attrs[5]["value"]; v != float64(150) {
			return fmt.Errorf("local-pref %v", v)
		}
		if c, _ := json.Marshal(attrs[8]["communities"]); string(c) != "[4294967042]" {
			return fmt.Errorf("communities %s", c)
		}
		if c, _ := json.Marshal(attrs[32]["value"]); !strings.Contains(string(c), `"ASN":64512`) || !strings.Contains(string(c), `"LocalData1":1`) || !strings.Contains(string(c), `"LocalData2":2`) {
			return fmt.Errorf("large communities %s", c)
		}
		return nil
	})
	t.Logf("gobgp global rib -j: %s", raw)
	if err := s.Set(advs[0]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := g.cli("global", "rib", "-a", "ipv4", "-j")
		if err != nil {
			return err
		}
		if strings.Contains(out, "10.0.7.11/32") {
			return fmt.Errorf("not withdrawn: %s", out)
		}
		return nil
	})
}
