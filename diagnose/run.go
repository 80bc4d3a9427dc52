package diagnose

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/onp-lab/onp/lab"
)

// Env is how the gatherer reaches a running lab: its topology and node
// namespaces (RunningLab), the routers' FRR (RouterShow), and the network
// stack inside a node (NodeDial, NodePing). *scenarios.LabEnv implements
// it, so callers write:
//
//	env := scenarios.NewLabEnv(m, l)
//	defer env.Close()
//	rep, err := diagnose.Run(ctx, env, diagnose.Options{})
type Env interface {
	// RunningLab returns the lab's manager and the running lab.
	RunningLab() (*lab.Manager, *lab.Lab)
	// RouterShow runs one vtysh show command on a router node (vyos, frr)
	// and returns what it printed.
	RouterShow(ctx context.Context, node, command string) (string, error)
	// NodeDial opens a connection from inside a node.
	NodeDial(ctx context.Context, node, network, address string) (net.Conn, error)
	// NodePing sends one ICMP echo from inside a node and waits for the
	// reply until ctx ends.
	NodePing(ctx context.Context, node string, dst netip.Addr) (time.Duration, error)
}

// DefaultCapture is how long Run captures on the lab's bridges.
const DefaultCapture = 3 * time.Second

// Options change what Run and Gather look at.
type Options struct {
	// Peer limits the diagnosis to the sessions with this end: a node name
	// or an address. Empty: every session, and the services.
	Peer string
	// Capture is how long to capture on the lab's bridges; zero means
	// DefaultCapture, negative means no capture.
	Capture time.Duration
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

func (o Options) capture() time.Duration {
	if o.Capture == 0 {
		return DefaultCapture
	}
	return o.Capture
}

func (o Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Run gathers evidence from a running lab (about Options.Capture plus a
// fraction of a second) and diagnoses it. The report carries the evidence.
// An error means the lab could not be read at all; partial failures (a
// router that does not answer) are evidence, reported as findings or notes.
func Run(ctx context.Context, env Env, opts Options) (*Report, error) {
	ev, err := Gather(ctx, env, opts)
	if err != nil {
		return nil, err
	}
	rep := Diagnose(ev, opts.Peer)
	rep.Evidence = ev
	return rep, nil
}
