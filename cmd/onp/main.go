// Command onp builds network labs in which a MetalLB-compatible BGP speaker
// peers with a VyOS router, and proves with checks that they work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
)

// exitError carries an exit code chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError marks invalid input (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// app is what every command shares.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	labName        string
	verbose        int
	output         string
	home           string
	ui             *ui
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, stdin: stdin}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	var el yamlx.ErrorList
	if errors.As(err, &el) {
		code = 2
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.HasPrefix(err.Error(), "unknown shorthand flag") || strings.Contains(err.Error(), "arg(s), received") {
		code = 2
	}
	fmt.Fprintln(stderr, a.colorize("error: ", red)+err.Error())
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "onp",
		Short: "Build and check MetalLB + VyOS BGP labs on network namespaces",
		Long: `onp builds network labs in which a MetalLB-compatible BGP speaker on a
single-node cluster peers with a VyOS router over a Linux bridge, and proves
with checks that the sessions are up and the service answers through the router.

A lab is described by a lab file (see 'onp topology show sno-bgp' and
docs/lab-file.md). Every lab lives in its own network namespaces; two labs can
use the same addresses. The default lab is called "onp".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.ui = newUI(a.stderr, a.verbose)
			if a.labName == "" {
				a.labName = envOr("ONP_LAB", "onp")
			}
			if a.home == "" {
				a.home = lab.Home()
			}
			switch a.output {
			case "", "table", "json", "yaml":
			default:
				return usageError("unknown output format %q: use table, json or yaml", a.output)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.labName, "lab", "", "the lab to work on (default $ONP_LAB or \"onp\")")
	root.PersistentFlags().CountVarP(&a.verbose, "verbose", "v", "show more detail (-v, -vv)")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "", "output format: table, json or yaml")
	root.PersistentFlags().StringVar(&a.home, "home", "", "state directory (default $ONP_HOME or /var/lib/onp)")
	root.AddGroup(&cobra.Group{ID: "lab", Title: "Labs:"}, &cobra.Group{ID: "nodes", Title: "Nodes:"}, &cobra.Group{ID: "onp", Title: "OpenShift Network Playground verbs:"})
	for _, c := range []*cobra.Command{a.upCommand(), a.downCommand(), a.listCommand(), a.statusCommand(), a.topologyCommand()} {
		c.GroupID = "lab"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.execCommand(), a.shellCommand(), a.sshCommand()} {
		c.GroupID = "nodes"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.sno4Command(), a.vyosCommand()} {
		c.GroupID = "onp"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "cluster", Title: "Cluster:"}, &cobra.Group{ID: "checks", Title: "Checks and troubleshooting:"},
		&cobra.Group{ID: "teach", Title: "Exercises and workshops:"})
	for _, c := range []*cobra.Command{a.exerciseCommand(), a.workshopCommand()} {
		c.GroupID = "teach"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.applyCommand(), a.createCommand(), a.deleteCommand(), a.getCommand()} {
		c.GroupID = "cluster"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.checkCommand(), a.scenarioCommand(), a.bgpCommand(), a.traceCommand(), a.diagnoseCommand()} {
		c.GroupID = "checks"
		root.AddCommand(c)
	}
	root.AddCommand(a.superviseCommand(), a.frrRouterCommand(), a.vyosRouterCommand(), a.clusterAgentCommand(), a.speakerCommand())
	return root
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// logger is the slog logger for libraries: quiet unless -v.
func (a *app) logger() *slog.Logger {
	if a.verbose == 0 {
		return slog.New(slog.DiscardHandler)
	}
	lvl := slog.LevelInfo
	if a.verbose > 1 {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
}

// manager builds the lab manager with the providers and kinds of this build.
func (a *app) manager() *lab.Manager {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &lab.Manager{
		Paths: lab.Paths{Home: a.home},
		Provider: &netns.Provider{
			SupervisorArgv: func(dir string) []string { return []string{exe, "-v", "__supervise", "--dir", dir} },
			Logger:         a.logger(),
		},
		Kinds: map[string]lab.Kind{
			"host":  kinds.Host{},
			"vyos":  kinds.VyOS{Exe: exe},
			"sno":   kinds.SNO{Exe: exe},
			"frr":   kinds.FRR{Exe: exe},
			"bird":  kinds.BIRD{},
			"gobgp": kinds.GoBGP{},
		},
		Logger:   a.logger(),
		Progress: a.ui,
	}
}
