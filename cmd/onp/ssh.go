package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/vyos/driver"
)

func (a *app) sshCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "ssh [--lab LAB] NODE [-- COMMAND...]",
		Short: "Log in to a router's CLI (or run one command on it)",
		Long: `Log in to a VyOS router over SSH, as a user would: the VyOS CLI with its
prompts ("vyos@vyos:~$", "configure", "[edit]"). onp reaches the router
through its namespace, like a console, so this works before eth0 has an
address. With a command, run it and print its output (op mode, e.g.
"show ip bgp summary", or "vtysh -c 'show bgp summary json'").`,
		Example:           "  onp ssh vyos\n  onp ssh vyos -- show ip bgp summary",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: a.completeNodes,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.manager()
			l, err := m.Load(a.labName)
			if err != nil {
				return err
			}
			if _, err := m.Node(l, args[0]); err != nil {
				return err
			}
			n := l.Topology.Node(args[0])
			if n.Kind != "vyos" {
				return usageError("node %s is a %s node, not a router with a CLI; use: onp shell %s", n.Name, n.Kind, n.Name)
			}
			c, err := kinds.DialRouter(cmd.Context(), l, n)
			if err != nil {
				return err
			}
			defer c.Close()
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			if len(rest) > 0 {
				res, err := c.Run(cmd.Context(), strings.Join(rest, " "), nil)
				if err != nil {
					return err
				}
				fmt.Fprint(a.stdout, res.Stdout)
				fmt.Fprint(a.stderr, res.Stderr)
				if res.ExitStatus != 0 {
					return &exitError{code: res.ExitStatus}
				}
				return nil
			}
			return a.interactive(cmd, c)
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

// interactive runs a login session on the local terminal.
func (a *app) interactive(cmd *cobra.Command, c *driver.Client) error {
	o := driver.ShellOptions{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Term: os.Getenv("TERM")}
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return err
		}
		defer term.Restore(int(f.Fd()), old)
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			o.Size = driver.WindowSize{Width: w, Height: h}
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		resize := make(chan driver.WindowSize, 1)
		go func() {
			for range winch {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil {
					select {
					case resize <- driver.WindowSize{Width: w, Height: h}:
					default:
					}
				}
			}
		}()
		o.Resize = resize
	}
	code, err := c.Shell(cmd.Context(), o)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}
