package bgp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
)

// eventLog collects a manager's events.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *eventLog) find(f func(Event) bool) (Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.ev {
		if f(ev) {
			return ev, true
		}
	}
	return Event{}, false
}

func newTestManager(t *testing.T) (*Manager, *eventLog) {
	ev := &eventLog{}
	m := NewManager(Options{Logger: testLogger(t, slog.LevelDebug), OnEvent: ev.add})
	t.Cleanup(func() { m.Close() })
	return m, ev
}

func waitState(t testing.TB, s *Session, want FSMState, timeout time.Duration) Status {
	t.Helper()
	var st Status
	testutil.Eventually(t, timeout, 50*time.Millisecond, func() error {
		st = s.Status()
		if st.State != want {
			return fmt.Errorf("session %s is %s, want %s (last error: %s)", st.Name, st.State, want, st.LastError)
		}
		return nil
	})
	return st
}

func TestFRRiBGPAdvertise(t *testing.T) {
	l := newLab(t)
	f := startFRR(t, l.router, frrBGPConf(l, 64512, 64512), "")
	m, ev := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "ibgp", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	st := waitState(t, s, StateEstablished, 15*time.Second)
	n := f.waitEstablished(t, l.nodeIP, 5*time.Second)
	if st.RouterID != l.nodeIP.String() || st.RemoteRouterID != l.routerIP.String() || !st.IBGP {
		t.Fatalf("status %+v", st)
	}
	if _, ok := ev.find(func(e Event) bool { return e.Type == EventSessionUp && e.Session == "ibgp" }); !ok {
		t.Fatal("no sessionUp event")
	}

	advs := []Advertisement{
		{Prefix: netip.MustParsePrefix("10.0.0.10/32"), LocalPref: 150,
			Communities: []Community{NewCommunity(65535, 65282)}, LargeCommunities: []LargeCommunity{{1, 2, 3}}},
		{Prefix: netip.MustParsePrefix("10.0.0.11/32")},
		{Prefix: netip.MustParsePrefix("10.0.0.12/32"), Communities: []Community{NewCommunity(64512, 2)}},
		{Prefix: netip.MustParsePrefix("10.0.0.12/32"), Communities: []Community{NewCommunity(64512, 1), NewCommunity(64512, 2)}},
	}
	if err := s.Set(advs...); err != nil {
		t.Fatal(err)
	}
	var p10, p11, p12 frrPath
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		for _, x := range []struct {
			pfx string
			out *frrPath
		}{{"10.0.0.10/32", &p10}, {"10.0.0.11/32", &p11}, {"10.0.0.12/32", &p12}} {
			paths, err := f.route(x.pfx)
			if err != nil {
				return err
			}
			if len(paths) != 1 {
				return fmt.Errorf("%s: %d paths", x.pfx, len(paths))
			}
			*x.out = paths[0]
		}
		return nil
	})
	check := func(name string, p frrPath, locPrf int, comm, large string) {
		t.Helper()
		if len(p.Nexthops) != 1 || p.Nexthops[0].IP != l.nodeIP.String() {
			t.Errorf("%s: next hops %+v, want %s", name, p.Nexthops, l.nodeIP)
		}
		if p.Origin != "IGP" {
			t.Errorf("%s: origin %q, want IGP", name, p.Origin)
		}
		if p.LocPrf == nil || *p.LocPrf != locPrf {
			t.Errorf("%s: locPrf %v, want %d", name, p.LocPrf, locPrf)
		}
		if p.Aspath.String != "Local" {
			t.Errorf("%s: AS path %q, want empty (Local) on iBGP", name, p.Aspath.String)
		}
		gotComm, gotLarge := "", ""
		if p.Community != nil {
			gotComm = p.Community.String
		}
		if p.LargeCommunity != nil {
			gotLarge = p.LargeCommunity.String
		}
		if gotComm != comm || gotLarge != large {
			t.Errorf("%s: communities %q large %q, want %q and %q", name, gotComm, gotLarge, comm, large)
		}
	}
	check("10.0.0.10/32", p10, 150, "no-advertise", "1:2:3")
	check("10.0.0.11/32 (localPref 0: router default)", p11, 100, "", "")
	check("10.0.0.12/32 (merged)", p12, 100, "64512:1 64512:2", "")

	// Withdraw one, change another; the session stays up.
	advs[0].Communities = nil
	if err := s.Set(advs[0], advs[2]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		paths, err := f.route("10.0.0.11/32")
		if err == nil && len(paths) > 0 {
			return fmt.Errorf("10.0.0.11/32 still there")
		}
		paths, err = f.route("10.0.0.10/32")
		if err != nil || len(paths) != 1 {
			return fmt.Errorf("10.0.0.10/32: %v %v", paths, err)
		}
		if paths[0].Community != nil {
			return fmt.Errorf("10.0.0.10/32 still has community %s", paths[0].Community.String)
		}
		return nil
	})
	n2, err := f.neighbor(l.nodeIP)
	if err != nil {
		t.Fatal(err)
	}
	if n2.ConnectionsDropped != n.ConnectionsDropped || n2.ConnectionsEstablished != n.ConnectionsEstablished || n2.BgpState != "Established" {
		t.Fatalf("Set disturbed the session: before %+v, after %+v", n, n2)
	}
	st = s.Status()
	if st.PrefixesAdvertised != 2 || st.PrefixesDesired != 2 || st.Sent.Update < 3 || st.NegotiatedHoldTime != 90*time.Second {
		t.Fatalf("status after withdraw: %+v", st)
	}
	var metrics strings.Builder
	if err := m.WriteMetrics(&metrics); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`metallb_bgp_session_up{peer="%s:179"} 1`, l.routerIP),
		fmt.Sprintf(`metallb_bgp_announced_prefixes_total{peer="%s:179"} 2`, l.routerIP),
		fmt.Sprintf(`metallb_bgp_opens_sent{peer="%s:179"} 1`, l.routerIP),
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics.String())
		}
	}
}

func TestFRReBGPAdvertise(t *testing.T) {
	l := newLab(t)
	f := startFRR(t, l.router, frrBGPConf(l, 64513, 64512), "")
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "ebgp", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64513, HoldTime: 9 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("10.0.1.0/24"), LocalPref: 300, Communities: []Community{NewCommunity(64512, 7)}}); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, s, StateEstablished, 15*time.Second)
	if st.IBGP || st.NegotiatedHoldTime != 9*time.Second || st.KeepaliveInterval != 3*time.Second {
		t.Fatalf("status %+v", st)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		paths, err := f.route("10.0.1.0/24")
		if err != nil || len(paths) != 1 {
			return fmt.Errorf("paths %v, %v", paths, err)
		}
		p := paths[0]
		if p.Aspath.String != "64512" || p.Origin != "IGP" || len(p.Nexthops) != 1 || p.Nexthops[0].IP != l.nodeIP.String() {
			return fmt.Errorf("path %+v", p)
		}
		if p.LocPrf != nil {
			return fmt.Errorf("LOCAL_PREF %d reached an eBGP peer", *p.LocPrf)
		}
		if p.Community == nil || p.Community.String != "64512:7" {
			return fmt.Errorf("community %+v", p.Community)
		}
		return nil
	})
}

func TestFRRMD5(t *testing.T) {
	l := newLab(t)
	f := startFRR(t, l.router, frrBGPConf(l, 64512, 64512, "password s3cret-Pw"), "")
	m, _ := newTestManager(t)
	bad, err := m.NewSession(SessionParameters{Name: "md5-bad", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512, Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	// A mismatching key: the router's kernel drops our SYNs, nothing comes up.
	err = testutil.Poll(6*time.Second, 200*time.Millisecond, func() error {
		if st := bad.Status(); st.State == StateEstablished || st.State == StateOpenSent {
			return nil
		}
		return fmt.Errorf("not up")
	})
	if err == nil {
		t.Fatalf("session with a wrong MD5 key got to %s", bad.Status().State)
	}
	if st := bad.Status(); !strings.Contains(st.LastError, "connect") {
		t.Errorf("last error %q does not explain the failed connects", st.LastError)
	}
	if n, _ := f.neighbor(l.nodeIP); n.BgpState == "Established" {
		t.Fatal("FRR is Established with a wrong key")
	}
	// The right key, applied live to the same session.
	p := bad.Parameters()
	p.Password = "s3cret-Pw"
	if err := bad.Update(p); err != nil {
		t.Fatal(err)
	}
	waitState(t, bad, StateEstablished, 15*time.Second)
	f.waitEstablished(t, l.nodeIP, 5*time.Second)
}

func TestFRRNotificationNamed(t *testing.T) {
	l := newLab(t)
	// The router expects AS 64999; we are 64512: FRR answers our OPEN with
	// 2/2 Bad Peer AS.
	f := startFRR(t, l.router, frrBGPConf(l, 64512, 64999), "")
	m, ev := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "wrongas", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		st := s.Status()
		n := st.LastNotificationReceived
		if n == nil {
			return fmt.Errorf("no notification yet; state %s, last error %q", st.State, st.LastError)
		}
		if n.Code != 2 || n.Subcode != 2 || n.CodeName() != "OPEN Message Error" || n.SubcodeName() != "Bad Peer AS" {
			return fmt.Errorf("notification %v", n)
		}
		if !strings.Contains(st.LastError, "2/2 OPEN Message Error / Bad Peer AS") {
			return fmt.Errorf("last error %q", st.LastError)
		}
		if st.Received.Notification == 0 {
			return fmt.Errorf("notification not counted: %+v", st.Received)
		}
		return nil
	})
	if e, ok := ev.find(func(e Event) bool {
		return e.Type == EventPeerNotification && e.Notification != nil && !e.Notification.Sent
	}); !ok {
		t.Fatal("no peerNotification event")
	} else if e.Notification.String() != "2/2 OPEN Message Error / Bad Peer AS" {
		t.Fatalf("event notification %q", e.Notification)
	}

	// Fix the router, then de-configure the neighbor: Cease / Peer
	// De-configured (6/3) takes the session down, and sessionDown says so.
	if _, err := f.vtysh("configure terminal", "router bgp 64512", fmt.Sprintf("neighbor %s remote-as 64512", l.nodeIP)); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 20*time.Second)
	if _, err := f.vtysh("configure terminal", "router bgp 64512", fmt.Sprintf("no neighbor %s", l.nodeIP)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		e, ok := ev.find(func(e Event) bool { return e.Type == EventSessionDown && e.Session == "wrongas" })
		if !ok {
			return fmt.Errorf("no sessionDown yet")
		}
		if !strings.Contains(e.Reason, "6/3 Cease / Peer De-configured") {
			return fmt.Errorf("sessionDown reason %q", e.Reason)
		}
		return nil
	})
	st := s.Status()
	if n := st.LastNotificationReceived; n == nil || n.String() != "6/3 Cease / Peer De-configured" {
		t.Fatalf("last notification received %v", n)
	}
	i := slices.IndexFunc(st.History, func(tr Transition) bool { return tr.From == StateEstablished })
	if i < 0 || !strings.Contains(st.History[i].Reason, "Peer De-configured") {
		t.Fatalf("history %+v", st.History)
	}
}
