package bfd

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// simPeer drives a machine the way Session.run does, on a virtual clock.
type simPeer struct {
	m      *machine
	nextTx time.Time // zero: not scheduled
	mute   bool      // transmits nothing (simulates a dead peer)
	sent   int
}

type sim struct {
	a, b *simPeer
	now  time.Time
	rng  *rand.Rand
	log  []string
}

func newSim(pa, pb Profile) *sim {
	s := &sim{
		a:   &simPeer{m: newMachine(0x1111, pa)},
		b:   &simPeer{m: newMachine(0x2222, pb)},
		now: time.Unix(1000, 0),
		rng: rand.New(rand.NewPCG(1, 2)),
	}
	for _, p := range []*simPeer{s.a, s.b} {
		s.schedule(p)
	}
	return s
}

func (s *sim) other(p *simPeer) *simPeer {
	if p == s.a {
		return s.b
	}
	return s.a
}

func (s *sim) schedule(p *simPeer) {
	iv := p.m.txInterval()
	if iv == 0 {
		p.nextTx = time.Time{}
		return
	}
	if p.nextTx.IsZero() || p.nextTx.After(s.now.Add(iv)) {
		p.nextTx = s.now.Add(p.m.jitter(iv, s.rng))
	}
}

// send delivers one packet from p to its peer, and the peer's immediate
// answers (Final, or a packet on a state change).
func (s *sim) send(p *simPeer, final bool) {
	if p.mute {
		return
	}
	pkt := p.m.packet(final)
	p.sent++
	q := s.other(p)
	if q.mute {
		return
	}
	t, fin := q.m.receive(&pkt, s.now)
	if fin {
		s.send(q, true)
	}
	if t.changed {
		s.log = append(s.log, q.m.state.String())
		if q.m.txInterval() > 0 {
			s.send(q, false)
		}
	}
	s.schedule(q)
}

func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	for ; !s.now.After(end); s.now = s.now.Add(time.Millisecond) {
		for _, p := range []*simPeer{s.a, s.b} {
			if t, expired := p.m.expire(s.now); expired && t.changed && p.m.txInterval() > 0 {
				s.send(p, false)
			}
			if !p.nextTx.IsZero() && !s.now.Before(p.nextTx) {
				p.nextTx = time.Time{}
				s.send(p, false)
			}
			s.schedule(p)
		}
	}
}

func TestMachinesComeUpAndPoll(t *testing.T) {
	s := newSim(Profile{}, Profile{ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 250 * time.Millisecond})
	// Before anything is received: slow timers, Down, no remote discriminator.
	if p := s.a.m.packet(false); p.State != StateDown || p.DesiredMinTxInterval != 1000000 || p.RequiredMinRxInterval != 1000000 || p.YourDiscriminator != 0 {
		t.Fatalf("initial packet %+v", p)
	}
	s.run(4 * time.Second)
	for _, p := range []*simPeer{s.a, s.b} {
		if p.m.state != StateUp || p.m.poll {
			t.Fatalf("state %s poll %v, want Up with the Poll sequence done", p.m.state, p.m.poll)
		}
	}
	// a advertises its profile; b sees a's values as the remote ones.
	if s.b.m.remoteMinRx != 300000 || s.b.m.remoteDesiredTx != 300000 || s.b.m.remoteEchoRx != 50000 {
		t.Fatalf("b sees remote rx %d tx %d echo %d", s.b.m.remoteMinRx, s.b.m.remoteDesiredTx, s.b.m.remoteEchoRx)
	}
	// a sends at max(its 300 ms, b's required 200 ms); b at max(250, 300).
	if got := s.a.m.txInterval(); got != 300*time.Millisecond {
		t.Fatalf("a tx interval %v", got)
	}
	if got := s.b.m.txInterval(); got != 300*time.Millisecond {
		t.Fatalf("b tx interval %v", got)
	}
	// Detection at a: b's mult 3 × max(a's rx 300, b's tx 250).
	if got := s.a.m.detectionTime(); got != 900*time.Millisecond {
		t.Fatalf("a detection time %v", got)
	}
}

func TestDetectionExpires(t *testing.T) {
	s := newSim(Profile{}, Profile{})
	s.run(4 * time.Second)
	if s.a.m.state != StateUp {
		t.Fatalf("a is %s", s.a.m.state)
	}
	s.b.mute = true
	last := s.a.m.lastRx
	s.run(last.Add(899 * time.Millisecond).Sub(s.now))
	if s.a.m.state != StateUp {
		t.Fatalf("a went %s before the detection time", s.a.m.state)
	}
	s.run(2 * time.Millisecond)
	if s.a.m.state != StateDown || s.a.m.localDiag != DiagControlDetectionExpired || s.a.m.remoteDiscr != 0 {
		t.Fatalf("a: state %s diag %s remote discr %d", s.a.m.state, s.a.m.localDiag, s.a.m.remoteDiscr)
	}
	// Back to the slow rate while Down.
	if p := s.a.m.packet(false); p.DesiredMinTxInterval != 1000000 || p.Poll {
		t.Fatalf("down packet %+v", p)
	}
	// b comes back: both Up again.
	s.b.mute = false
	s.run(5 * time.Second)
	if s.a.m.state != StateUp || s.b.m.state != StateUp {
		t.Fatalf("after recovery a %s b %s", s.a.m.state, s.b.m.state)
	}
}

func TestAdminDownFromPeer(t *testing.T) {
	s := newSim(Profile{}, Profile{})
	s.run(4 * time.Second)
	s.b.m.state, s.b.m.localDiag = StateAdminDown, DiagAdministrativelyDown
	s.send(s.b, false)
	if s.a.m.state != StateDown || s.a.m.localDiag != DiagNeighborSignaledDown || s.a.m.remoteState != StateAdminDown {
		t.Fatalf("a: state %s diag %s remote %s", s.a.m.state, s.a.m.localDiag, s.a.m.remoteState)
	}
}

func TestPassiveWaitsForPeer(t *testing.T) {
	s := newSim(Profile{PassiveMode: true}, Profile{PassiveMode: true})
	s.run(3 * time.Second)
	if s.a.sent != 0 || s.b.sent != 0 {
		t.Fatalf("passive sessions sent %d and %d packets", s.a.sent, s.b.sent)
	}
	// One active side is enough.
	s.b.m.setProfile(Profile{})
	s.schedule(s.b)
	s.run(4 * time.Second)
	if s.a.m.state != StateUp || s.b.m.state != StateUp {
		t.Fatalf("a %s b %s", s.a.m.state, s.b.m.state)
	}
}

func TestRemoteMinRxZeroStopsTransmission(t *testing.T) {
	m := newMachine(1, Profile{})
	p := ControlPacket{State: StateDown, DetectMult: 3, MyDiscriminator: 2, RequiredMinRxInterval: 0, DesiredMinTxInterval: 1000000}
	m.receive(&p, time.Now())
	if m.txInterval() != 0 {
		t.Fatalf("tx interval %v, want 0", m.txInterval())
	}
}

func TestPollSequenceTimers(t *testing.T) {
	s := newSim(Profile{}, Profile{})
	s.run(4 * time.Second)
	a := s.a.m
	// Faster: the lower tx applies at once, the lower rx only after Final.
	a.setProfile(Profile{ReceiveInterval: 100 * time.Millisecond, TransmitInterval: 100 * time.Millisecond})
	if !a.poll || a.txEff != 100000 || a.rxEff != 300000 {
		t.Fatalf("during poll: poll %v txEff %d rxEff %d", a.poll, a.txEff, a.rxEff)
	}
	if p := a.packet(false); !p.Poll || p.DesiredMinTxInterval != 100000 || p.RequiredMinRxInterval != 100000 {
		t.Fatalf("poll packet %+v", p)
	}
	s.send(s.a, false) // b answers with Final
	if a.poll || a.rxEff != 100000 {
		t.Fatalf("after final: poll %v rxEff %d", a.poll, a.rxEff)
	}
	// Slower: the higher tx waits for Final, the higher rx applies at once.
	a.setProfile(Profile{ReceiveInterval: time.Second, TransmitInterval: time.Second})
	if a.txEff != 100000 || a.rxEff != 1000000 {
		t.Fatalf("slower during poll: txEff %d rxEff %d", a.txEff, a.rxEff)
	}
	s.send(s.a, false)
	if a.poll || a.txEff != 1000000 {
		t.Fatalf("slower after final: poll %v txEff %d", a.poll, a.txEff)
	}
	if a.state != StateUp || s.b.m.state != StateUp {
		t.Fatal("timer changes must not take the session down")
	}
}

func TestJitterBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		mult   uint8
		lo, hi float64
	}{{3, 0.75, 1.0}, {1, 0.75, 0.9}} {
		m := newMachine(1, Profile{})
		m.profile.DetectMultiplier = c.mult
		for i := 0; i < 10000; i++ {
			d := m.jitter(time.Second, r)
			if d < time.Duration(c.lo*float64(time.Second)) || d > time.Duration(c.hi*float64(time.Second)) {
				t.Fatalf("mult %d: jittered interval %v out of [%v, %v]", c.mult, d, c.lo, c.hi)
			}
		}
	}
}

func TestProfileValidate(t *testing.T) {
	if err := (Profile{}).Validate(); err != nil {
		t.Fatal(err)
	}
	ok := Profile{ReceiveInterval: 10 * time.Millisecond, TransmitInterval: 60 * time.Second, DetectMultiplier: 2, MinimumTTL: 254}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Profile{Name: "p", ReceiveInterval: 5 * time.Millisecond, TransmitInterval: 1500 * time.Microsecond, EchoInterval: 61 * time.Second, DetectMultiplier: 1, MinimumTTL: 255}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"receiveInterval", "transmitInterval", "echoInterval", "detectMultiplier", "minimumTtl"} {
		if !contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
	d := (Profile{}).WithDefaults()
	if d.ReceiveInterval != 300*time.Millisecond || d.TransmitInterval != 300*time.Millisecond || d.DetectMultiplier != 3 || d.EchoInterval != 50*time.Millisecond || d.MinimumTTL != 254 {
		t.Fatalf("defaults %+v", d)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
