package bgp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/bfd"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"golang.org/x/net/bpf"
)

// fakeBackend records what the session asks of it.
type fakeBackend struct {
	cfg     backendConfig
	mu      sync.Mutex
	ops     []string
	started bool
	stopped bool
	admin   bool
	state   backendState
}

type fakeFactory struct {
	mu       sync.Mutex
	backends []*fakeBackend
}

func (f *fakeFactory) new(cfg backendConfig) backend {
	b := &fakeBackend{cfg: cfg}
	f.mu.Lock()
	f.backends = append(f.backends, b)
	f.mu.Unlock()
	return b
}

func (f *fakeFactory) last(t *testing.T) *fakeBackend {
	t.Helper()
	var b *fakeBackend
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.backends) == 0 {
			return fmt.Errorf("no backend yet")
		}
		b = f.backends[len(f.backends)-1]
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.started {
			return fmt.Errorf("backend not started")
		}
		return nil
	})
	return b
}

func (b *fakeBackend) record(op string) {
	b.mu.Lock()
	b.ops = append(b.ops, op)
	b.mu.Unlock()
}

// takeOps returns and clears the recorded operations.
func (b *fakeBackend) takeOps() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ops := b.ops
	b.ops = nil
	return ops
}

func (b *fakeBackend) start(ctx context.Context) error {
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	return nil
}

func advString(a Advertisement) string {
	s := a.Prefix.String()
	if a.LocalPref != 0 {
		s += fmt.Sprintf(" lp=%d", a.LocalPref)
	}
	for _, c := range a.Communities {
		s += " " + c.String()
	}
	for _, c := range a.LargeCommunities {
		s += " " + c.String()
	}
	return s
}

func (b *fakeBackend) announce(ctx context.Context, a Advertisement) error {
	b.record("announce " + advString(a))
	return nil
}

func (b *fakeBackend) withdraw(ctx context.Context, a Advertisement) error {
	b.record("withdraw " + a.Prefix.String())
	return nil
}

func (b *fakeBackend) setAdminDown(ctx context.Context, down bool, reason string) error {
	b.record(fmt.Sprintf("admin-down=%v", down))
	b.mu.Lock()
	b.admin = down
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) reset(ctx context.Context, reason string) error {
	b.record("reset")
	return nil
}

func (b *fakeBackend) snapshot(ctx context.Context) (backendState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, nil
}

func (b *fakeBackend) stop(ctx context.Context) error {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	return nil
}

func newFakeManager(t *testing.T) (*Manager, *fakeFactory, *eventLog) {
	ev := &eventLog{}
	m := NewManager(Options{Logger: testLogger(t, slog.LevelDebug), OnEvent: ev.add})
	f := &fakeFactory{}
	m.newBackend = f.new
	m.sniff = false
	t.Cleanup(func() { m.Close() })
	return m, f, ev
}

// loopbackPeer is reachable through lo, so preflight finds a route.
var loopbackPeer = netip.MustParseAddr("127.0.0.2")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestSetSendsOnlyTheDifference(t *testing.T) {
	m, f, _ := newFakeManager(t)
	s, err := m.NewSession(SessionParameters{Name: "s", PeerAddress: loopbackPeer, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	// Set before the backend runs is kept and announced on start.
	if err := s.Set(Advertisement{Prefix: pfx("10.0.0.1/32")}); err != nil {
		t.Fatal(err)
	}
	b := f.last(t)
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.ops) == 0 {
			return fmt.Errorf("nothing announced yet")
		}
		return nil
	})
	if got := b.takeOps(); !slices.Equal(got, []string{"announce 10.0.0.1/32"}) {
		t.Fatalf("ops %q", got)
	}
	if b.cfg.routerID != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("router ID %s, want the route's source address", b.cfg.routerID)
	}

	for _, c := range []struct {
		name string
		advs []Advertisement
		want []string
	}{
		{"duplicates merge", []Advertisement{
			{Prefix: pfx("10.0.0.1/32")},
			{Prefix: pfx("10.0.0.2/32"), LocalPref: 50, Communities: []Community{NewCommunity(2, 2), NewCommunity(1, 1)}},
			{Prefix: pfx("10.0.0.2/32"), Communities: []Community{NewCommunity(1, 1), NewCommunity(3, 3)}, LargeCommunities: []LargeCommunity{{5, 6, 7}}},
		}, []string{"announce 10.0.0.2/32 lp=50 1:1 2:2 3:3 large:5:6:7"}},
		{"same again: nothing", []Advertisement{
			{Prefix: pfx("10.0.0.2/32"), Communities: []Community{NewCommunity(3, 3), NewCommunity(1, 1), NewCommunity(2, 2)}, LocalPref: 50, LargeCommunities: []LargeCommunity{{5, 6, 7}}},
			{Prefix: pfx("10.0.0.1/32")},
		}, nil},
		{"change, add, withdraw", []Advertisement{
			{Prefix: pfx("10.0.0.2/32"), LocalPref: 60},
			{Prefix: pfx("10.1.0.0/24")},
		}, []string{"announce 10.0.0.2/32 lp=60", "announce 10.1.0.0/24", "withdraw 10.0.0.1/32"}},
		{"empty withdraws all", nil, []string{"withdraw 10.0.0.2/32", "withdraw 10.1.0.0/24"}},
	} {
		if err := s.Set(c.advs...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := b.takeOps(); !slices.Equal(got, c.want) {
			t.Fatalf("%s: ops %q, want %q", c.name, got, c.want)
		}
	}

	for _, c := range []struct {
		adv  Advertisement
		want string
	}{
		{Advertisement{Prefix: pfx("10.0.0.1/24")}, "host bits set: advertise 10.0.0.0/24"},
		{Advertisement{Prefix: pfx("fd00::/64")}, "cannot be advertised over this IPv4 session"},
		{Advertisement{}, "invalid prefix"},
	} {
		if err := s.Set(c.adv); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%v): %v, want %q", c.adv.Prefix, err, c.want)
		}
	}
	if got := b.takeOps(); len(got) != 0 {
		t.Fatalf("a rejected Set changed paths: %q", got)
	}
}

func TestUpdateRecreatesOnlyOnBGPChanges(t *testing.T) {
	m, f, _ := newFakeManager(t)
	p := SessionParameters{Name: "s", PeerAddress: loopbackPeer, MyASN: 64512, PeerASN: 64512}
	s, err := m.NewSession(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: pfx("10.0.0.1/32")}); err != nil {
		t.Fatal(err)
	}
	b1 := f.last(t)
	if err := s.Update(p); err != nil {
		t.Fatal(err)
	}
	p.HoldTime = 30 * time.Second
	if err := s.Update(p); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.backends) != 2 {
			return fmt.Errorf("%d backends", len(f.backends))
		}
		return nil
	})
	b2 := f.last(t)
	if !b1.stopped || b2.stopped || b2.cfg.params.HoldTime != 30*time.Second || b2.cfg.params.KeepaliveTime != 10*time.Second {
		t.Fatalf("old stopped %v, new stopped %v, new params %+v", b1.stopped, b2.stopped, b2.cfg.params)
	}
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		if ops := b2.takeOps(); !slices.Equal(ops, []string{"announce 10.0.0.1/32"}) {
			return fmt.Errorf("new backend ops %q", ops)
		}
		return nil
	})
	if err := s.Update(SessionParameters{Name: "other", PeerAddress: loopbackPeer, MyASN: 1, PeerASN: 2}); err == nil {
		t.Fatal("rename accepted")
	}
	if _, err := m.NewSession(SessionParameters{Name: "s", PeerAddress: netip.MustParseAddr("127.0.0.3"), MyASN: 1, PeerASN: 2}); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if _, err := m.NewSession(SessionParameters{Name: "s2", PeerAddress: loopbackPeer, MyASN: 1, PeerASN: 2}); err == nil {
		t.Fatal("second session to the same peer accepted")
	}
}

func TestEventsStatusAndHistory(t *testing.T) {
	m, f, ev := newFakeManager(t)
	s, err := m.NewSession(SessionParameters{Name: "s", PeerAddress: loopbackPeer, MyASN: 64512, PeerASN: 64513})
	if err != nil {
		t.Fatal(err)
	}
	b := f.last(t)
	e := b.cfg.events
	e.stateChanged(StateActive, 0, "")
	e.tapped(tapRecord{fromName: "BGP_FSM_ACTIVE", toName: "BGP_FSM_OPENSENT", reason: "new-connection"})
	e.stateChanged(StateOpenSent, 0, "")
	e.stateChanged(StateOpenConfirm, 64513, "10.9.9.9")
	e.stateChanged(StateEstablished, 64513, "10.9.9.9")
	b.mu.Lock()
	b.state = backendState{state: StateEstablished, sent: MessageCount{Open: 1, Update: 3, Total: 4}, received: MessageCount{Open: 1, Keepalive: 2, Total: 3},
		negotiatedHoldTime: 9 * time.Second, keepaliveInterval: 3 * time.Second, advertised: 2, localAddress: "127.0.0.1:40000"}
	b.mu.Unlock()
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		if _, ok := ev.find(func(e Event) bool { return e.Type == EventSessionUp }); !ok {
			return fmt.Errorf("no sessionUp")
		}
		return nil
	})
	st := s.Status()
	if st.State != StateEstablished || st.RemoteRouterID != "10.9.9.9" || st.Uptime <= 0 || st.Downtime != 0 ||
		st.Sent.Update != 3 || st.PrefixesAdvertised != 2 || st.NegotiatedHoldTime != 9*time.Second || st.LocalAddress != "127.0.0.1:40000" {
		t.Fatalf("status %+v", st)
	}
	if len(st.History) != 4 || st.History[1].Reason != "new-connection" || st.History[0].From != StateIdle || st.History[3].To != StateEstablished {
		t.Fatalf("history %+v", st.History)
	}

	// The peer shuts the session down administratively.
	e.tapped(tapRecord{notification: &Notification{Code: 6, Subcode: 2, Communication: "maintenance", Time: time.Now()}})
	e.tapped(tapRecord{fromName: "BGP_FSM_ESTABLISHED", toName: "BGP_FSM_IDLE", reason: "notification-received cease-administrative-shutdown"})
	e.stateChanged(StateIdle, 64513, "")
	b.mu.Lock()
	b.state.state = StateIdle
	b.mu.Unlock()
	var down Event
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		var ok bool
		down, ok = ev.find(func(e Event) bool { return e.Type == EventSessionDown })
		if !ok {
			return fmt.Errorf("no sessionDown")
		}
		return nil
	})
	want := `notification received: 6/2 Cease / Administrative Shutdown ("maintenance")`
	if down.Reason != want {
		t.Fatalf("sessionDown reason %q, want %q", down.Reason, want)
	}
	st = s.Status()
	if st.LastNotificationReceived == nil || st.LastNotificationReceived.SubcodeName() != "Administrative Shutdown" ||
		st.Uptime != 0 || st.Downtime <= 0 || st.PrefixesAdvertised != 0 || !strings.Contains(st.LastError, want) {
		t.Fatalf("status after down %+v", st)
	}
	n, ok := ev.find(func(e Event) bool { return e.Type == EventPeerNotification })
	if !ok || n.Notification.Communication != "maintenance" {
		t.Fatalf("peerNotification event %+v", n)
	}
	// The same NOTIFICATION seen twice (gobgp's record and the sniffer) is
	// reported once.
	e.tapped(tapRecord{notification: &Notification{Code: 6, Subcode: 4, Time: time.Now()}})
	e.tapped(tapRecord{notification: &Notification{Code: 6, Subcode: 4, Time: time.Now()}})
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		c := 0
		for _, e := range ev.ev {
			if e.Type == EventPeerNotification {
				c++
			}
		}
		if c != 2 {
			return fmt.Errorf("%d peerNotification events, want 2", c)
		}
		return nil
	})

	// The history keeps the last 32 transitions.
	for i := 0; i < 40; i++ {
		e.stateChanged(StateActive, 0, "")
		e.stateChanged(StateIdle, 0, "")
	}
	testutil.Eventually(t, 2*time.Second, 5*time.Millisecond, func() error {
		if h := s.Status().History; len(h) != historySize || h[len(h)-1].To != StateIdle {
			return fmt.Errorf("history of %d", len(h))
		}
		return nil
	})
}

func TestBFDDrivesAdminState(t *testing.T) {
	m, f, _ := newFakeManager(t)
	s, err := m.NewSession(SessionParameters{Name: "s", PeerAddress: loopbackPeer, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	b := f.last(t)
	b.takeOps()
	up := bfd.StateChange{Old: bfd.StateInit, New: bfd.StateUp, Time: time.Now()}
	down := bfd.StateChange{Old: bfd.StateUp, New: bfd.StateDown, Diag: bfd.DiagControlDetectionExpired, RemoteState: bfd.StateDown, Time: time.Now()}
	adminDown := bfd.StateChange{Old: bfd.StateUp, New: bfd.StateDown, Diag: bfd.DiagNeighborSignaledDown, RemoteState: bfd.StateAdminDown}
	for _, c := range []struct {
		ch   bfd.StateChange
		want []string
	}{
		{up, nil},                           // never held: nothing to do
		{down, []string{"admin-down=true"}}, // RFC 5882: BFD down takes BGP down
		{down, nil},                         // already held
		{up, []string{"admin-down=false"}},  // and up again
		{adminDown, nil},                    // the peer's AdminDown is not a failure
		{bfd.StateChange{Old: bfd.StateDown, New: bfd.StateInit}, nil},
	} {
		s.onBFD(c.ch)
		if got := b.takeOps(); !slices.Equal(got, c.want) {
			t.Fatalf("%s→%s (remote %s): ops %q, want %q", c.ch.Old, c.ch.New, c.ch.RemoteState, got, c.want)
		}
	}
}

func TestLogAdapterNeverExits(t *testing.T) {
	var buf bytes.Buffer
	var taps []tapRecord
	a := &logAdapter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), tap: func(r tapRecord) { taps = append(taps, r) }}
	var l gobgplog.Logger = a
	l.Fatal("failed to listen grpc port", gobgplog.Fields{"Err": "boom"})
	l.Panic("unknown msg type", gobgplog.Fields{"Topic": "Peer"})
	if out := buf.String(); strings.Count(out, "level=ERROR") != 2 || strings.Count(out, "fatal=true") != 2 {
		t.Fatalf("fatal/panic records:\n%s", out)
	}
	if l.GetLevel() != gobgplog.DebugLevel {
		t.Fatal("the adapter must ask gobgp for debug records")
	}
	buf.Reset()
	l.Warn("received notification", gobgplog.Fields{"Topic": "Peer", "Key": "10.0.0.1", "Code": uint8(2), "Subcode": uint8(2), "Data": []byte{0xfd, 0xe8}})
	l.Warn("sent notification", gobgplog.Fields{"Topic": "Peer", "Key": "10.0.0.1", "Data": gobgp.NewMessageError(4, 0, nil, "hold timer expired")})
	l.Warn("received notification", gobgplog.Fields{"Code": uint8(6), "Subcode": uint8(2), "Communicated-Reason": "bye", "Data": []byte{}})
	l.Debug("state changed", gobgplog.Fields{"old": "BGP_FSM_ESTABLISHED", "new": "BGP_FSM_IDLE", "reason": "hold-timer-expired"})
	l.Debug("failed to connect", gobgplog.Fields{"Error": "dial tcp: i/o timeout"})
	if len(taps) != 5 {
		t.Fatalf("taps %+v", taps)
	}
	if n := taps[0].notification; n == nil || n.Sent || n.String() != "2/2 OPEN Message Error / Bad Peer AS" || !bytes.Equal(n.Data, []byte{0xfd, 0xe8}) {
		t.Fatalf("received %+v", taps[0].notification)
	}
	if n := taps[1].notification; n == nil || !n.Sent || n.String() != "4/0 Hold Timer Expired" {
		t.Fatalf("sent %+v", taps[1].notification)
	}
	if n := taps[2].notification; n == nil || n.Communication != "bye" {
		t.Fatalf("communication %+v", taps[2].notification)
	}
	if taps[3].toName != "BGP_FSM_IDLE" || taps[3].reason != "hold-timer-expired" || taps[4].dialError != "dial tcp: i/o timeout" {
		t.Fatalf("taps %+v", taps[3:])
	}
	// Notification records are logged by the session, so gobgp's go to Debug.
	if strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("notification records not demoted:\n%s", buf.String())
	}
}

func TestNotificationNames(t *testing.T) {
	for _, c := range []struct {
		code, sub uint8
		want      string
	}{
		{2, 2, "OPEN Message Error / Bad Peer AS"},
		{2, 3, "OPEN Message Error / Bad BGP Identifier"},
		{2, 6, "OPEN Message Error / Unacceptable Hold Time"},
		{6, 3, "Cease / Peer De-configured"},
		{6, 2, "Cease / Administrative Shutdown"},
		{6, 10, "Cease / BFD Down"},
		{4, 0, "Hold Timer Expired"},
		{1, 2, "Message Header Error / Bad Message Length"},
		{3, 11, "UPDATE Message Error / Malformed AS_PATH"},
		{5, 2, "Finite State Machine Error / Receive Unexpected Message in OpenConfirm State"},
		{6, 99, "Cease / Unknown Subcode 99"},
		{42, 1, "Unknown Error Code 42 / Unknown Subcode 1"},
	} {
		if got := NotificationName(c.code, c.sub); got != c.want {
			t.Errorf("%d/%d: %q, want %q", c.code, c.sub, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := SessionParameters{Name: "p", PeerAddress: netip.MustParseAddr("10.0.0.1"), MyASN: 64512, PeerASN: 64513}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*SessionParameters)
		want string
	}{
		{func(p *SessionParameters) { p.Name = "" }, "name: empty"},
		{func(p *SessionParameters) { p.PeerAddress = netip.Addr{} }, "peerAddress: missing"},
		{func(p *SessionParameters) { p.PeerAddress = netip.MustParseAddr("fe80::1%eth0") }, "has a zone"},
		{func(p *SessionParameters) { p.MyASN = 0 }, "missing local ASN"},
		{func(p *SessionParameters) { p.PeerASN = 0 }, "missing peer ASN and dynamicASN"},
		{func(p *SessionParameters) { p.DynamicASN = DynamicASNInternal }, "both peerASN and dynamicASN"},
		{func(p *SessionParameters) { p.PeerASN, p.DynamicASN = 0, "sideways" }, `"sideways" is neither`},
		{func(p *SessionParameters) { p.RouterID = netip.MustParseAddr("fd00::1") }, "routerID: fd00::1 is not an IPv4"},
		{func(p *SessionParameters) { p.SourceAddress = netip.MustParseAddr("fd00::1") }, "sourceAddress: fd00::1 is not of the peer address's family"},
		{func(p *SessionParameters) { p.HoldTime = 2 * time.Second }, "holdTime: 2s is below 3s"},
		{func(p *SessionParameters) { p.HoldTime = 3500 * time.Millisecond }, "not whole seconds"},
		{func(p *SessionParameters) { p.HoldTime = 10 * time.Second }, "keepalive of 3.333333333s"},
		{func(p *SessionParameters) { p.KeepaliveTime = 100 * time.Second }, "longer than the hold time"},
		{func(p *SessionParameters) { p.ConnectTime = 500 * time.Millisecond }, "connectTime: 500ms is out of range"},
		{func(p *SessionParameters) { p.Password = strings.Repeat("x", 81) }, "TCP MD5 key limit"},
		{func(p *SessionParameters) { p.PeerASN, p.EBGPMultiHop = 64512, true }, "invalid ebgp-multihop parameter set for an ibgp peer"},
		{func(p *SessionParameters) { p.BFD = &bfd.Profile{Name: "b", DetectMultiplier: 1} }, "bfdProfile"},
	} {
		p := ok
		c.mod(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bgp session") {
			t.Errorf("%+v: got %v, want %q", p, err, c.want)
		}
	}
	d := ok.withDefaults()
	if d.PeerPort != 179 || d.HoldTime != 90*time.Second || d.KeepaliveTime != 30*time.Second || d.ConnectTime != time.Second {
		t.Fatalf("defaults %+v", d)
	}
}

func TestParseCommunity(t *testing.T) {
	c, _, large, err := ParseCommunity("65535:65282")
	if err != nil || large || c != NewCommunity(65535, 65282) || c.String() != "65535:65282" {
		t.Fatalf("%v %v %v", c, large, err)
	}
	_, l, large, err := ParseCommunity("large:4200000000:1:2")
	if err != nil || !large || l != (LargeCommunity{4200000000, 1, 2}) || l.String() != "large:4200000000:1:2" {
		t.Fatalf("%v %v %v", l, large, err)
	}
	for _, bad := range []string{"65536:1", "1", "1:2:3", "large:1:2", "large:1:2:x", "a:b"} {
		if _, _, _, err := ParseCommunity(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteMetrics(t *testing.T) {
	sts := []Status{
		{Peer: "10.0.0.1:179", State: StateEstablished, PrefixesAdvertised: 3, PrefixesDesired: 3,
			Sent: MessageCount{Open: 1, Update: 4, Keepalive: 5, Total: 10}, Received: MessageCount{Open: 1, Keepalive: 6, Notification: 1, Total: 8},
			BFD: &bfd.Status{Peer: netip.MustParseAddr("10.0.0.1"), State: bfd.StateUp, ControlPacketsIn: 7, ControlPacketsOut: 9, UpEvents: 1}},
		{Peer: "[fd00::1]:180", State: StateActive, PrefixesDesired: 2},
	}
	var b strings.Builder
	if err := writeMetrics(&b, sts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# HELP metallb_bgp_session_up BGP session state (1 is up, 0 is down)\n# TYPE metallb_bgp_session_up gauge\n" +
			"metallb_bgp_session_up{peer=\"10.0.0.1:179\"} 1\nmetallb_bgp_session_up{peer=\"[fd00::1]:180\"} 0\n",
		"metallb_bgp_updates_total{peer=\"10.0.0.1:179\"} 4\n",
		"metallb_bgp_announced_prefixes_total{peer=\"10.0.0.1:179\"} 3\n",
		"metallb_bgp_pending_prefixes_total{peer=\"[fd00::1]:180\"} 2\n",
		"metallb_bgp_notifications_received{peer=\"10.0.0.1:179\"} 1\n",
		"# TYPE metallb_bfd_session_up gauge\nmetallb_bfd_session_up{peer=\"10.0.0.1\"} 1\n",
		"metallb_bfd_control_packet_input{peer=\"10.0.0.1\"} 7\n",
		"metallb_bfd_control_packet_output{peer=\"10.0.0.1\"} 9\n",
		"metallb_bfd_session_up_events{peer=\"10.0.0.1\"} 1\n",
		"metallb_bfd_session_down_events{peer=\"10.0.0.1\"} 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "metallb_bfd_session_up{peer=\"fd00::1\"}") {
		t.Error("BFD metrics for a session without BFD")
	}
	if escapeLabel("a\"b\\c\nd") != `a\"b\\c\nd` {
		t.Error("label escaping")
	}
}

// ---- the NOTIFICATION sniffer's filter and parser ----

func tcpPacket4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	ip[8], ip[9] = 64, 6
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	return append(append(ip, tcpHeader(sport, dport)...), payload...)
}

func tcpPacket6(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(20+len(payload)))
	ip[6], ip[7] = 6, 64
	s, d := src.As16(), dst.As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	return append(append(ip, tcpHeader(sport, dport)...), payload...)
}

func tcpHeader(sport, dport uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	h[12] = 5 << 4
	return h
}

func bgpMessage(typ byte, body []byte) []byte {
	m := bytes.Repeat([]byte{0xff}, 16)
	m = binary.BigEndian.AppendUint16(m, uint16(19+len(body)))
	return append(append(m, typ), body...)
}

func TestNotificationFilterAndParser(t *testing.T) {
	peer4, me4 := netip.MustParseAddr("10.126.9.1"), netip.MustParseAddr("10.126.9.2")
	peer6, me6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	notif := bgpMessage(3, []byte{2, 2, 0xfd, 0xe8})
	open := bgpMessage(1, make([]byte, 10))
	for _, c := range []struct {
		name   string
		peer   netip.Addr
		pkt    []byte
		accept bool
	}{
		{"v4 notification", peer4, tcpPacket4(peer4, me4, 179, 40000, notif), true},
		{"v4 open+notification", peer4, tcpPacket4(peer4, me4, 179, 40000, append(open, notif...)), true},
		{"v4 other source", peer4, tcpPacket4(me4, peer4, 179, 40000, notif), false},
		{"v4 other port", peer4, tcpPacket4(peer4, me4, 180, 40000, notif), false},
		{"v4 bare ack", peer4, tcpPacket4(peer4, me4, 179, 40000, nil), false},
		{"v4 bulk segment", peer4, tcpPacket4(peer4, me4, 179, 40000, make([]byte, 1400)), false},
		{"v6 notification", peer6, tcpPacket6(peer6, me6, 179, 40000, notif), true},
		{"v6 other source", peer6, tcpPacket6(me6, peer6, 179, 40000, notif), false},
		{"v4 packet, v6 peer", peer6, tcpPacket4(peer4, me4, 179, 40000, notif), false},
	} {
		prog, err := notificationFilter(c.peer, 179)
		if err != nil {
			t.Fatal(err)
		}
		ins := make([]bpf.Instruction, len(prog))
		for i, r := range prog {
			ins[i] = r.Disassemble()
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatal(err)
		}
		n, err := vm.Run(c.pkt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (n > 0) != c.accept {
			t.Errorf("%s: filter returned %d, want accept=%v", c.name, n, c.accept)
		}
	}
	got := parseNotifications(tcpPacket4(peer4, me4, 179, 40000, append(append(open, notif...), bgpMessage(4, nil)...)))
	if len(got) != 1 || got[0].Code != 2 || got[0].Subcode != 2 || !bytes.Equal(got[0].Data, []byte{0xfd, 0xe8}) {
		t.Fatalf("parsed %+v", got)
	}
	if got := parseNotifications(tcpPacket6(peer6, me6, 179, 1, bgpMessage(3, []byte{6, 3}))); len(got) != 1 || got[0].String() != "6/3 Cease / Peer De-configured" {
		t.Fatalf("parsed %+v", got)
	}
	if got := parseNotifications([]byte{0x45, 0, 1}); got != nil {
		t.Fatalf("garbage parsed as %+v", got)
	}
}
