package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// checkCommand runs the checks of a running lab.
func (a *app) checkCommand() *cobra.Command {
	var file, junit string
	c := &cobra.Command{
		Use:   "check [--lab LAB] [-f FILE] [--junit FILE] [NAME|TYPE...]",
		Short: "Run a lab's checks: one PASS/FAIL line per target, exit code, JSON/JUnit",
		Long: `Run the checks of a running lab: those of its lab file (checks:), or those of
a checks file (-f FILE, a YAML file with checks: [...]). NAME or TYPE picks
checks by name or type.

Each check retries once a second until its deadline (wait:, with a default
per type: bgp-session 30s, bgp-route 15s, ping 5s, ...) and prints one line
per target: PASS, FAIL with what it expected and what it saw for how long,
or ERROR when it could not run (unknown node, router unreachable, a data
source this build lacks).

Exit codes: 0 every check passed, 1 a check failed, 2 invalid input or a
check could not run. -o json prints the report as JSON; --junit FILE also
writes JUnit XML for CI systems.`,
		Example: `  onp check
  onp check --lab student01 --junit checks.xml
  onp check -f more-checks.yaml bgp-route`,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.manager()
			l, err := m.Load(a.labName)
			if err != nil {
				return err
			}
			checks, source := l.Topology.Checks, "lab "+l.Name
			if file != "" {
				data, err := os.ReadFile(file)
				if err != nil {
					return usageError("%v", err)
				}
				checks, err = spec.ParseFile(file, data, topology.CheckContext(l.Topology))
				if err != nil {
					return err
				}
				source = file
			}
			if len(checks) == 0 {
				return usageError("lab %s has no checks: add checks: to its lab file, or give a checks file with -f FILE", l.Name)
			}
			if len(args) > 0 {
				var picked []spec.Check
				var known []string
				for _, c := range checks {
					if slices.Contains(args, c.Name) || slices.Contains(args, c.Type) {
						picked = append(picked, c)
					}
					if c.Name != "" {
						known = append(known, c.Name)
					}
				}
				if len(picked) == 0 {
					names := "the checks have no names"
					if len(known) > 0 {
						names = "names: " + strings.Join(known, ", ")
					}
					return usageError("no check is named or of type %s (%s; types: %s)", strings.Join(args, ", "), names, strings.Join(spec.Types, ", "))
				}
				checks = picked
			}
			report, err := a.runChecks(cmd, m, l, checks, source, junit, false)
			if err != nil {
				return err
			}
			if report.ExitCode != 0 {
				return &exitError{code: report.ExitCode}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "run the checks of this file (checks: [...]) instead of the lab file's")
	c.Flags().StringVar(&junit, "junit", "", "also write the report as JUnit XML to this file")
	return c
}

// runChecks runs checks against a running lab and prints the report: text
// as it goes, or JSON/YAML at the end (-o), nothing when quiet; JUnit XML
// when junit is set.
func (a *app) runChecks(cmd *cobra.Command, m *lab.Manager, l *lab.Lab, checks []spec.Check, source, junit string, quiet bool) (*scenarios.Report, error) {
	env := scenarios.NewLabEnv(m, l)
	env.Logger = a.logger()
	defer env.Close()
	text := a.output == "" || a.output == "table"
	opts := scenarios.RunOptions{Logger: a.logger()}
	var rep *scenarios.TextReporter
	if text && !quiet {
		rep = &scenarios.TextReporter{W: a.stdout, Color: isTTY(a.stdout)}
		opts.Observer = rep
	}
	suite := scenarios.RunChecks(cmd.Context(), env, l.Name, source, checks, opts)
	report := scenarios.NewReport(suite)
	if rep != nil {
		rep.Summary(report)
	}
	return report, a.writeReport(report, text || quiet, junit)
}

// writeReport prints the report (json/yaml) unless the output is text, and
// writes JUnit XML when asked.
func (a *app) writeReport(r *scenarios.Report, text bool, junit string) error {
	if junit != "" {
		f, err := os.Create(junit)
		if err != nil {
			return fmt.Errorf("write JUnit report: %w", err)
		}
		err = scenarios.WriteJUnit(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write JUnit report %s: %w", junit, err)
		}
	}
	if text {
		return nil
	}
	return a.emit(r)
}
