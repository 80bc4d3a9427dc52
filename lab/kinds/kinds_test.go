package kinds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/topology"
)

// The test binary doubles as onp for the processes the kinds start.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__supervise":
			if err := supervisor.Run(context.Background(), os.Args[2], nil); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "__frr-router":
			var o kinds.FRRRouterOptions
			fs := flag.NewFlagSet("frr", flag.ExitOnError)
			fs.StringVar(&o.ConfigPath, "config", "", "")
			fs.StringVar(&o.RunDir, "run", "", "")
			fs.StringVar(&o.LogDir, "log-dir", "", "")
			fs.Parse(os.Args[2:])
			ctx, cancel := context.WithCancel(context.Background())
			go func() { term := make(chan os.Signal, 1); signalNotify(term); <-term; cancel() }()
			if err := kinds.RunFRRRouter(ctx, o); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func manager(t *testing.T) *lab.Manager {
	testutil.RequireRoot(t)
	exe, _ := os.Executable()
	home, err := os.MkdirTemp("", "onpk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return &lab.Manager{
		Paths:    lab.Paths{Home: home},
		Provider: &netns.Provider{SupervisorArgv: func(dir string) []string { return []string{exe, "__supervise", dir} }},
		Kinds:    map[string]lab.Kind{"host": kinds.Host{}, "frr": kinds.FRR{Exe: exe}, "bird": kinds.BIRD{}, "gobgp": kinds.GoBGP{}},
	}
}

const routers = `
name: %s
networks:
  - {name: core, subnet: 10.20.0.0/24}
nodes:
  - name: r1
    kind: frr
    interfaces: [{network: core, address: 10.20.0.1}]
    frr:
      config: |
        router bgp 65001
         bgp router-id 10.20.0.1
         no bgp ebgp-requires-policy
         timers bgp 1 3
         neighbor 10.20.0.2 remote-as 65002
         neighbor 10.20.0.2 timers connect 1
         neighbor 10.20.0.3 remote-as 65003
         neighbor 10.20.0.3 timers connect 1
         address-family ipv4 unicast
          network 10.99.1.0/24
         exit-address-family
        exit
        ip route 10.99.1.0/24 blackhole
  - name: b1
    kind: bird
    interfaces: [{network: core, address: 10.20.0.2}]
    bird:
      config: |
        router id 10.20.0.2;
        protocol device { scan time 10; }
        protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
        protocol bgp r1 {
          local 10.20.0.2 as 65002;
          neighbor 10.20.0.1 as 65001;
          hold time 3; keepalive time 1; connect delay time 1; connect retry time 1; error wait time 1, 10;
          ipv4 { import all; export none; };
        }
  - name: g1
    kind: gobgp
    interfaces: [{network: core, address: 10.20.0.3}]
    gobgp:
      config: |
        [global.config]
          as = 65003
          router-id = "10.20.0.3"
        [[neighbors]]
          [neighbors.config]
            neighbor-address = "10.20.0.1"
            peer-as = 65001
          [neighbors.timers.config]
            connect-retry = 1
            hold-time = 3
            keepalive-interval = 1
`

// An frr node peers with a bird node and a gobgp node; each learns r1's
// prefix, and killing bgpd restarts it with the configuration re-applied.
func TestRouterKindsPeer(t *testing.T) {
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "/usr/sbin/bird", "bird2")
	testutil.RequireBinary(t, "/usr/bin/gobgpd", "gobgpd")
	m := manager(t)
	name := testutil.RandName("rk", 6)
	top, err := topology.Parse("routers.yaml", []byte(fmt.Sprintf(routers, name)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Up(context.Background(), top, lab.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Down(context.Background(), name)
	run := lab.NodeRunDir(name, "r1")
	vtysh := func(args ...string) (string, error) {
		out, err := exec.Command("vtysh", append([]string{"--vty_socket", run}, args...)...).CombinedOutput()
		return string(out), err
	}
	established := func() error {
		out, err := vtysh("-c", "show bgp summary json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var sum struct {
			IPv4Unicast struct {
				Peers map[string]struct {
					State string `json:"state"`
				} `json:"peers"`
			} `json:"ipv4Unicast"`
		}
		json.Unmarshal([]byte(out), &sum)
		for _, p := range []string{"10.20.0.2", "10.20.0.3"} {
			if st := sum.IPv4Unicast.Peers[p].State; st != "Established" {
				return fmt.Errorf("peer %s is %q", p, st)
			}
		}
		return nil
	}
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, established)
	b1, _ := m.Node(l, "b1")
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		var out bytes.Buffer
		b1.Exec(context.Background(), []string{"ip", "route", "show", "10.99.1.0/24"}, lab.ExecOptions{Stdout: &out})
		if !strings.Contains(out.String(), "via 10.20.0.1") {
			return fmt.Errorf("b1 kernel route: %q", out.String())
		}
		return nil
	})
	g1, _ := m.Node(l, "g1")
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		var out bytes.Buffer
		g1.Exec(context.Background(), []string{"gobgp", "global", "rib", "-a", "ipv4"}, lab.ExecOptions{Stdout: &out, Stderr: &out})
		if !strings.Contains(out.String(), "10.99.1.0/24") {
			return fmt.Errorf("g1 rib: %q", out.String())
		}
		return nil
	})
	// A dead bgpd comes back with its configuration.
	pidOut, _ := os.ReadFile(run + "/bgpd.pid")
	var pid int
	fmt.Sscan(string(pidOut), &pid)
	if pid == 0 {
		t.Fatalf("no bgpd pid in %s", run)
	}
	if err := exec.Command("kill", "-9", fmt.Sprint(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		b, _ := os.ReadFile(run + "/bgpd.pid")
		var now int
		fmt.Sscan(string(b), &now)
		if now == pid || now == 0 {
			return fmt.Errorf("bgpd not restarted")
		}
		return established()
	})
}
