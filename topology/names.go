package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// Naming scheme. Everything of a lab lives in network namespaces whose names
// start with "onp-<lab>"; interface names only have to be unique inside the
// namespace that holds them, so they stay short and readable:
//
//	fabric namespace   onp-<lab>             bridges (named like the network) and their ports
//	node namespace     onp-<lab>.<node>      eth0, eth1, ... in the order of interfaces
//	bridge port        <node>-eth<N>         in the fabric, ≤ 15 characters
//	host port          <network>-host        in the fabric, the bridge end of hostAccess
//	host link          onp<8 hex>            in the root namespace, hash of lab and network
//
// Lab names may not contain dots, so "onp-<lab>." never matches another
// lab's namespaces.
const (
	NamespacePrefix = "onp-"
	MaxLabName      = 24
	MaxNodeName     = 10
	MaxNetworkName  = 10
	MaxIfName       = 15 // IFNAMSIZ - 1
)

var (
	labNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	nodeNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	netNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// FabricNamespace is the namespace holding a lab's bridges.
func FabricNamespace(lab string) string { return NamespacePrefix + lab }

// NodeNamespace is the namespace of one node.
func NodeNamespace(lab, node string) string { return NamespacePrefix + lab + "." + node }

// PortName is the bridge-side end of a node's interface, in the fabric.
func PortName(node, iface string) string { return node + "-" + iface }

// HostPortName is the bridge-side end of the host link of a network.
func HostPortName(network string) string { return network + "-host" }

// HostLinkName is the root-namespace end of a network's host link.
func HostLinkName(lab, network string) string {
	sum := sha256.Sum256([]byte(lab + "/" + network))
	return "onp" + hex.EncodeToString(sum[:4])
}

// IfName is the name of a node's i-th interface.
func IfName(i int) string { return "eth" + itoa(i) }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// ValidLabName reports whether s can name a lab; the error text says why not.
func ValidLabName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxLabName:
		return "is longer than 24 characters"
	case !labNameRE.MatchString(s):
		return "must be lower-case letters, digits and '-', starting and ending with a letter or digit"
	}
	return ""
}
