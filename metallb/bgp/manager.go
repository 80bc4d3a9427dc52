package bgp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/metallb/bfd"
)

// Options configure a Manager.
type Options struct {
	// Logger receives session logs (MetalLB's event names in the "event"
	// attribute) and gobgp's own records; nil discards.
	Logger *slog.Logger
	// OnEvent, when set, receives every session's events. Calls for one
	// session come in order from that session's goroutine; they must not
	// block for long and must not call the session's Close.
	OnEvent func(Event)
}

// Manager owns the sessions of one speaker and the BFD server they share.
type Manager struct {
	log        *slog.Logger
	onEvent    func(Event)
	newBackend newBackendFunc
	sniff      bool // decode NOTIFICATIONs from the wire (notificationSniffer)

	mu       sync.Mutex
	closed   bool
	sessions map[string]*Session
	bfdSrv   *bfd.Server
}

// NewManager returns a Manager with no sessions.
func NewManager(opts Options) *Manager {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Manager{log: l, onEvent: opts.OnEvent, newBackend: newGobgpBackend, sniff: true, sessions: map[string]*Session{}}
}

// NewSession validates p and starts a session for it. The session dials
// the peer in the background; Set can be called at once.
func (m *Manager) NewSession(p SessionParameters) (*Session, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.withDefaults()
	s := &Session{
		m: m, name: p.Name, newBackend: m.newBackend, params: p,
		desired: map[netip.Prefix]Advertisement{}, announced: map[netip.Prefix]Advertisement{},
		wake: make(chan struct{}, 1), evDone: make(chan struct{}),
	}
	s.logp.Store(m.sessionLogger(p))
	s.st.peer, s.st.state, s.st.since = p.PeerString(), StateIdle, time.Now()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("bgp: the session manager is closed")
	}
	if _, dup := m.sessions[p.Name]; dup {
		m.mu.Unlock()
		return nil, fmt.Errorf("bgp session %q already exists: call its Update, or Close it first", p.Name)
	}
	for _, o := range m.sessions {
		if o.peerString() == p.PeerString() {
			m.mu.Unlock()
			return nil, fmt.Errorf("bgp session %q: peer %s already has session %q: one session per peer address and port", p.Name, p.PeerString(), o.name)
		}
	}
	m.sessions[p.Name] = s
	m.mu.Unlock()

	s.opMu.Lock()
	defer s.opMu.Unlock()
	if p.BFD != nil {
		if err := s.openBFDLocked(); err != nil {
			m.forget(s)
			return nil, err
		}
	}
	go s.eventLoop()
	s.startGenerationLocked()
	s.logger().Info("session created", "event", "sessionCreated", "ibgp", p.IBGP(), "bfd", p.BFD != nil)
	return s, nil
}

// Session returns the session with the given name.
func (m *Manager) Session(name string) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[name]
	return s, ok
}

// Sessions returns the sessions, sorted by name.
func (m *Manager) Sessions() []*Session {
	m.mu.Lock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *Session) int { return strings.Compare(a.name, b.name) })
	return out
}

// Status returns every session's status, sorted by name.
func (m *Manager) Status() []Status {
	ss := m.Sessions()
	out := make([]Status, len(ss))
	for i, s := range ss {
		out[i] = s.Status()
	}
	return out
}

// Reconcile makes the set of sessions match params: sessions whose name is
// missing are closed, new names are created, and existing ones are updated
// (which re-creates a session only if its BGP parameters changed).
// Advertisements are left to each session's Set. All errors are returned
// together; the other sessions are still reconciled.
func (m *Manager) Reconcile(params []SessionParameters) error {
	want := map[string]SessionParameters{}
	var errs []error
	for _, p := range params {
		if _, dup := want[p.Name]; dup {
			errs = append(errs, fmt.Errorf("bgp session %q is listed twice", p.Name))
			continue
		}
		want[p.Name] = p
	}
	for _, s := range m.Sessions() {
		if _, ok := want[s.name]; !ok {
			s.Close()
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := want[n]
		if s, ok := m.Session(n); ok {
			if err := s.Update(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if _, err := m.NewSession(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every session and the BFD server.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	for _, s := range m.Sessions() {
		s.Close()
	}
	m.mu.Lock()
	srv := m.bfdSrv
	m.bfdSrv = nil
	m.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[s.name] == s {
		delete(m.sessions, s.name)
	}
}

func (m *Manager) emit(e Event) {
	if m.onEvent != nil {
		m.onEvent(e)
	}
}

func (m *Manager) sessionLogger(p SessionParameters) *slog.Logger {
	peerASN := any(p.PeerASN)
	if p.DynamicASN != DynamicASNNone {
		peerASN = string(p.DynamicASN)
	}
	return m.log.With("session", p.Name, "peer", p.PeerString(), "localASN", p.MyASN, "peerASN", peerASN)
}

func (m *Manager) gobgpLogger(p SessionParameters) *slog.Logger {
	return m.log.With("session", p.Name, "peer", p.PeerString())
}

// bfdServer returns the shared BFD server, creating it on first use.
func (m *Manager) bfdServer() (*bfd.Server, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("bgp: the session manager is closed")
	}
	if m.bfdSrv == nil {
		m.bfdSrv = bfd.NewServer(bfd.ServerOptions{Logger: m.log})
	}
	return m.bfdSrv, nil
}
