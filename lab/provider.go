package lab

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/onp-lab/onp/topology"
)

// Lab is a lab being built or running.
type Lab struct {
	Name     string
	Dir      string
	Topology *topology.Topology
	Journal  *Journal
	Logger   *slog.Logger
}

// Provider says where nodes run: network namespaces, VMs.
type Provider interface {
	Name() string
	// Preflight checks privileges, kernel features and names before
	// anything is created.
	Preflight(ctx context.Context, l *Lab) error
	// CreateFabric creates what holds the lab's networks.
	CreateFabric(ctx context.Context, l *Lab) error
	CreateNetwork(ctx context.Context, l *Lab, n *topology.Network) error
	// CreateNode creates a node, wires its interfaces and sets addresses and
	// routes; what runs inside is the kind's business.
	CreateNode(ctx context.Context, l *Lab, n *topology.Node) (Node, error)
	// Node returns a handle to an existing node.
	Node(l *Lab, n *topology.Node) (Node, error)
	// Destroy removes everything of the named lab it can find by ownership
	// tags, plus what the journal entries name. It is idempotent.
	Destroy(ctx context.Context, name string, journal []Entry) (*DestroyReport, error)
	// Labs lists the names of labs that have objects of this provider.
	Labs(ctx context.Context) ([]string, error)
	// Inspect reports what exists of a lab.
	Inspect(ctx context.Context, l *Lab) (*Inventory, error)
}

// Node is the one transport to a node: run a command, copy a file, start a
// supervised process. A namespace node does these directly, a VM over SSH.
type Node interface {
	Name() string
	Exec(ctx context.Context, argv []string, opts ExecOptions) (ExecResult, error)
	// CopyFile writes src to dst, a path relative to the node's own
	// directory (for a namespace node: the node directory in the lab).
	CopyFile(ctx context.Context, src io.Reader, dst string, mode fs.FileMode) (string, error)
	// Start starts (or replaces) a supervised long-running process.
	Start(ctx context.Context, svc Service) error
	// Stop stops a supervised process by pid.
	Stop(ctx context.Context, name string) error
}

// LocalNode is a node whose files and network namespace are on this
// machine (the netns provider's nodes). Kinds that need more than the
// transport (a namespace path for sockets, the node's directory) use it.
type LocalNode interface {
	Node
	// Dir is the node's directory in the lab directory.
	Dir() string
	// NetnsPath is the path of the node's network namespace.
	NetnsPath() string
}

// ExecOptions are the standard streams and environment of a command.
type ExecOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Env            []string // added to the environment
	Dir            string
}

// ExecResult is how a command ended.
type ExecResult struct {
	ExitCode int
}

// Service is a long-running process in a node.
type Service struct {
	// Name is unique within the node, e.g. "speaker" or "router".
	Name string
	Argv []string
	Env  []string
	Dir  string
	// Restart is "always" (default), "on-failure" or "never".
	Restart string
	// StopTimeout is how long a stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// Kind deploys what runs inside a node of one kind.
type Kind interface {
	Name() string
	// Preflight checks what the kind needs (binaries, packages) before
	// anything is created.
	Preflight(ctx context.Context, l *Lab, n *topology.Node) error
	// Deploy starts the node's software once the node and its links exist.
	Deploy(ctx context.Context, l *Lab, node Node, n *topology.Node) error
}

// DestroyReport says what a destroy removed and what it left alone.
type DestroyReport struct {
	Namespaces []string
	Links      []string
	Processes  []int
	Files      []string
	// Foreign lists objects with the lab's names that onp does not own; they
	// were not touched.
	Foreign []string
}

// Empty reports whether nothing was removed.
func (r *DestroyReport) Empty() bool {
	return r == nil || len(r.Namespaces)+len(r.Links)+len(r.Processes)+len(r.Files) == 0
}

// Inventory is what exists of a lab.
type Inventory struct {
	Lab        string          `json:"lab"`
	Provider   string          `json:"provider"`
	Supervisor *ProcessStatus  `json:"supervisor,omitempty"`
	Networks   []NetworkStatus `json:"networks"`
	Nodes      []NodeStatus    `json:"nodes"`
}

// NetworkStatus is one bridge.
type NetworkStatus struct {
	Name     string   `json:"name"`
	Subnet   string   `json:"subnet"`
	Exists   bool     `json:"exists"`
	Up       bool     `json:"up"`
	Ports    []string `json:"ports"`
	HostLink string   `json:"hostLink,omitempty"`
}

// NodeStatus is one node.
type NodeStatus struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Namespace  string            `json:"namespace"`
	Exists     bool              `json:"exists"`
	Interfaces []InterfaceStatus `json:"interfaces"`
	Services   []ProcessStatus   `json:"services,omitempty"`
}

// InterfaceStatus is one interface of a node.
type InterfaceStatus struct {
	Name    string   `json:"name"`
	Network string   `json:"network"`
	Up      bool     `json:"up"`
	Addrs   []string `json:"addresses"`
}

// ProcessStatus is a supervised process.
type ProcessStatus struct {
	Name     string    `json:"name"`
	Pid      int       `json:"pid"`
	Running  bool      `json:"running"`
	Restarts int       `json:"restarts"`
	Since    time.Time `json:"since,omitzero"`
	LastExit string    `json:"lastExit,omitempty"`
	Log      string    `json:"log,omitempty"`
}
