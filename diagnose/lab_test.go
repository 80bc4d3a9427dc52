package diagnose_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

// record writes the evidence of each live test to testdata/NAME.json, for
// the rule tests (go test -run TestFault -record).
var record = flag.Bool("record", false, "record the evidence of the live fault tests into testdata")

// faultDeadline is how soon after the fault the diagnosis must name it.
const faultDeadline = 15 * time.Second

// liveCapture is the capture of each diagnosis attempt in the live tests:
// short, so that several attempts fit in the deadline.
const liveCapture = 1500 * time.Millisecond

// faultLab is a running lab for one fault.
type faultLab struct {
	t    *testing.T
	m    *lab.Manager
	l    *lab.Lab
	env  *scenarios.LabEnv
	name string
}

// referenceLab is the reference lab (sno-bgp), optionally with a VyOS 1.4
// router, or with another router behind vyos.
func referenceTopology(t *testing.T, variant string) *topology.Topology {
	t.Helper()
	src, err := topology.BuiltinSource("sno-bgp")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	switch variant {
	case "vyos14":
		text = strings.Replace(text, `version: "1.3"`, `version: "1.4"`, 1)
		text = strings.ReplaceAll(text, "set protocols bgp 64512 ", "set protocols bgp ")
		text = strings.Replace(text, "        - set protocols bgp parameters router-id", "        - set protocols bgp system-as 64512\n        - set protocols bgp parameters router-id", 1)
	case "multihop":
		text = strings.Replace(text, "  - name: client\n", `  - name: r2
    kind: frr
    interfaces:
      - network: ext0
        address: 192.168.100.20
    routes:
      - to: 192.168.126.0/24
        via: 192.168.100.1
    frr:
      config: |
        router bgp 64600
         bgp router-id 192.168.100.20
         no bgp ebgp-requires-policy
         neighbor 192.168.126.2 remote-as 64512
         neighbor 192.168.126.2 ebgp-multihop 2
         neighbor 192.168.126.2 timers connect 1
         address-family ipv4 unicast
          neighbor 192.168.126.2 activate
         exit-address-family
        exit
  - name: client
`, 1)
	}
	top, err := topology.Parse("builtin:sno-bgp", []byte(text))
	if err != nil {
		t.Fatalf("%s lab: %v", variant, err)
	}
	top.Dir, top.Builtin = "builtin", true
	return top
}

// startLab builds a lab, runs prepare (if any), and waits until the
// diagnosis calls it healthy.
func startLab(t *testing.T, variant string, prepare func(*faultLab)) *faultLab {
	m := manager(t)
	name := testutil.RandName("d", 5)
	ctx := context.Background()
	l, err := m.Up(ctx, referenceTopology(t, variant), lab.UpOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), name) })
	l, err = m.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	env := scenarios.NewLabEnv(m, l)
	t.Cleanup(func() { env.Close() })
	f := &faultLab{t: t, m: m, l: l, env: env, name: name}
	if prepare != nil {
		prepare(f)
	}
	var last *diagnose.Report
	if err := testutil.Poll(45*time.Second, 200*time.Millisecond, func() error {
		rep, err := diagnose.Run(ctx, env, diagnose.Options{Capture: -1})
		if err != nil {
			return err
		}
		last = rep
		if !rep.Healthy {
			return fmt.Errorf("not healthy yet: %v", rep.Causes())
		}
		return nil
	}); err != nil {
		t.Fatalf("lab %s never became healthy: %v\n%s", name, err, text(last))
	}
	return f
}

func text(rep *diagnose.Report) string {
	if rep == nil {
		return "(no report)"
	}
	var b strings.Builder
	for _, s := range rep.Sessions {
		fmt.Fprintf(&b, "session %s\n", s.Name)
		for _, l := range s.Lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "CAUSE %s (%s) %s at %s: %s\n", f.Cause, f.Title, f.Session, f.Where, f.Summary)
		for _, l := range f.Fix {
			fmt.Fprintf(&b, "  fix: %s\n", l)
		}
		for _, l := range f.Evidence {
			fmt.Fprintf(&b, "  evidence: %s\n", l)
		}
		if th := f.Thumb; th != nil {
			fmt.Fprintf(&b, "  thumb: %s; observed %s; follows %v: %s\n", th.State, strings.Join(th.Observed, "; "), th.Follows, th.Here)
		}
	}
	for _, l := range rep.HealthyEvidence {
		fmt.Fprintf(&b, "  healthy: %s\n", l)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

func (f *faultLab) router(cmds ...string) {
	f.t.Helper()
	rc, err := f.env.RouterConfig(context.Background(), "vyos")
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := rc.Configure(context.Background(), cmds, false); err != nil {
		f.t.Fatalf("configure vyos: %v", err)
	}
}

func (f *faultLab) apply(manifests string) {
	f.t.Helper()
	c, err := f.env.Cluster(context.Background(), "sno4")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.Apply(context.Background(), "test", []byte(manifests)); err != nil {
		f.t.Fatalf("apply: %v", err)
	}
}

func (f *faultLab) delete(kind, namespace, name string) {
	f.t.Helper()
	c, err := f.env.Cluster(context.Background(), "sno4")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.Delete(context.Background(), []scenarios.ObjectRef{{Kind: kind, Namespace: namespace, Name: name}}); err != nil {
		f.t.Fatalf("delete %s %s/%s: %v", kind, namespace, name, err)
	}
}

// expect polls the diagnosis until it names exactly the cause (and nothing
// else), within faultDeadline of since; then, when evidence is given, until
// the evidence shows it too (a NOTIFICATION needs the speaker's next
// attempt, gobgp waits 5 s after a drop), within wireDeadline.
func (f *faultLab) expect(cause string, since time.Time, evidence string) *diagnose.Report {
	f.t.Helper()
	ctx := context.Background()
	var last *diagnose.Report
	attempts := 0
	named := false
	for {
		attempts++
		rep, err := diagnose.Run(ctx, f.env, diagnose.Options{Capture: liveCapture})
		if err != nil {
			f.t.Fatal(err)
		}
		last = rep
		causes := rep.Causes()
		ok := len(causes) > 0
		for _, c := range causes {
			ok = ok && c == cause
		}
		if named && !ok {
			f.t.Fatalf("after %.1f s the diagnosis names %v, want only %s\n%s", time.Since(since).Seconds(), causes, cause, text(last))
		}
		if ok && !named {
			named = true
			took := time.Since(since)
			f.t.Logf("diagnosed %s %.1f s after the fault (%d attempts)", cause, took.Seconds(), attempts)
			recordTimes(f.t.Name(), cause, took)
		}
		if ok && (evidence == "" || strings.Contains(text(rep), evidence)) {
			f.t.Logf("evidence complete %.1f s after the fault\n%s", time.Since(since).Seconds(), text(rep))
			if *record {
				writeEvidence(f.t, cause, rep)
			}
			return rep
		}
		switch {
		case !named && time.Since(since) > faultDeadline:
			f.t.Fatalf("after %.1f s (%d attempts) the diagnosis names %v, want only %s\n%s", time.Since(since).Seconds(), attempts, causes, cause, text(last))
		case named && time.Since(since) > wireDeadline:
			f.t.Fatalf("after %.1f s the evidence lacks %q\n%s", time.Since(since).Seconds(), evidence, text(last))
		}
	}
}

// wireDeadline bounds the wait for the wire's proof of a named fault.
const wireDeadline = 30 * time.Second

var (
	timesMu sync.Mutex
	times   = map[string]time.Duration{}
)

func recordTimes(test, cause string, d time.Duration) {
	timesMu.Lock()
	defer timesMu.Unlock()
	times[test+" "+cause] = d
}

func writeEvidence(t *testing.T, cause string, rep *diagnose.Report) {
	b, err := json.MarshalIndent(rep.Evidence, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(strings.TrimPrefix(t.Name(), "TestFault/"), "/", "-")
	if err := os.WriteFile(filepath.Join("testdata", name+".json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

const bgpPeer = `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata:
  namespace: metallb-system
  name: onp-bgp-peer
spec:
  peerAddress: %s
  peerASN: %d
  myASN: 64512
%s`

// r2Peer is the eBGP BGPPeer for the router two hops away (multihop lab).
const r2Peer = `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata:
  namespace: metallb-system
  name: r2
spec:
  peerAddress: 192.168.100.20
  peerASN: 64600
  myASN: 64512
%s`

const advertisement = `
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata:
  name: onp-bgp-advertisement
  namespace: metallb-system
spec:
  ipAddressPools: [onp-bgp-pool]
%s`

// bfdProfile is a BFD profile with FRR's default intervals.
const bfdProfile = `
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3}
---`

func peer(addr string, peerASN int, extra string) string {
	return fmt.Sprintf(bgpPeer, addr, peerASN, extra)
}

// wireEvidence is what the diagnosis must also show (within the same
// deadline) for faults that the wire or a NOTIFICATION proves: the
// configuration names them at once, the NOTIFICATION follows once the
// speaker tries again (gobgp waits 5 s after a session drop).
var wireEvidence = map[string]string{
	"as-mismatch-router":  "NOTIFICATION received 2/2 OPEN Message Error / Bad Peer AS",
	"as-mismatch-speaker": "NOTIFICATION sent 2/2 OPEN Message Error / Bad Peer AS",
	"router-id-clash":     "2/3 OPEN Message Error / Bad BGP Identifier (data",
	"hold-time":           "takes effect at the next OPEN",
	"admin-shutdown":      "NOTIFICATION received 6/2 Cease / Administrative Shutdown",
	"md5-mismatch":        "with a TCP-MD5 signature",
	"ebgp-multihop":       "with TTL 1",
	"no-neighbor":         "closes them at once",
}

// TestFault injects each fault of issue 6 into a running reference lab and
// asserts that the diagnosis names it, and nothing else, within 15 s.
func TestFault(t *testing.T) {
	cases := []struct {
		name, cause, variant string
		inject               func(f *faultLab)
		prepare              func(f *faultLab)
	}{
		{"as-mismatch-router", diagnose.CauseASMismatch, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 remote-as 64513")
		}, nil},
		{"as-mismatch-speaker", diagnose.CauseASMismatch, "", func(f *faultLab) {
			f.apply(peer("192.168.126.3", 64513, ""))
		}, nil},
		{"router-id-clash", diagnose.CauseRouterIDClash, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 parameters router-id 192.168.126.2")
		}, nil},
		{"hold-time", diagnose.CauseHoldTime, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 parameters minimum-holdtime 120")
		}, nil},
		{"wrong-peer-address", diagnose.CauseWrongPeerAddress, "", func(f *faultLab) {
			f.apply(peer("192.168.126.99", 64512, ""))
		}, nil},
		{"wrong-neighbor-address", diagnose.CauseWrongNeighborAddress, "", func(f *faultLab) {
			f.router("delete protocols bgp 64512 neighbor 192.168.126.2",
				"set protocols bgp 64512 neighbor 192.168.126.99 remote-as 64512",
				"set protocols bgp 64512 neighbor 192.168.126.99 address-family ipv4-unicast")
		}, nil},
		{"no-neighbor", diagnose.CauseNoNeighbor, "", func(f *faultLab) {
			f.router("delete protocols bgp 64512 neighbor 192.168.126.2")
		}, nil},
		{"tcp-dropped-node", diagnose.CauseTCPDropped, "", func(f *faultLab) {
			if err := f.env.Faults().Block(context.Background(), "sno4", "tcp", 179, true); err != nil {
				f.t.Fatal(err)
			}
		}, nil},
		{"tcp-dropped-router", diagnose.CauseTCPDropped, "", func(f *faultLab) {
			if err := f.env.Faults().Block(context.Background(), "vyos", "tcp", 179, true); err != nil {
				f.t.Fatal(err)
			}
		}, nil},
		{"tcp-rejected", diagnose.CauseTCPRejected, "", func(f *faultLab) {
			if err := f.env.Faults().(scenarios.Rejecter).Reject(context.Background(), "vyos", "tcp", 179); err != nil {
				f.t.Fatal(err)
			}
		}, nil},
		{"md5-mismatch", diagnose.CauseMD5Mismatch, "", func(f *faultLab) {
			f.apply(peer("192.168.126.3", 64512, "  password: speaker-secret\n"))
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 password router-secret")
		}, nil},
		{"md5-one-side", diagnose.CauseMD5OneSide, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 password router-secret")
		}, nil},
		{"admin-shutdown", diagnose.CauseAdminShutdown, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 shutdown")
		}, nil},
		{"afi-not-activated-vyos14", diagnose.CauseAFINotActivated, "vyos14", func(f *faultLab) {
			f.router("delete protocols bgp neighbor 192.168.126.2 address-family")
		}, nil},
		{"ebgp-multihop", diagnose.CauseEBGPMultiHop, "multihop", func(f *faultLab) {
			f.apply(fmt.Sprintf(r2Peer, ""))
		}, func(f *faultLab) {
			f.apply(fmt.Sprintf(r2Peer, "  ebgpMultiHop: true\n"))
		}},
		{"no-advertisement", diagnose.CauseNoAdvertisement, "", func(f *faultLab) {
			f.delete("BGPAdvertisement", "metallb-system", "onp-bgp-advertisement")
		}, nil},
		{"peer-node-selector", diagnose.CauseSelectorExcludes, "", func(f *faultLab) {
			f.apply(peer("192.168.126.3", 64512, "  nodeSelectors:\n  - matchLabels:\n      kubernetes.io/hostname: worker-0\n"))
		}, nil},
		{"advertisement-peers", diagnose.CauseSelectorExcludes, "", func(f *faultLab) {
			f.apply(fmt.Sprintf(advertisement, "  peers: [other-router]\n"))
		}, nil},
		{"advertisement-node-selector", diagnose.CauseSelectorExcludes, "", func(f *faultLab) {
			f.apply(fmt.Sprintf(advertisement, "  nodeSelectors:\n  - matchLabels:\n      kubernetes.io/hostname: worker-0\n"))
		}, nil},
		{"no-endpoints", diagnose.CauseNoEndpoints, "", func(f *faultLab) {
			f.delete("Pod", "onp-metallb", "echoserver")
		}, nil},
		{"bfd-speaker-only", diagnose.CauseBFDOneSide, "", func(f *faultLab) {
			f.apply(bfdProfile + peer("192.168.126.3", 64512, "  bfdProfile: fast\n"))
		}, nil},
		{"bfd-router-only", diagnose.CauseBFDOneSide, "", func(f *faultLab) {
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 bfd")
		}, nil},
		{"bfd-dropped", diagnose.CauseBFDDropped, "", func(f *faultLab) {
			if err := f.env.Faults().Block(context.Background(), "vyos", "udp", 3784, true); err != nil {
				f.t.Fatal(err)
			}
		}, func(f *faultLab) {
			f.apply(bfdProfile + peer("192.168.126.3", 64512, "  bfdProfile: fast\n"))
			f.router("set protocols bgp 64512 neighbor 192.168.126.2 bfd")
		}},
		{"return-path", diagnose.CauseReturnPath, "", func(f *faultLab) {
			if err := f.env.Faults().(scenarios.RouteFaults).Route(context.Background(), "sno4", netip.MustParsePrefix("192.168.100.0/24"), netip.MustParseAddr("192.168.126.3"), false); err != nil {
				f.t.Fatal(err)
			}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startLab(t, tc.variant, tc.prepare)
			start := time.Now()
			tc.inject(f)
			f.expect(tc.cause, start, wireEvidence[tc.name])
		})
	}
	t.Cleanup(func() {
		timesMu.Lock()
		defer timesMu.Unlock()
		for k, v := range times {
			t.Logf("time to diagnosis: %-60s %.1f s", k, v.Seconds())
		}
	})
}

// A healthy lab is reported healthy, with evidence.
func TestHealthy(t *testing.T) {
	f := startLab(t, "", nil)
	rep, err := diagnose.Run(context.Background(), f.env, diagnose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || len(rep.Findings) != 0 {
		t.Fatalf("a healthy lab: %v\n%s", rep.Causes(), text(rep))
	}
	all := strings.Join(rep.HealthyEvidence, "\n")
	for _, want := range []string{"Established", "10.0.0.10/32", "HTTP 200", "no rule on any node touches TCP port 179", "capture"} {
		if !strings.Contains(all, want) {
			t.Errorf("healthy evidence lacks %q:\n%s", want, all)
		}
	}
	if *record {
		writeEvidence(t, "healthy", rep)
	}
	t.Logf("\n%s", text(rep))
}
