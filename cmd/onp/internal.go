package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/supervisor"
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
			if usersFile != "" {
				b, err := os.ReadFile(usersFile)
				if err != nil {
					return err
				}
				var us []kinds.RouterUser
				if err := json.Unmarshal(b, &us); err != nil {
					return fmt.Errorf("%s: %w", usersFile, err)
				}
				for _, u := range us {
					o.Users = append(o.Users, appliance.User{Name: u.Name, Password: u.Password, AuthorizedKeys: u.AuthorizedKeys})
				}
			}
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
