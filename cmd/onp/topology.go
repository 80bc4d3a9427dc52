package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/topology"
)

func (a *app) topologyCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "topology",
		Aliases: []string{"topo"},
		Short:   "Show, list and validate lab files and built-in labs",
	}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in labs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bs := topology.Builtins()
			if a.output == "json" || a.output == "yaml" {
				return a.emit(bs)
			}
			var rows [][]string
			for _, b := range bs {
				rows = append(rows, []string{b.Name, b.Description})
			}
			table(a.stdout, []string{"NAME", "DESCRIPTION"}, rows)
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:               "show BUILTIN|FILE",
		Short:             "Print a built-in lab (or a lab file) to copy and edit",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeBuiltins,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(args[0]); err == nil {
				b, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(b)
				return err
			}
			b, err := topology.BuiltinSource(args[0])
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(b)
			return err
		},
	})
	c.AddCommand(&cobra.Command{
		Use:               "validate BUILTIN|FILE...",
		Short:             "Check lab files; every problem is reported with file:line:col",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeBuiltins,
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, arg := range args {
				t, err := topology.Resolve(arg)
				if err != nil {
					fmt.Fprintln(a.stderr, err)
					bad++
					continue
				}
				fmt.Fprintf(a.stdout, "%s: valid (lab %s: %d networks, %d nodes)\n", t.Source, t.Name, len(t.Networks), len(t.Nodes))
			}
			if bad > 0 {
				return &exitError{code: 2}
			}
			return nil
		},
	})
	return c
}
