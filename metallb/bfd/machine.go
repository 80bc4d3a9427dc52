package bfd

import (
	"math/rand/v2"
	"time"
)

// machine is one session's state variables (RFC 5880 §6.8.1) with the
// reception rules of §6.8.6 and the timer rules of §6.8.2–§6.8.4. It does
// no I/O and reads no clock: the caller feeds it packets and times and
// transmits what it asks for. Intervals are kept in microseconds, as on
// the wire.
type machine struct {
	profile Profile // with defaults applied

	state       State
	localDiag   Diag
	localDiscr  uint32
	remoteDiscr uint32

	remoteState      State
	remoteDiag       Diag
	remoteMinRx      uint32 // bfd.RemoteMinRxInterval
	remoteDesiredTx  uint32
	remoteEchoRx     uint32
	remoteDetectMult uint8

	// desiredTx and requiredRx are what this system advertises
	// (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval).
	desiredTx  uint32
	requiredRx uint32
	// txEff and rxEff are the values in effect for the local transmit
	// interval and for the detection time. They differ from the advertised
	// values during a Poll sequence (§6.8.3).
	txEff uint32
	rxEff uint32
	poll  bool // a Poll sequence is in progress

	// lastRx is when the last valid packet arrived; zero when none has
	// arrived since the detection timer last expired.
	lastRx time.Time
}

// transition reports a state change made by the machine.
type transition struct {
	changed bool
	old     State
}

func newMachine(localDiscr uint32, p Profile) *machine {
	m := &machine{
		profile:     p.WithDefaults(),
		state:       StateDown,
		remoteState: StateDown,
		localDiscr:  localDiscr,
		remoteMinRx: 1, // §6.8.1: initialised to 1 µs
	}
	m.applySlowTimers()
	return m
}

// slow returns d, raised to the 1 s slow rate.
func slow(d time.Duration) uint32 { return usec(max(d, SlowTxInterval)) }

// applySlowTimers sets the timers a session uses while it is not Up. No
// Poll sequence is needed outside Up (§6.8.3).
func (m *machine) applySlowTimers() {
	m.desiredTx = slow(m.profile.TransmitInterval)
	m.requiredRx = slow(m.profile.ReceiveInterval)
	m.txEff, m.rxEff = m.desiredTx, m.requiredRx
	m.poll = false
}

// changeTimers advertises new intervals. While Up this starts a Poll
// sequence: a lower transmit interval and a higher receive interval take
// effect at once, the others only when the peer answers with Final.
func (m *machine) changeTimers(tx, rx uint32) {
	if m.state != StateUp {
		m.applySlowTimers()
		return
	}
	if tx < m.txEff {
		m.txEff = tx
	}
	if rx > m.rxEff {
		m.rxEff = rx
	}
	m.desiredTx, m.requiredRx = tx, rx
	m.poll = true
}

// setProfile applies a new profile. While Up, every change goes through a
// Poll sequence, as FRR does, so that the peer sees the new values at once.
func (m *machine) setProfile(p Profile) {
	p = p.WithDefaults()
	old := m.profile
	m.profile = p
	if m.state != StateUp {
		m.applySlowTimers()
		return
	}
	if old.TransmitInterval != p.TransmitInterval || old.ReceiveInterval != p.ReceiveInterval ||
		old.DetectMultiplier != p.DetectMultiplier || old.EchoInterval != p.EchoInterval {
		m.changeTimers(usec(p.TransmitInterval), usec(p.ReceiveInterval))
	}
}

func (m *machine) setState(s State, d Diag) transition {
	t := transition{changed: s != m.state, old: m.state}
	m.state = s
	m.localDiag = d
	switch s {
	case StateUp:
		if t.changed {
			m.changeTimers(usec(m.profile.TransmitInterval), usec(m.profile.ReceiveInterval))
		}
	default:
		m.applySlowTimers()
	}
	return t
}

// receive processes a packet that passed ParseControlPacket and the
// transport checks, following §6.8.6. It returns the state change, if any,
// and whether a packet with the Final bit must be sent at once (the peer
// polled).
func (m *machine) receive(p *ControlPacket, now time.Time) (transition, bool) {
	m.remoteDiscr = p.MyDiscriminator
	m.remoteState = p.State
	m.remoteDiag = p.Diag
	m.remoteMinRx = p.RequiredMinRxInterval
	m.remoteDesiredTx = p.DesiredMinTxInterval
	m.remoteEchoRx = p.RequiredMinEchoRxInterval
	m.remoteDetectMult = p.DetectMult
	if p.Final && m.poll {
		m.txEff, m.rxEff = m.desiredTx, m.requiredRx
		m.poll = false
	}
	m.lastRx = now
	if m.state == StateAdminDown {
		return transition{}, false
	}
	var t transition
	if p.State == StateAdminDown {
		if m.state != StateDown {
			t = m.setState(StateDown, DiagNeighborSignaledDown)
		}
	} else {
		switch m.state {
		case StateDown:
			switch p.State {
			case StateDown:
				t = m.setState(StateInit, DiagNone)
			case StateInit:
				t = m.setState(StateUp, DiagNone)
			}
		case StateInit:
			if p.State == StateInit || p.State == StateUp {
				t = m.setState(StateUp, DiagNone)
			}
		case StateUp:
			if p.State == StateDown {
				t = m.setState(StateDown, DiagNeighborSignaledDown)
			}
		}
	}
	return t, p.Poll
}

// detectionTime is the asynchronous-mode detection time (§6.8.4): the
// peer's detect multiplier times the larger of our receive interval in
// effect and the peer's desired transmit interval. Zero means no detection
// (nothing received yet).
func (m *machine) detectionTime() time.Duration {
	if m.lastRx.IsZero() || m.remoteDetectMult == 0 {
		return 0
	}
	return time.Duration(m.remoteDetectMult) * fromUsec(max(m.rxEff, m.remoteDesiredTx))
}

// expire runs the detection timer: if a detection time has passed since
// the last packet, an Init or Up session goes Down (diagnostic 1) and the
// remote discriminator is forgotten (§6.8.1).
func (m *machine) expire(now time.Time) (transition, bool) {
	dt := m.detectionTime()
	if dt == 0 || now.Sub(m.lastRx) < dt {
		return transition{}, false
	}
	var t transition
	if m.state == StateInit || m.state == StateUp {
		t = m.setState(StateDown, DiagControlDetectionExpired)
	}
	m.remoteDiscr = 0
	m.remoteState = StateDown
	m.lastRx = time.Time{}
	return t, true
}

// txInterval is the periodic transmit interval before jitter (§6.8.7), or
// zero when no periodic packets may be sent: the peer asked for none
// (RequiredMinRx 0), or the session is passive and has not heard the peer.
func (m *machine) txInterval() time.Duration {
	if m.remoteMinRx == 0 {
		return 0
	}
	if m.profile.PassiveMode && m.remoteDiscr == 0 {
		return 0
	}
	return fromUsec(max(m.txEff, m.remoteMinRx))
}

// jitter returns the actual gap before the next periodic packet: 75–100 %
// of the interval, or 75–90 % when the detect multiplier is 1 (§6.8.7).
func (m *machine) jitter(iv time.Duration, r *rand.Rand) time.Duration {
	span := 0.25
	if m.profile.DetectMultiplier == 1 {
		span = 0.15
	}
	return time.Duration(float64(iv) * (0.75 + span*r.Float64()))
}

// packet builds the next control packet. final answers a Poll; such a
// packet never carries P (§6.5).
func (m *machine) packet(final bool) ControlPacket {
	return ControlPacket{
		Version:                   Version,
		Diag:                      m.localDiag,
		State:                     m.state,
		Poll:                      m.poll && !final,
		Final:                     final,
		DetectMult:                m.profile.DetectMultiplier,
		MyDiscriminator:           m.localDiscr,
		YourDiscriminator:         m.remoteDiscr,
		DesiredMinTxInterval:      m.desiredTx,
		RequiredMinRxInterval:     m.requiredRx,
		RequiredMinEchoRxInterval: usec(m.profile.EchoInterval),
	}
}
