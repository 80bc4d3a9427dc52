// Package spec is the schema of checks: assertions about a running lab that
// a lab file (checks:) or a scenario lists. It only describes and validates
// them; package scenarios runs them.
//
// A check is one YAML mapping with a type and the fields of that type:
//
//   - name: the router learned the service address
//     type: bgp-route
//     node: vyos
//     prefix: 10.0.0.10/32
//     nexthops: [sno4]
//     communities: ["65535:65282"]
//     localPref: 100
//
// Every check retries once a second until its deadline (wait, with a
// default per type) and reports one PASS/FAIL line per target (each node in
// node/nodes, times each peer for session checks).
//
// The package is a leaf: it imports neither topology nor lab, so that the
// topology package can embed checks in lab files. Validation gets what it
// needs to know about the lab (node names, kinds, addresses) as a Context.
package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Check types.
const (
	BGPSession = "bgp-session"
	BGPRoute   = "bgp-route"
	FIBRoute   = "fib-route"
	HTTP       = "http"
	TCP        = "tcp"
	Ping       = "ping"
	ServiceIP  = "service-ip"
	NoFlap     = "no-flap"
	Diagnosis  = "diagnosis"
)

// Types lists the check types in the order the documentation presents them.
var Types = []string{BGPSession, BGPRoute, FIBRoute, HTTP, TCP, Ping, ServiceIP, NoFlap, Diagnosis}

// DefaultWait is how long a check of each type retries when the check does
// not say (netlab's wait constants: ebgp_session 30, bgp_v4_originate 15,
// ping 5). A no-flap check observes for its window instead (DefaultWindow).
var DefaultWait = map[string]time.Duration{
	BGPSession: 30 * time.Second,
	BGPRoute:   15 * time.Second,
	FIBRoute:   15 * time.Second,
	HTTP:       10 * time.Second,
	TCP:        5 * time.Second,
	Ping:       5 * time.Second,
	ServiceIP:  30 * time.Second,
	NoFlap:     0,
	// A diagnosis attempt takes about 3 s (it captures on the bridges).
	Diagnosis: 20 * time.Second,
}

// DefaultWindow is how long a no-flap check watches a session.
const DefaultWindow = 10 * time.Second

// MaxWait bounds wait and window: a check that needs longer is a mistake.
const MaxWait = time.Hour

// BGP FSM states a bgp-session check may expect (RFC 4271 §8.2.2).
var BGPStates = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

// TCP outcomes a tcp check may expect: open (the handshake completes),
// closed (the far end answers with a reset) or filtered (no answer).
var TCPStates = []string{"open", "closed", "filtered"}

// Origins a bgp-route check may expect.
var Origins = []string{"igp", "egp", "incomplete"}

// Check is one assertion. Type selects which of the other fields apply;
// Validate reports a field that does not belong to the type.
type Check struct {
	// Name is shown in reports; empty means a description made from the
	// fields (Check.Title).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Type is one of Types.
	Type string `yaml:"type" json:"type"`
	// Wait is how long the check retries (once a second) before it fails.
	// Unset means DefaultWait[Type]; 0s means a single attempt.
	Wait *Duration `yaml:"wait,omitempty" json:"wait,omitempty"`

	// Node or Nodes name where the check runs: the router whose state is
	// read, or the node a request starts from. Each node is a target.
	Node  string   `yaml:"node,omitempty" json:"node,omitempty"`
	Nodes []string `yaml:"nodes,omitempty" json:"nodes,omitempty"`

	// Peer or Peers name the BGP neighbor by address or node name
	// (bgp-session, no-flap, diagnosis). Each peer is a target on each node.
	Peer  string   `yaml:"peer,omitempty" json:"peer,omitempty"`
	Peers []string `yaml:"peers,omitempty" json:"peers,omitempty"`
	// State is the expected BGP state (bgp-session; default Established) or
	// TCP outcome (tcp: open, closed or filtered; default open).
	State string `yaml:"state,omitempty" json:"state,omitempty"`

	// Prefix is the route to look for (bgp-route, fib-route).
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	// Present false expects the route to be absent (default true).
	Present *bool `yaml:"present,omitempty" json:"present,omitempty"`
	// Nexthops is the exact set of next hops (addresses or node names).
	Nexthops []string `yaml:"nexthops,omitempty" json:"nexthops,omitempty"`
	// Communities must all be on the route ("65535:65282" or a well-known
	// name such as no-advertise); LargeCommunities likewise ("1:2:3").
	Communities      []string `yaml:"communities,omitempty" json:"communities,omitempty"`
	LargeCommunities []string `yaml:"largeCommunities,omitempty" json:"largeCommunities,omitempty"`
	LocalPref        *uint32  `yaml:"localPref,omitempty" json:"localPref,omitempty"`
	// Origin is igp, egp or incomplete.
	Origin string `yaml:"origin,omitempty" json:"origin,omitempty"`
	// ASPath is the expected AS path, ASNs separated by spaces; "" is the
	// empty path of a route from an iBGP peer.
	ASPath *string `yaml:"asPath,omitempty" json:"asPath,omitempty"`
	// Best true checks only the best path (and requires one); otherwise
	// every valid path must match.
	Best *bool `yaml:"best,omitempty" json:"best,omitempty"`
	// Interface is the expected outgoing interface of a kernel route.
	Interface string `yaml:"interface,omitempty" json:"interface,omitempty"`

	// URL is what an http check fetches; its host may be a node name.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Status is the expected HTTP status (default 200).
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// BodyContains must appear in the response body.
	BodyContains string `yaml:"bodyContains,omitempty" json:"bodyContains,omitempty"`
	// ClientAddress is the client address the echoserver reports
	// (client_address=... in its answer): an address or a node name.
	ClientAddress string `yaml:"clientAddress,omitempty" json:"clientAddress,omitempty"`

	// To is the destination of a tcp (host:port) or ping (host) check; the
	// host may be a node name.
	To string `yaml:"to,omitempty" json:"to,omitempty"`
	// Reachable false expects pings to go unanswered (default true).
	Reachable *bool `yaml:"reachable,omitempty" json:"reachable,omitempty"`

	// Service is namespace/name of a Service (service-ip).
	Service string `yaml:"service,omitempty" json:"service,omitempty"`
	// IP is the EXTERNAL-IP the Service must get; empty accepts any.
	IP string `yaml:"ip,omitempty" json:"ip,omitempty"`

	// Window is how long a no-flap check watches (default 10s).
	Window *Duration `yaml:"window,omitempty" json:"window,omitempty"`

	// Cause is what a diagnosis check expects the diagnosis to name: one
	// of DiagnosisCauses; empty means "healthy".
	Cause string `yaml:"cause,omitempty" json:"cause,omitempty"`
}

// DiagnosisCauses are the causes a diagnosis check may expect (package
// diagnose names them; its tests keep the two lists equal).
var DiagnosisCauses = []string{
	"healthy",
	"as-mismatch", "router-id-clash", "hold-time", "afi-not-activated", "admin-shutdown",
	"wrong-peer-address", "wrong-neighbor-address", "no-neighbor", "ebgp-multihop",
	"tcp-179-dropped", "tcp-179-rejected", "md5-mismatch", "md5-one-side",
	"bfd-one-side", "bfd-dropped", "bfd-down",
	"selector-excludes", "no-advertisement", "no-endpoints", "return-path",
	"speaker-not-running", "router-not-answering", "no-metallb", "config-invalid", "no-bgp-peer",
	"peer-unreachable", "notification", "session-down", "route-not-received", "service-unreachable",
}

// ExpectedCause is Cause, default "healthy".
func (c *Check) ExpectedCause() string {
	if c.Cause == "" {
		return "healthy"
	}
	return c.Cause
}

// Duration is a time.Duration written as text ("30s", "1m30s") in YAML
// and JSON.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number with a unit: 500ms, 30s, 2m)", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Dur returns a pointer to d, for building checks in code.
func Dur(d time.Duration) *Duration { v := Duration(d); return &v }

// Deadline is how long the check retries: Wait, or the type's default.
func (c *Check) Deadline() time.Duration {
	if c.Wait != nil {
		return c.Wait.D()
	}
	return DefaultWait[c.Type]
}

// WindowOrDefault is how long a no-flap check watches.
func (c *Check) WindowOrDefault() time.Duration {
	if c.Window != nil {
		return c.Window.D()
	}
	return DefaultWindow
}

// TargetNodes is Nodes, or Node as a one-element list.
func (c *Check) TargetNodes() []string {
	if len(c.Nodes) > 0 {
		return c.Nodes
	}
	if c.Node != "" {
		return []string{c.Node}
	}
	return nil
}

// TargetPeers is Peers, or Peer as a one-element list.
func (c *Check) TargetPeers() []string {
	if len(c.Peers) > 0 {
		return c.Peers
	}
	if c.Peer != "" {
		return []string{c.Peer}
	}
	return nil
}

// ExpectPresent is Present, default true.
func (c *Check) ExpectPresent() bool { return c.Present == nil || *c.Present }

// ExpectReachable is Reachable, default true.
func (c *Check) ExpectReachable() bool { return c.Reachable == nil || *c.Reachable }

// ExpectedState is the BGP state (bgp-session) or TCP outcome (tcp) the
// check expects, with its default, in canonical spelling.
func (c *Check) ExpectedState() string {
	switch c.Type {
	case BGPSession:
		if c.State == "" {
			return "Established"
		}
		return canonical(c.State, BGPStates)
	case TCP:
		if c.State == "" {
			return "open"
		}
		return canonical(c.State, TCPStates)
	}
	return c.State
}

// ExpectedStatus is Status, default 200.
func (c *Check) ExpectedStatus() int {
	if c.Status == 0 {
		return 200
	}
	return c.Status
}

func canonical(s string, valid []string) string {
	for _, v := range valid {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	return s
}

// Title describes the check for report headers: its name, or what it
// checks.
func (c *Check) Title() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Describe()
}

// Describe says what the check checks, made from its fields.
func (c *Check) Describe() string {
	nodes := strings.Join(c.TargetNodes(), ",")
	peers := strings.Join(c.TargetPeers(), ",")
	switch c.Type {
	case BGPSession:
		return fmt.Sprintf("BGP session %s ↔ %s is %s", nodes, peers, c.ExpectedState())
	case BGPRoute, FIBRoute:
		where := "BGP table"
		if c.Type == FIBRoute {
			where = "kernel routing table"
		}
		if !c.ExpectPresent() {
			return fmt.Sprintf("%s is not in the %s of %s", c.Prefix, where, nodes)
		}
		return fmt.Sprintf("%s is in the %s of %s", c.Prefix, where, nodes)
	case HTTP:
		return fmt.Sprintf("GET %s from %s", c.URL, nodes)
	case TCP:
		return fmt.Sprintf("TCP %s from %s is %s", c.To, nodes, c.ExpectedState())
	case Ping:
		if !c.ExpectReachable() {
			return fmt.Sprintf("%s does not answer pings from %s", c.To, nodes)
		}
		return fmt.Sprintf("%s answers pings from %s", c.To, nodes)
	case ServiceIP:
		if c.IP != "" {
			return fmt.Sprintf("Service %s has EXTERNAL-IP %s", c.Service, c.IP)
		}
		return fmt.Sprintf("Service %s has an EXTERNAL-IP", c.Service)
	case NoFlap:
		return fmt.Sprintf("BGP session %s ↔ %s does not flap for %s", nodes, peers, c.WindowOrDefault())
	case Diagnosis:
		what := "the lab"
		if nodes != "" || peers != "" {
			what = strings.Trim(nodes+" ↔ "+peers, " ↔")
		}
		if c.ExpectedCause() == "healthy" {
			return fmt.Sprintf("the diagnosis of %s finds it healthy", what)
		}
		return fmt.Sprintf("the diagnosis of %s names %s", what, c.Cause)
	}
	return c.Type
}

// typeFields lists the fields each type accepts besides name, type and
// wait.
var typeFields = map[string][]string{
	BGPSession: {"node", "nodes", "peer", "peers", "state"},
	BGPRoute:   {"node", "nodes", "prefix", "present", "nexthops", "communities", "largeCommunities", "localPref", "origin", "asPath", "best"},
	FIBRoute:   {"node", "nodes", "prefix", "present", "nexthops", "interface"},
	HTTP:       {"node", "nodes", "url", "status", "bodyContains", "clientAddress"},
	TCP:        {"node", "nodes", "to", "state"},
	Ping:       {"node", "nodes", "to", "reachable"},
	ServiceIP:  {"node", "service", "ip"},
	NoFlap:     {"node", "nodes", "peer", "peers", "window"},
	Diagnosis:  {"node", "nodes", "peer", "peers", "cause"},
}

// commonFields are accepted by every type (no-flap has no wait: it watches
// for its window).
var commonFields = []string{"name", "type", "wait"}

// Fields returns the fields a check of the given type accepts, sorted.
func Fields(typ string) []string {
	fs := append([]string{}, typeFields[typ]...)
	for _, f := range commonFields {
		if typ == NoFlap && f == "wait" {
			continue
		}
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

// nodeKinds says on which node kinds a type can run; absent means any.
var nodeKinds = map[string][]string{
	BGPSession: {"vyos", "frr", "sno"},
	BGPRoute:   {"vyos", "frr"},
	NoFlap:     {"vyos", "frr"},
	ServiceIP:  {"sno"},
}

// NodeKinds returns the node kinds a check type runs on, or nil for any.
func NodeKinds(typ string) []string { return slices.Clone(nodeKinds[typ]) }

// File is a file that holds only checks, to run against a running lab
// (onp check --file FILE).
type File struct {
	Checks []Check `yaml:"checks"`
}
