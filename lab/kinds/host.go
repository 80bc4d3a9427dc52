// Package kinds holds what runs inside each kind of node.
package kinds

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

// Host is a plain Linux node; it runs the services its spec lists.
type Host struct{}

// Name implements lab.Kind.
func (Host) Name() string { return "host" }

// Preflight checks that every service's program exists.
func (Host) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	if n.Host == nil {
		return nil
	}
	for _, s := range n.Host.Services {
		if _, err := exec.LookPath(s.Command[0]); err != nil {
			return fmt.Errorf("service %s: program %q not found on this machine", s.Name, s.Command[0])
		}
	}
	return nil
}

// Deploy starts the node's services.
func (Host) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	if n.Host == nil {
		return nil
	}
	for _, s := range n.Host.Services {
		if err := node.Start(ctx, lab.Service{Name: s.Name, Argv: s.Command, Restart: s.Restart}); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return nil
}
