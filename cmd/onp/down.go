package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab"
)

func (a *app) downCommand() *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "down [NAME] [--all]",
		Short: "Remove a lab (or every lab) completely",
		Long: `Remove a lab: every process, network namespace and link it owns. Down
finds a lab's objects by their ownership tags, so it works after a crash and
without the lab file or journal. It is idempotent. Objects that carry a lab's
names but were not made by onp are never touched; down lists them.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.manager()
			if all {
				if len(args) > 0 {
					return usageError("give a lab name or --all, not both")
				}
				reps, err := m.DownAll(cmd.Context())
				names := make([]string, 0, len(reps))
				for n := range reps {
					names = append(names, n)
				}
				sort.Strings(names)
				if len(names) == 0 {
					fmt.Fprintln(a.stderr, "no labs")
				}
				for _, n := range names {
					a.reportDown(n, reps[n])
				}
				return err
			}
			name := a.labName
			if len(args) == 1 {
				name = args[0]
			}
			end := a.ui.Phase("Removing lab " + name)
			rep, err := m.Down(cmd.Context(), name)
			end(err)
			if err != nil {
				return err
			}
			a.reportDown(name, rep)
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every onp lab on this machine")
	return c
}

func (a *app) reportDown(name string, rep *lab.DestroyReport) {
	if rep == nil {
		return
	}
	if rep.Empty() {
		fmt.Fprintf(a.stderr, "lab %s: nothing to remove\n", name)
	} else {
		fmt.Fprintf(a.stderr, "lab %s removed: %d namespaces, %d host links, %d processes\n", name, len(rep.Namespaces), len(rep.Links), len(rep.Processes))
	}
	if len(rep.Foreign) > 0 {
		fmt.Fprintf(a.stderr, "left alone (not created by onp): %s\n", strings.Join(rep.Foreign, ", "))
	}
}

func (a *app) completeLabs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if a.home == "" {
		a.home = lab.Home()
	}
	labs, _ := a.manager().Labs(cmd.Context())
	return labs, cobra.ShellCompDirectiveNoFileComp
}
