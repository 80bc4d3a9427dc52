// Package scenarios runs checks and scenarios against labs and reports the
// results as text, JSON or JUnit XML.
//
// Checks (package scenarios/spec) read a running lab through an Env: FRR
// state of routers (vtysh JSON, through a router's vty socket or the VyOS
// SSH driver), the speaker's session status, the kernel routing table and
// the network stack of a node (dial, ping), and the cluster API. Each
// source is a small interface, so that checks are tested against fakes and
// a VM provider can bring its own implementations. A source this build does
// not have yet is an *UnavailableError: the check cannot run (ERROR), it
// never passes.
//
// A scenario (Scenario) is a lab plus ordered steps — apply manifests,
// configure a router, wait, check, inject a fault, delete objects — and
// final checks. RunScenario builds the lab under a unique name, runs the
// steps and tears the lab down.
package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/onp-lab/onp/scenarios/spec"
)

// Env is what checks and scenario steps use to reach a running lab.
type Env interface {
	// Context describes the lab's nodes: names, kinds, interfaces, addresses.
	Context() *spec.Context
	// Router returns the FRR state of a router node (vyos or frr).
	Router(ctx context.Context, node string) (Router, error)
	// Speaker returns the BGP speaker's sessions on a cluster node.
	Speaker(ctx context.Context, node string) (Speaker, error)
	// Net returns the network stack of a node: dial, ping, kernel routes.
	Net(node string) (NodeNet, error)
	// Cluster returns the cluster API of a cluster node; "" means the lab's
	// only cluster node.
	Cluster(ctx context.Context, node string) (Cluster, error)
	// RouterConfig returns a way to configure a VyOS router.
	RouterConfig(ctx context.Context, node string) (RouterConfigurer, error)
	// Faults returns the fault injector of the lab.
	Faults() Faults
	// Close releases connections the Env holds.
	Close() error
}

// Router reads FRR state as JSON (`vtysh -c "show ... json"`).
type Router interface {
	ShowJSON(ctx context.Context, command string, v any) error
}

// SpeakerSession is the speaker's view of one BGP session.
type SpeakerSession struct {
	// Peer is the router's address.
	Peer netip.Addr
	// State is the FSM state as FRR names it (Idle ... Established).
	State string
	// Since is when the session entered State.
	Since time.Time
	// LastError is the last error the session saw, e.g. "connection refused".
	LastError string
	// Drops counts how often the session left Established.
	Drops int
}

// Speaker reads the sessions of the BGP speaker on a cluster node.
type Speaker interface {
	Sessions(ctx context.Context) ([]SpeakerSession, error)
}

// KernelRoute is one route of a node's kernel routing table (main table).
type KernelRoute struct {
	Prefix netip.Prefix
	// Gateways are the next hops (several for a multipath route); empty for
	// a directly connected route.
	Gateways []netip.Addr
	// Devices are the outgoing interfaces, in the order of Gateways.
	Devices []string
	// Protocol is how the route got there (kernel, boot, static, bgp, ...).
	Protocol string
}

// NodeNet is the network stack of a node as seen from inside it.
type NodeNet interface {
	// DialContext opens a connection from the node.
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	// Ping sends one ICMP echo request and waits for the reply until ctx
	// ends; it returns the round-trip time.
	Ping(ctx context.Context, dst netip.Addr) (time.Duration, error)
	// Routes returns the kernel routes (main table) for exactly prefix.
	Routes(ctx context.Context, prefix netip.Prefix) ([]KernelRoute, error)
}

// Cluster is the cluster API of a cluster node.
type Cluster interface {
	// Apply creates or updates the objects of a multi-document YAML stream;
	// source names it in errors.
	Apply(ctx context.Context, source string, manifests []byte) error
	// Delete removes objects.
	Delete(ctx context.Context, objs []ObjectRef) error
	// ServiceIngress returns the EXTERNAL-IPs of a Service (none while
	// pending); a missing Service is an error.
	ServiceIngress(ctx context.Context, namespace, name string) ([]string, error)
}

// RouterConfigurer configures a VyOS router.
type RouterConfigurer interface {
	// Configure pushes configuration-mode commands (set/delete) in one
	// commit, as automation does, and saves when save is true.
	Configure(ctx context.Context, cmds []string, save bool) (string, error)
	// Type types lines into the router's interactive CLI over SSH, as a
	// person would (configure, set ..., commit, save, exit), and returns
	// the transcript.
	Type(ctx context.Context, lines []string) (string, error)
}

// Faults break and repair a running lab.
type Faults interface {
	// SetLink sets an interface of a node down or up.
	SetLink(ctx context.Context, node, iface string, up bool) error
	// SetBridgePort sets a bridge port in the lab's fabric down or up
	// (<node>-eth<N>: the switch side of a node's interface).
	SetBridgePort(ctx context.Context, port string, up bool) error
	// Service stops, starts, kills (a crash: the supervisor restarts it)
	// or restarts a supervised process of a node.
	Service(ctx context.Context, node, service, action string) error
	// Block drops (block true) or stops dropping all traffic to and from a
	// TCP or UDP port on a node.
	Block(ctx context.Context, node, protocol string, port uint16, block bool) error
}

// Rejecter is implemented by Faults that can refuse a port (reject
// faults): connections to a TCP port get a reset, UDP packets an ICMP port
// unreachable, in the node's input path.
type Rejecter interface {
	Reject(ctx context.Context, node, protocol string, port uint16) error
}

// RouteFaults is implemented by Faults that change a node's kernel routes
// (route-delete and route-add faults): add true adds the route to to via
// via; otherwise the route to to (through via, when valid) is deleted.
type RouteFaults interface {
	Route(ctx context.Context, node string, to netip.Prefix, via netip.Addr, add bool) error
}

// ExecResult is how a command run in a node ended, with its output
// (standard output and error together).
type ExecResult struct {
	ExitCode int
	Output   string
}

// Execer is implemented by Envs whose nodes run commands (exec steps), as
// onp exec does.
type Execer interface {
	Exec(ctx context.Context, node string, argv []string, stdin string) (ExecResult, error)
}

// UnavailableError says that a check or step cannot run because this build
// or this lab lacks what it needs. It is never retried.
type UnavailableError struct {
	What string // e.g. "service-ip"
	Why  string
}

func (e *UnavailableError) Error() string { return e.What + ": " + e.Why }

// Unavailable returns an *UnavailableError.
func Unavailable(what, format string, args ...any) error {
	return &UnavailableError{What: what, Why: fmt.Sprintf(format, args...)}
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix: the check stops at
// once with ERROR.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether retrying cannot fix err.
func IsPermanent(err error) bool {
	var p *permanentError
	var u *UnavailableError
	return errors.As(err, &p) || errors.As(err, &u)
}
