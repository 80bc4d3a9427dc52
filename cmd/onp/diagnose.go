package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/scenarios"
)

// diagnoseCommand names why a lab's BGP sessions or services do not work.
func (a *app) diagnoseCommand() *cobra.Command {
	var (
		peer     string
		capture  time.Duration
		evidence bool
	)
	c := &cobra.Command{
		Use:   "diagnose [--lab L] [--peer X] [--capture D] [-o json]",
		Short: "Why a BGP session or a service does not work: the cause, the fix and the evidence",
		Long: `Gather both ends of every BGP session (the speaker's status with its FSM
history and NOTIFICATIONs; FRR's neighbor state and configuration on the
routers), the MetalLB objects, every node's addresses, routes, ARP table,
nftables rules and TCP-MD5 counters, ARP/ping/TCP probes between the ends in
both directions, HTTP probes of the service addresses from the clients, and
a short capture on the lab's bridges — then name the cause, the fix, and the
evidence lines that prove it.

For each cause it also says which FSM state the expert's rule of thumb
associates with it (Idle: the OPEN parameters disagree; Connect: packets do
not leave the speaker's side; Active: the TCP handshake does not complete),
what the two ends actually show, and whether this lab's implementations
(gobgp in the speaker, FRR in the routers) follow the rule. A healthy lab is
reported healthy, with its evidence.

--peer limits the diagnosis to the sessions with one end (a node name or an
address). --capture sets how long to capture (default 3s; 0 for none).
-o json prints the report with all the evidence. Exit code 0: healthy;
1: a cause was found; 2: invalid input or the lab could not be read.`,
		Example: `  onp diagnose
  onp diagnose --peer vyos
  onp diagnose --capture 5s -o json > diagnosis.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if capture < 0 {
				return usageError("--capture must not be negative (0 captures nothing)")
			}
			m := a.manager()
			l, err := m.Load(a.labName)
			if err != nil {
				return err
			}
			env := scenarios.NewLabEnv(m, l)
			env.Logger = a.logger()
			defer env.Close()
			opts := diagnose.Options{Peer: peer, Capture: capture, Logger: a.logger()}
			if capture == 0 {
				opts.Capture = -1
			}
			if a.output == "" || a.output == "table" {
				fmt.Fprintf(a.stderr, "diagnosing lab %s (capturing for %s) ...\n", l.Name, capture)
			}
			rep, err := diagnose.Run(cmd.Context(), env, opts)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if a.output == "json" || a.output == "yaml" {
				if err := a.emit(rep); err != nil {
					return err
				}
			} else {
				writeDiagnosis(a.stdout, rep, isTTY(a.stdout), evidence || a.verbose > 0)
			}
			if !rep.Healthy {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&peer, "peer", "", "only the sessions with this end (node name or address)")
	c.Flags().DurationVar(&capture, "capture", diagnose.DefaultCapture, "how long to capture on the lab's bridges (0: no capture)")
	c.Flags().BoolVar(&evidence, "all", false, "also print every session's ends and what could not be read")
	return c
}

// writeDiagnosis prints a report as text.
func writeDiagnosis(w io.Writer, rep *diagnose.Report, tty, all bool) {
	ev := rep.Evidence
	took := ""
	if ev != nil {
		took = fmt.Sprintf(" in %s", fmtDuration(ev.Took.D()))
	}
	fmt.Fprintf(w, "%s lab %s: %d session(s) looked at%s\n", paint(tty, "DIAGNOSIS", bold), rep.Lab, len(rep.Sessions), took)
	for _, s := range rep.Sessions {
		fmt.Fprintf(w, "  %-24s speaker %-12s router %s\n", s.Name, dash(s.SpeakerState), dash(s.RouterState))
	}
	if rep.Healthy {
		fmt.Fprintf(w, "\n%s every session is Established, the routes are installed and the services answer\n", paint(tty, "HEALTHY", green))
		fmt.Fprintf(w, "%s\n", paint(tty, "EVIDENCE", bold))
		for _, l := range rep.HealthyEvidence {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	for i, f := range rep.Findings {
		where := ""
		if f.Session != "" {
			where = " — " + f.Session
		}
		if f.Where != "" {
			where += ", at " + f.Where
		}
		fmt.Fprintf(w, "\n%s %s (%s)%s\n", paint(tty, fmt.Sprintf("CAUSE %d:", i+1), red), f.Title, f.Cause, where)
		fmt.Fprintf(w, "  %s\n", f.Summary)
		fmt.Fprintf(w, "%s\n", paint(tty, "FIX", bold))
		for _, l := range f.Fix {
			fmt.Fprintf(w, "  %s\n", l)
		}
		fmt.Fprintf(w, "%s\n", paint(tty, "EVIDENCE", bold))
		for _, l := range f.Evidence {
			fmt.Fprintf(w, "  %s\n", l)
		}
		if t := f.Thumb; t != nil {
			fmt.Fprintf(w, "%s\n", paint(tty, "RULE OF THUMB", bold))
			fmt.Fprintf(w, "  points at %s: %s\n", t.State, t.Says)
			fmt.Fprintf(w, "  here: %s\n", strings.Join(t.Observed, "; "))
			follows := "no"
			if t.Follows {
				follows = "yes"
			}
			fmt.Fprintf(w, "  follows it: %s", follows)
			if t.Here != "" {
				fmt.Fprintf(w, " — %s", t.Here)
			}
			fmt.Fprintln(w)
		}
	}
	if all {
		fmt.Fprintf(w, "\n%s\n", paint(tty, "SESSIONS", bold))
		for _, s := range rep.Sessions {
			fmt.Fprintf(w, "  %s\n", s.Name)
			for _, l := range s.Lines {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", paint(tty, "NOT READ", bold))
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
