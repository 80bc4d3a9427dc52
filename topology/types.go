// Package topology defines the lab file: networks (Linux bridges), nodes of
// several kinds wired to them, and checks. It loads files strictly (unknown
// fields are errors), applies defaults in one place and validates everything
// at once, naming file:line:col and the field path of each problem.
package topology

import (
	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/spec"
)

// Topology is a lab file.
type Topology struct {
	// Name is the lab's name; `onp up` uses it unless --name is given.
	Name string `yaml:"name"`
	// Description is free text shown by `onp topology show`.
	Description string    `yaml:"description,omitempty"`
	Defaults    Defaults  `yaml:"defaults,omitempty"`
	Networks    []Network `yaml:"networks"`
	Nodes       []Node    `yaml:"nodes"`
	Checks      []Check   `yaml:"checks,omitempty"`

	// Source names where the topology came from (a path or builtin:NAME).
	Source string `yaml:"-"`
	// Dir is the directory relative paths (manifests, config files) are
	// resolved against; for built-ins it is a directory of the embedded FS.
	Dir string `yaml:"-"`
	// Builtin is true for a topology embedded in the binary.
	Builtin bool `yaml:"-"`

	doc *yamlx.Doc
}

// Defaults are settings that apply to every node of a kind unless the node
// sets them itself.
type Defaults struct {
	VyOS VyOSSpec `yaml:"vyos,omitempty"`
}

// Network is a Linux bridge inside the lab's fabric namespace.
type Network struct {
	Name string `yaml:"name"`
	// Subnet is the IPv4 or IPv6 prefix of the bridge, e.g. 192.168.126.0/24.
	Subnet string `yaml:"subnet"`
	// HostAccess plugs the host (root namespace) into this bridge with the
	// given address, so the host can reach the lab. Off unless set.
	HostAccess *HostAccess `yaml:"hostAccess,omitempty"`
}

// HostAccess is the host side of a bridge.
type HostAccess struct {
	// Address is the host's (gateway) address on the bridge, inside Subnet.
	Address string `yaml:"address"`
}

// Node is a machine in the lab.
type Node struct {
	Name string `yaml:"name"`
	// Kind says what runs inside: host, sno, vyos, frr, bird, gobgp.
	Kind       string      `yaml:"kind"`
	Interfaces []Interface `yaml:"interfaces,omitempty"`
	Routes     []Route     `yaml:"routes,omitempty"`
	// Forwarding enables IP forwarding; defaults to true for router kinds.
	Forwarding *bool `yaml:"forwarding,omitempty"`

	Host  *HostSpec   `yaml:"host,omitempty"`
	VyOS  *VyOSSpec   `yaml:"vyos,omitempty"`
	SNO   *SNOSpec    `yaml:"sno,omitempty"`
	FRR   *DaemonSpec `yaml:"frr,omitempty"`
	BIRD  *DaemonSpec `yaml:"bird,omitempty"`
	GoBGP *DaemonSpec `yaml:"gobgp,omitempty"`
}

// Interface connects a node to a network. Interfaces are named eth0, eth1,
// ... in the order they are listed.
type Interface struct {
	Network string `yaml:"network"`
	// Address is the node's address, "192.168.126.2" (prefix length taken
	// from the network) or "192.168.126.2/24". Empty: no address.
	Address string `yaml:"address,omitempty"`

	// Name is set by defaults (eth0, eth1, ...).
	Name string `yaml:"-"`
}

// Route is a static route on a node.
type Route struct {
	// To is a prefix or "default".
	To  string `yaml:"to"`
	Via string `yaml:"via"`
}

// HostSpec configures a host node: a plain Linux network namespace that
// may run processes of the user's choice.
type HostSpec struct {
	Services []ServiceSpec `yaml:"services,omitempty"`
}

// ServiceSpec is a long-running process onp starts in a node, restarts if
// it dies, and stops on down.
type ServiceSpec struct {
	Name string `yaml:"name"`
	// Command is the program and its arguments.
	Command []string `yaml:"command"`
	// Restart is always (default), on-failure or never.
	Restart string `yaml:"restart,omitempty"`
}

// VyOSSpec configures a vyos node.
type VyOSSpec struct {
	// Version is the CLI dialect: "1.3" (AS as a tag under protocols bgp) or
	// "1.4" (system-as).
	Version  string `yaml:"version,omitempty"`
	User     string `yaml:"user,omitempty"`
	Password string `yaml:"password,omitempty"`
	// AuthorizedKeys are SSH public keys (authorized_keys lines) that may log in.
	AuthorizedKeys []string `yaml:"authorizedKeys,omitempty"`
	// Config are configuration-mode commands ("set ...") pushed with the SSH
	// driver once the router answers; onp adds configure/commit/save.
	Config []string `yaml:"config,omitempty"`
}

// SNOSpec configures a single-node cluster node.
type SNOSpec struct {
	// Manifests are Kubernetes/MetalLB YAML files (relative to the lab file)
	// applied in order once the node is up, as `onp apply -f` would.
	Manifests []string `yaml:"manifests,omitempty"`
	// PodSubnet is the prefix pod addresses come from (default 10.128.0.0/23).
	PodSubnet string `yaml:"podSubnet,omitempty"`
}

// DaemonSpec is a plain router run from a raw daemon configuration.
type DaemonSpec struct {
	// Config is the daemon's configuration text (frr.conf, bird.conf, or
	// gobgpd TOML).
	Config string `yaml:"config,omitempty"`
	// ConfigFile is a file (relative to the lab file) holding it instead.
	ConfigFile string `yaml:"configFile,omitempty"`
}

// Check is an assertion about a running lab (bgp-session, bgp-route,
// fib-route, http, tcp, ping, service-ip, no-flap, diagnosis); its schema
// lives in scenarios/spec, which package scenarios runs.
type Check = spec.Check

// Kinds are the node kinds a lab file may use.
var Kinds = []string{"host", "sno", "vyos", "frr", "bird", "gobgp"}

// RouterKinds forward packets by default.
var RouterKinds = map[string]bool{"vyos": true, "frr": true, "bird": true, "gobgp": true}

// Doc returns the positions of the file the topology was loaded from.
func (t *Topology) Doc() *yamlx.Doc { return t.doc }

// Node returns the node with the given name, or nil.
func (t *Topology) Node(name string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i]
		}
	}
	return nil
}

// Network returns the network with the given name, or nil.
func (t *Topology) Network(name string) *Network {
	for i := range t.Networks {
		if t.Networks[i].Name == name {
			return &t.Networks[i]
		}
	}
	return nil
}
