package bfd

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Session is one running BFD session. Its state machine runs in its own
// goroutine; the methods are safe for concurrent use.
type Session struct {
	srv   *Server
	cfg   SessionConfig
	log   *slog.Logger
	discr uint32
	conn  *net.UDPConn
	dst   *net.UDPAddr
	port  uint16

	rx   chan ControlPacket
	ops  chan func(*machine)
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	status Status
}

// Status is a snapshot of a session.
type Status struct {
	Peer       netip.Addr
	Local      netip.Addr // configured source address, if any
	SourcePort uint16
	MultiHop   bool
	Profile    Profile // configured, with defaults applied

	State       State
	Diag        Diag
	RemoteState State
	RemoteDiag  Diag

	LocalDiscriminator  uint32
	RemoteDiscriminator uint32

	// What this system advertises now and what the peer advertised last.
	DesiredMinTx            time.Duration
	RequiredMinRx           time.Duration
	RemoteDesiredMinTx      time.Duration
	RemoteRequiredMinRx     time.Duration
	RemoteRequiredMinEchoRx time.Duration
	RemoteDetectMult        uint8

	// TxInterval is the periodic transmit interval before jitter (zero:
	// not transmitting); DetectionTime the current detection time.
	TxInterval    time.Duration
	DetectionTime time.Duration
	// Polling is true while a Poll sequence of ours awaits the Final bit.
	Polling bool

	ControlPacketsIn  uint64
	ControlPacketsOut uint64
	// Echo packets are never sent or received by this implementation; the
	// counters exist for MetalLB's metric names.
	EchoPacketsIn  uint64
	EchoPacketsOut uint64
	UpEvents       uint64
	DownEvents     uint64
	// Dropped counts packets from this peer that failed a check;
	// LastDropReason says why the last one was dropped.
	Dropped        uint64
	LastDropReason string
	LastTxError    string

	// LastChange is when the session last changed state (or was created).
	LastChange time.Time
}

func newSession(srv *Server, cfg SessionConfig, conn *net.UDPConn, port uint16, discr uint32) *Session {
	dport := PortSingleHop
	if cfg.MultiHop {
		dport = PortMultiHop
	}
	s := &Session{
		srv:   srv,
		cfg:   cfg,
		log:   srv.log.With("bfdPeer", cfg.Peer.String()),
		discr: discr,
		conn:  conn,
		dst:   &net.UDPAddr{IP: net.IP(cfg.Peer.AsSlice()), Port: dport},
		port:  port,
		rx:    make(chan ControlPacket, 32),
		ops:   make(chan func(*machine)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.status = Status{
		Peer: cfg.Peer, Local: cfg.Local, SourcePort: port, MultiHop: cfg.MultiHop,
		Profile: cfg.Profile.WithDefaults(), State: StateDown, RemoteState: StateDown,
		LocalDiscriminator: discr, LastChange: time.Now(),
	}
	return s
}

// Peer returns the session's peer address.
func (s *Session) Peer() netip.Addr { return s.cfg.Peer }

// Status returns a snapshot of the session.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// SetProfile changes the session's timers live. While the session is Up
// the new values are announced with a Poll sequence (RFC 5880 §6.8.3).
func (s *Session) SetProfile(p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	select {
	case s.ops <- func(m *machine) { m.setProfile(p) }:
		s.mu.Lock()
		s.cfg.Profile = p
		s.status.Profile = p.WithDefaults()
		s.mu.Unlock()
		return nil
	case <-s.done:
		return net.ErrClosed
	}
}

// Close sends one AdminDown packet (so that the peer does not take the end
// of the session for a failure, RFC 5880 §6.8.16), stops the session and
// releases its socket.
func (s *Session) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.srv.remove(s)
		s.conn.Close()
	})
	return nil
}

func (s *Session) minTTL() uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.Profile.MinimumTTL
}

func (s *Session) drop(reason string) {
	s.mu.Lock()
	s.status.Dropped++
	first := s.status.LastDropReason != reason
	s.status.LastDropReason = reason
	s.mu.Unlock()
	if first {
		s.log.Warn("bfd: dropped packet", "reason", reason)
	}
}

func (s *Session) enqueue(p ControlPacket) {
	select {
	case s.rx <- p:
	default:
		s.drop("receive queue full")
	}
}

// run is the session's goroutine: it owns the machine.
func (s *Session) run() {
	defer close(s.done)
	m := newMachine(s.discr, s.cfg.Profile)
	rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(s.discr)))

	txTimer := time.NewTimer(time.Hour)
	txTimer.Stop()
	var txDue time.Time // zero: not armed
	detTimer := time.NewTimer(time.Hour)
	detTimer.Stop()

	send := func(final bool) {
		p := m.packet(final)
		_, err := s.conn.WriteTo(p.Marshal(), s.dst)
		s.mu.Lock()
		if err != nil {
			s.status.LastTxError = err.Error()
		} else {
			s.status.ControlPacketsOut++
		}
		s.mu.Unlock()
	}
	// schedule arms the transmit timer for the machine's current interval,
	// and brings a pending transmission forward if the interval shrank.
	schedule := func(now time.Time) {
		iv := m.txInterval()
		if iv == 0 {
			txTimer.Stop()
			txDue = time.Time{}
			return
		}
		if txDue.IsZero() || txDue.After(now.Add(iv)) {
			d := m.jitter(iv, rng)
			txTimer.Reset(d)
			txDue = now.Add(d)
		}
	}
	changed := func(t transition, now time.Time) {
		if !t.changed {
			return
		}
		st := StateChange{Peer: s.cfg.Peer, Old: t.old, New: m.state, Diag: m.localDiag, RemoteState: m.remoteState, Time: now}
		s.mu.Lock()
		s.status.LastChange = now
		if m.state == StateUp {
			s.status.UpEvents++
		}
		if t.old == StateUp {
			s.status.DownEvents++
		}
		s.mu.Unlock()
		lvl := slog.LevelInfo
		if st.New == StateDown && st.Old == StateUp {
			lvl = slog.LevelWarn
		}
		s.log.Log(nil, lvl, "bfd session state changed", "event", "bfdStateChange", "from", st.Old.String(), "to", st.New.String(), "diag", st.Diag.String(), "remoteState", st.RemoteState.String())
		if s.cfg.OnStateChange != nil {
			s.cfg.OnStateChange(st)
		}
		// Tell the peer at once rather than waiting for the next periodic
		// packet; this shortens the three-way handshake at the slow rate.
		if m.txInterval() > 0 {
			send(false)
		}
	}
	snapshot := func() {
		s.mu.Lock()
		st := &s.status
		st.State, st.Diag = m.state, m.localDiag
		st.RemoteState, st.RemoteDiag = m.remoteState, m.remoteDiag
		st.RemoteDiscriminator = m.remoteDiscr
		st.DesiredMinTx, st.RequiredMinRx = fromUsec(m.desiredTx), fromUsec(m.requiredRx)
		st.RemoteDesiredMinTx, st.RemoteRequiredMinRx = fromUsec(m.remoteDesiredTx), fromUsec(m.remoteMinRx)
		st.RemoteRequiredMinEchoRx, st.RemoteDetectMult = fromUsec(m.remoteEchoRx), m.remoteDetectMult
		st.TxInterval, st.DetectionTime, st.Polling = m.txInterval(), m.detectionTime(), m.poll
		s.mu.Unlock()
	}

	if m.txInterval() > 0 {
		send(false)
	}
	schedule(time.Now())
	snapshot()
	for {
		select {
		case <-s.stop:
			m.state, m.localDiag = StateAdminDown, DiagAdministrativelyDown
			send(false)
			txTimer.Stop()
			detTimer.Stop()
			snapshot()
			return

		case p := <-s.rx:
			now := time.Now()
			s.mu.Lock()
			s.status.ControlPacketsIn++
			s.mu.Unlock()
			wasPolling := m.poll
			t, final := m.receive(&p, now)
			if final {
				send(true)
			}
			if dt := m.detectionTime(); dt > 0 {
				detTimer.Reset(dt)
			}
			changed(t, now)
			if wasPolling && !m.poll {
				s.log.Debug("bfd poll sequence complete", "tx", fromUsec(m.txEff), "rx", fromUsec(m.rxEff))
			}
			schedule(now)
			snapshot()

		case <-txTimer.C:
			now := time.Now()
			txDue = time.Time{}
			if m.txInterval() > 0 {
				send(false)
			}
			schedule(now)
			snapshot()

		case <-detTimer.C:
			now := time.Now()
			t, expired := m.expire(now)
			if expired {
				changed(t, now)
			} else if dt := m.detectionTime(); dt > 0 {
				// A packet arrived after the timer fired; wait for the rest.
				detTimer.Reset(dt - now.Sub(m.lastRx))
			}
			schedule(now)
			snapshot()

		case op := <-s.ops:
			now := time.Now()
			wasPolling := m.poll
			op(m)
			if m.poll && !wasPolling && m.txInterval() > 0 {
				send(false) // start the Poll sequence without waiting
			}
			schedule(now)
			snapshot()
		}
	}
}
