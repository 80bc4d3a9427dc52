package diagnose

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"time"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/metallb/speaker"
	"github.com/onp-lab/onp/trace"
)

// Evidence is everything Gather read from a lab at one moment. It is plain
// data (JSON round-trips it), so rules are tested with recorded evidence.
type Evidence struct {
	Lab  string    `json:"lab"`
	Time time.Time `json:"time"`
	// Took is how long gathering took.
	Took     Duration      `json:"took"`
	Nodes    []NodeInfo    `json:"nodes"`
	Speakers []SpeakerInfo `json:"speakers,omitempty"`
	Routers  []RouterInfo  `json:"routers,omitempty"`
	Net      []NetInfo     `json:"net,omitempty"`
	Probes   []Probe       `json:"probes,omitempty"`
	DataPath []HTTPProbe   `json:"dataPath,omitempty"`
	Capture  *CaptureInfo  `json:"capture,omitempty"`
	// Problems says what could not be gathered.
	Problems []string `json:"problems,omitempty"`
}

// NodeInfo is a node of the lab file.
type NodeInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Version is the VyOS CLI dialect of a vyos node ("1.3", "1.4").
	Version    string      `json:"version,omitempty"`
	Interfaces []IfaceInfo `json:"interfaces,omitempty"`
}

// IfaceInfo is one interface of a node as the lab file gives it.
type IfaceInfo struct {
	Name    string       `json:"name"`
	Network string       `json:"network"`
	Address netip.Prefix `json:"address,omitzero"`
}

// SpeakerInfo is one cluster node's speaker and the objects it acts on.
type SpeakerInfo struct {
	Node string `json:"node"`
	// Status is the speaker's status report; nil when it did not answer
	// (Error says why).
	Status *speaker.StatusReport `json:"status,omitempty"`
	Error  string                `json:"error,omitempty"`
	// Objects read from the node's cluster API (APIError when it failed).
	Peers          []PeerConfig          `json:"peers,omitempty"`
	Advertisements []AdvertisementConfig `json:"advertisements,omitempty"`
	Services       []ServiceInfo         `json:"services,omitempty"`
	NodeLabels     map[string]string     `json:"nodeLabels,omitempty"`
	APIError       string                `json:"apiError,omitempty"`
}

// PeerConfig is a BGPPeer as written (what the status report leaves out).
type PeerConfig struct {
	Name          string   `json:"name"`
	Address       string   `json:"address,omitempty"`
	MyASN         uint32   `json:"myASN"`
	PeerASN       uint32   `json:"peerASN,omitempty"`
	EBGPMultiHop  bool     `json:"ebgpMultiHop,omitempty"`
	HoldTime      string   `json:"holdTime,omitempty"`
	RouterID      string   `json:"routerID,omitempty"`
	Password      Secret   `json:"password,omitzero"`
	NodeSelectors []string `json:"nodeSelectors,omitempty"`
}

// Secret describes a password without revealing it.
type Secret struct {
	// Set is true when a password is configured.
	Set bool `json:"set,omitempty"`
	// Fingerprint is the first 8 hex digits of the password's SHA-256:
	// equal fingerprints mean equal passwords.
	Fingerprint string `json:"fingerprint,omitempty"`
	// From says where it is configured ("spec.password", "Secret
	// metallb-system/bgp-secret").
	From string `json:"from,omitempty"`
}

// AdvertisementConfig is a BGPAdvertisement as written.
type AdvertisementConfig struct {
	Name          string   `json:"name"`
	Pools         []string `json:"pools,omitempty"`
	PoolSelectors []string `json:"poolSelectors,omitempty"`
	Peers         []string `json:"peers,omitempty"`
	NodeSelectors []string `json:"nodeSelectors,omitempty"`
}

// ServiceInfo is a LoadBalancer Service with its endpoints.
type ServiceInfo struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Ports     []int    `json:"ports,omitempty"`
	Selector  string   `json:"selector,omitempty"`
	IPs       []string `json:"ips,omitempty"`
	// Endpoints counts ready endpoint addresses in the Service's
	// EndpointSlices; Pods counts the pods its selector matches.
	Endpoints int `json:"endpoints"`
	Pods      int `json:"pods"`
}

// RouterInfo is one router node's BGP state and configuration.
type RouterInfo struct {
	Node    string `json:"node"`
	Kind    string `json:"kind"`
	Version string `json:"version,omitempty"`
	// AS and RouterID are the BGP instance's.
	AS       uint32 `json:"as,omitempty"`
	RouterID string `json:"routerID,omitempty"`
	// Neighbors are keyed by address.
	Neighbors map[string]Neighbor `json:"neighbors,omitempty"`
	// Config is the BGP part of the running configuration (FRR routers).
	Config *RouterConfig `json:"config,omitempty"`
	// Routes are the kernel/zebra routes of the services' prefixes.
	Routes []RouteInfo `json:"routes,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// Neighbor is FRR's `show bgp neighbors json` entry, with the fields onp's
// frr package does not decode, and the summary line's counters.
type Neighbor struct {
	frr.BGPNeighbor
	AdminShutDown bool `json:"adminShutDown,omitempty"`
	// SummaryState is the summary's state ("Idle (Admin)", "Active").
	SummaryState string `json:"summaryState,omitempty"`
	PfxRcd       int    `json:"pfxRcd"`
	PfxSnt       int    `json:"pfxSnt"`
	// UptimeMsec is the summary's peerUptimeMsec: time up, or since down.
	UptimeMsec int64 `json:"peerUptimeMsec,omitempty"`
}

// RouterConfig is what the rules need from an FRR running configuration.
type RouterConfig struct {
	AS                 uint32 `json:"as,omitempty"`
	RouterID           string `json:"routerID,omitempty"`
	MinimumHoldTime    int    `json:"minimumHoldTime,omitempty"`
	NoDefaultIPv4      bool   `json:"noDefaultIPv4Unicast,omitempty"`
	HoldTime           int    `json:"holdTime,omitempty"`
	Keepalive          int    `json:"keepalive,omitempty"`
	Shutdown           bool   `json:"shutdown,omitempty"`
	EBGPRequiresPolicy bool   `json:"ebgpRequiresPolicy,omitempty"`
	// Neighbors are keyed by address (or peer-group name).
	Neighbors map[string]*NeighborConfig `json:"neighbors,omitempty"`
	// Lines are the BGP configuration lines, passwords masked.
	Lines []string `json:"lines,omitempty"`
}

// NeighborConfig is one neighbor's configuration.
type NeighborConfig struct {
	RemoteAS              string `json:"remoteAs,omitempty"`
	PeerGroup             string `json:"peerGroup,omitempty"`
	Password              Secret `json:"password,omitzero"`
	Shutdown              bool   `json:"shutdown,omitempty"`
	EBGPMultihop          int    `json:"ebgpMultihop,omitempty"`
	DisableConnectedCheck bool   `json:"disableConnectedCheck,omitempty"`
	Passive               bool   `json:"passive,omitempty"`
	UpdateSource          string `json:"updateSource,omitempty"`
	HoldTime              int    `json:"holdTime,omitempty"`
	Keepalive             int    `json:"keepalive,omitempty"`
	// IPv4Unicast is true when the neighbor is activated in the IPv4
	// unicast address family (explicitly, or by FRR's default).
	IPv4Unicast bool `json:"ipv4Unicast"`
	// Families lists the address families it is activated in.
	Families []string `json:"families,omitempty"`
}

// RouteInfo is one route of a router's routing table.
type RouteInfo struct {
	Prefix    string   `json:"prefix"`
	Protocol  string   `json:"protocol"`
	Installed bool     `json:"installed"`
	Selected  bool     `json:"selected"`
	Nexthops  []string `json:"nexthops,omitempty"`
}

// NetInfo is a node's network stack as seen from inside its namespace.
type NetInfo struct {
	Node       string       `json:"node"`
	Interfaces []LinkInfo   `json:"interfaces,omitempty"`
	Routes     []KernelInfo `json:"routes,omitempty"`
	Neighbors  []NeighInfo  `json:"arp,omitempty"`
	// Firewall holds the nftables base chains with a drop policy and the
	// rules that drop or reject (all of them for port 179).
	Firewall []FirewallRule `json:"firewall,omitempty"`
	// FirewallRules counts every nftables rule in the namespace.
	FirewallRules int `json:"firewallRules"`
	// MD5 holds the kernel's TCP-MD5 counters (TcpExt TCPMD5NotFound,
	// TCPMD5Unexpected, TCPMD5Failure).
	MD5   map[string]uint64 `json:"md5,omitempty"`
	Error string            `json:"error,omitempty"`
}

// LinkInfo is one interface.
type LinkInfo struct {
	Name  string   `json:"name"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs,omitempty"`
}

// KernelInfo is one kernel route (main table).
type KernelInfo struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway,omitempty"`
	Dev      string `json:"dev,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// NeighInfo is one ARP/NDP entry.
type NeighInfo struct {
	IP    string `json:"ip"`
	MAC   string `json:"mac,omitempty"`
	State string `json:"state"`
	Dev   string `json:"dev,omitempty"`
}

// FirewallRule is an nftables rule (or a base chain's policy) that can
// drop or reject traffic.
type FirewallRule struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Hook   string `json:"hook,omitempty"`
	// Rule is the rule in nft syntax, as far as it could be rendered
	// ("meta l4proto tcp th dport 179 counter packets 3 drop"), or
	// "policy drop" for a chain's policy.
	Rule string `json:"rule"`
	// Verdict is drop, reject or accept.
	Verdict string `json:"verdict"`
	// Reject is the reject type ("tcp reset", "icmp port-unreachable").
	Reject string `json:"reject,omitempty"`
	// Port179 says how the rule matches BGP's port: "dport", "sport",
	// "both" (either), or "" when it does not name port 179.
	Port179 string `json:"port179,omitempty"`
	// PortBFD says how the rule matches BFD's ports (UDP 3784 single hop,
	// 4784 multihop): "dport", "sport", "both" or "".
	PortBFD string `json:"portBFD,omitempty"`
	// TCP is true when the rule matches TCP only.
	TCP     bool   `json:"tcp,omitempty"`
	Packets uint64 `json:"packets,omitempty"`
}

// Probe is one reachability test from inside a node.
type Probe struct {
	From string `json:"from"`
	// To is the node that owns the target address, if any.
	To string `json:"to,omitempty"`
	// Kind is ping, tcp or arp.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Result is ok, refused, timeout, unreachable, failed or error.
	Result string   `json:"result"`
	Detail string   `json:"detail,omitempty"`
	RTT    Duration `json:"rtt,omitzero"`
	// Local is the local address:port of a TCP probe (to tell its packets
	// from the speaker's in the capture).
	Local string `json:"local,omitempty"`
	// LocalPort is the TCP probe's source port, also when it failed.
	LocalPort int `json:"localPort,omitempty"`
}

// Probe results.
const (
	ResultOK          = "ok"
	ResultRefused     = "refused"
	ResultTimeout     = "timeout"
	ResultUnreachable = "unreachable"
	ResultFailed      = "failed" // ARP: no answer
	ResultError       = "error"
)

// HTTPProbe is one HTTP GET of a service address from a node.
type HTTPProbe struct {
	From    string   `json:"from"`
	Service string   `json:"service"`
	URL     string   `json:"url"`
	Status  int      `json:"status,omitempty"`
	Result  string   `json:"result"`
	Error   string   `json:"error,omitempty"`
	Took    Duration `json:"took,omitzero"`
}

// CaptureInfo is the short capture on the lab's bridges.
type CaptureInfo struct {
	Duration   Duration      `json:"duration"`
	Interfaces []string      `json:"interfaces,omitempty"`
	Summary    trace.Summary `json:"summary"`
	Events     []trace.Event `json:"events,omitempty"`
	// Truncated is true when more events were seen than kept.
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Duration is a time.Duration that JSON writes as text ("1.5s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// IsZero reports whether the duration is zero (for omitzero).
func (d Duration) IsZero() bool { return d == 0 }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// node returns the lab node named name, or nil.
func (ev *Evidence) node(name string) *NodeInfo {
	for i := range ev.Nodes {
		if ev.Nodes[i].Name == name {
			return &ev.Nodes[i]
		}
	}
	return nil
}

// nodeByAddr returns the node that has address a, or "".
func (ev *Evidence) nodeByAddr(a string) string {
	x, err := netip.ParseAddr(a)
	if err != nil {
		return ""
	}
	for _, n := range ev.Nodes {
		for _, ifc := range n.Interfaces {
			if ifc.Address.IsValid() && ifc.Address.Addr() == x.Unmap() {
				return n.Name
			}
		}
	}
	return ""
}

func (ev *Evidence) speaker(node string) *SpeakerInfo {
	for i := range ev.Speakers {
		if ev.Speakers[i].Node == node {
			return &ev.Speakers[i]
		}
	}
	return nil
}

func (ev *Evidence) router(node string) *RouterInfo {
	for i := range ev.Routers {
		if ev.Routers[i].Node == node {
			return &ev.Routers[i]
		}
	}
	return nil
}

func (ev *Evidence) net(node string) *NetInfo {
	for i := range ev.Net {
		if ev.Net[i].Node == node {
			return &ev.Net[i]
		}
	}
	return nil
}
