package main

import (
	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/supervisor"
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
