package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/scenarios"
)

// scenarioCommand lists, shows, validates and runs scenarios.
func (a *app) scenarioCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "scenario",
		Aliases: []string{"scenarios"},
		Short:   "List, show, validate and run scenarios (a lab, steps, faults, checks)",
		Long: `A scenario is a YAML file: a lab (a built-in lab's name, a lab file or the lab
inline), ordered steps (apply manifests, configure a router by push or by
typing, wait, check, inject a fault, delete objects) and final checks.
"onp scenario run" builds the lab under a fresh name, runs the steps, and
removes the lab again unless --keep.`,
	}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bs := scenarios.Builtins()
			if a.output == "json" || a.output == "yaml" {
				return a.emit(bs)
			}
			var rows [][]string
			for _, b := range bs {
				desc, _, _ := strings.Cut(b.Description, "\n")
				rows = append(rows, []string{b.Name, desc})
			}
			table(a.stdout, []string{"NAME", "DESCRIPTION"}, rows)
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:               "show NAME|FILE",
		Short:             "Print a built-in scenario (or a scenario file) to copy and edit",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if _, serr := os.Stat(args[0]); serr == nil {
				b, err = os.ReadFile(args[0])
			} else {
				b, err = scenarios.BuiltinSource(args[0])
			}
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(b)
			return err
		},
	})
	c.AddCommand(&cobra.Command{
		Use:               "validate NAME|FILE...",
		Short:             "Check scenarios without building anything; every problem with file:line:col",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.loadScenarios(args, true)
			return err
		},
	})
	c.AddCommand(a.scenarioRunCommand())
	return c
}

// loadScenarios resolves every argument; all problems of all files are
// reported together (exit code 2) and nothing runs.
func (a *app) loadScenarios(args []string, report bool) ([]*scenarios.Scenario, error) {
	var out []*scenarios.Scenario
	var errs []string
	for _, arg := range args {
		sc, err := scenarios.Resolve(arg)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, sc)
		if report {
			fmt.Fprintf(a.stdout, "%s: valid (scenario %s, lab %s: %d nodes; %d steps, %d checks)\n",
				sc.Source, sc.Name, sc.Topology.Name, len(sc.Topology.Nodes), len(sc.Steps), len(sc.Checks))
		}
	}
	if len(errs) > 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s", strings.Join(errs, "\n"))}
	}
	return out, nil
}

func (a *app) scenarioRunCommand() *cobra.Command {
	var keep bool
	var parallel int
	var junit, name string
	c := &cobra.Command{
		Use:   "run NAME|FILE... [--keep] [--parallel N] [--junit FILE]",
		Short: "Run scenarios, each in a fresh lab that is removed afterwards",
		Long: `Run scenarios. Each one gets a lab of its own under a fresh name (the
scenario's name and a random suffix), so several can run at once
(--parallel N) and next to other labs. Every scenario is validated before
any lab is built. The lab is removed afterwards, also when a step fails or
the run is interrupted, unless --keep.

A step that cannot be carried out (a fault on a missing interface, a
router that refuses a command) stops its scenario; the rest is reported as
skipped. Exit codes: 0 everything passed, 1 a check failed, 2 invalid
input or something could not run.`,
		Example: `  onp scenario run frr-ebgp
  onp scenario run my-scenario.yaml --keep
  onp scenario run frr-ebgp seed-frr-speaker --parallel 2 --junit results.xml`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 {
				return usageError("--parallel must be at least 1")
			}
			if name != "" && len(args) > 1 {
				return usageError("--name names the lab of one scenario; it cannot be used with %d scenarios", len(args))
			}
			scs, err := a.loadScenarios(args, false)
			if err != nil {
				return err
			}
			text := a.output == "" || a.output == "table"
			color := isTTY(a.stdout)
			start := time.Now()
			suites := make([]*scenarios.Suite, len(scs))
			var printMu sync.Mutex
			sem := make(chan struct{}, parallel)
			var wg sync.WaitGroup
			for i, sc := range scs {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					labName := name
					if labName == "" {
						labName = scenarios.UniqueLabName(sc.Name)
					}
					// One scenario at a time prints as it goes; several
					// print each one's report when it ends.
					var buf bytes.Buffer
					var rep *scenarios.TextReporter
					m := a.manager()
					if text {
						w := a.stdout
						if len(scs) > 1 && parallel > 1 {
							w = &buf
							m.Progress = nil
						}
						rep = &scenarios.TextReporter{W: w, Color: color}
						rep.SuiteStarted(sc.Name, "", labName)
					} else {
						m.Progress = nil
					}
					opts := scenarios.RunOptions{Manager: m, LabName: labName, Keep: keep, Logger: a.logger()}
					if rep != nil {
						opts.Observer = rep
					}
					s := scenarios.RunScenario(cmd.Context(), sc, opts)
					suites[i] = s
					if rep != nil {
						rep.SuiteDone(s)
						if s.Kept {
							fmt.Fprintf(rep.W, "The lab %s is kept: explore it (onp status %s, onp ssh --lab %s NODE) and remove it with: onp down %s\n", s.Lab, s.Lab, s.Lab, s.Lab)
						} else if s.Error == "" {
							fmt.Fprintf(rep.W, "The lab %s was removed (keep it next time with --keep).\n", s.Lab)
						}
						printMu.Lock()
						a.stdout.Write(buf.Bytes())
						printMu.Unlock()
					}
				}()
			}
			wg.Wait()
			report := scenarios.NewReport(suites...)
			report.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
			if text && len(suites) > 1 {
				(&scenarios.TextReporter{W: a.stdout, Color: color}).Summary(report)
			}
			if err := a.writeReport(report, text, junit); err != nil {
				return err
			}
			if report.ExitCode != 0 {
				return &exitError{code: report.ExitCode}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the labs running afterwards (remove them with onp down)")
	c.Flags().IntVar(&parallel, "parallel", 1, "run up to N scenarios at once")
	c.Flags().StringVar(&junit, "junit", "", "also write the report as JUnit XML to this file")
	c.Flags().StringVar(&name, "name", "", "the lab's name (one scenario only; default: the scenario's name and a random suffix)")
	return c
}

func completeScenarios(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, b := range scenarios.Builtins() {
		out = append(out, b.Name)
	}
	return out, cobra.ShellCompDirectiveDefault
}
