package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

func (a *app) upCommand() *cobra.Command {
	var file, name, junit string
	var keep, noChecks bool
	c := &cobra.Command{
		Use:   "up [BUILTIN] [-f FILE] [--name NAME]",
		Short: "Build a lab from a lab file or a built-in lab (default: sno-bgp)",
		Long: `Build a lab, then run its checks. Without arguments onp builds the built-in
reference lab sno-bgp as the lab "onp": the cluster node sno4 with the
MetalLB-compatible speaker, the reference manifests and the echoserver, the
VyOS router configured with the reference commands, and a client behind it;
then it proves the lab with its checks (sessions Established on both ends,
the route with its community and local-pref, the Service's EXTERNAL-IP,
HTTP from the client through the router).

A lab file (-f) or a built-in name picks another topology; --name overrides
the lab name the file gives. If a step fails, everything created so far is
removed again, unless --keep-on-failure is given. The lab stays up when a
check fails, so it can be explored; the exit code says how the checks went
(0 all passed, 1 a check failed, 2 a check could not run).`,
		Example: `  onp up
  onp up routed-hosts
  onp up -f mylab.yaml --name student01`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeBuiltins,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" && len(args) > 0 {
				return usageError("give either a built-in name or -f FILE, not both")
			}
			src := "sno-bgp"
			if file != "" {
				src = file
			} else if len(args) == 1 {
				src = args[0]
			}
			top, err := topology.Resolve(src)
			if err != nil {
				return err
			}
			if name == "" && cmd.Flags().Changed("lab") {
				name = a.labName
			}
			m := a.manager()
			l, err := m.Up(cmd.Context(), top, lab.UpOptions{Name: name, KeepOnFailure: keep})
			if err != nil {
				return err
			}
			return a.printUp(cmd, m, l, !noChecks, junit)
		},
	}
	c.Flags().BoolVar(&noChecks, "no-checks", false, "do not run the lab's checks after building it")
	c.Flags().StringVar(&junit, "junit", "", "also write the checks' report as JUnit XML to this file")
	c.Flags().StringVarP(&file, "file", "f", "", "lab file (- for standard input)")
	c.Flags().StringVar(&name, "name", "", "lab name (default: the file's name)")
	c.Flags().BoolVar(&keep, "keep-on-failure", false, "keep what was created when a step fails, for debugging")
	return c
}

func (a *app) printUp(cmd *cobra.Command, m *lab.Manager, l *lab.Lab, checks bool, junit string) error {
	inv, err := m.Inspect(cmd.Context(), l)
	if err != nil {
		return err
	}
	var report *scenarios.Report
	if a.output == "json" || a.output == "yaml" {
		out := struct {
			Lab    *lab.Inventory    `json:"lab"`
			Checks *scenarios.Report `json:"checks,omitempty"`
		}{Lab: inv}
		if checks && len(l.Topology.Checks) > 0 {
			report, err = a.runChecks(cmd, m, l, l.Topology.Checks, "lab "+l.Name, junit, true)
			if err != nil {
				return err
			}
			out.Checks = report
		}
		if err := a.emit(out); err != nil {
			return err
		}
		if report != nil && report.ExitCode != 0 {
			return &exitError{code: report.ExitCode}
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "\nLab %q is up (%d networks, %d nodes).\n", l.Name, len(l.Topology.Networks), len(l.Topology.Nodes))
	printNodes(a.stdout, inv)
	if checks && len(l.Topology.Checks) > 0 {
		fmt.Fprintf(a.stdout, "\nChecking the lab (%d checks):\n", len(l.Topology.Checks))
		report, err = a.runChecks(cmd, m, l, l.Topology.Checks, "lab "+l.Name, junit, false)
		if err != nil {
			return err
		}
	}
	labFlag := ""
	if l.Name != "onp" {
		labFlag = " --lab " + l.Name
	}
	first := ""
	if len(l.Topology.Nodes) > 0 {
		first = l.Topology.Nodes[0].Name
	}
	rows := [][]string{}
	for _, n := range l.Topology.Nodes {
		if n.Kind == "vyos" {
			rows = append(rows, []string{"  onp ssh" + labFlag + " " + n.Name, "the router's VyOS CLI (vyos/vyos)"})
			break
		}
	}
	for _, n := range l.Topology.Nodes {
		if n.Kind == "sno" {
			rows = append(rows, []string{"  onp get svc -A" + labFlag, "the cluster's services and their EXTERNAL-IP"})
			break
		}
	}
	rows = append(rows,
		[]string{"  onp exec" + labFlag + " " + first + " -- ip addr", "run a command on a node"},
		[]string{"  onp shell" + labFlag + " " + first, "a shell on a node"},
		[]string{"  onp status" + labFlag, "what runs where"},
	)
	if len(l.Topology.Checks) > 0 {
		rows = append(rows, []string{"  onp check" + labFlag, "run the lab's checks again"})
	}
	rows = append(rows, []string{"  onp down " + l.Name, "remove the lab"})
	fmt.Fprintln(a.stdout, "\nNext:")
	table(a.stdout, []string{"  COMMAND", "WHAT"}, rows)
	if report != nil && report.ExitCode != 0 {
		return &exitError{code: report.ExitCode}
	}
	return nil
}

// emit prints v as JSON or YAML according to -o.
func (a *app) emit(v any) error {
	if a.output == "yaml" {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return err
		}
		out, err := yaml.Marshal(generic)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(out)
		return err
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func completeBuiltins(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, b := range topology.Builtins() {
		if strings.HasPrefix(b.Name, toComplete) {
			out = append(out, b.Name+"\t"+b.Description)
		}
	}
	return out, cobra.ShellCompDirectiveDefault
}
