package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/scenarios"
)

// bgpCommand shows every BGP session of a lab from both ends.
func (a *app) bgpCommand() *cobra.Command {
	var (
		watch bool
		peer  string
	)
	c := &cobra.Command{
		Use:   "bgp [--lab L] [--peer X] [-w] [-o json]",
		Short: "Every BGP session of a lab from both ends: state, up/down time, prefixes, last error and NOTIFICATION",
		Long: `Show every BGP session of a lab from both ends, one row per end with the two
ends of a session next to each other: the cluster nodes' MetalLB speakers
(their status) and every router node (FRR's neighbor state on vyos and frr
nodes; BIRD and gobgpd nodes as far as their tools tell). Each row has the
local and peer address and AS, the FSM state, how long it has been up or
down, its BFD state (- without BFD), the IPv4 unicast prefixes sent and
received, the last error and the
last NOTIFICATION (code/subcode with names, sent or received, how long ago).

-w follows the sessions and prints each state transition with a timestamp
until Ctrl-C: the speakers' transitions come from their history (every
state, exact times); the routers' are polled every 200 ms (the time is when
the poll saw it, marked ~). --peer keeps the sessions with that end (node
name or address). -o json prints the sessions (with -w: one change per line).`,
		Example: `  onp bgp
  onp bgp --lab student07 -w
  onp bgp -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.output == "yaml" && watch {
				return usageError("onp bgp -w prints text or json (-o json), not yaml")
			}
			m := a.manager()
			l, err := m.Load(a.labName)
			if err != nil {
				return err
			}
			env := scenarios.NewLabEnv(m, l)
			env.Logger = a.logger()
			defer env.Close()
			opts := diagnose.Options{Peer: peer, Logger: a.logger()}
			ctx := cmd.Context()
			sessions, err := diagnose.Sessions(ctx, env, opts)
			if err != nil {
				return err
			}
			text := a.output == "" || a.output == "table"
			if !watch {
				if !text {
					return a.emit(sessions)
				}
				writeSessions(a.stdout, sessions)
				if len(sessions) == 0 {
					fmt.Fprintf(a.stderr, "lab %s has no BGP session%s\n", l.Name, map[bool]string{true: " with " + peer, false: ""}[peer != ""])
				}
				return nil
			}
			var enc *json.Encoder
			if text {
				writeSessions(a.stdout, sessions)
				fmt.Fprintf(a.stderr, "watching the sessions of lab %s; Ctrl-C to stop\n", l.Name)
			} else {
				enc = json.NewEncoder(a.stdout)
			}
			return diagnose.Watch(ctx, env, opts, 0, func(c diagnose.Change) error {
				if enc != nil {
					return enc.Encode(c)
				}
				if c.From == "" {
					return nil // the table above shows the initial states
				}
				_, err := io.WriteString(a.stdout, changeLine(c)+"\n")
				return err
			})
		},
	}
	c.Flags().BoolVarP(&watch, "watch", "w", false, "follow the sessions and print each state transition")
	c.Flags().StringVar(&peer, "peer", "", "only the sessions with this end (node name or address)")
	return c
}

// writeSessions prints the session table.
func writeSessions(w io.Writer, sessions []diagnose.Session) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tNODE\tROLE\tLOCAL\tPEER\tSTATE\tUP/DOWN\tBFD\tPFX SENT/RCVD\tLAST ERROR / NOTIFICATION")
	for _, s := range sessions {
		for i, e := range s.Ends {
			name := s.Name
			if i > 0 {
				name = ""
			}
			role := e.Role
			if e.Name != "" {
				role += " (" + e.Name + ")"
			}
			bfd := e.BFD
			if bfd == "" {
				bfd = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", name, e.Node, role,
				endpoint(e.LocalAddress, e.LocalAS), endpoint(e.PeerAddress, e.PeerAS), e.State, upDown(e), bfd,
				e.PrefixesSent, e.PrefixesReceived, lastProblem(e))
		}
	}
	tw.Flush()
}

func endpoint(addr string, as uint32) string {
	if addr == "" {
		addr = "-"
	}
	if as == 0 {
		return addr
	}
	return fmt.Sprintf("%s AS%d", addr, as)
}

func upDown(e diagnose.End) string {
	switch {
	case e.Up > 0 || strings.HasPrefix(e.State, "Established"):
		return "up " + shortDur(e.Up.D())
	case e.Down > 0:
		return "down " + shortDur(e.Down.D())
	}
	return "-"
}

func shortDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func lastProblem(e diagnose.End) string {
	if e.Error != "" {
		return "cannot read: " + e.Error
	}
	var parts []string
	if e.LastError != "" {
		s := e.LastError
		if e.LastErrorAgo > 0 {
			s += " (" + shortDur(e.LastErrorAgo.D()) + " ago)"
		}
		parts = append(parts, s)
	}
	if n := e.LastNotification; n != nil && (e.LastError == "" || !strings.Contains(e.LastError, n.Name)) {
		s := "NOTIFICATION " + n.String()
		if n.Ago > 0 {
			s += " (" + shortDur(n.Ago.D()) + " ago)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// changeLine renders a state transition: "12:00:01.234 sno4 speaker →
// 192.168.126.3 (vyos): Active → OpenSent (new-connection)".
func changeLine(c diagnose.Change) string {
	ts := c.Time.Format("15:04:05.000")
	if !c.Exact {
		ts = "~" + ts
	} else {
		ts = " " + ts
	}
	peer := c.Peer
	if c.PeerNode != "" {
		peer += " (" + c.PeerNode + ")"
	}
	s := fmt.Sprintf("%s %s %s → %s: %s → %s", ts, c.Node, c.Role, peer, c.From, c.To)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	return s
}
