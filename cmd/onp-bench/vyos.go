package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/vyos/driver"
)

func init() {
	suites = append(suites, suite{"vyos router", vyosRouter})
}

// twenty returns a 20-line change: 4 neighbors with 5 settings each, under
// AS or system-as as the dialect wants.
func twenty(variant int) []string {
	var out []string
	for i := 0; i < 4; i++ {
		n := fmt.Sprintf("192.168.126.%d", 100+i)
		out = append(out,
			fmt.Sprintf("set protocols bgp 64512 neighbor %s remote-as %d", n, 65100+i+variant*10),
			fmt.Sprintf("set protocols bgp 64512 neighbor %s description 'peer %d v%d'", n, i, variant),
			fmt.Sprintf("set protocols bgp 64512 neighbor %s timers connect %d", n, 5+variant),
			fmt.Sprintf("set protocols bgp 64512 neighbor %s address-family ipv4-unicast", n),
			fmt.Sprintf("set protocols bgp 64512 neighbor %s ebgp-multihop %d", n, 2+variant),
		)
	}
	return out
}

func vyosRouter(b *bench) ([]row, error) {
	ssh := row{name: "onp vyos NETWORK=sno0 → SSH answering", target: 500 * time.Millisecond, note: "fresh lab each run"}
	frrReady := row{name: "onp vyos NETWORK=sno0 → FRR ready", note: "vtysh answers over SSH"}
	for i := 0; i < b.runs; i++ {
		name := fmt.Sprintf("bv%d", i)
		d, err := b.onpCmd("vyos", "NETWORK=sno0", "LAB="+name)
		if err != nil {
			return nil, err
		}
		ssh.samples = append(ssh.samples, d)
		start := time.Now().Add(-d)
		m := &lab.Manager{Paths: lab.Paths{Home: b.home}}
		l, err := loadLab(m, name)
		if err != nil {
			return nil, err
		}
		c, err := kinds.DialRouter(context.Background(), l, l.Topology.Node("vyos"))
		if err != nil {
			return nil, err
		}
		for {
			res, err := c.Run(context.Background(), "vtysh -c 'show version'", nil)
			if err == nil && res.ExitStatus == 0 {
				break
			}
			if time.Since(start) > 30*time.Second {
				return nil, fmt.Errorf("FRR not ready after 30s: %v %s", err, res.Output())
			}
			time.Sleep(5 * time.Millisecond)
		}
		frrReady.samples = append(frrReady.samples, time.Since(start))
		c.Close()
		if _, err := b.onpCmd("down", name); err != nil {
			return nil, err
		}
	}

	// Commit latency of a 20-line change through the SSH driver, and the
	// same change applied with frr-reload.py, which is how VyOS applies its
	// rendered configuration to FRR.
	if _, err := b.onpCmd("vyos", "NETWORK=sno0", "LAB=bvc"); err != nil {
		return nil, err
	}
	defer b.onpCmd("down", "bvc")
	m := &lab.Manager{Paths: lab.Paths{Home: b.home}}
	l, err := loadLab(m, "bvc")
	if err != nil {
		return nil, err
	}
	c, err := kinds.DialRouter(context.Background(), l, l.Topology.Node("vyos"))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Configure(ctx, []string{"set interfaces ethernet eth0 address 192.168.126.3/24", "set protocols bgp 64512 parameters router-id 192.168.126.3"}, driver.ConfigureOptions{}); err != nil {
		return nil, err
	}
	commit := row{name: "commit of a 20-line change (driver → appliance → FRR)", target: 200 * time.Millisecond, peer: "frr-reload.py of the same FRR change"}
	rendered := map[int]string{}
	runs := max(b.runs*3, 20)
	for i := 0; i < runs; i++ {
		v := i % 2
		start := time.Now()
		if _, err := c.Configure(ctx, twenty(v), driver.ConfigureOptions{}); err != nil {
			return nil, err
		}
		commit.samples = append(commit.samples, time.Since(start))
		if _, ok := rendered[v]; !ok {
			out, err := c.Vtysh(ctx, "show running-config")
			if err != nil {
				return nil, err
			}
			var keep []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "Building configuration") || strings.HasPrefix(line, "Current configuration") {
					continue
				}
				keep = append(keep, line)
			}
			rendered[v] = strings.Join(keep, "\n")
		}
	}
	frrDir := filepath.Join(lab.NodeRunDir("bvc", "vyos"), "frr")
	tmp, err := os.MkdirTemp("", "onp-bench-reload")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	os.WriteFile(filepath.Join(tmp, "vtysh.conf"), nil, 0o644)
	for i := 0; i < runs; i++ {
		v := i % 2
		f := filepath.Join(tmp, fmt.Sprintf("v%d.conf", v))
		os.WriteFile(f, []byte(rendered[v]), 0o644)
		start := time.Now()
		out, err := exec.Command("python3", "/usr/lib/frr/frr-reload.py", "--reload", "--vty_socket", frrDir, "--bindir", "/usr/bin", "--confdir", tmp, "--rundir", tmp, f).CombinedOutput()
		if err != nil {
			commit.note = "frr-reload.py failed: " + strings.TrimSpace(lastLine(string(out)))
			commit.peerS = nil
			break
		}
		commit.peerS = append(commit.peerS, time.Since(start))
	}
	return []row{ssh, frrReady, commit}, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func loadLab(m *lab.Manager, name string) (*lab.Lab, error) {
	return m.Load(name)
}
