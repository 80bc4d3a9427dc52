package main

import (
	"github.com/spf13/cobra"

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
