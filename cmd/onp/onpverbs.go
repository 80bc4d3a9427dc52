package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/topology"
	"github.com/onp-lab/onp/vyos/driver"
)

// onpBridges are the bridges of the OpenShift Network Playground, with its
// subnets, so `onp vyos NETWORK=onp1` works as it does there.
var onpBridges = map[string]string{
	"sno0":         "192.168.126.0/24",
	"baremetal":    "192.168.123.0/24",
	"onp1":         "192.168.124.0/24",
	"onp2":         "192.168.125.0/24",
	"provisioning": "172.22.0.0/24",
}

// splitVars separates make-style KEY=VALUE arguments from the others and
// checks the keys.
func splitVars(args []string, allowed ...string) (map[string]string, []string, error) {
	vars := map[string]string{}
	var rest []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" || strings.ToUpper(k) != k {
			rest = append(rest, a)
			continue
		}
		found := false
		for _, x := range allowed {
			found = found || x == k
		}
		if !found {
			sort.Strings(allowed)
			return nil, nil, usageError("unknown variable %s (this command takes %s)", k, strings.Join(allowed, ", "))
		}
		vars[k] = v
	}
	return vars, rest, nil
}

// network returns the bridge named name: from the lab if it has it, from the
// ONP table otherwise.
func (a *app) network(name string) (topology.Network, error) {
	if l, err := a.manager().Load(a.labName); err == nil {
		if n := l.Topology.Network(name); n != nil {
			return *n, nil
		}
	}
	if sub, ok := onpBridges[name]; ok {
		return topology.Network{Name: name, Subnet: sub}, nil
	}
	known := make([]string, 0, len(onpBridges))
	for k := range onpBridges {
		known = append(known, k)
	}
	sort.Strings(known)
	return topology.Network{}, usageError("lab %s has no network %q, and it is not an ONP bridge (%s)", a.labName, name, strings.Join(known, ", "))
}

func (a *app) sno4Command() *cobra.Command {
	return &cobra.Command{
		Use:   "sno4 [LAB=onp]",
		Short: "Create bridge sno0 and the single-node cluster sno4 (192.168.126.2)",
		Long: `Create the bridge sno0 (192.168.126.0/24) and the cluster node sno4 at
192.168.126.2 in the lab (default "onp"), creating the lab if needed, as the
OpenShift Network Playground's "onp sno4" does. Then apply MetalLB manifests
with "onp apply -f" and add a router with "onp vyos NETWORK=sno0".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			vars, rest, err := splitVars(args, "LAB")
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return usageError("unexpected argument %q", rest[0])
			}
			if v := vars["LAB"]; v != "" {
				a.labName = v
			}
			sno0, err := a.network("sno0")
			if err != nil {
				return err
			}
			node := topology.Node{Name: "sno4", Kind: "sno", Interfaces: []topology.Interface{{Network: "sno0", Address: "192.168.126.2"}}}
			m := a.manager()
			l, err := m.Add(cmd.Context(), a.labName, []topology.Network{sno0}, []topology.Node{node})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "sno4 is up in lab %s at 192.168.126.2 on sno0.\n", l.Name)
			return nil
		},
	}
}

func (a *app) vyosCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "vyos NETWORK=sno0[,NET2...] [NAME=vyos] [VERSION=1.3|1.4] [LAB=onp]",
		Short: "Add a VyOS router to bridges (one interface per bridge)",
		Long: `Add a fresh VyOS router, as the OpenShift Network Playground's
"onp vyos NETWORK=sno0" does: one interface per bridge (eth0, eth1, ...), only
the login configured (vyos/vyos), no address and no BGP. Log in with
"onp ssh vyos" and configure it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			vars, rest, err := splitVars(args, "NETWORK", "NAME", "VERSION", "LAB")
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return usageError("unexpected argument %q (use NETWORK=sno0)", rest[0])
			}
			if v := vars["LAB"]; v != "" {
				a.labName = v
			}
			if vars["NETWORK"] == "" {
				return usageError("NETWORK is required, e.g. onp vyos NETWORK=sno0")
			}
			name := vars["NAME"]
			if name == "" {
				name = "vyos"
			}
			version := vars["VERSION"]
			if version == "" {
				version = "1.3"
			}
			var nets []topology.Network
			node := topology.Node{Name: name, Kind: "vyos", VyOS: &topology.VyOSSpec{Version: version}}
			for _, nw := range strings.Split(vars["NETWORK"], ",") {
				n, err := a.network(strings.TrimSpace(nw))
				if err != nil {
					return err
				}
				nets = append(nets, n)
				node.Interfaces = append(node.Interfaces, topology.Interface{Network: n.Name})
			}
			m := a.manager()
			l, err := m.Add(cmd.Context(), a.labName, nets, []topology.Node{node})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "router %s is up in lab %s; log in with: onp ssh %s (vyos/vyos)\n", name, l.Name, name)
			return nil
		},
	}
	c.AddCommand(a.vyosConfigureCommand())
	return c
}

// vyosConfigureCommand pushes configuration commands to a router with the
// SSH driver, the way automation configures a real VyOS.
func (a *app) vyosConfigureCommand() *cobra.Command {
	var file string
	var noSave bool
	c := &cobra.Command{
		Use:   "configure NODE -f FILE",
		Short: "Push configuration commands (set/delete lines) to a router",
		Long: `Push configuration-mode commands to a router over SSH in one commit, as
automation tools do (an uploaded script-template script run with vbash). The
file holds set/delete lines; configure, commit, save and exit lines (as in a
typed session) and comments are skipped, since onp adds them. A refused
command is reported with the router's own text and nothing is changed.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeNodes,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError("give the commands with -f FILE (- for standard input)")
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(a.stdin)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return err
			}
			cmds := configLines(string(data))
			if len(cmds) == 0 {
				return usageError("%s has no set or delete commands", file)
			}
			m := a.manager()
			l, err := m.Load(a.labName)
			if err != nil {
				return err
			}
			n := l.Topology.Node(args[0])
			if n == nil {
				_, err := m.Node(l, args[0])
				return err
			}
			cl, err := kinds.DialRouter(cmd.Context(), l, n)
			if err != nil {
				return err
			}
			defer cl.Close()
			end := a.ui.Phase(fmt.Sprintf("Configuring %s (%d commands)", n.Name, len(cmds)))
			res, err := cl.Configure(cmd.Context(), cmds, driver.ConfigureOptions{Save: !noSave})
			end(err)
			if err != nil {
				return err
			}
			if out := strings.TrimSpace(res.Output); out != "" {
				fmt.Fprintln(a.stdout, out)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "file with configuration commands (- for standard input)")
	c.Flags().BoolVar(&noSave, "no-save", false, "commit without saving to config.boot")
	return c
}

// configLines keeps the set/delete lines of a typed configuration session.
func configLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.Fields(line)[0] {
		case "configure", "commit", "save", "exit", "run":
			continue
		}
		out = append(out, line)
	}
	return out
}
