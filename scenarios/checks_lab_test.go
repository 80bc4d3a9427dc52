package scenarios_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// checkLab is a running frr-ebgp lab with an echo server on h1:8080.
type checkLab struct {
	t   *testing.T
	m   *lab.Manager
	l   *lab.Lab
	env *scenarios.LabEnv
	out bytes.Buffer
	mu  sync.Mutex
}

func startCheckLab(t *testing.T) *checkLab {
	m := manager(t)
	sc, err := scenarios.Builtin("frr-ebgp")
	if err != nil {
		t.Fatal(err)
	}
	name := testutil.RandName("chk", 5)
	l, err := m.Up(context.Background(), sc.Topology, lab.UpOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), name) })
	// An echoserver stand-in: it reports the client's address as the
	// echoserver does (client_address=...).
	var ln net.Listener
	if err := nsx.Do(nsx.Path(topology.NodeNamespace(name, "h1")), func() error {
		var err error
		ln, err = net.Listen("tcp", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "CLIENT VALUES:\nclient_address=%s\nmethod=%s\n", host, r.Method)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	env := scenarios.NewLabEnv(m, l)
	t.Cleanup(func() { env.Close() })
	return &checkLab{t: t, m: m, l: l, env: env}
}

// run runs checks written in YAML against the lab.
func (c *checkLab) run(yamlChecks string) []scenarios.CheckResult {
	c.t.Helper()
	checks, err := spec.ParseFile("test.yaml", []byte("checks:\n"+yamlChecks), topology.CheckContext(c.l.Topology))
	if err != nil {
		c.t.Fatal(err)
	}
	var out bytes.Buffer
	r := &scenarios.Runner{Env: c.env, Observer: &scenarios.TextReporter{W: &out}}
	res := r.Run(context.Background(), checks)
	c.t.Logf("\n%s", out.String())
	return res
}

// expect asserts a check's status and that every target's message
// matches the pattern.
func expect(t *testing.T, r scenarios.CheckResult, st scenarios.Status, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	if r.Status != st {
		t.Errorf("%s: status %s, want %s (%+v)", r.Title, r.Status, st, r)
	}
	if len(r.Targets) == 0 {
		if !re.MatchString(r.Message) {
			t.Errorf("%s: message %q does not match %q", r.Title, r.Message, pattern)
		}
		return
	}
	for _, tr := range r.Targets {
		if !re.MatchString(tr.Message) {
			t.Errorf("%s: %s: message %q does not match %q", r.Title, tr.Target, tr.Message, pattern)
		}
	}
}

func TestChecksOnALab(t *testing.T) {
	c := startCheckLab(t)
	ctx := context.Background()
	faults := c.env.Faults()

	t.Run("healthy", func(t *testing.T) {
		res := c.run(`
  - {type: bgp-session, nodes: [r1, r2], peers: [r1, r2]}
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, nexthops: [r1], communities: ["65001:100"], largeCommunities: ["65001:1:1"], origin: igp, asPath: "65001", best: true}
  - {type: bgp-route, node: r1, prefix: 10.99.9.0/24, present: false, wait: 0s}
  - {type: fib-route, node: r2, prefix: 10.99.1.0/24, nexthops: [r1], interface: eth0}
  - {type: fib-route, node: h2, prefix: 0.0.0.0/0, nexthops: [10.99.2.1]}
  - {type: ping, nodes: [h2, r1], to: h1}
  - {type: tcp, node: r2, to: "r1:179"}
  - {type: tcp, node: h2, to: "h1:8081", state: closed}
  - {type: http, node: h2, url: "http://h1:8080/", bodyContains: "CLIENT VALUES", clientAddress: h2}
`)
		for _, r := range res {
			expect(t, r, scenarios.Pass, ".")
		}
		expect(t, res[1], scenarios.Pass, `^via 10\.20\.0\.1 \(r1\), communities 65001:100, large communities 65001:1:1, origin IGP, AS path 65001, best`)
		expect(t, res[8], scenarios.Pass, `^HTTP 200 OK, client_address=10\.99\.2\.10$`)
	})

	t.Run("wrong attributes and missing routes fail", func(t *testing.T) {
		res := c.run(`
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, communities: ["65001:999"], wait: 2s}
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, localPref: 200, asPath: "65009", wait: 1s}
  - {type: bgp-route, node: r2, prefix: 10.99.9.0/24, wait: 2s}
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, present: false, wait: 1s}
  - {type: fib-route, node: r2, prefix: 10.99.1.0/24, nexthops: [h1], wait: 1s}
  - {type: fib-route, node: h2, prefix: 10.99.9.0/24, wait: 1s}
  - {type: http, node: h2, url: "http://h1:8080/nope", bodyContains: "hello", clientAddress: 10.99.2.99, wait: 1s}
`)
		expect(t, res[0], scenarios.Fail, `^expected communities including 65001:999, saw communities 65001:100 for 2\.\d s$`)
		expect(t, res[1], scenarios.Fail, `^expected local-pref 200, AS path 65009, saw local-pref not set, AS path 65001 for 1\.\d s$`)
		expect(t, res[2], scenarios.Fail, `^expected a route, saw none for 2\.\d s$`)
		expect(t, res[3], scenarios.Fail, `^expected no route, saw a route via 10\.20\.0\.1 \(r1\) for`)
		expect(t, res[4], scenarios.Fail, `^expected next hops 10\.99\.1\.10 \(h1\), saw next hops 10\.20\.0\.1 \(r1\) for`)
		expect(t, res[5], scenarios.Fail, `^expected a route, saw none for`)
		expect(t, res[6], scenarios.Fail, `^expected a body containing "hello", client_address=10\.99\.2\.99, saw a body without it \(.*\), client_address=10\.99\.2\.10 for`)
		if a := res[2].Targets[0].Attempts; a < 5 || a > 10 {
			t.Errorf("a 2 s check made %d attempts, want about 9 (one every 250 ms during the first 5 s)", a)
		}
	})

	t.Run("blocked port", func(t *testing.T) {
		if err := faults.Block(ctx, "h1", "tcp", 8080, true); err != nil {
			t.Fatal(err)
		}
		res := c.run(`
  - {type: tcp, node: h2, to: "h1:8080", wait: 1s}
  - {type: http, node: h2, url: "http://h1:8080/", wait: 1s}
  - {type: ping, node: h2, to: h1, wait: 1s}
`)
		expect(t, res[0], scenarios.Fail, `^expected open, saw filtered for \d.* s; no answer within 2 s$`)
		expect(t, res[1], scenarios.Fail, `^expected HTTP 200, saw no answer for`)
		expect(t, res[2], scenarios.Pass, `^a reply`)
		if err := faults.Block(ctx, "h1", "tcp", 8080, false); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: tcp, node: h2, to: "h1:8080", wait: 3s}
`)
		expect(t, res[0], scenarios.Pass, `^open`)

		// BGP's port: the session goes down when the hold time (3 s) ends.
		if err := faults.Block(ctx, "r1", "tcp", 179, true); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, present: false, wait: 10s}
  - {type: bgp-session, node: r2, peer: r1, wait: 2s}
  - {type: tcp, node: r2, to: "r1:179", wait: 0s}
`)
		expect(t, res[0], scenarios.Pass, `^no route`)
		expect(t, res[1], scenarios.Fail, `^expected Established, saw (Active|Connect|Idle|OpenSent) for \d.* s; neighbor 10\.20\.0\.1; last reset: .+`)
		expect(t, res[2], scenarios.Fail, `^expected open, saw filtered`)
		if err := faults.Block(ctx, "r1", "tcp", 179, false); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: bgp-session, node: r2, peer: r1}
`)
		expect(t, res[0], scenarios.Pass, `^Established`)
	})

	t.Run("link down", func(t *testing.T) {
		// r1's LAN interface: the connected route goes, BGP withdraws it.
		if err := faults.SetLink(ctx, "r1", "eth1", false); err != nil {
			t.Fatal(err)
		}
		res := c.run(`
  - {type: ping, node: h2, to: h1, wait: 1s}
  - {type: ping, node: h2, to: h1, reachable: false, wait: 0s}
  - {type: bgp-route, node: r2, prefix: 10.99.1.0/24, present: false}
`)
		expect(t, res[0], scenarios.Fail, `^expected a reply, saw no reply for \d\.\d s; (no reply within 1\.0 s|destination unreachable)`)
		expect(t, res[1], scenarios.Pass, `^no reply`)
		expect(t, res[2], scenarios.Pass, `^no route`)
		if err := faults.SetLink(ctx, "r1", "eth1", true); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: ping, node: h2, to: h1}
`)
		expect(t, res[0], scenarios.Pass, `^a reply`)
		// The wire itself: h2's bridge port in the fabric.
		if err := faults.SetBridgePort(ctx, "h2-eth0", false); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: ping, node: h2, to: h1, wait: 1s}
`)
		expect(t, res[0], scenarios.Fail, `^expected a reply, saw no reply`)
		if err := faults.SetBridgePort(ctx, "h2-eth0", true); err != nil {
			t.Fatal(err)
		}
		res = c.run(`
  - {type: ping, node: h2, to: h1}
`)
		expect(t, res[0], scenarios.Pass, `^a reply`)
		err := faults.SetLink(ctx, "h1", "eth7", false)
		if err == nil || !strings.Contains(err.Error(), `node h1 has no interface "eth7" (interfaces: lo, eth0)`) {
			t.Errorf("unknown interface: %v", err)
		}
	})

	t.Run("flap", func(t *testing.T) {
		done := make(chan []scenarios.CheckResult)
		go func() {
			done <- c.run(`
  - {type: no-flap, node: r2, peer: r1, window: 8s}
`)
		}()
		// The watch starts at once; restart r1's FRR a moment later.
		time.Sleep(1500 * time.Millisecond)
		if err := faults.Service(ctx, "r1", "frr", "restart"); err != nil {
			t.Fatal(err)
		}
		res := <-done
		expect(t, res[0], scenarios.Fail, `^expected connectionsDropped to stay at (\d+), saw connectionsDropped \d+; state \w+ \(after \d.* s of the 8s window\)$`)
		res = c.run(`
  - {type: bgp-session, node: r2, peer: r1}
  - {type: no-flap, node: r2, peer: r1, window: 2s}
`)
		expect(t, res[0], scenarios.Pass, "Established")
		expect(t, res[1], scenarios.Pass, `^connectionsDropped \d+`)
		err := faults.Service(ctx, "r1", "nosuch", "stop")
		if err == nil || !strings.Contains(err.Error(), `node r1 has no supervised process "nosuch" (its processes: frr)`) {
			t.Errorf("unknown service: %v", err)
		}
	})

	t.Run("diagnosis", func(t *testing.T) {
		res := c.run(`
  - {type: diagnosis, node: r2}
  - {type: diagnosis, cause: as-mismatch, wait: 0s}
`)
		expect(t, res[0], scenarios.Pass, `^healthy; 1 session\(s\) looked at`)
		expect(t, res[1], scenarios.Fail, `^expected as-mismatch, saw healthy`)
	})

	t.Run("cannot run", func(t *testing.T) {
		start := time.Now()
		res := c.run(`
  - {type: service-ip, service: onp-metallb/echoserver, wait: 30s}
`)
		expect(t, res[0], scenarios.Error, `^cannot run: cluster API: lab \S+ has no cluster node \(kind sno\)$`)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("checks that cannot run waited %v for their deadline", d)
		}
		// A check against a node the lab does not have (a stored lab file
		// is not validated against the checks of another file).
		r := &scenarios.Runner{Env: c.env}
		got := r.RunCheck(context.Background(), &spec.Check{Type: spec.Ping, Node: "ghost", To: "h1"})
		expect(t, got, scenarios.Error, `^cannot run: invalid check: .*unknown node "ghost"`)
	})
}
