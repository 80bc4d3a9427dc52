package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
)

// shortHome keeps unix socket paths short.
func shortHome(t *testing.T) string {
	h, err := os.MkdirTemp("", "onpt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(h) })
	return h
}

const vyosPeersLab = `
name: %s
networks:
  - {name: sno0, subnet: 192.168.126.0/24}
nodes:
  - name: vyos
    kind: vyos
    interfaces: [{network: sno0, address: 192.168.126.3}]
    vyos:
      config:
        - set protocols bgp 64512 parameters router-id 192.168.126.3
        - set protocols bgp 64512 neighbor 192.168.126.2 remote-as 64512
        - set protocols bgp 64512 neighbor 192.168.126.4 remote-as 65004
        - set protocols bgp 64512 neighbor 192.168.126.4 timers connect 1
  - name: f1
    kind: frr
    interfaces: [{network: sno0, address: 192.168.126.2}]
    frr:
      config: |
        router bgp 64512
         bgp router-id 192.168.126.2
         neighbor 192.168.126.3 remote-as 64512
         neighbor 192.168.126.3 timers connect 1
         address-family ipv4 unicast
          network 10.0.0.10/32
         exit-address-family
        exit
        ip route 10.0.0.10/32 blackhole
  - name: b1
    kind: bird
    interfaces: [{network: sno0, address: 192.168.126.4}]
    bird:
      config: |
        router id 192.168.126.4;
        protocol device { scan time 10; }
        protocol static { ipv4; route 10.0.0.20/32 blackhole; }
        protocol bgp vyos {
          local 192.168.126.4 as 65004;
          neighbor 192.168.126.3 as 64512;
          connect delay time 1; connect retry time 1; error wait time 1, 10;
          ipv4 { import none; export where source = RTS_STATIC; };
        }
`

// The VyOS router kind peers with an frr-kind and a bird-kind node; the
// lab file's router commands were pushed over SSH with the driver.
func TestVyOSRouterPeersWithFRRAndBIRD(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "/usr/sbin/bird", "bird2")
	home := shortHome(t)
	name := testutil.RandName("v", 6)
	file := filepath.Join(home, "lab.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(vyosPeersLab, name)), 0o644)
	if r := onp(t, home, "up", "-f", file); r.code != 0 {
		t.Fatalf("up: %+v", r)
	}
	defer onp(t, home, "down", name)
	testutil.Eventually(t, 30*time.Second, 250*time.Millisecond, func() error {
		r := onp(t, home, "ssh", "--lab", name, "vyos", "--", "vtysh -c 'show bgp summary json'")
		var sum struct {
			IPv4Unicast struct {
				Peers map[string]struct {
					State  string `json:"state"`
					PfxRcd int    `json:"pfxRcd"`
				} `json:"peers"`
			} `json:"ipv4Unicast"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
			return fmt.Errorf("%v: %q %q", err, r.stdout, r.stderr)
		}
		for _, p := range []string{"192.168.126.2", "192.168.126.4"} {
			if st := sum.IPv4Unicast.Peers[p]; st.State != "Established" || st.PfxRcd != 1 {
				return fmt.Errorf("peer %s: %+v", p, st)
			}
		}
		return nil
	})
	// zebra installs what bgpd selected a moment later.
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		r := onp(t, home, "exec", "--lab", name, "vyos", "--", "ip", "route")
		for _, want := range []string{"10.0.0.10 nhid", "10.0.0.20 nhid"} {
			if !strings.Contains(r.stdout, want) {
				return fmt.Errorf("router FIB lacks %q:\n%s", want, r.stdout)
			}
		}
		return nil
	})
	r := onp(t, home, "ssh", "--lab", name, "f1", "--", "show version")
	if r.code != 2 || !strings.Contains(r.stderr, "node f1 is a frr node, not a router with a CLI") {
		t.Errorf("ssh to an frr node: %+v", r)
	}
}

// The ONP path: a fresh router from `onp vyos`, configured by pushing the
// reference lab's typed session with `onp vyos configure`.
func TestVyosVerbAndConfigure(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := shortHome(t)
	name := testutil.RandName("o", 6)
	r := onp(t, home, "vyos", "NETWORK=sno0", "LAB="+name)
	if r.code != 0 || !strings.Contains(r.stdout, "router vyos is up in lab "+name) {
		t.Fatalf("onp vyos: %+v", r)
	}
	defer onp(t, home, "down", name)
	r = onp(t, home, "ssh", "--lab", name, "vyos", "--", "show configuration commands")
	if r.code != 0 || strings.Contains(r.stdout, "protocols bgp") || strings.Contains(r.stdout, "address") {
		t.Fatalf("a fresh router should have no address and no BGP: %+v", r)
	}
	seed := "../../topology/builtin/seed/04-vyos-commands.txt"
	r = onp(t, home, "vyos", "configure", "--lab", name, "vyos", "-f", seed)
	if r.code != 0 {
		t.Fatalf("configure: %+v", r)
	}
	r = onp(t, home, "ssh", "--lab", name, "vyos", "--", "show configuration commands")
	for _, want := range []string{
		"set interfaces ethernet eth0 address '192.168.126.3/24'",
		"set protocols bgp 64512 neighbor 192.168.126.2 remote-as '64512'",
		"set service ssh",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("configuration lacks %q:\n%s", want, r.stdout)
		}
	}
	bad := filepath.Join(home, "bad.txt")
	os.WriteFile(bad, []byte("set protocols bgp 64512 neighbor 192.168.126.9 password 'a b'\n"), 0o644)
	r = onp(t, home, "vyos", "configure", "--lab", name, "vyos", "-f", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "Whitespace is not allowed in passwords") && !strings.Contains(r.stderr, "remote-as must be set") {
		t.Errorf("a refused commit: %+v", r)
	}
	// A second router on another ONP bridge, 1.4 dialect.
	r = onp(t, home, "vyos", "NETWORK=sno0,onp1", "NAME=r2", "VERSION=1.4", "LAB="+name)
	if r.code != 0 {
		t.Fatalf("second router: %+v", r)
	}
	r = onp(t, home, "ssh", "--lab", name, "r2", "--", "show version")
	if !strings.Contains(r.stdout, "VyOS 1.4") {
		t.Errorf("r2 version: %s", r.stdout)
	}
	r = onp(t, home, "status", name)
	if !strings.Contains(r.stdout, "onp1") || !strings.Contains(r.stdout, "r2-eth1") {
		t.Errorf("status lacks onp1/r2: %s", r.stdout)
	}
}
