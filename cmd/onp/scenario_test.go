package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios"
)

// onpc runs the CLI in-process like onp() does, with the check and
// scenario commands registered even before main.go lists them.
func onpc(t *testing.T, home string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	root := a.rootCommand()
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	if !have["check"] {
		root.AddCommand(a.checkCommand())
	}
	if !have["scenario"] {
		root.AddCommand(a.scenarioCommand())
	}
	root.SetArgs(append([]string{"--home", home}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		var el yamlx.ErrorList
		switch {
		case errors.As(err, &ee):
			code = ee.code
		case errors.As(err, &el):
			code = 2
		}
		if ee == nil || ee.err != nil {
			fmt.Fprintln(&errb, "error: "+err.Error())
		}
	}
	return result{code, out.String(), errb.String()}
}

func TestScenarioListShowValidate(t *testing.T) {
	home := t.TempDir()
	r := onpc(t, home, "scenario", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "frr-ebgp") || !strings.Contains(r.stdout, "seed-frr-speaker") {
		t.Fatalf("list: %+v", r)
	}
	r = onpc(t, home, "scenario", "list", "-o", "json")
	var bs []scenarios.BuiltinInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &bs) != nil || len(bs) < 2 {
		t.Fatalf("list json: %+v", r)
	}
	r = onpc(t, home, "scenario", "show", "frr-ebgp")
	src, _ := scenarios.BuiltinSource("frr-ebgp")
	if r.code != 0 || r.stdout != string(src) {
		t.Fatalf("show: %+v", r)
	}
	r = onpc(t, home, "scenario", "validate", "frr-ebgp", "seed-frr-speaker")
	if r.code != 0 || !strings.Contains(r.stdout, "builtin:frr-ebgp: valid (scenario frr-ebgp, lab frr-ebgp: 4 nodes; 4 steps, 4 checks)") {
		t.Fatalf("validate: %+v", r)
	}
	// Every problem of every file at once, exit code 2.
	r = onpc(t, home, "scenario", "validate", "../../scenarios/format/testdata/invalid.yaml", "nosuch")
	if r.code != 2 || strings.Count(r.stderr, "invalid.yaml:") != 25 || !strings.Contains(r.stderr, `no built-in scenario "nosuch"`) ||
		!strings.Contains(r.stderr, `invalid.yaml:48:38: steps[4].fault.node: unknown node "r2" (nodes: r1, h1)`) {
		t.Fatalf("validate invalid: code %d\n%s", r.code, r.stderr)
	}
	// run validates everything before it builds anything.
	r = onpc(t, home, "scenario", "run", "frr-ebgp", "../../scenarios/format/testdata/invalid.yaml")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "invalid.yaml:") {
		t.Fatalf("run invalid: %+v", r)
	}
	r = onpc(t, home, "scenario", "run", "frr-ebgp", "seed-frr-speaker", "--name", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "--name names the lab of one scenario") {
		t.Fatalf("run --name with two: %+v", r)
	}
}

const checkedLab = `
name: %s
networks:
  - {name: core, subnet: 10.20.0.0/24}
nodes:
  - name: r1
    kind: frr
    interfaces: [{network: core, address: 10.20.0.1}]
    frr:
      config: |
        router bgp 65001
         bgp router-id 10.20.0.1
         no bgp ebgp-requires-policy
         timers bgp 1 3
         neighbor 10.20.0.2 remote-as 65002
         neighbor 10.20.0.2 timers connect 1
         address-family ipv4 unicast
          network 10.99.1.0/24
         exit-address-family
        exit
        ip route 10.99.1.0/24 blackhole
  - name: r2
    kind: frr
    interfaces: [{network: core, address: 10.20.0.2}]
    frr:
      config: |
        router bgp 65002
         bgp router-id 10.20.0.2
         no bgp ebgp-requires-policy
         timers bgp 1 3
         neighbor 10.20.0.1 remote-as 65001
         neighbor 10.20.0.1 timers connect 1
        exit
checks:
  - {name: session, type: bgp-session, nodes: [r1, r2], peers: [r1, r2]}
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, nexthops: [r1], asPath: "65001"}
  - {type: fib-route, node: r2, prefix: 10.99.1.0/24, nexthops: [r1]}
  - {type: ping, node: r2, to: r1}
`

func TestCheckCommandExitCodes(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := t.TempDir()
	dir := t.TempDir()
	name := testutil.RandName("ck", 5)
	file := filepath.Join(dir, "lab.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(checkedLab, name)), 0o644)
	if r := onpc(t, home, "up", "-f", file); r.code != 0 {
		t.Fatalf("up: %+v", r)
	}
	defer onpc(t, home, "down", name)

	r := onpc(t, home, "check", "--lab", name)
	if r.code != 0 || !strings.Contains(r.stdout, "[session] BGP session r1,r2 ↔ r1,r2 is Established") ||
		strings.Count(r.stdout, "[PASS]") != 5 || !strings.Contains(r.stdout, "[SUCCESS] 4 checks passed") {
		t.Fatalf("check: %+v", r)
	}
	junit := filepath.Join(dir, "ok.xml")
	r = onpc(t, home, "check", "--lab", name, "-o", "json", "--junit", junit, "session", "ping")
	var rep scenarios.Report
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.ExitCode != 0 || rep.Summary.Checks != 2 || rep.Summary.Passed != 2 {
		t.Fatalf("check -o json: %+v", r)
	}

	fail := filepath.Join(dir, "fail.yaml")
	os.WriteFile(fail, []byte(`checks:
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, communities: ["65001:7"], wait: 1s}
  - {type: ping, node: r2, to: r1, wait: 1s}
`), 0o644)
	junit = filepath.Join(dir, "fail.xml")
	r = onpc(t, home, "check", "--lab", name, "-f", fail, "--junit", junit)
	if r.code != 1 || !strings.Contains(r.stdout, "[FAIL] r2: 10.99.1.0/24: expected communities including 65001:7, saw communities none for 1.") ||
		!strings.Contains(r.stdout, "[FAILED] 2 checks: 1 passed, 1 failed") {
		t.Fatalf("failing check: %+v", r)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var ju scenarios.JUnitSuites
	if err := xml.Unmarshal(b, &ju); err != nil || ju.Tests != 2 || ju.Failures != 1 || ju.Errors != 0 || ju.Suites[0].Cases[0].Failure == nil {
		t.Fatalf("JUnit: %v %+v\n%s", err, ju, b)
	}

	cannot := filepath.Join(dir, "cannot.yaml")
	os.WriteFile(cannot, []byte("checks:\n  - {type: bgp-route, node: r2, prefix: 10.99.9.0/24, wait: 1s}\n  - {type: service-ip, service: onp-metallb/echoserver}\n"), 0o644)
	r = onpc(t, home, "check", "--lab", name, "-f", cannot)
	if r.code != 2 || !strings.Contains(r.stdout, "[ERROR] onp-metallb/echoserver: cannot run: cluster API") || !strings.Contains(r.stdout, "1 failed, 1 could not run") {
		t.Fatalf("cannot run: %+v", r)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("checks:\n  - {type: bgp-route, node: r9}\n  - {type: pingg}\n"), 0o644)
	r = onpc(t, home, "check", "--lab", name, "-f", bad)
	if r.code != 2 || !strings.Contains(r.stderr, `bad.yaml:2:29: checks[0].node: unknown node "r9" (nodes: r1, r2)`) ||
		!strings.Contains(r.stderr, `bad.yaml:3:12: checks[1].type: unknown check type "pingg"`) || r.stdout != "" {
		t.Fatalf("invalid checks file: %+v", r)
	}
	r = onpc(t, home, "check", "--lab", name, "nosuch")
	if r.code != 2 || !strings.Contains(r.stderr, "no check is named or of type nosuch (names: session;") {
		t.Fatalf("unknown check name: %+v", r)
	}
	r = onpc(t, home, "check", "--lab", "nolab")
	if r.code != 1 || !strings.Contains(r.stderr, `no such lab "nolab"`) {
		t.Fatalf("no lab: %+v", r)
	}
}

const failingScenario = `
name: fails
lab:
  name: fails
  networks: [{name: core, subnet: 10.20.0.0/24}]
  nodes:
    - {name: h1, kind: host, interfaces: [{network: core, address: 10.20.0.1}]}
    - {name: h2, kind: host, interfaces: [{network: core, address: 10.20.0.2}]}
steps:
  - check: [{type: ping, node: h1, to: h2}]
  - fault: {action: block, node: h2, protocol: tcp, port: 7}
checks:
  - {type: tcp, node: h1, to: "h2:7", state: closed, wait: 1s}
`

const brokenScenario = `
name: breaks
lab:
  name: breaks
  networks: [{name: core, subnet: 10.20.0.0/24}]
  nodes:
    - {name: r1, kind: vyos, interfaces: [{network: core, address: 10.20.0.1}]}
steps:
  - router: {node: r1, commands: ["set protocols bgp 64512 neighbor 10.20.0.9 remote-as banana"]}
  - wait: 1s
checks:
  - {type: bgp-session, node: r1, peer: 10.20.0.9}
`

func TestScenarioRunExitCodes(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := t.TempDir()
	dir := t.TempDir()
	junit := filepath.Join(dir, "all.xml")
	// The whole built-in catalogue, two at a time, each in its own lab.
	args := []string{"scenario", "run", "--parallel", "2", "--junit", junit}
	for _, b := range scenarios.Builtins() {
		args = append(args, b.Name)
	}
	r := onpc(t, home, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "== scenario reference ") || !strings.Contains(r.stdout, "== scenario seed-frr-speaker") ||
		!strings.Contains(r.stdout, fmt.Sprintf("[SUCCESS] %d scenarios, ", len(args)-6)) {
		t.Fatalf("run the catalogue: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%s", r.stdout[strings.LastIndex(r.stdout, "[SUCCESS]"):])
	b, _ := os.ReadFile(junit)
	var ju scenarios.JUnitSuites
	if err := xml.Unmarshal(b, &ju); err != nil || len(ju.Suites) != len(args)-6 || ju.Failures+ju.Errors != 0 || ju.Tests < 60 {
		t.Fatalf("JUnit: %v %+v", err, ju)
	}
	left := onpc(t, home, "list").stdout
	for _, b := range scenarios.Builtins() {
		if strings.Contains(left, "\n"+b.Name+"-") {
			t.Errorf("a lab of %s is left after the run:\n%s", b.Name, left)
		}
	}

	f := filepath.Join(dir, "fails.yaml")
	os.WriteFile(f, []byte(failingScenario), 0o644)
	r = onpc(t, home, "scenario", "run", f, "-o", "json")
	var rep scenarios.Report
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.ExitCode != 1 ||
		rep.Suites[0].Checks[0].Targets[0].Message != "expected closed, saw filtered for 1.0 s; no answer within 2 s" {
		t.Fatalf("failing scenario: %+v\n%+v", r, rep)
	}

	f = filepath.Join(dir, "breaks.yaml")
	os.WriteFile(f, []byte(brokenScenario), 0o644)
	r = onpc(t, home, "scenario", "run", f, "--keep")
	if r.code != 2 || !strings.Contains(r.stdout, "[ERROR] vyos driver: r1 rejected command 1") ||
		!strings.Contains(r.stdout, "[SKIPPED]") || !strings.Contains(r.stdout, "The lab breaks-") {
		t.Fatalf("broken scenario: %+v", r)
	}
	if r := onpc(t, home, "list"); !strings.Contains(r.stdout, "breaks-") {
		t.Fatalf("--keep did not keep the lab:\n%s", r.stdout)
	}
	for _, l := range strings.Fields(onpc(t, home, "list").stdout) {
		if strings.HasPrefix(l, "breaks-") {
			onpc(t, home, "down", l)
		}
	}
}
