package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/topology"
)

// CreateNode implements lab.Provider. On failure the node's namespace and
// links are removed again.
func (p *Provider) CreateNode(ctx context.Context, l *lab.Lab, n *topology.Node) (lab.Node, error) {
	nsName := topology.NodeNamespace(l.Name, n.Name)
	fwd := "0"
	if n.Forwarding != nil && *n.Forwarding {
		fwd = "1"
	}
	sysctls := map[string]string{
		"ipv4/ip_forward":              fwd,
		"ipv6/conf/all/forwarding":     fwd,
		"ipv6/conf/all/accept_dad":     "0",
		"ipv6/conf/default/accept_dad": "0",
	}
	if err := createNamespace(l, nsName, n.Name, tag(l.Name, "node", n.Name), sysctls); err != nil {
		p.removeNode(l, n, nsName)
		return nil, err
	}
	if err := p.wire(l, n, nsName); err != nil {
		p.removeNode(l, n, nsName)
		return nil, err
	}
	return p.Node(l, n)
}

// removeNode undoes a partly created node: its bridge ports, then its
// namespace (which takes the node ends of the veths with it).
func (p *Provider) removeNode(l *lab.Lab, n *topology.Node, nsName string) {
	if h, err := handle(topology.FabricNamespace(l.Name)); err == nil {
		for i := range n.Interfaces {
			if link, err := h.LinkByName(topology.PortName(n.Name, topology.IfName(i))); err == nil {
				h.LinkDel(link)
			}
		}
		h.Close()
	}
	nsx.Delete(nsName)
}

// wire connects the node's interfaces to their bridges and sets addresses
// and routes. Each veth is created in one step with its bridge end in the
// fabric and its node end in the node's namespace, so no half of it ever
// exists in the root namespace.
func (p *Provider) wire(l *lab.Lab, n *topology.Node, nsName string) error {
	fab := topology.FabricNamespace(l.Name)
	fh, err := handle(fab)
	if err != nil {
		return err
	}
	defer fh.Close()
	nh, err := handle(nsName)
	if err != nil {
		return err
	}
	defer nh.Close()
	nodeFd, err := netns.GetFromPath(nsx.Path(nsName))
	if err != nil {
		return err
	}
	defer nodeFd.Close()
	for i, ifc := range n.Interfaces {
		ifName := topology.IfName(i)
		port := topology.PortName(n.Name, ifName)
		br, err := fh.LinkByName(ifc.Network)
		if err != nil {
			return fmt.Errorf("bridge %s for %s: %w", ifc.Network, ifName, err)
		}
		if err := l.Journal.Record(lab.Entry{Kind: "veth", Name: port, Netns: fab, Node: n.Name, Detail: ifName}); err != nil {
			return err
		}
		v := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index},
			PeerName:         ifName,
			PeerNamespace:    netlink.NsFd(nodeFd),
			PeerHardwareAddr: mac(l.Name, n.Name, ifName),
		}
		if err := fh.LinkAdd(v); err != nil {
			return fmt.Errorf("create veth %s <-> %s:%s: %w", port, n.Name, ifName, err)
		}
		fh.LinkSetAlias(v, tag(l.Name, "port", n.Name, ifName))
		if err := fh.LinkSetUp(v); err != nil {
			return fmt.Errorf("%s up: %w", port, err)
		}
		link, err := nh.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("%s in node %s: %w", ifName, n.Name, err)
		}
		// The node end stays untagged: inside a node the alias is the
		// interface's description (VyOS shows it), and the namespace's
		// loopback already says who owns it.
		// A VyOS router owns its interface addresses: they come from its
		// configuration, not from onp.
		if ifc.Address != "" && n.Kind != "vyos" {
			pfx, err := l.Topology.InterfacePrefix(ifc)
			if err != nil {
				return err
			}
			if err := nh.AddrAdd(link, addr(pfx)); err != nil {
				return fmt.Errorf("address %s on %s:%s: %w", pfx, n.Name, ifName, err)
			}
		}
		if err := nh.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s:%s up: %w", n.Name, ifName, err)
		}
	}
	var ifs, ports []string
	for i := range n.Interfaces {
		ifs = append(ifs, topology.IfName(i))
		ports = append(ports, topology.PortName(n.Name, topology.IfName(i)))
	}
	if err := waitOperUp(nh, n.Name, ifs); err != nil {
		return err
	}
	if err := waitOperUp(fh, "fabric", ports); err != nil {
		return err
	}
	if n.Kind == "vyos" {
		return nil
	}
	for _, r := range n.Routes {
		if err := addRoute(nh, r); err != nil {
			return fmt.Errorf("route %s via %s on %s: %w", r.To, r.Via, n.Name, err)
		}
	}
	return nil
}

// waitOperUp waits until the node's interfaces are operationally up. The
// kernel activates a link's queueing discipline (until then it drops every
// packet) in its link-watch work, which may run up to a second after the
// carrier came up; a lab is not ready before that.
func waitOperUp(h *netlink.Handle, where string, names []string) error {
	deadline := time.Now().Add(5 * time.Second)
	for _, name := range names {
		for {
			link, err := h.LinkByName(name)
			if err != nil {
				return fmt.Errorf("%s:%s: %w", where, name, err)
			}
			if link.Attrs().OperState == netlink.OperUp {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s:%s did not come up within 5s (state %s)", where, name, link.Attrs().OperState)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return nil
}

func addRoute(h *netlink.Handle, r topology.Route) error {
	via, err := netip.ParseAddr(r.Via)
	if err != nil {
		return err
	}
	rt := &netlink.Route{Gw: via.AsSlice()}
	if r.To == "default" {
		bits := 32
		if via.Is6() {
			bits = 128
		}
		rt.Dst = &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)}
	} else {
		pfx, err := netip.ParsePrefix(r.To)
		if err != nil {
			return err
		}
		rt.Dst = &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}
	}
	return h.RouteAdd(rt)
}

// Node implements lab.Provider.
func (p *Provider) Node(l *lab.Lab, n *topology.Node) (lab.Node, error) {
	nsName := topology.NodeNamespace(l.Name, n.Name)
	if !nsx.IsMounted(nsName) {
		return nil, fmt.Errorf("node %s of lab %s does not exist (no namespace %s); is the lab up? (onp status %s)", n.Name, l.Name, nsName, l.Name)
	}
	return &Node{p: p, l: l, name: n.Name, kind: n.Kind, ns: nsName, dir: filepath.Join(l.Dir, "nodes", n.Name)}, nil
}

// Node is a node in a network namespace.
type Node struct {
	p    *Provider
	l    *lab.Lab
	name string
	kind string
	ns   string
	dir  string
}

// Name implements lab.Node.
func (n *Node) Name() string { return n.name }

// Namespace is the node's network namespace name.
func (n *Node) Namespace() string { return n.ns }

// NetnsPath is the path of the node's network namespace.
func (n *Node) NetnsPath() string { return nsx.Path(n.ns) }

// Dir is the node's own directory in the lab directory.
func (n *Node) Dir() string { return n.dir }

// Exec implements lab.Node: the command runs in the node's namespace.
func (n *Node) Exec(ctx context.Context, argv []string, opts lab.ExecOptions) (lab.ExecResult, error) {
	if len(argv) == 0 {
		return lab.ExecResult{}, errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	cmd.Env = append(append(os.Environ(), "ONP_LAB="+n.l.Name, "ONP_NODE="+n.name), opts.Env...)
	cmd.Dir = opts.Dir
	cmd.WaitDelay = time.Second
	if err := nsx.Start(n.NetnsPath(), cmd); err != nil {
		return lab.ExecResult{ExitCode: 127}, fmt.Errorf("run %s on %s: %w", argv[0], n.name, err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return lab.ExecResult{ExitCode: code}, nil
	}
	if err != nil {
		return lab.ExecResult{ExitCode: 1}, err
	}
	return lab.ExecResult{}, nil
}

// CopyFile implements lab.Node: dst is relative to the node's directory.
func (n *Node) CopyFile(ctx context.Context, src io.Reader, dst string, mode fs.FileMode) (string, error) {
	if filepath.IsAbs(dst) || strings.HasPrefix(filepath.Clean(dst), "..") {
		return "", fmt.Errorf("copy to %s: destination must be relative to the node directory", dst)
	}
	path := filepath.Join(n.dir, dst)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// Start implements lab.Node: the lab's supervisor starts the process in the
// node's namespace and restarts it by policy.
func (n *Node) Start(ctx context.Context, svc lab.Service) error {
	c, err := n.p.supervisor(ctx, n.l)
	if err != nil {
		return err
	}
	name := n.name + "/" + svc.Name
	if n.l.Journal != nil {
		if err := n.l.Journal.Record(lab.Entry{Kind: "process", Name: name, Node: n.name, Detail: strings.Join(svc.Argv, " ")}); err != nil {
			return err
		}
	}
	_, err = c.Start(ctx, supervisor.Spec{Name: name, Netns: n.NetnsPath(), Argv: svc.Argv, Env: svc.Env, Dir: svc.Dir, Restart: svc.Restart, StopTimeout: svc.StopTimeout})
	return err
}

// Stop implements lab.Node.
func (n *Node) Stop(ctx context.Context, name string) error {
	return supervisor.NewClient(n.l.Dir).Stop(ctx, n.name+"/"+name, 0)
}

// Supervisor returns the client of the lab's supervisor.
func (n *Node) Supervisor() *supervisor.Client { return supervisor.NewClient(n.l.Dir) }

var launchMu sync.Mutex

// supervisor returns a client for the lab's supervisor, starting it in the
// fabric namespace first if it is not running.
func (p *Provider) supervisor(ctx context.Context, l *lab.Lab) (*supervisor.Client, error) {
	c := supervisor.NewClient(l.Dir)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := c.Ping(pctx)
	cancel()
	if err == nil {
		return c, nil
	}
	launchMu.Lock()
	defer launchMu.Unlock()
	if c.Ping(ctx) == nil {
		return c, nil
	}
	if p.SupervisorArgv == nil {
		return nil, errors.New("no supervisor command configured")
	}
	argv := p.SupervisorArgv(l.Dir)
	if l.Journal != nil {
		if err := l.Journal.Record(lab.Entry{Kind: "process", Name: "supervisor", Detail: strings.Join(argv, " ")}); err != nil {
			return nil, err
		}
	}
	if _, err := supervisor.Launch(ctx, l.Dir, nsx.Path(topology.FabricNamespace(l.Name)), argv); err != nil {
		return nil, err
	}
	return c, nil
}
