package kinds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

// daemonConfig returns a router node's raw configuration text.
func daemonConfig(l *lab.Lab, spec *topology.DaemonSpec) (string, error) {
	if spec == nil {
		return "", nil
	}
	if spec.ConfigFile != "" {
		b, err := l.Topology.ReadFile(spec.ConfigFile)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", spec.ConfigFile, err)
		}
		return string(b), nil
	}
	return spec.Config, nil
}

func needBinary(path, pkg string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s is missing: install it with apt-get install -y %s", path, pkg)
	}
	return nil
}

func localNode(node lab.Node) (lab.LocalNode, error) {
	ln, ok := node.(lab.LocalNode)
	if !ok {
		return nil, fmt.Errorf("node %s is not on this machine; this kind needs a namespace node", node.Name())
	}
	return ln, nil
}

// waitFor polls ready until it returns nil or the timeout passes; the error
// then includes the tail of the log that explains why.
func waitFor(ctx context.Context, timeout time.Duration, logPath string, ready func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("not ready after %v: %v; last log lines (%s):\n%s", timeout, err, logPath, tail(string(b), 8))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FRR is a plain FRR router run from an frr.conf text: onp's FRR process
// (onp __frr-router) starts zebra, bgpd, staticd and bfdd, applies the
// configuration through vtysh and restarts a daemon that dies.
type FRR struct {
	// Exe is the onp binary that runs the router process.
	Exe string
}

// Name implements lab.Kind.
func (FRR) Name() string { return "frr" }

// Preflight implements lab.Kind.
func (FRR) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	if err := needBinary("/usr/lib/frr/bgpd", "frr"); err != nil {
		return err
	}
	_, err := daemonConfig(l, n.FRR)
	return err
}

// Deploy implements lab.Kind.
func (k FRR) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	ln, err := localNode(node)
	if err != nil {
		return err
	}
	conf, err := daemonConfig(l, n.FRR)
	if err != nil {
		return err
	}
	path, err := node.CopyFile(ctx, strings.NewReader(conf), "frr.conf", 0o644)
	if err != nil {
		return err
	}
	run := lab.NodeRunDir(l.Name, n.Name)
	os.Remove(filepath.Join(run, "ready"))
	if err := node.Start(ctx, lab.Service{Name: "frr", Argv: []string{k.Exe, "__frr-router", "--config", path, "--run", run, "--log-dir", ln.Dir()}, StopTimeout: 3 * time.Second}); err != nil {
		return err
	}
	return waitFor(ctx, 20*time.Second, filepath.Join(l.Dir, "logs", n.Name+"-frr.log"), func() error {
		if _, err := os.Stat(filepath.Join(run, "ready")); err != nil {
			return errors.New("FRR has not applied its configuration yet")
		}
		return nil
	})
}

// BIRD is a BIRD 2 router run from a bird.conf text.
type BIRD struct{}

// Name implements lab.Kind.
func (BIRD) Name() string { return "bird" }

// Preflight implements lab.Kind.
func (BIRD) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	if err := needBinary("/usr/sbin/bird", "bird2"); err != nil {
		return err
	}
	conf, err := daemonConfig(l, n.BIRD)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "onp-bird-*.conf")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	f.WriteString(conf)
	f.Close()
	if out, err := exec.CommandContext(ctx, "/usr/sbin/bird", "-p", "-c", f.Name()).CombinedOutput(); err != nil {
		return fmt.Errorf("bird rejects the configuration: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// Deploy implements lab.Kind.
func (BIRD) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	conf, err := daemonConfig(l, n.BIRD)
	if err != nil {
		return err
	}
	path, err := node.CopyFile(ctx, strings.NewReader(conf), "bird.conf", 0o644)
	if err != nil {
		return err
	}
	run := lab.NodeRunDir(l.Name, n.Name)
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	sock := filepath.Join(run, "bird.ctl")
	if err := node.Start(ctx, lab.Service{Name: "bird", Argv: []string{"/usr/sbin/bird", "-f", "-c", path, "-s", sock, "-P", filepath.Join(run, "bird.pid")}}); err != nil {
		return err
	}
	return waitFor(ctx, 10*time.Second, filepath.Join(l.Dir, "logs", n.Name+"-bird.log"), func() error {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// GoBGP is gobgpd (Debian's) run from a TOML configuration.
type GoBGP struct{}

// Name implements lab.Kind.
func (GoBGP) Name() string { return "gobgp" }

// Preflight implements lab.Kind.
func (GoBGP) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	if err := needBinary("/usr/bin/gobgpd", "gobgpd"); err != nil {
		return err
	}
	_, err := daemonConfig(l, n.GoBGP)
	return err
}

// Deploy implements lab.Kind.
func (GoBGP) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	ln, err := localNode(node)
	if err != nil {
		return err
	}
	conf, err := daemonConfig(l, n.GoBGP)
	if err != nil {
		return err
	}
	path, err := node.CopyFile(ctx, strings.NewReader(conf), "gobgpd.toml", 0o644)
	if err != nil {
		return err
	}
	// Each node has its own loopback, so the API port does not clash.
	if err := node.Start(ctx, lab.Service{Name: "gobgpd", Argv: []string{"/usr/bin/gobgpd", "-f", path, "-t", "toml", "-p", "--api-hosts", "127.0.0.1:50051", "--pprof-disable", "-l", "info"}}); err != nil {
		return err
	}
	return waitFor(ctx, 10*time.Second, filepath.Join(l.Dir, "logs", n.Name+"-gobgpd.log"), func() error {
		return nsx.Do(ln.NetnsPath(), func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:50051", 200*time.Millisecond)
			if err != nil {
				return err
			}
			return c.Close()
		})
	})
}
