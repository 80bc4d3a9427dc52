package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/onp-lab/onp/internal/frr"
	"log/slog"
	"os/exec"
	"strings"
	"sync"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
	"github.com/onp-lab/onp/vyos/driver"
)

// LabEnv is the Env of a running lab built by a lab.Manager: FRR state
// through a router's vty socket (frr nodes) or the SSH driver (vyos nodes),
// the node's network namespace for dial, ping and kernel routes, the
// lab's supervisor and nftables for faults.
type LabEnv struct {
	Manager *lab.Manager
	Lab     *lab.Lab
	Logger  *slog.Logger
	// Vtysh is the vtysh binary; empty means "vtysh" from PATH.
	Vtysh string

	once sync.Once
	ctx  *spec.Context

	mu      sync.Mutex
	drivers map[string]*driver.Client
}

// NewLabEnv returns the Env of a running lab.
func NewLabEnv(m *lab.Manager, l *lab.Lab) *LabEnv {
	return &LabEnv{Manager: m, Lab: l, Logger: l.Logger}
}

func (e *LabEnv) log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// Context implements Env.
func (e *LabEnv) Context() *spec.Context {
	e.once.Do(func() { e.ctx = topology.CheckContext(e.Lab.Topology) })
	return e.ctx
}

func (e *LabEnv) node(name string) (*topology.Node, error) {
	n := e.Lab.Topology.Node(name)
	if n == nil {
		return nil, Permanent(fmt.Errorf("lab %s has no node %q (%s)", e.Lab.Name, name, e.Context().NodeNames()))
	}
	return n, nil
}

// Router implements Env.
func (e *LabEnv) Router(ctx context.Context, name string) (Router, error) {
	n, err := e.node(name)
	if err != nil {
		return nil, err
	}
	switch n.Kind {
	case "frr":
		vtysh := e.Vtysh
		if vtysh == "" {
			vtysh = "vtysh"
		}
		return &vtyRouter{node: name, dir: lab.NodeRunDir(e.Lab.Name, name), vtysh: vtysh}, nil
	case "vyos":
		c, err := e.driver(ctx, n)
		if err != nil {
			return nil, err
		}
		return &driverRouter{env: e, node: name, c: c}, nil
	}
	return nil, Unavailable("router state", "node %s is a %s node; FRR state is read from vyos and frr nodes", name, n.Kind)
}

// driver returns a logged-in SSH client of a VyOS router, reusing one
// connection per router.
func (e *LabEnv) driver(ctx context.Context, n *topology.Node) (*driver.Client, error) {
	e.mu.Lock()
	c := e.drivers[n.Name]
	e.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := kinds.DialRouter(ctx, e.Lab, n)
	if err != nil {
		return nil, fmt.Errorf("router %s does not answer over SSH: %w", n.Name, err)
	}
	e.log().Debug("logged in to router", "node", n.Name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.drivers == nil {
		e.drivers = map[string]*driver.Client{}
	}
	if old := e.drivers[n.Name]; old != nil {
		c.Close()
		return old, nil
	}
	e.drivers[n.Name] = c
	return c, nil
}

// dropDriver forgets a router's connection after a transport error, so the
// next attempt logs in again (the router may have restarted).
func (e *LabEnv) dropDriver(node string, c *driver.Client) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.drivers[node] == c {
		delete(e.drivers, node)
		c.Close()
		e.log().Debug("dropped the router connection after a transport error", "node", node)
	}
}

// Close implements Env.
func (e *LabEnv) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for n, c := range e.drivers {
		c.Close()
		delete(e.drivers, n)
	}
	return nil
}

// RouterConfig implements Env.
func (e *LabEnv) RouterConfig(ctx context.Context, name string) (RouterConfigurer, error) {
	n, err := e.node(name)
	if err != nil {
		return nil, err
	}
	if n.Kind != "vyos" {
		return nil, Unavailable("router configuration", "node %s is a %s node; router steps configure vyos nodes", name, n.Kind)
	}
	return &vyosConfigurer{env: e, n: n}, nil
}

// Net implements Env.
func (e *LabEnv) Net(name string) (NodeNet, error) {
	if _, err := e.node(name); err != nil {
		return nil, err
	}
	h, err := e.Manager.Node(e.Lab, name)
	if err != nil {
		return nil, err
	}
	ln, ok := h.(lab.LocalNode)
	if !ok {
		return nil, Unavailable("node network", "node %s is not on this machine; network checks need a namespace node", name)
	}
	return &netnsNet{node: name, path: ln.NetnsPath()}, nil
}

// Faults implements Env.
func (e *LabEnv) Faults() Faults { return &labFaults{e: e} }

// vtyRouter reads an frr node's FRR through its vty sockets.
type vtyRouter struct {
	node, dir, vtysh string
}

func (r *vtyRouter) ShowJSON(ctx context.Context, command string, v any) error {
	cmd := exec.CommandContext(ctx, r.vtysh, append(frr.VtyshArgs(r.dir), "-c", command)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VTYSH_PAGER=cat", "HOME=/"}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("router %s: vtysh -c %q did not answer in time", r.node, command)
		}
		msg := strings.TrimSpace(stdout.String() + " " + quietVtysh(stderr.String()))
		if _, lookErr := exec.LookPath(r.vtysh); lookErr != nil {
			return Permanent(fmt.Errorf("vtysh not found (install FRR: apt-get install -y frr): %w", lookErr))
		}
		return fmt.Errorf("router %s does not answer (vtysh --vty_socket %s -c %q: %v: %s)", r.node, r.dir, command, err, msg)
	}
	return decodeShow(r.node, command, stdout.Bytes(), v)
}

// quietVtysh drops vtysh's complaint about a missing vtysh.conf.
func quietVtysh(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" && !strings.Contains(l, "Can't open configuration file") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, " ")
}

// decodeShow decodes the JSON a show command printed; FRR prints a plain
// "% Network not in table" for a missing prefix in some versions.
func decodeShow(node, command string, out []byte, v any) error {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return fmt.Errorf("router %s: %q printed nothing (is bgpd running?)", node, command)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("router %s: %q: %s", node, command, firstLine(string(out), 120))
	}
	return nil
}

// driverRouter reads a VyOS router's FRR through the SSH driver.
type driverRouter struct {
	env  *LabEnv
	node string
	c    *driver.Client
}

func (r *driverRouter) ShowJSON(ctx context.Context, command string, v any) error {
	out, err := r.c.Vtysh(ctx, command)
	if err != nil {
		if _, refused := err.(*driver.VtyshError); !refused {
			r.env.dropDriver(r.node, r.c)
			return fmt.Errorf("router %s: %w", r.node, err)
		}
		if strings.Contains(out, "not in table") {
			return fmt.Errorf("router %s: %q: %s", r.node, command, strings.TrimSpace(out))
		}
		return fmt.Errorf("router %s: %w", r.node, err)
	}
	return decodeShow(r.node, command, []byte(out), v)
}

// vyosConfigurer configures a vyos node over SSH.
type vyosConfigurer struct {
	env *LabEnv
	n   *topology.Node
}

func (v *vyosConfigurer) Configure(ctx context.Context, cmds []string, save bool) (string, error) {
	c, err := v.env.driver(ctx, v.n)
	if err != nil {
		return "", err
	}
	res, err := c.Configure(ctx, cmds, driver.ConfigureOptions{Save: save})
	if err != nil {
		if _, refused := err.(*driver.CommitError); !refused {
			v.env.dropDriver(v.n.Name, c)
		}
		return "", err
	}
	return res.Output, nil
}

func (v *vyosConfigurer) Type(ctx context.Context, lines []string) (string, error) {
	c, err := v.env.driver(ctx, v.n)
	if err != nil {
		return "", err
	}
	out, err := TypeLines(ctx, c.SSH(), lines)
	if err != nil {
		return out, fmt.Errorf("router %s: %w", v.n.Name, err)
	}
	return out, nil
}
