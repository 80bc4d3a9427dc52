package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

type labSummary struct {
	Name     string    `json:"name"`
	Source   string    `json:"source,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	Networks int       `json:"networks"`
	Nodes    int       `json:"nodes"`
	State    string    `json:"state"`
}

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the labs on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.manager()
			names, err := m.Labs(cmd.Context())
			if err != nil {
				return err
			}
			var out []labSummary
			for _, n := range names {
				s := labSummary{Name: n, State: "broken (run onp down " + n + ")"}
				if l, err := m.Load(n); err == nil {
					s.Source, s.Networks, s.Nodes, s.State = l.Topology.Source, len(l.Topology.Networks), len(l.Topology.Nodes), "up"
					if meta, err := m.ReadMeta(n); err == nil {
						s.Created = meta.Created
					}
					if inv, err := m.Inspect(cmd.Context(), l); err == nil {
						for _, nd := range inv.Nodes {
							if !nd.Exists {
								s.State = "degraded"
							}
						}
					}
				}
				out = append(out, s)
			}
			if a.output == "json" || a.output == "yaml" {
				if out == nil {
					out = []labSummary{}
				}
				return a.emit(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stderr, "no labs; start one with: onp up")
				return nil
			}
			var rows [][]string
			for _, s := range out {
				age := "-"
				if !s.Created.IsZero() {
					age = fmtAge(time.Since(s.Created))
				}
				rows = append(rows, []string{s.Name, s.State, strconv.Itoa(s.Nodes), strconv.Itoa(s.Networks), s.Source, age})
			}
			table(a.stdout, []string{"NAME", "STATE", "NODES", "NETWORKS", "SOURCE", "AGE"}, rows)
			return nil
		},
	}
}

func fmtAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
