package speaker

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// DefaultMetricsAddr is where MetalLB's speaker serves Prometheus metrics.
const DefaultMetricsAddr = ":7472"

// MetricsOff as Options.MetricsAddr serves no metrics over TCP (they are
// still served on the status socket at /metrics).
const MetricsOff = "off"

// Options configure Run. The speaker runs with its whole process inside
// the node's network namespace: gobgp dials from whichever thread its
// goroutines run on, so only a process started in the namespace
// (nsx.Start) puts every BGP socket there.
type Options struct {
	// NodeName is the name of this node's Node object ("sno4"). Required.
	NodeName string
	// APISocket is the node's cluster API socket, cluster.SocketPath of
	// the node directory. Required unless Client is set. The speaker
	// retries until the agent answers, and lists again after the agent
	// restarts; sessions and routes stay as they are meanwhile.
	APISocket string
	// Client, when set, is used instead of dialing APISocket (a speaker
	// in the agent's process, tests).
	Client kube.Interface
	// StatusSocket is the unix socket of the status endpoint: GET /status
	// answers a StatusReport as JSON, GET /metrics the Prometheus text.
	// Put it in the node's runtime directory. A stale socket is replaced;
	// one that still answers is an error (another speaker runs). Empty:
	// no status endpoint.
	StatusSocket string
	// MetricsAddr is the TCP listen address of the Prometheus endpoint
	// (/metrics), in the node's namespace. Empty means DefaultMetricsAddr
	// (":7472", as MetalLB); MetricsOff disables it.
	MetricsAddr string
	// Namespace is MetalLB's namespace; empty means metallb-system. The
	// MetalLB resource and the configuration are read from it only, as
	// MetalLB's speaker does.
	Namespace string
	// LoadBalancerClass, when set, is the spec.loadBalancerClass of the
	// services to announce (MetalLB's --lb-class). Empty means the MetalLB
	// resource's spec.loadBalancerClass, and when that is empty too,
	// services without a class.
	LoadBalancerClass string
	// IgnoreExcludeLB ignores the node label
	// node.kubernetes.io/exclude-from-external-load-balancers (MetalLB's
	// --ignore-exclude-lb).
	IgnoreExcludeLB bool
	// Resync is how often the speaker decides everything again from its
	// caches without a change, as a safety net (default DefaultResync).
	Resync time.Duration
	// DisableEvents stops the speaker from recording Kubernetes Events on
	// services (nodeAssigned when announced; the reason when not).
	DisableEvents bool
	// Logger receives the speaker's records with MetalLB's event names
	// (attribute "event": peerAdded, peerRemoved, sessionUp, sessionDown,
	// peerNotification, serviceAnnounced, serviceWithdrawn, configLoaded,
	// configInvalid, ...). Nil discards.
	Logger *slog.Logger
	// Ready, when set, is called once the status and metrics endpoints
	// serve, before the cluster API is reached.
	Ready func()
}

func (o *Options) withDefaults() (Options, error) {
	x := *o
	var errs []error
	if x.NodeName == "" {
		errs = append(errs, errors.New("no node name: set the name of this node's Node object (--node)"))
	}
	if x.APISocket == "" && x.Client == nil {
		errs = append(errs, errors.New("no cluster API socket: set the node's cluster API socket (--api-socket)"))
	}
	if x.Namespace == "" {
		x.Namespace = api.DefaultMetalLBNamespace
	}
	if x.MetricsAddr == "" {
		x.MetricsAddr = DefaultMetricsAddr
	}
	if strings.EqualFold(x.MetricsAddr, MetricsOff) {
		x.MetricsAddr = MetricsOff
	}
	if x.Logger == nil {
		x.Logger = slog.New(slog.DiscardHandler)
	}
	if len(errs) > 0 {
		return x, fmt.Errorf("speaker: %w", errors.Join(errs...))
	}
	return x, nil
}
