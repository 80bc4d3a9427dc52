package main

import (
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/internal/daemons"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/metallb/speaker"
	"github.com/onp-lab/onp/vyos/appliance"
)

// superviseCommand runs a lab's process supervisor; onp starts it itself.
func (a *app) superviseCommand() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:    "__supervise --dir LABDIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return supervisor.Run(cmd.Context(), dir, a.logger())
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "lab directory")
	c.MarkFlagRequired("dir")
	return c
}

// frrRouterCommand runs the process behind an frr-kind node.
func (a *app) frrRouterCommand() *cobra.Command {
	var o kinds.FRRRouterOptions
	c := &cobra.Command{
		Use:    "__frr-router --config FILE --run DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Logger = a.logger()
			return kinds.RunFRRRouter(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.ConfigPath, "config", "", "frr.conf to apply")
	c.Flags().StringVar(&o.RunDir, "run", "", "runtime directory for sockets and pid files")
	c.Flags().StringVar(&o.LogDir, "log-dir", "", "directory for daemon logs")
	return c
}

// vyosRouterCommand runs the VyOS-compatible appliance of a vyos-kind node.
func (a *app) vyosRouterCommand() *cobra.Command {
	var o appliance.Options
	var usersFile string
	c := &cobra.Command{
		Use:    "__vyos-router --dir DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			us, err := daemons.RouterUsers(usersFile)
			if err != nil {
				return err
			}
			o.Users = us
			o.Logger = a.logger()
			return appliance.Run(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Dir, "dir", "", "router directory (config.boot, host key)")
	c.Flags().StringVar(&o.FRRDir, "frr-dir", "", "FRR runtime directory")
	c.Flags().StringVar(&o.Socket, "socket", "", "console socket")
	c.Flags().StringVar(&o.Listen, "listen", "", "TCP listen address (default :22)")
	c.Flags().StringVar(&o.Dialect, "dialect", "1.3", "CLI dialect: 1.3 or 1.4")
	c.Flags().StringVar(&usersFile, "users", "", "JSON file with the logins")
	return c
}

// clusterAgentCommand runs a cluster node's agent (onp starts it in the node).
func (a *app) clusterAgentCommand() *cobra.Command {
	var o cluster.AgentOptions
	var podSubnet string
	var nodeIPs []string
	c := &cobra.Command{
		Use:    "__cluster-agent --lab LAB --node NODE --dir DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if podSubnet != "" {
				p, err := netip.ParsePrefix(podSubnet)
				if err != nil {
					return usageError("--pod-subnet: %v", err)
				}
				o.PodSubnet = p
			}
			for _, s := range nodeIPs {
				ip, err := netip.ParseAddr(s)
				if err != nil {
					return usageError("--node-ip: %v", err)
				}
				o.NodeAddresses = append(o.NodeAddresses, ip)
			}
			o.Logger = a.logger()
			return cluster.RunAgent(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Lab, "lab", "", "lab name")
	c.Flags().StringVar(&o.Node, "node", "", "node name")
	c.Flags().StringVar(&o.Dir, "dir", "", "the node's directory in the lab")
	c.Flags().StringVar(&podSubnet, "pod-subnet", "", "pod addresses (default 10.128.0.0/23)")
	c.Flags().StringSliceVar(&nodeIPs, "node-ip", nil, "the node's addresses")
	return c
}

// speakerCommand runs the MetalLB-compatible speaker of a cluster node.
func (a *app) speakerCommand() *cobra.Command {
	var o speaker.Options
	c := &cobra.Command{
		Use:   "speaker --node NODE --api-socket SOCK",
		Short: "Run the MetalLB-compatible BGP speaker of a cluster node (onp starts it)",
		Long: `Run the MetalLB-compatible BGP speaker for one cluster node. onp starts it
itself in every cluster node (supervised, restarted if it dies); it reads the
node's cluster API and announces LoadBalancer addresses as MetalLB would.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Logger = a.logger()
			return speaker.Run(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.NodeName, "node", "", "this node's name")
	c.Flags().StringVar(&o.APISocket, "api-socket", "", "the node's cluster API socket")
	c.Flags().StringVar(&o.StatusSocket, "status-socket", "", "unix socket for the status endpoint")
	c.Flags().StringVar(&o.MetricsAddr, "metrics-addr", "", "Prometheus listen address (default :7472; off disables)")
	c.Flags().BoolVar(&o.DisableEvents, "no-events", false, "do not record Kubernetes Events on services")
	c.Flags().StringVar(&o.Namespace, "namespace", "", "MetalLB's namespace (default metallb-system)")
	c.Flags().StringVar(&o.LoadBalancerClass, "lb-class", "", "announce only services of this loadBalancerClass")
	c.Flags().BoolVar(&o.IgnoreExcludeLB, "ignore-exclude-lb", false, "ignore the exclude-from-external-load-balancers node label")
	return c
}
