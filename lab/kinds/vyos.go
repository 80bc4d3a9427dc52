package kinds

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
	"github.com/onp-lab/onp/vyos/driver"
)

// VyOS is a VyOS-compatible router: onp's appliance (onp __vyos-router)
// serves the VyOS CLI over SSH and runs a real FRR underneath. A fresh
// router has only its login configured; interface addresses and
// vyos.config from the lab file are pushed over SSH with the driver, as an
// automation tool would configure a real VyOS.
type VyOS struct {
	// Exe is the onp binary that runs the router process.
	Exe string
}

// Name implements lab.Kind.
func (VyOS) Name() string { return "vyos" }

// Preflight implements lab.Kind.
func (VyOS) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	for _, b := range []string{"/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/lib/frr/staticd", "/usr/lib/frr/bfdd"} {
		if err := needBinary(b, "frr"); err != nil {
			return err
		}
	}
	return nil
}

// RouterUsersFile holds a router's logins (mode 0600) in its directory.
const RouterUsersFile = "users.json"

// RouterUser is one login of a router.
type RouterUser struct {
	Name           string   `json:"name"`
	Password       string   `json:"password,omitempty"`
	AuthorizedKeys []string `json:"authorizedKeys,omitempty"`
}

// ConsoleSocket is where onp reaches a router's SSH server through its
// namespace, like a console: it works before eth0 has an address.
func ConsoleSocket(labName, node string) string {
	return filepath.Join(lab.NodeRunDir(labName, node), "ssh.sock")
}

// KnownHosts is the lab's known_hosts file for its routers.
func KnownHosts(l *lab.Lab) string { return filepath.Join(l.Dir, "known_hosts") }

// Deploy implements lab.Kind.
func (k VyOS) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	ln, err := localNode(node)
	if err != nil {
		return err
	}
	spec := n.VyOS
	users, _ := json.Marshal([]RouterUser{{Name: spec.User, Password: spec.Password, AuthorizedKeys: spec.AuthorizedKeys}})
	if _, err := node.CopyFile(ctx, strings.NewReader(string(users)), RouterUsersFile, 0o600); err != nil {
		return err
	}
	run := lab.NodeRunDir(l.Name, n.Name)
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	sock := ConsoleSocket(l.Name, n.Name)
	argv := []string{k.Exe, "-v", "__vyos-router", "--dir", ln.Dir(), "--frr-dir", filepath.Join(run, "frr"),
		"--socket", sock, "--dialect", spec.Version, "--users", filepath.Join(ln.Dir(), RouterUsersFile)}
	if err := node.Start(ctx, lab.Service{Name: "router", Argv: argv, StopTimeout: 3 * time.Second}); err != nil {
		return err
	}
	logPath := filepath.Join(l.Dir, "logs", n.Name+"-router.log")
	if err := waitFor(ctx, 20*time.Second, logPath, func() error {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		return err
	}
	cmds := InitialCommands(l.Topology, n)
	if len(cmds) == 0 {
		return nil
	}
	c, err := DialRouter(ctx, l, n)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Configure(ctx, cmds, driver.ConfigureOptions{Save: true}); err != nil {
		return fmt.Errorf("configure %s: %w", n.Name, err)
	}
	return nil
}

// InitialCommands are the commands onp pushes to a router when the lab is
// built: the interface addresses of the lab file, then vyos.config.
func InitialCommands(top *topology.Topology, n *topology.Node) []string {
	var cmds []string
	for i, ifc := range n.Interfaces {
		if ifc.Address == "" {
			continue
		}
		p, err := top.InterfacePrefix(ifc)
		if err != nil {
			continue
		}
		cmd := fmt.Sprintf("set interfaces ethernet %s address %s", topology.IfName(i), p)
		dup := false
		for _, c := range n.VyOS.Config {
			dup = dup || strings.Join(strings.Fields(c), " ") == cmd
		}
		if !dup {
			cmds = append(cmds, cmd)
		}
	}
	return append(cmds, n.VyOS.Config...)
}

// DialRouter logs in to a lab's router through its console socket.
func DialRouter(ctx context.Context, l *lab.Lab, n *topology.Node) (*driver.Client, error) {
	if n.Kind != "vyos" || n.VyOS == nil {
		return nil, fmt.Errorf("node %s is a %s node, not a VyOS router", n.Name, n.Kind)
	}
	return driver.Dial(ctx, driver.Config{
		Network:        "unix",
		Address:        ConsoleSocket(l.Name, n.Name),
		User:           n.VyOS.User,
		Password:       n.VyOS.Password,
		KnownHostsFile: KnownHosts(l),
		HostKeyAlias:   n.Name,
		Timeout:        20 * time.Second,
		Logger:         l.Logger,
	})
}
