package vyos

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
)

// conformanceRow is one line of testdata/conformance.tsv (a copy of the
// project's reference table; its header comments describe the columns).
type conformanceRow struct {
	id, dialect, expect string
	setup, lines        []string
}

func readConformance(t *testing.T) []conformanceRow {
	f, err := os.Open("testdata/conformance.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []conformanceRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		c := strings.Split(l, "\t")
		if len(c) != 5 {
			t.Fatalf("conformance.tsv:%d: %d columns, want 5", n, len(c))
		}
		r := conformanceRow{id: c[0], dialect: c[1], expect: c[3]}
		for _, s := range strings.Split(c[2], " ; ") {
			r.setup = append(r.setup, strings.TrimSpace(s))
		}
		for _, s := range strings.Split(c[4], " | ") {
			r.lines = append(r.lines, strings.TrimSpace(s))
		}
		rows = append(rows, r)
	}
	return rows
}

// conformanceDeviations are rows whose expectation contradicts both VyOS
// and FRR; the router must behave as VyOS does, which is asserted instead.
var conformanceDeviations = map[string]struct {
	fails  string
	reason string
}{
	"g05": {
		fails: "bgp tcp-keepalive 66 77 22",
		reason: "FRR 8.4.4 (the installed FRR) has no \"bgp tcp-keepalive\" command (VyOS 1.4 ships a newer FRR); " +
			"the router renders the line as VyOS does and the commit fails with FRR's rejection, changing nothing",
	},
	"b03": {
		fails: "Minimum TTL is only available for multihop BFD sessions!",
		reason: "minimum-ttl on a single-hop BFD peer: VyOS's protocols_bfd.py rejects it with this message " +
			"and FRR 8.4's bfdd refuses it too (\"Minimum TTL is only available for multi hop sessions.\"), " +
			"so no VyOS box can show the expected lines",
	},
}

// smoketestFixture is what VyOS's BGP smoketest creates once for the whole
// class (setUpClass) before the cases the table is taken from: the
// route-maps and prefix-lists that rows a02-a04 refer to. VyOS refuses a
// neighbor that names a missing route-map or prefix-list, so the rows only
// hold with it.
var smoketestFixture = []string{
	"set policy route-map foo-map-in rule 10 action permit",
	"set policy route-map foo-map-out rule 10 action permit",
	"set policy prefix-list pfx-foo-in rule 10 action permit",
	"set policy prefix-list pfx-foo-in rule 10 prefix 192.0.2.0/25",
	"set policy prefix-list pfx-foo-out rule 10 action permit",
	"set policy prefix-list pfx-foo-out rule 10 prefix 192.0.2.128/25",
}

// TestConformance runs every row of the conformance table against a real
// FRR: the setup commands are typed into a configuration session, committed,
// and the expectation is checked against vtysh's running config.
func TestConformance(t *testing.T) {
	rows := readConformance(t)
	if len(rows) == 0 {
		t.Fatal("no conformance rows")
	}
	routers := map[string]*testRouter{}
	for _, d := range []Dialect{V13, V14} {
		routers[string(d)] = newTestRouter(t, d, nil)
	}
	ctx := context.Background()
	for _, row := range rows {
		t.Run(row.id, func(t *testing.T) {
			tr := routers[row.dialect]
			if tr == nil {
				t.Fatalf("unknown dialect %q", row.dialect)
			}
			// Start every row from an empty configuration.
			if res := tr.Commit(ctx, NewConfig(tr.Dialect())); !res.OK && !strings.Contains(res.Output, "No configuration changes") {
				t.Fatalf("reset: %s", res.Output)
			}
			sh := tr.NewShell("vyos")
			mustExec(t, sh, "configure")
			setup := row.setup
			if row.dialect == "1.4" {
				setup = append(append(append([]string(nil), smoketestFixture...), "set protocols bgp system-as 64512"), setup...)
			}
			mustExec(t, sh, setup...)
			out, _ := sh.Exec(ctx, "commit")
			running := tr.running(t)
			expect := row.expect
			var failMsg []string
			if dev, ok := conformanceDeviations[row.id]; ok {
				t.Logf("deviation from the table: %s; asserting the commit fails with %q", dev.reason, dev.fails)
				expect, failMsg = "fails", []string{dev.fails}
			} else {
				failMsg = row.lines
			}
			switch expect {
			case "present":
				if strings.Contains(out, "Commit failed") {
					t.Fatalf("commit failed:\n%s", out)
				}
				for _, l := range row.lines {
					if !hasLine(running, l) {
						t.Errorf("missing %q in running config:\n%s", l, strings.Join(running, "\n"))
					}
				}
			case "absent":
				if strings.Contains(out, "Commit failed") {
					t.Fatalf("commit failed:\n%s", out)
				}
				for _, l := range row.lines {
					if hasLine(running, l) {
						t.Errorf("unexpected %q in running config:\n%s", l, strings.Join(running, "\n"))
					}
				}
			case "fails":
				if !strings.Contains(out, "Commit failed") {
					t.Fatalf("commit did not fail:\n%s", out)
				}
				for _, m := range failMsg {
					if !strings.Contains(strings.Join(strings.Fields(out), " "), m) {
						t.Errorf("commit output lacks %q:\n%s", m, out)
					}
				}
				// A failed commit changes nothing.
				if hasLine(running, "router bgp") {
					t.Errorf("failed commit left BGP configuration in FRR:\n%s", strings.Join(running, "\n"))
				}
			default:
				t.Fatalf("unknown expectation %q", row.expect)
			}
			sh.Exec(ctx, "exit discard")
		})
	}
}
