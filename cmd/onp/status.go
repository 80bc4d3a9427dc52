package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "status [NAME]",
		Short:             "Show what a lab is made of and what runs in it",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := a.labName
			if len(args) == 1 {
				name = args[0]
			}
			m := a.manager()
			l, err := m.Load(name)
			if err != nil {
				return err
			}
			inv, err := m.Inspect(cmd.Context(), l)
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				return a.emit(inv)
			}
			fmt.Fprintf(a.stdout, "Lab %s (%s, from %s)\n\n", l.Name, inv.Provider, l.Topology.Source)
			var rows [][]string
			for _, n := range inv.Networks {
				state := "missing"
				if n.Exists {
					state = "down"
					if n.Up {
						state = "up"
					}
				}
				host := "-"
				if n.HostLink != "" {
					host = n.HostLink
				}
				rows = append(rows, []string{n.Name, n.Subnet, state, host, strings.Join(n.Ports, ",")})
			}
			table(a.stdout, []string{"NETWORK", "SUBNET", "BRIDGE", "HOST", "PORTS"}, rows)
			fmt.Fprintln(a.stdout)
			printNodes(a.stdout, inv)
			if inv.Supervisor != nil && !inv.Supervisor.Running {
				fmt.Fprintf(a.stdout, "\nwarning: the lab's supervisor (pid %d) is not running; services are not restarted\n", inv.Supervisor.Pid)
			}
			return nil
		},
	}
}

func printNodes(w io.Writer, inv *lab.Inventory) {
	var rows [][]string
	for _, n := range inv.Nodes {
		var ifs []string
		for _, i := range n.Interfaces {
			s := i.Name + " " + i.Network
			if len(i.Addrs) > 0 {
				s += " " + strings.Join(i.Addrs, ",")
			}
			if !i.Up {
				s += " (down)"
			}
			ifs = append(ifs, s)
		}
		var svcs []string
		for _, s := range n.Services {
			st := "stopped"
			if s.Running {
				st = fmt.Sprintf("pid %d", s.Pid)
			}
			if s.Restarts > 0 {
				st += fmt.Sprintf(", %d restarts", s.Restarts)
			}
			svcs = append(svcs, s.Name+" ("+st+")")
		}
		ns := n.Namespace
		if !n.Exists {
			ns += " (missing)"
		}
		rows = append(rows, []string{n.Name, n.Kind, ns, strings.Join(ifs, "; "), strings.Join(svcs, ", ")})
	}
	table(w, []string{"NODE", "KIND", "NAMESPACE", "INTERFACES", "SERVICES"}, rows)
}
