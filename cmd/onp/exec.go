package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab"
)

func (a *app) execCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "exec [--lab LAB] NODE -- COMMAND [ARGS...]",
		Short: "Run a command on a node",
		Long: `Run a command inside a node. For a namespace node the command runs in the
node's network namespace with the host's file system. The exit code is the
command's.`,
		Example:           "  onp exec client -- ping -c1 192.168.126.2\n  onp exec --lab routed h1 -- ip route",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: a.completeNodes,
		RunE: func(cmd *cobra.Command, args []string) error {
			argv := args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return usageError("no command given: onp exec NODE -- COMMAND")
			}
			return a.runOnNode(cmd, args[0], argv, nil)
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

func (a *app) shellCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "shell [--lab LAB] NODE",
		Short:             "Open an interactive shell on a node",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeNodes,
		RunE: func(cmd *cobra.Command, args []string) error {
			sh := os.Getenv("SHELL")
			if sh == "" {
				sh = "/bin/bash"
			}
			argv := []string{sh, "-i"}
			env := []string{fmt.Sprintf("PS1=[%s:%s] \\w# ", a.labName, args[0])}
			if filepath.Base(sh) == "bash" {
				rc := filepath.Join(os.TempDir(), "onp-shell.bashrc")
				os.WriteFile(rc, []byte("[ -f ~/.bashrc ] && . ~/.bashrc\nPS1=\"[$ONP_LAB:$ONP_NODE] \\w# \"\n"), 0o644)
				argv = []string{sh, "--rcfile", rc, "-i"}
			}
			fmt.Fprintf(a.stderr, "shell on %s in lab %s (exit to leave)\n", args[0], a.labName)
			return a.runOnNode(cmd, args[0], argv, env)
		},
	}
}

func (a *app) runOnNode(cmd *cobra.Command, node string, argv, env []string) error {
	m := a.manager()
	l, err := m.Load(a.labName)
	if err != nil {
		return err
	}
	n, err := m.Node(l, node)
	if err != nil {
		return err
	}
	res, err := n.Exec(cmd.Context(), argv, lab.ExecOptions{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Env: env})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

func (a *app) completeNodes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	if a.home == "" {
		a.home = lab.Home()
	}
	if a.labName == "" {
		a.labName = envOr("ONP_LAB", "onp")
	}
	l, err := a.manager().Load(a.labName)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range l.Topology.Nodes {
		out = append(out, n.Name+"\t"+n.Kind)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
