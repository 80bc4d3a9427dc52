// Package netns is onp's default provider: every lab gets a "fabric"
// network namespace holding its bridges, and every node is a network
// namespace wired to the bridges by veth pairs. Nothing of a lab appears in
// the root namespace unless a network asks for host access.
package netns

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

// Provider creates labs out of network namespaces.
type Provider struct {
	// SupervisorArgv returns the command that runs a lab's supervisor for
	// the lab directory dir (normally: onp __supervise --dir DIR).
	SupervisorArgv func(dir string) []string
	Logger         *slog.Logger
}

// Name implements lab.Provider.
func (p *Provider) Name() string { return "netns" }

// Ownership tags are interface aliases: every link onp creates carries one,
// and the loopback of every namespace onp creates carries one, so down finds
// a lab's objects without its journal.
const tagPrefix = "onp/"

func tag(labName string, parts ...string) string {
	return tagPrefix + labName + "/" + strings.Join(parts, "/")
}

// tagLab returns the lab a tag belongs to.
func tagLab(alias string) (string, bool) {
	rest, ok := strings.CutPrefix(alias, tagPrefix)
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "/")
	return name, ok && topology.ValidLabName(name) == ""
}

// handle opens a netlink handle in a named namespace.
func handle(nsName string) (*netlink.Handle, error) {
	fd, err := netns.GetFromPath(nsx.Path(nsName))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", nsName, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %s: %w", nsName, err)
	}
	return h, nil
}

// nsOwner reads the ownership tag on a namespace's loopback.
func nsOwner(nsName string) (string, bool) {
	if !nsx.IsMounted(nsName) {
		return "", false
	}
	h, err := handle(nsName)
	if err != nil {
		return "", false
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return "", false
	}
	return tagLab(lo.Attrs().Alias)
}

// Preflight implements lab.Provider.
func (p *Provider) Preflight(ctx context.Context, l *lab.Lab) error {
	if err := checkPrivileges(); err != nil {
		return err
	}
	var errs []error
	check := func(nsName string) {
		if !nsx.Exists(nsName) {
			return
		}
		if owner, ok := nsOwner(nsName); ok && owner == l.Name {
			return // ours: the lab is being extended
		}
		errs = append(errs, fmt.Errorf("network namespace %s already exists and onp does not own it; onp will not touch it: remove it yourself or pick another lab name with --name", nsName))
	}
	check(topology.FabricNamespace(l.Name))
	for _, n := range l.Topology.Nodes {
		check(topology.NodeNamespace(l.Name, n.Name))
	}
	rootAddrs, rootRoutes := rootNetworks()
	for _, nw := range l.Topology.Networks {
		if nw.HostAccess == nil {
			continue
		}
		name := topology.HostLinkName(l.Name, nw.Name)
		if link, err := netlink.LinkByName(name); err == nil {
			if owner, ok := tagLab(link.Attrs().Alias); !ok || owner != l.Name {
				errs = append(errs, fmt.Errorf("network %s: host interface %s already exists and onp does not own it; onp will not touch it", nw.Name, name))
			}
		}
		sub, err := netip.ParsePrefix(nw.Subnet)
		if err != nil {
			continue
		}
		for _, a := range rootAddrs {
			if a.pfx.Overlaps(sub) {
				errs = append(errs, fmt.Errorf("network %s: hostAccess would put %s on the host, but the host already uses %s on %s; that would cut it off. Give the network another subnet or remove hostAccess", nw.Name, nw.HostAccess.Address, a.pfx, a.dev))
			}
		}
		for _, r := range rootRoutes {
			if r.Overlaps(sub) && r.Bits() > 0 {
				errs = append(errs, fmt.Errorf("network %s: hostAccess subnet %s overlaps the host's route to %s; give the network another subnet or remove hostAccess", nw.Name, sub, r))
			}
		}
	}
	return errors.Join(errs...)
}

// checkPrivileges needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
func checkPrivileges() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	var eff uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &eff)
		}
	}
	const netAdmin, sysAdmin = 12, 21
	if eff&(1<<netAdmin) == 0 || eff&(1<<sysAdmin) == 0 {
		return errors.New("onp needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces and links: run it with sudo")
	}
	return nil
}

type rootAddr struct {
	pfx netip.Prefix
	dev string
}

func rootNetworks() ([]rootAddr, []netip.Prefix) {
	var addrs []rootAddr
	links, _ := netlink.LinkList()
	for _, link := range links {
		as, _ := netlink.AddrList(link, netlink.FAMILY_ALL)
		for _, a := range as {
			if p, ok := netipPrefix(a.IPNet); ok && !p.Addr().IsLinkLocalUnicast() && !p.Addr().IsLoopback() {
				addrs = append(addrs, rootAddr{p.Masked(), link.Attrs().Name})
			}
		}
	}
	var routes []netip.Prefix
	rs, _ := netlink.RouteList(nil, netlink.FAMILY_ALL)
	for _, r := range rs {
		if p, ok := netipPrefix(r.Dst); ok && !p.Addr().IsLinkLocalUnicast() {
			routes = append(routes, p)
		}
	}
	return addrs, routes
}

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// createNamespace journals and creates a namespace. Its loopback is tagged
// and brought up, and the baseline sysctls are set, before the namespace is
// mounted under its name: a namespace with a lab's name is always tagged.
func createNamespace(l *lab.Lab, nsName, node, tagText string, sysctls map[string]string) error {
	if err := l.Journal.Record(lab.Entry{Kind: "netns", Name: nsName, Node: node}); err != nil {
		return err
	}
	return nsx.CreateWith(nsName, func() error {
		// This runs on a thread inside the new namespace: the package-level
		// netlink calls open their sockets here.
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("loopback in %s: %w", nsName, err)
		}
		if err := netlink.LinkSetAlias(lo, tagText); err != nil {
			return fmt.Errorf("tag namespace %s: %w", nsName, err)
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("loopback up in %s: %w", nsName, err)
		}
		for k, v := range sysctls {
			if err := os.WriteFile(filepath.Join("/proc/sys/net", k), []byte(v), 0o644); err != nil {
				return fmt.Errorf("sysctl net/%s=%s in %s: %w", k, v, nsName, err)
			}
		}
		return nil
	})
}

// CreateFabric implements lab.Provider: the namespace that holds the bridges.
func (p *Provider) CreateFabric(ctx context.Context, l *lab.Lab) error {
	ns := topology.FabricNamespace(l.Name)
	if nsx.Exists(ns) {
		return nil
	}
	// The fabric only switches frames: no IPv6 on its ports (no router
	// solicitations or MLD noise on the lab's bridges).
	return createNamespace(l, ns, "", tag(l.Name, "fabric"), map[string]string{
		"ipv6/conf/all/disable_ipv6":     "1",
		"ipv6/conf/default/disable_ipv6": "1",
	})
}

// CreateNetwork implements lab.Provider: a bridge in the fabric, and the
// host link when the network has host access.
func (p *Provider) CreateNetwork(ctx context.Context, l *lab.Lab, n *topology.Network) error {
	fab := topology.FabricNamespace(l.Name)
	h, err := handle(fab)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := l.Journal.Record(lab.Entry{Kind: "bridge", Name: n.Name, Netns: fab}); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Name, HardwareAddr: mac(l.Name, "bridge", n.Name)}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w", n.Name, err)
	}
	// The kernel ignores an alias given at creation; set it now.
	if err := h.LinkSetAlias(br, tag(l.Name, "bridge", n.Name)); err != nil {
		return fmt.Errorf("tag bridge %s: %w", n.Name, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s up: %w", n.Name, err)
	}
	if n.HostAccess == nil {
		return nil
	}
	return p.createHostLink(l, h, br, n)
}

func (p *Provider) createHostLink(l *lab.Lab, fabric *netlink.Handle, br netlink.Link, n *topology.Network) error {
	name := topology.HostLinkName(l.Name, n.Name)
	fd, err := netns.GetFromPath(nsx.Path(topology.FabricNamespace(l.Name)))
	if err != nil {
		return err
	}
	defer fd.Close()
	if err := l.Journal.Record(lab.Entry{Kind: "hostlink", Name: name, Detail: n.Name}); err != nil {
		return err
	}
	peer := topology.HostPortName(n.Name)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(fd)}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("create host link %s: %w", name, err)
	}
	// Should onp die before the tag is set, the untagged end still goes away
	// with the fabric namespace, which holds its peer.
	if err := netlink.LinkSetAlias(v, tag(l.Name, "host", n.Name)); err != nil {
		return fmt.Errorf("tag host link %s: %w", name, err)
	}
	port, err := fabric.LinkByName(peer)
	if err != nil {
		return err
	}
	fabric.LinkSetAlias(port, tag(l.Name, "hostport", n.Name))
	if err := fabric.LinkSetMaster(port, br); err != nil {
		return err
	}
	if err := fabric.LinkSetUp(port); err != nil {
		return err
	}
	root, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	sub, _ := netip.ParsePrefix(n.Subnet)
	a, _ := netip.ParseAddr(n.HostAccess.Address)
	if err := netlink.AddrAdd(root, addr(netip.PrefixFrom(a, sub.Bits()))); err != nil {
		return fmt.Errorf("address %s on host link %s: %w", a, name, err)
	}
	if err := netlink.LinkSetUp(root); err != nil {
		return err
	}
	if err := waitOperUp(fabric, "fabric", []string{peer}); err != nil {
		return err
	}
	rh, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer rh.Close()
	return waitOperUp(rh, "host", []string{name})
}

func addr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// mac derives a stable, locally administered MAC address, so a lab looks
// the same every time it is built (ARP tables, captures, workshops).
func mac(parts ...string) net.HardwareAddr {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	m := net.HardwareAddr(sum[:6])
	m[0] = (m[0] &^ 1) | 2
	return m
}
