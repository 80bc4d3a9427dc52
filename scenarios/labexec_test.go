package scenarios_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/scenarios/format"
	"github.com/onp-lab/onp/topology"
)

// Exec steps, reject and route faults on a running lab, through RunSteps.
func TestExecRejectRouteOnALab(t *testing.T) {
	testutil.RequireBinary(t, "nft", "nftables")
	m := manager(t)
	src := `name: x
lab: routed-hosts
steps:
  - name: cut the return path
    fault: {action: route-delete, node: h2, to: default}
  - check: [{type: ping, node: h1, to: h2, reachable: false, wait: 2s}]
  - name: restore it
    fault: {action: route-add, node: h2, to: default, via: 10.1.2.1}
  - check: [{type: ping, node: h1, to: h2}, {type: tcp, node: h1, to: "10.1.2.10:7000"}]
  - fault: {action: reject, node: h2, protocol: tcp, port: 7000}
  - check: [{type: tcp, node: h1, to: "10.1.2.10:7000", state: closed}]
  - exec: {node: h2, command: [nft, list, table, inet, onp_faults]}
  - exec: {node: h2, command: [sh, -c, "cat; exit 3"], stdin: "from stdin\n"}
  - fault: {action: unblock, node: h2, protocol: tcp, port: 7000}
`
	sc, err := format.Parse("x.yaml", []byte(src), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	name := testutil.RandName("ex", 5)
	l, err := m.Up(context.Background(), sc.Topology, lab.UpOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), name) })
	var ln net.Listener
	if err := nsx.Do(nsx.Path(topology.NodeNamespace(name, "h2")), func() error {
		ln, err = net.Listen("tcp", ":7000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	env := scenarios.NewLabEnv(m, l)
	defer env.Close()
	rs := scenarios.RunSteps(context.Background(), sc, sc.Steps, env, scenarios.RunOptions{})
	if len(rs) != len(sc.Steps) {
		t.Fatalf("%d results for %d steps", len(rs), len(sc.Steps))
	}
	for i, r := range rs[:7] {
		if r.Status != scenarios.Pass {
			t.Errorf("step %d (%s): %s %s %+v", i+1, r.Title, r.Status, r.Message, r.Checks)
		}
	}
	if !strings.Contains(rs[6].Message, `"onp fault: reject tcp/7000"`) {
		t.Errorf("nft listing: %q", rs[6].Message)
	}
	if rs[7].Status != scenarios.Error || !strings.Contains(rs[7].Message, "sh on h2 exited with status 3: from stdin") {
		t.Errorf("failing exec: %+v", rs[7])
	}
	if rs[8].Status != scenarios.Skipped {
		t.Errorf("step after a failed step: %+v", rs[8])
	}
	// unblock removes the reject rule (and the table with it).
	if err := env.Faults().Block(context.Background(), "h2", "tcp", 7000, false); err != nil {
		t.Fatal(err)
	}
	r, err := env.Exec(context.Background(), "h2", []string{"nft", "list", "ruleset"}, "")
	if err != nil || strings.Contains(r.Output, "onp_faults") {
		t.Errorf("after unblock: %v %q", err, r.Output)
	}
}
