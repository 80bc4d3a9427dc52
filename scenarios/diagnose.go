package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/vyos/driver"
)

// The methods below make *LabEnv a diagnose.Env: diagnose.Run(ctx, env,
// opts) reads the lab through the same router connections, namespaces and
// probes as the checks.

// RunningLab returns the lab's manager and the lab.
func (e *LabEnv) RunningLab() (*lab.Manager, *lab.Lab) { return e.Manager, e.Lab }

// RouterShow runs one vtysh show command on a vyos node (SSH driver) or an
// frr node (its vty sockets) and returns what it printed.
func (e *LabEnv) RouterShow(ctx context.Context, node, command string) (string, error) {
	n, err := e.node(node)
	if err != nil {
		return "", err
	}
	switch n.Kind {
	case "frr":
		vtysh := e.Vtysh
		if vtysh == "" {
			vtysh = "vtysh"
		}
		dir := lab.NodeRunDir(e.Lab.Name, node)
		cmd := exec.CommandContext(ctx, vtysh, "--vty_socket", dir, "-c", command)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VTYSH_PAGER=cat", "HOME=/"}
		if err := cmd.Run(); err != nil {
			return stdout.String(), fmt.Errorf("router %s does not answer (vtysh --vty_socket %s -c %q: %v: %s)", node, dir, command, err, strings.TrimSpace(quietVtysh(stderr.String())))
		}
		return stdout.String(), nil
	case "vyos":
		c, err := e.driver(ctx, n)
		if err != nil {
			return "", err
		}
		out, err := c.Vtysh(ctx, command)
		if err != nil {
			if _, refused := err.(*driver.VtyshError); !refused {
				e.dropDriver(node, c)
			}
			return out, fmt.Errorf("router %s: %w", node, err)
		}
		return out, nil
	}
	return "", Unavailable("router state", "node %s is a %s node; vtysh runs on vyos and frr nodes", node, n.Kind)
}

// NodeDial opens a connection from inside a node.
func (e *LabEnv) NodeDial(ctx context.Context, node, network, address string) (net.Conn, error) {
	nn, err := e.Net(node)
	if err != nil {
		return nil, err
	}
	return nn.DialContext(ctx, network, address)
}

// NodePing sends one ICMP echo from inside a node.
func (e *LabEnv) NodePing(ctx context.Context, node string, dst netip.Addr) (time.Duration, error) {
	nn, err := e.Net(node)
	if err != nil {
		return 0, err
	}
	return nn.Ping(ctx, dst)
}

// diagnosisTargets runs the diagnosis (package diagnose) for a diagnosis
// check: one target per node and peer given (each narrows the diagnosis to
// the sessions with that end), or one for the whole lab. A target passes
// when the diagnosis names the expected cause ("healthy": finds nothing).
func diagnosisTargets(c *spec.Check, env Env) ([]target, error) {
	denv, ok := env.(diagnose.Env)
	if !ok {
		return nil, Unavailable("diagnosis", "this lab cannot be diagnosed from here: the diagnosis reads a lab of the netns provider on this machine")
	}
	want := c.ExpectedCause()
	type filter struct{ label, peer string }
	var filters []filter
	nodes, peers := c.TargetNodes(), c.TargetPeers()
	switch {
	case len(peers) > 0 && len(nodes) > 0:
		for _, n := range nodes {
			for _, p := range peers {
				if p != n {
					filters = append(filters, filter{n + " ↔ " + p, p})
				}
			}
		}
	case len(peers) > 0:
		for _, p := range peers {
			filters = append(filters, filter{p, p})
		}
	case len(nodes) > 0:
		for _, n := range nodes {
			filters = append(filters, filter{n, n})
		}
	default:
		filters = []filter{{"lab", ""}}
	}
	var out []target
	for _, f := range filters {
		out = append(out, target{label: f.label, attempt: func(ctx context.Context) (Observation, error) {
			opts := diagnose.Options{Peer: f.peer}
			// The capture must leave time for the probes (up to 2 s).
			if dl, ok := ctx.Deadline(); ok {
				if left := time.Until(dl) - 2500*time.Millisecond; left < diagnose.DefaultCapture {
					opts.Capture = max(left, -1)
					if left < 300*time.Millisecond {
						opts.Capture = -1
					}
				}
			}
			rep, err := diagnose.Run(ctx, denv, opts)
			if err != nil {
				return Observation{}, err
			}
			causes := rep.Causes()
			o := Observation{OK: rep.Has(want), Expected: want, Seen: strings.Join(causes, ", ")}
			if len(rep.Findings) > 0 {
				fd := rep.Findings[0]
				for _, x := range rep.Findings {
					if x.Cause == want {
						fd = x
					}
				}
				o.Detail = fd.Summary
			} else if len(rep.Sessions) > 0 {
				o.Detail = fmt.Sprintf("%d session(s) looked at, none with a problem", len(rep.Sessions))
			}
			return o, nil
		}})
	}
	return out, nil
}
