package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type bench struct {
	onp  string
	home string
	runs int
}

type suite struct {
	name string
	run  func(b *bench) ([]row, error)
}

var suites = []suite{
	{"lab up/down", labUpDown},
}

// onpCmd runs onp and returns its wall time.
func (b *bench) onpCmd(args ...string) (time.Duration, error) {
	cmd := exec.Command(b.onp, append([]string{"--home", b.home}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("onp %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return d, nil
}

// hostsLab writes a lab file with n host nodes spread over bridges of up to
// 20 nodes each, plus one node routing between the first two bridges.
func hostsLab(dir, name string, n int) (string, string) {
	var y, sh strings.Builder
	nets := (n + 19) / 20
	fmt.Fprintf(&y, "name: %s\nnetworks:\n", name)
	for i := 0; i < nets; i++ {
		fmt.Fprintf(&y, "  - {name: br%d, subnet: 10.9.%d.0/24}\n", i, i)
	}
	fmt.Fprintf(&y, "nodes:\n")
	fab := "bp" + name
	fmt.Fprintf(&sh, "set -e\nip netns add %s\nip -n %s link set lo up\n", fab, fab)
	for i := 0; i < nets; i++ {
		fmt.Fprintf(&sh, "ip -n %s link add br%d type bridge\nip -n %s link set br%d up\n", fab, i, fab, i)
	}
	for i := 0; i < n; i++ {
		net := i / 20
		host := 10 + i%20
		node := fmt.Sprintf("n%d", i)
		ns := "bp" + name + "." + node
		fmt.Fprintf(&sh, "ip netns add %s\nip -n %s link set lo up\n", ns, ns)
		if i == 0 && nets > 1 {
			fmt.Fprintf(&y, "  - {name: %s, kind: host, forwarding: true, interfaces: [{network: br0, address: 10.9.0.1}, {network: br1, address: 10.9.1.1}]}\n", node)
			fmt.Fprintf(&sh, "ip netns exec %s sysctl -qw net.ipv4.ip_forward=1\n", ns)
			for j := 0; j < 2; j++ {
				fmt.Fprintf(&sh, "ip -n %s link add %s-eth%d master br%d type veth peer name eth%d netns %s\nip -n %s link set %s-eth%d up\nip -n %s addr add 10.9.%d.1/24 dev eth%d\nip -n %s link set eth%d up\n",
					fab, node, j, j, j, ns, fab, node, j, ns, j, j, ns, j)
			}
			continue
		}
		fmt.Fprintf(&y, "  - {name: %s, kind: host, interfaces: [{network: br%d, address: 10.9.%d.%d}]}\n", node, net, net, host)
		fmt.Fprintf(&sh, "ip -n %s link add %s-eth0 master br%d type veth peer name eth0 netns %s\nip -n %s link set %s-eth0 up\nip -n %s addr add 10.9.%d.%d/24 dev eth0\nip -n %s link set eth0 up\n",
			fab, node, net, ns, fab, node, ns, net, host, ns)
	}
	file := filepath.Join(dir, name+".yaml")
	os.WriteFile(file, []byte(y.String()), 0o644)
	script := filepath.Join(dir, name+".sh")
	os.WriteFile(script, []byte(sh.String()), 0o755)
	return file, script
}

// peerDown removes what the iproute2 script made.
func peerDown(name string, n int) error {
	var sh strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sh, "ip netns del bp%s.n%d\n", name, i)
	}
	fmt.Fprintf(&sh, "ip netns del bp%s\n", name)
	return exec.Command("sh", "-c", sh.String()).Run()
}

func labUpDown(b *bench) ([]row, error) {
	var rows []row
	for _, c := range []struct {
		nodes      int
		upT, downT time.Duration
	}{{3, 300 * time.Millisecond, 300 * time.Millisecond}, {50, 3 * time.Second, 0}} {
		name := fmt.Sprintf("bench%d", c.nodes)
		file, script := hostsLab(b.home, name, c.nodes)
		up := row{name: fmt.Sprintf("onp up, %d host nodes", c.nodes), target: c.upT, peer: "iproute2 script (ip netns/link/addr)"}
		down := row{name: fmt.Sprintf("onp down, %d host nodes", c.nodes), target: c.downT, peer: "ip netns del (script)"}
		for i := 0; i < b.runs; i++ {
			d, err := b.onpCmd("up", "-f", file)
			if err != nil {
				return nil, err
			}
			up.samples = append(up.samples, d)
			d, err = b.onpCmd("down", name)
			if err != nil {
				return nil, err
			}
			down.samples = append(down.samples, d)
			start := time.Now()
			if out, err := exec.Command("sh", script).CombinedOutput(); err != nil {
				peerDown(name, c.nodes)
				return nil, fmt.Errorf("peer script: %v: %s", err, out)
			}
			up.peerS = append(up.peerS, time.Since(start))
			start = time.Now()
			if err := peerDown(name, c.nodes); err != nil {
				return nil, err
			}
			down.peerS = append(down.peerS, time.Since(start))
		}
		rows = append(rows, up, down)
	}
	return rows, nil
}
