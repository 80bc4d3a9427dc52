package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

func (a *app) upCommand() *cobra.Command {
	var file, name string
	var keep bool
	c := &cobra.Command{
		Use:   "up [BUILTIN] [-f FILE] [--name NAME]",
		Short: "Build a lab from a lab file or a built-in lab (default: sno-bgp)",
		Long: `Build a lab. Without arguments onp builds the built-in reference lab
sno-bgp as the lab "onp". A lab file (-f) or a built-in name picks another
topology; --name overrides the lab name the file gives.

If a step fails, everything created so far is removed again, unless
--keep-on-failure is given.`,
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
			return a.printUp(cmd, m, l)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "lab file (- for standard input)")
	c.Flags().StringVar(&name, "name", "", "lab name (default: the file's name)")
	c.Flags().BoolVar(&keep, "keep-on-failure", false, "keep what was created when a step fails, for debugging")
	return c
}

func (a *app) printUp(cmd *cobra.Command, m *lab.Manager, l *lab.Lab) error {
	inv, err := m.Inspect(cmd.Context(), l)
	if err != nil {
		return err
	}
	if a.output == "json" || a.output == "yaml" {
		return a.emit(inv)
	}
	fmt.Fprintf(a.stdout, "\nLab %q is up (%d networks, %d nodes).\n", l.Name, len(l.Topology.Networks), len(l.Topology.Nodes))
	printNodes(a.stdout, inv)
	labFlag := ""
	if l.Name != "onp" {
		labFlag = " --lab " + l.Name
	}
	first := ""
	if len(l.Topology.Nodes) > 0 {
		first = l.Topology.Nodes[0].Name
	}
	fmt.Fprintln(a.stdout, "\nNext:")
	table(a.stdout, []string{"  COMMAND", "WHAT"}, [][]string{
		{"  onp exec" + labFlag + " " + first + " -- ip addr", "run a command on a node"},
		{"  onp shell" + labFlag + " " + first, "a shell on a node"},
		{"  onp status" + labFlag, "what runs where"},
		{"  onp down " + l.Name, "remove the lab"},
	})
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
