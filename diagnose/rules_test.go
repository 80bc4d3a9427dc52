package diagnose_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/scenarios/spec"
)

func loadEvidence(t *testing.T, name string) *diagnose.Evidence {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatalf("%v (record it: go test -run 'TestFault|TestHealthy' -record)", err)
	}
	var ev diagnose.Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// The rules name each fault from evidence recorded in a real lab (go test
// -run 'TestFault|TestHealthy' -record rewrites it), and only that fault,
// with a fix, evidence and (for session faults) the rule of thumb.
func TestRulesOnRecordedEvidence(t *testing.T) {
	cases := []struct {
		file, cause, where string
		evidence           []string // substrings the evidence must contain
		thumb              string   // the rule of thumb's state, "" for none
	}{
		{"TestHealthy", diagnose.CauseHealthy, "", nil, ""},
		{"as-mismatch-router", diagnose.CauseASMismatch, "vyos", []string{"remote-as 64513", "myASN 64512"}, "Idle"},
		{"as-mismatch-speaker", diagnose.CauseASMismatch, "sno4", []string{"peerASN 64513", "router bgp 64512"}, "Idle"},
		{"router-id-clash", diagnose.CauseRouterIDClash, "vyos", []string{"router-id 192.168.126.2", "BGP identifier (router-id) 192.168.126.2"}, "Idle"},
		{"hold-time", diagnose.CauseHoldTime, "vyos", []string{"bgp minimum-holdtime 120", "hold time 1m30s"}, "Idle"},
		{"wrong-peer-address", diagnose.CauseWrongPeerAddress, "sno4", []string{"peerAddress 192.168.126.99"}, "Active"},
		{"wrong-neighbor-address", diagnose.CauseWrongNeighborAddress, "vyos", []string{"neighbor 192.168.126.99", "no neighbor for sno4"}, "Active"},
		{"no-neighbor", diagnose.CauseNoNeighbor, "vyos", []string{"0 neighbors, none for sno4"}, "Active"},
		{"tcp-dropped-node", diagnose.CauseTCPDropped, "sno4", []string{"sno4 nftables: inet onp_faults", "th dport 179", "drop"}, "Connect"},
		{"tcp-dropped-router", diagnose.CauseTCPDropped, "vyos", []string{"vyos nftables: inet onp_faults", "drop"}, "Connect"},
		{"tcp-rejected", diagnose.CauseTCPRejected, "vyos", []string{"reject with tcp reset", "refused"}, "Active"},
		{"md5-mismatch", diagnose.CauseMD5Mismatch, "", []string{"has a password (sha256", "spec.password"}, "Active"},
		{"md5-one-side", diagnose.CauseMD5OneSide, "vyos", []string{"has no password", "neighbor 192.168.126.2 has a password"}, "Active"},
		{"admin-shutdown", diagnose.CauseAdminShutdown, "vyos", []string{"adminShutDown true", "Idle (Admin)"}, "Idle"},
		{"afi-not-activated-vyos14", diagnose.CauseAFINotActivated, "vyos", []string{"activated in no address family", "no bgp default ipv4-unicast"}, "Established"},
		{"ebgp-multihop", diagnose.CauseEBGPMultiHop, "sno4", []string{"ebgpMultiHop false", "via 192.168.126.3"}, "Active"},
		{"no-advertisement", diagnose.CauseNoAdvertisement, "sno4", []string{"covered by no BGPAdvertisement", "no route to 10.0.0.10"}, ""},
		{"peer-node-selector", diagnose.CauseSelectorExcludes, "sno4", []string{"filteredByNodeSelector", "kubernetes.io/hostname=worker-0"}, ""},
		{"advertisement-node-selector", diagnose.CauseSelectorExcludes, "sno4", []string{"nodeSelectors kubernetes.io/hostname=worker-0"}, ""},
		{"advertisement-peers", diagnose.CauseSelectorExcludes, "sno4", []string{"peers other-router"}, ""},
		{"no-endpoints", diagnose.CauseNoEndpoints, "sno4", []string{"0 pods, 0 ready endpoints", "noEndpoints"}, ""},
		{"bfd-speaker-only", diagnose.CauseBFDOneSide, "vyos", []string{"(profile fast): Down; no BFD packet from the peer yet", "no BFD (no \"neighbor 192.168.126.2 bfd\")", "Established"}, ""},
		{"bfd-router-only", diagnose.CauseBFDOneSide, "sno4", []string{"has no bfdProfile", "BFD Down (single hop"}, ""},
		{"bfd-dropped", diagnose.CauseBFDDropped, "vyos", []string{"vyos nftables: inet onp_faults", "3784", "BFD session down (Control Detection Time Expired)"}, ""},
		{"return-path", diagnose.CauseReturnPath, "sno4", []string{"no route to 192.168.100.10", "HTTP 200", "10.0.0.10/32 via 192.168.126.2"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ev := loadEvidence(t, tc.file)
			rep := diagnose.Diagnose(ev, "")
			if got := rep.Causes(); !slices.Equal(got, []string{tc.cause}) {
				t.Fatalf("causes %v, want [%s]", got, tc.cause)
			}
			if tc.cause == diagnose.CauseHealthy {
				if !rep.Healthy || len(rep.HealthyEvidence) == 0 {
					t.Fatalf("healthy report without evidence: %+v", rep)
				}
				return
			}
			f := rep.Findings[0]
			if f.Where != tc.where || f.Summary == "" || len(f.Fix) == 0 || f.Title == "" {
				t.Errorf("finding: where %q (want %q), summary %q, fix %q, title %q", f.Where, tc.where, f.Summary, f.Fix, f.Title)
			}
			all := strings.Join(f.Evidence, "\n")
			for _, want := range tc.evidence {
				if !strings.Contains(all, want) {
					t.Errorf("evidence lacks %q:\n%s", want, all)
				}
			}
			switch {
			case tc.thumb == "" && f.Thumb != nil:
				t.Errorf("rule of thumb for a service fault: %+v", f.Thumb)
			case tc.thumb != "" && (f.Thumb == nil || f.Thumb.State != tc.thumb || f.Thumb.Says == "" || len(f.Thumb.Observed) == 0):
				t.Errorf("rule of thumb: %+v, want state %s", f.Thumb, tc.thumb)
			}
			for _, l := range append(append([]string{f.Summary}, f.Fix...), f.Evidence...) {
				if strings.Contains(l, "secret") {
					t.Errorf("a password leaks: %s", l)
				}
			}
		})
	}
}

// gobgp never reports Connect: for a firewall that drops 179 on the node,
// the rule of thumb (Connect) is followed by FRR, not by the speaker.
func TestThumbConnectIsFRROnly(t *testing.T) {
	ev := loadEvidence(t, "tcp-dropped-node")
	f := diagnose.Diagnose(ev, "").Findings[0]
	if f.Thumb == nil || !strings.Contains(f.Thumb.Here, "Connect") {
		t.Fatalf("thumb: %+v", f.Thumb)
	}
}

// The peer filter narrows the sessions; a filter that matches nothing is
// said so.
func TestPeerFilter(t *testing.T) {
	ev := loadEvidence(t, "ebgp-multihop")
	rep := diagnose.Diagnose(ev, "r2")
	if len(rep.Sessions) != 1 || rep.Sessions[0].Router != "r2" || !rep.Has(diagnose.CauseEBGPMultiHop) {
		t.Fatalf("--peer r2: %+v", rep.Sessions)
	}
	rep = diagnose.Diagnose(ev, "vyos")
	if len(rep.Sessions) != 1 || rep.Has(diagnose.CauseEBGPMultiHop) {
		t.Fatalf("--peer vyos: %+v %v", rep.Sessions, rep.Causes())
	}
	rep = diagnose.Diagnose(ev, "192.0.2.77")
	if len(rep.Sessions) != 0 || !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "no session has an end matching") }) {
		t.Fatalf("--peer nothing: %+v", rep)
	}
}

// Evidence survives a JSON round trip unchanged (rules see the same).
func TestEvidenceRoundTrip(t *testing.T) {
	ev := loadEvidence(t, "md5-mismatch")
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var ev2 diagnose.Evidence
	if err := json.Unmarshal(b, &ev2); err != nil {
		t.Fatal(err)
	}
	a, b2 := diagnose.Diagnose(ev, ""), diagnose.Diagnose(&ev2, "")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b2)
	if string(ja) != string(jb) {
		t.Fatalf("reports differ after a round trip")
	}
}

// Empty or broken evidence never panics and says what it lacks.
func TestRulesOnPartialEvidence(t *testing.T) {
	for _, name := range []string{"TestHealthy", "as-mismatch-router", "return-path", "ebgp-multihop"} {
		full := loadEvidence(t, name)
		for _, cut := range []func(*diagnose.Evidence){
			func(e *diagnose.Evidence) { e.Capture = nil },
			func(e *diagnose.Evidence) { e.Probes, e.DataPath = nil, nil },
			func(e *diagnose.Evidence) { e.Net = nil },
			func(e *diagnose.Evidence) { e.Routers = nil },
			func(e *diagnose.Evidence) { e.Speakers = nil },
			func(e *diagnose.Evidence) {
				for i := range e.Speakers {
					e.Speakers[i].Status, e.Speakers[i].Error = nil, "speaker status: no socket"
				}
			},
			func(e *diagnose.Evidence) {
				for i := range e.Routers {
					e.Routers[i].Neighbors, e.Routers[i].Config, e.Routers[i].Error = nil, nil, "router vyos does not answer"
				}
			},
			func(e *diagnose.Evidence) { *e = diagnose.Evidence{} },
		} {
			ev := loadEvidence(t, name)
			cut(ev)
			rep := diagnose.Diagnose(ev, "")
			if rep == nil {
				t.Fatal("nil report")
			}
		}
		_ = full
	}
	ev := loadEvidence(t, "as-mismatch-router")
	for i := range ev.Speakers {
		ev.Speakers[i].Status, ev.Speakers[i].Error = nil, "speaker status: no socket at /run/onp/x/sno4/speaker.sock"
	}
	if rep := diagnose.Diagnose(ev, ""); !rep.Has(diagnose.CauseSpeakerDown) {
		t.Errorf("speaker down: %v", rep.Causes())
	}
	ev = loadEvidence(t, "as-mismatch-router")
	for i := range ev.Routers {
		ev.Routers[i].Neighbors, ev.Routers[i].Config, ev.Routers[i].Error = nil, nil, "router vyos does not answer over SSH"
	}
	if rep := diagnose.Diagnose(ev, ""); !rep.Has(diagnose.CauseRouterDown) {
		t.Errorf("router down: %v", rep.Causes())
	}
}

// The check schema accepts exactly the causes the rules name.
func TestCausesMatchCheckSchema(t *testing.T) {
	var ids []string
	for _, c := range diagnose.Causes() {
		ids = append(ids, c.ID)
		if c.Title == "" {
			t.Errorf("cause %s has no title", c.ID)
		}
	}
	if !slices.Equal(ids, spec.DiagnosisCauses) {
		t.Errorf("diagnose.Causes() %v\nspec.DiagnosisCauses %v", ids, spec.DiagnosisCauses)
	}
}

func TestParseFRRConfig(t *testing.T) {
	rc := diagnose.ParseFRRConfig(`frr version 8.4.4
hostname vyos
!
router bgp 64512
 bgp router-id 192.168.126.3
 no bgp default ipv4-unicast
 bgp minimum-holdtime 120
 timers bgp 3 9
 neighbor 192.168.126.2 remote-as 64512
 neighbor 192.168.126.2 password s3cret word
 neighbor 192.168.126.2 timers 1 3
 neighbor 192.168.126.2 timers connect 1
 neighbor 192.168.126.4 remote-as 65004
 neighbor 192.168.126.4 shutdown
 neighbor 192.168.126.4 ebgp-multihop 2
 !
 address-family ipv4 unicast
  neighbor 192.168.126.4 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 192.168.126.2 activate
 exit-address-family
exit
!
ip route 10.0.0.0/8 blackhole
`)
	if rc.AS != 64512 || rc.RouterID != "192.168.126.3" || !rc.NoDefaultIPv4 || rc.MinimumHoldTime != 120 || rc.HoldTime != 9 || rc.Keepalive != 3 {
		t.Errorf("global: %+v", rc)
	}
	a, b := rc.Neighbors["192.168.126.2"], rc.Neighbors["192.168.126.4"]
	if a == nil || b == nil {
		t.Fatalf("neighbors: %+v", rc.Neighbors)
	}
	if a.RemoteAS != "64512" || !a.Password.Set || a.Password.Fingerprint == "" || a.HoldTime != 3 || a.IPv4Unicast || !slices.Equal(a.Families, []string{"ipv6 unicast"}) {
		t.Errorf("192.168.126.2: %+v", a)
	}
	if !b.Shutdown || b.EBGPMultihop != 2 || !b.IPv4Unicast {
		t.Errorf("192.168.126.4: %+v", b)
	}
	for _, l := range rc.Lines {
		if strings.Contains(l, "s3cret") {
			t.Errorf("password kept: %s", l)
		}
	}
	// FRR's default activates IPv4 unicast unless told otherwise.
	rc = diagnose.ParseFRRConfig("router bgp 1\n neighbor 10.0.0.1 remote-as 2\nexit\n")
	if n := rc.Neighbors["10.0.0.1"]; n == nil || !n.IPv4Unicast {
		t.Errorf("default activation: %+v", n)
	}
}

// Without a firewall rule to point at (iptables-legacy, a filter in
// between), the probes and the wire still name the drop and where it is.
func TestTCPDropWithoutRule(t *testing.T) {
	for _, tc := range []struct{ file, where string }{{"tcp-dropped-node", "sno4"}, {"tcp-dropped-router", "vyos"}} {
		ev := loadEvidence(t, tc.file)
		for i := range ev.Net {
			ev.Net[i].Firewall = nil
		}
		rep := diagnose.Diagnose(ev, "")
		if got := rep.Causes(); !slices.Equal(got, []string{diagnose.CauseTCPDropped}) {
			t.Fatalf("%s: %v", tc.file, got)
		}
		if f := rep.Findings[0]; f.Where != tc.where {
			t.Errorf("%s: where %q, want %q\n%s", tc.file, f.Where, tc.where, strings.Join(f.Evidence, "\n"))
		}
	}
}

// Both ends run BFD and it is down without a firewall to blame (a lossy
// link, single hop on one end and multihop on the other): "bfd-down".
func TestBFDDownWithoutFirewall(t *testing.T) {
	ev := loadEvidence(t, "bfd-dropped")
	for i := range ev.Net {
		ev.Net[i].Firewall = nil
	}
	rep := diagnose.Diagnose(ev, "")
	if got := rep.Causes(); !slices.Equal(got, []string{diagnose.CauseBFDDown}) {
		t.Fatalf("causes %v, want [%s]", got, diagnose.CauseBFDDown)
	}
	f := rep.Findings[0]
	if !strings.Contains(f.Summary, "not Up (speaker Down, vyos Down)") || len(f.Fix) == 0 || !strings.Contains(f.Fix[0], "UDP 3784") {
		t.Fatalf("finding %+v", f)
	}
}

// onp bgp's BFD column: each end's BFD state, empty where it runs none.
func TestSessionEndsCarryBFD(t *testing.T) {
	for _, tc := range []struct{ file, speaker, router string }{
		{"TestHealthy", "", ""},
		{"bfd-speaker-only", "Down", ""},
		{"bfd-router-only", "", "Down"},
	} {
		ss := diagnose.SessionsOf(loadEvidence(t, tc.file), "")
		if len(ss) != 1 || len(ss[0].Ends) != 2 {
			t.Fatalf("%s: sessions %+v", tc.file, ss)
		}
		if sp, rt := ss[0].Ends[0], ss[0].Ends[1]; sp.BFD != tc.speaker || rt.BFD != tc.router {
			t.Errorf("%s: BFD speaker %q router %q, want %q %q", tc.file, sp.BFD, rt.BFD, tc.speaker, tc.router)
		}
	}
}
