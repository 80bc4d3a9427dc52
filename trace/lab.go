package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/topology"
)

// LabSources returns the bridges of a lab built by the netns provider, in
// its fabric namespace, in promiscuous mode: all of them, or the named
// networks. With node set, only the networks that node is attached to.
func LabSources(labName string, top *topology.Topology, node string, networks []string) ([]Source, error) {
	nets, err := pickNetworks(labName, top, node, networks)
	if err != nil {
		return nil, err
	}
	fabric := nsx.Path(topology.FabricNamespace(labName))
	var out []Source
	for _, n := range nets {
		out = append(out, Source{Netns: fabric, Interface: n, Promisc: true})
	}
	return out, nil
}

// NodeSources returns a node's interfaces (eth0, eth1, ...) inside the
// node's namespace: all of them, or those on the named networks.
func NodeSources(labName string, top *topology.Topology, node string, networks []string) ([]Source, error) {
	n := top.Node(node)
	if n == nil {
		return nil, unknownNode(labName, top, node)
	}
	nets, err := pickNetworks(labName, top, node, networks)
	if err != nil {
		return nil, err
	}
	ns := nsx.Path(topology.NodeNamespace(labName, node))
	var out []Source
	for i, ifc := range n.Interfaces {
		if slices.Contains(nets, ifc.Network) {
			out = append(out, Source{Netns: ns, Interface: topology.IfName(i)})
		}
	}
	return out, nil
}

// NodeAddrs returns the addresses the lab file gives a node's interfaces.
func NodeAddrs(labName string, top *topology.Topology, node string) ([]netip.Addr, error) {
	n := top.Node(node)
	if n == nil {
		return nil, unknownNode(labName, top, node)
	}
	var out []netip.Addr
	for _, ifc := range n.Interfaces {
		if ifc.Address == "" {
			continue
		}
		p, err := top.InterfacePrefix(ifc)
		if err != nil {
			return nil, fmt.Errorf("lab %s: node %s: address %q: %w", labName, node, ifc.Address, err)
		}
		out = append(out, p.Addr())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lab %s: node %s has no addresses in the lab file, so there is nothing to filter on: trace without --node, or with --peer ADDRESS", labName, node)
	}
	return out, nil
}

func unknownNode(labName string, top *topology.Topology, node string) error {
	var names []string
	for _, n := range top.Nodes {
		names = append(names, n.Name)
	}
	return fmt.Errorf("lab %s has no node %q (nodes: %s)", labName, node, strings.Join(names, ", "))
}

func pickNetworks(labName string, top *topology.Topology, node string, networks []string) ([]string, error) {
	var all []string
	for _, n := range top.Networks {
		all = append(all, n.Name)
	}
	for _, w := range networks {
		if !slices.Contains(all, w) {
			return nil, fmt.Errorf("lab %s has no network %q (networks: %s)", labName, w, strings.Join(all, ", "))
		}
	}
	pick := all
	if len(networks) > 0 {
		pick = networks
	}
	if node == "" {
		return pick, nil
	}
	n := top.Node(node)
	if n == nil {
		return nil, unknownNode(labName, top, node)
	}
	var out []string
	for _, ifc := range n.Interfaces {
		if slices.Contains(pick, ifc.Network) && !slices.Contains(out, ifc.Network) {
			out = append(out, ifc.Network)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lab %s: node %s is not attached to %s", labName, node, strings.Join(pick, ", "))
	}
	return out, nil
}
