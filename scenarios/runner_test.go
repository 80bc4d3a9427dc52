package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onp-lab/onp/scenarios/spec"
)

// fakeEnv serves canned FRR JSON and counts calls.
type fakeEnv struct {
	ctx   *spec.Context
	show  func(node, cmd string) (string, error)
	calls atomic.Int64
}

func (f *fakeEnv) Context() *spec.Context { return f.ctx }
func (f *fakeEnv) Router(ctx context.Context, node string) (Router, error) {
	return fakeRouter{f, node}, nil
}
func (f *fakeEnv) Speaker(ctx context.Context, node string) (Speaker, error) {
	return nil, Unavailable("speaker status", "not in this test")
}
func (f *fakeEnv) Net(node string) (NodeNet, error) {
	return nil, Unavailable("node network", "not in this test")
}
func (f *fakeEnv) Cluster(ctx context.Context, node string) (Cluster, error) {
	return nil, Unavailable("cluster API", "not in this test")
}
func (f *fakeEnv) RouterConfig(ctx context.Context, node string) (RouterConfigurer, error) {
	return nil, Unavailable("router configuration", "not in this test")
}
func (f *fakeEnv) Faults() Faults { return nil }
func (f *fakeEnv) Close() error   { return nil }

type fakeRouter struct {
	f    *fakeEnv
	node string
}

func (r fakeRouter) ShowJSON(ctx context.Context, cmd string, v any) error {
	r.f.calls.Add(1)
	out, err := r.f.show(r.node, cmd)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), v)
}

var fakeLab = &spec.Context{Nodes: []spec.NodeInfo{
	{Name: "r1", Kind: "frr", Addrs: []netip.Addr{netip.MustParseAddr("10.20.0.1")}, Interfaces: []string{"eth0"}},
	{Name: "r2", Kind: "frr", Addrs: []netip.Addr{netip.MustParseAddr("10.20.0.2")}, Interfaces: []string{"eth0"}},
	{Name: "r3", Kind: "frr", Addrs: []netip.Addr{netip.MustParseAddr("10.20.0.3")}, Interfaces: []string{"eth0"}},
}}

func neighbors(state string, dropped int) string {
	return fmt.Sprintf(`{"10.20.0.1":{"bgpState":%q,"connectionsDropped":%d,"lastResetDueTo":"Waiting for peer OPEN","bgpTimerUpString":"00:00:07"}}`, state, dropped)
}

func fastRunner(env Env, obs Observer) *Runner {
	return &Runner{Env: env, Observer: obs, Interval: 20 * time.Millisecond}
}

func TestRunnerRetriesUntilPass(t *testing.T) {
	var n atomic.Int64
	env := &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) {
		if n.Add(1) < 4 {
			return neighbors("Active", 0), nil
		}
		return neighbors("Established", 0), nil
	}}
	r := fastRunner(env, nil)
	res := r.RunCheck(context.Background(), &spec.Check{Type: spec.BGPSession, Node: "r2", Peer: "r1", Wait: spec.Dur(time.Second)})
	if res.Status != Pass || res.Targets[0].Attempts != 4 || !strings.HasPrefix(res.Targets[0].Message, "Established; up 00:00:07 (after ") {
		t.Fatalf("%+v", res)
	}
}

func TestRunnerFailSaysExpectedSeenAndHowLong(t *testing.T) {
	var n atomic.Int64
	env := &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) {
		if n.Add(1) < 3 {
			return neighbors("Connect", 0), nil
		}
		return neighbors("Active", 0), nil
	}}
	res := fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.BGPSession, Node: "r2", Peer: "r1", Wait: spec.Dur(300 * time.Millisecond)})
	msg := res.Targets[0].Message
	// Active was seen from the third attempt (at 40 ms) to the end (300 ms).
	if res.Status != Fail || !regexp.MustCompile(`^expected Established, saw Active for 2\d\d ms; last reset: Waiting for peer OPEN$`).MatchString(msg) {
		t.Fatalf("%s: %s", res.Status, msg)
	}
	if a := res.Targets[0].Attempts; a < 10 || a > 17 {
		t.Errorf("%d attempts in 300 ms at one per 20 ms", a)
	}
}

func TestRunnerErrors(t *testing.T) {
	// A transient error at the deadline is an ERROR, with what was seen
	// before it.
	var n atomic.Int64
	env := &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) {
		if n.Add(1) < 3 {
			return neighbors("Active", 0), nil
		}
		return "", errors.New("router r2 does not answer")
	}}
	res := fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.BGPSession, Node: "r2", Peer: "r1", Wait: spec.Dur(100 * time.Millisecond)})
	if res.Status != Error || res.Targets[0].Message != "cannot run: router r2 does not answer (last seen before that: Active)" {
		t.Fatalf("%s: %s", res.Status, res.Targets[0].Message)
	}
	// A permanent one stops at once.
	start := time.Now()
	env = &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) {
		return "", Permanent(errors.New("vtysh not found"))
	}}
	res = fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.BGPSession, Node: "r2", Peer: "r1"})
	if res.Status != Error || res.Targets[0].Message != "cannot run: vtysh not found" || time.Since(start) > time.Second {
		t.Fatalf("%s after %v: %s", res.Status, time.Since(start), res.Targets[0].Message)
	}
	// A data source the build lacks.
	res = fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.Ping, Node: "r2", To: "r1"})
	if res.Status != Error || res.Targets[0].Message != "cannot run: node network: not in this test" {
		t.Fatalf("%s: %s", res.Status, res.Targets[0].Message)
	}
	// An invalid check (here: a node the lab does not have).
	res = fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.BGPSession, Node: "r9", Peer: "r1"})
	if res.Status != Error || !strings.Contains(res.Message, `cannot run: invalid check: node: unknown node "r9" (nodes: r1, r2, r3)`) {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	// Interrupted.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	env = &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) { return neighbors("Idle", 0), nil }}
	res = fastRunner(env, nil).RunCheck(ctx, &spec.Check{Type: spec.BGPSession, Node: "r2", Peer: "r1"})
	if res.Status != Error || !strings.HasPrefix(res.Targets[0].Message, "interrupted") {
		t.Fatalf("%s: %s", res.Status, res.Targets[0].Message)
	}
}

func TestNoFlapWatchesTheWindow(t *testing.T) {
	var n atomic.Int64
	env := &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) {
		if n.Add(1) > 5 {
			return neighbors("Established", 3), nil
		}
		return neighbors("Established", 2), nil
	}}
	res := fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.NoFlap, Node: "r2", Peer: "r1", Window: spec.Dur(time.Second)})
	if res.Status != Fail || !regexp.MustCompile(`^expected connectionsDropped to stay at 2, saw connectionsDropped 3; state Established \(after \d+ ms of the 1s window\)$`).MatchString(res.Targets[0].Message) {
		t.Fatalf("%s: %s", res.Status, res.Targets[0].Message)
	}
	env = &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) { return neighbors("Established", 2), nil }}
	start := time.Now()
	res = fastRunner(env, nil).RunCheck(context.Background(), &spec.Check{Type: spec.NoFlap, Node: "r2", Peer: "r1", Window: spec.Dur(200 * time.Millisecond)})
	if res.Status != Pass || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("%s after %v: %s", res.Status, time.Since(start), res.Targets[0].Message)
	}
}

const prefixJSON = `{"prefix":"10.0.0.10/32","paths":[
 {"aspath":{"string":"Local","segments":[],"length":0},"origin":"IGP","locPrf":100,"valid":true,"multipath":true,
  "bestpath":{"overall":true},"community":{"string":"noAdvertise","list":["noAdvertise"]},
  "nexthops":[{"ip":"10.20.0.1","afi":"ipv4","used":true}],"peer":{"peerId":"10.20.0.1"}},
 {"aspath":{"string":"Local","segments":[],"length":0},"origin":"IGP","locPrf":100,"valid":true,"multipath":true,
  "community":{"string":"noAdvertise 64512:7","list":["noAdvertise","64512:7"]},
  "largeCommunity":{"string":"64512:1:2"},
  "nexthops":[{"ip":"10.20.0.3","afi":"ipv4","used":true}],"peer":{"peerId":"10.20.0.3"}},
 {"aspath":{"string":"65009","segments":[{"type":"as-sequence","list":[65009]}],"length":1},"origin":"incomplete","valid":false,
  "nexthops":[{"ip":"10.9.9.9","afi":"ipv4"}]}
]}`

func TestBGPRouteEvaluation(t *testing.T) {
	var paths bgpPrefix
	if err := json.Unmarshal([]byte(prefixJSON), &paths); err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	lp := func(v uint32) *uint32 { return &v }
	yes := true
	for _, c := range []struct {
		check spec.Check
		ok    bool
		seen  string
	}{
		{spec.Check{Nexthops: []string{"r1", "r3"}, Communities: []string{"no-advertise"}, LocalPref: lp(100), Origin: "igp", ASPath: ptr("")}, true,
			"via 10.20.0.1 (r1), communities 65535:65282 (no-advertise), local-pref 100, origin IGP, AS path (empty), best; via 10.20.0.3 (r3), communities 65535:65282 (no-advertise), 64512:7, large communities 64512:1:2, local-pref 100, origin IGP, AS path (empty)"},
		{spec.Check{Nexthops: []string{"r1"}}, false, "next hops 10.20.0.1 (r1), 10.20.0.3 (r3)"},
		{spec.Check{Nexthops: []string{"r1"}, Best: &yes}, true, ""},
		{spec.Check{Communities: []string{"64512:7"}}, false, "communities 65535:65282 (no-advertise) (path via 10.20.0.1 (r1))"},
		{spec.Check{LargeCommunities: []string{"64512:1:2"}, Best: &yes}, false, "large communities none"},
		{spec.Check{LocalPref: lp(200), Origin: "egp"}, false, "local-pref 100 (path via 10.20.0.1 (r1)), origin IGP (path via 10.20.0.1 (r1))"},
		{spec.Check{Present: new(bool)}, false, "a route via 10.20.0.1 (r1), 10.20.0.3 (r3)"},
	} {
		c.check.Type, c.check.Prefix, c.check.Node = spec.BGPRoute, "10.0.0.10/32", "r2"
		e, err := newRouteExpectation(&c.check, fakeLab)
		if err != nil {
			t.Fatal(err)
		}
		o := e.evalBGP(paths.Paths)
		if o.OK != c.ok || (c.seen != "" && o.Seen != c.seen) {
			t.Errorf("%+v: got ok=%v seen %q (expected %q); want ok=%v seen %q", c.check, o.OK, o.Seen, o.Expected, c.ok, c.seen)
		}
	}
	// No paths at all, and only invalid ones.
	e, _ := newRouteExpectation(&spec.Check{Type: spec.BGPRoute, Prefix: "10.0.0.10/32"}, fakeLab)
	if o := e.evalBGP(nil); o.OK || o.Seen != "none" || o.Expected != "a route" {
		t.Errorf("no paths: %+v", o)
	}
	if o := e.evalBGP(paths.Paths[2:]); o.OK || o.Seen != "1 invalid path(s) only" {
		t.Errorf("invalid paths: %+v", o)
	}
}

func TestFIBRouteEvaluation(t *testing.T) {
	gw := netip.MustParseAddr("10.20.0.1")
	routes := []KernelRoute{{Prefix: netip.MustParsePrefix("10.0.0.10/32"), Gateways: []netip.Addr{gw, netip.MustParseAddr("10.20.0.3")}, Devices: []string{"eth0", "eth0"}, Protocol: "bgp"}}
	e, _ := newRouteExpectation(&spec.Check{Type: spec.FIBRoute, Prefix: "10.0.0.10/32", Nexthops: []string{"r1", "r3"}, Interface: "eth0"}, fakeLab)
	if o := e.evalFIB(routes); !o.OK || o.Seen != "via 10.20.0.1 (r1) dev eth0, via 10.20.0.3 (r3) dev eth0 proto bgp" {
		t.Errorf("%+v", o)
	}
	e, _ = newRouteExpectation(&spec.Check{Type: spec.FIBRoute, Prefix: "10.0.0.10/32", Nexthops: []string{"r2"}, Interface: "eth1"}, fakeLab)
	if o := e.evalFIB(routes); o.OK || o.Expected != "next hops 10.20.0.2 (r2), interface eth1" || o.Seen != "next hops 10.20.0.1 (r1), 10.20.0.3 (r3), interface eth0, eth0" {
		t.Errorf("%+v", o)
	}
}

func TestNetErrText(t *testing.T) {
	_, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	if got := netErrText(err); got != "connection refused" {
		t.Errorf("%q", got)
	}
	if got := netErrText(context.DeadlineExceeded); got != "no answer" {
		t.Errorf("%q", got)
	}
}

// sampleReport has a pass, a fail and an error, in steps and final checks.
func sampleReport() *Report {
	s := &Suite{Name: "demo", Source: "demo.yaml", Lab: "demo-1a2b3", Started: time.Now()}
	s.Steps = []StepResult{
		{Index: 0, Kind: "check", Title: "check (1)", Status: Pass, Checks: []CheckResult{{Type: "ping", Title: "h1 answers pings from h2", Status: Pass,
			Targets: []TargetResult{{Target: "h2 → h1", Status: Pass, Message: "a reply"}}}}},
		{Index: 1, Kind: "fault", Title: "fault: link-down eth0 on r1", Status: Pass},
	}
	s.Checks = []CheckResult{
		{Name: "community", Type: "bgp-route", Title: "community", Status: Fail, Targets: []TargetResult{{Target: "r2: 10.0.0.10/32", Status: Fail, Message: "expected communities including 65535:65282, saw communities none for 15 s"}}},
		{Type: "service-ip", Title: "Service a/b has an EXTERNAL-IP", Status: Error, Targets: []TargetResult{{Target: "a/b", Status: Error, Message: "cannot run: cluster API: no cluster"}}},
	}
	s.finish()
	return NewReport(s)
}

func TestReports(t *testing.T) {
	r := sampleReport()
	if r.ExitCode != 2 || r.Summary.Checks != 3 || r.Summary.Passed != 1 || r.Summary.Failed != 1 || r.Summary.Errors != 1 {
		t.Fatalf("summary %+v exit %d", r.Summary, r.ExitCode)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back JUnitSuites
	if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if back.Tests != 4 || back.Failures != 1 || back.Errors != 1 || len(back.Suites) != 1 || len(back.Suites[0].Cases) != 4 {
		t.Fatalf("JUnit parsed back: %+v\n%s", back, buf.String())
	}
	fail := back.Suites[0].Cases[2]
	if fail.Classname != "demo.checks" || fail.Name != "community: r2: 10.0.0.10/32" || fail.Failure == nil || !strings.Contains(fail.Failure.Message, "saw communities none") {
		t.Errorf("failure case: %+v", fail)
	}
	if back.Suites[0].Cases[1].Name != "fault: link-down eth0 on r1" || back.Suites[0].Cases[3].Error == nil {
		t.Errorf("cases: %+v", back.Suites[0].Cases)
	}
	buf.Reset()
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var j Report
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil || j.ExitCode != 2 || j.Suites[0].Checks[0].Targets[0].Status != Fail {
		t.Fatalf("JSON: %v %+v", err, j)
	}
	// Only fails: 1; all pass: 0.
	r.Suites[0].Checks = r.Suites[0].Checks[:1]
	if NewReport(r.Suites[0]).ExitCode != 1 {
		t.Error("a failure without errors is not exit code 1")
	}
	r.Suites[0].Checks = nil
	if NewReport(r.Suites[0]).ExitCode != 0 {
		t.Error("all passed is not exit code 0")
	}
}

func TestTextReport(t *testing.T) {
	var buf bytes.Buffer
	tr := &TextReporter{W: &buf}
	c := &spec.Check{Name: "session", Type: spec.BGPSession, Node: "vyos", Peer: "sno4"}
	tr.CheckStarted(c, []string{"vyos → sno4"})
	tr.TargetDone(c, TargetResult{Target: "vyos → sno4 (192.168.126.2)", Status: Fail, Message: "expected Established, saw Active for 12 s; last error: Connection refused"})
	tr.Summary(sampleReport())
	want := `[session] BGP session vyos ↔ sno4 is Established (wait 30s)
  [FAIL] vyos → sno4 (192.168.126.2): expected Established, saw Active for 12 s; last error: Connection refused
[FAILED] 3 checks: 1 passed, 1 failed, 1 could not run (0 ms)
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	buf.Reset()
	tr.Color = true
	tr.TargetDone(c, TargetResult{Target: "x", Status: Pass, Message: "ok"})
	if !strings.Contains(buf.String(), "\x1b[32m[PASS]\x1b[0m") {
		t.Errorf("no colour: %q", buf.String())
	}
}

// BenchmarkRunnerOverhead is the cost of running one check of ten targets
// that pass at the first attempt, apart from reading the state (canned
// JSON here; a vtysh call is ~10 ms, an SSH vtysh ~5 ms).
func BenchmarkRunnerOverhead(b *testing.B) {
	all := `{"10.20.0.1":{"bgpState":"Established"},"10.20.0.2":{"bgpState":"Established"},"10.20.0.3":{"bgpState":"Established"}}`
	env := &fakeEnv{ctx: fakeLab, show: func(node, cmd string) (string, error) { return all, nil }}
	// Ten targets: r1, r2, r3 each with the two others, by name and address.
	c := &spec.Check{Type: spec.BGPSession, Nodes: []string{"r1", "r2", "r3"}, Peers: []string{"r1", "r2", "r3", "10.20.0.1", "10.20.0.2"}}
	r := &Runner{Env: env}
	b.ReportAllocs()
	for b.Loop() {
		if res := r.RunCheck(context.Background(), c); res.Status != Pass {
			b.Fatal(res)
		}
	}
}
