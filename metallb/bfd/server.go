package bfd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Logger receives the server's and its sessions' logs; nil discards.
	Logger *slog.Logger
	// NetnsPath, when set, makes every socket of the server live in that
	// network namespace (e.g. /run/netns/NAME). Empty: the caller's.
	NetnsPath string
}

// Server owns the receive sockets (UDP 3784, and 4784 for multihop, per
// address family, opened when the first session needs them) and
// demultiplexes received packets to its sessions: by Your Discriminator,
// or by the peer's address when that is zero (RFC 5880 §6.8.6).
type Server struct {
	log   *slog.Logger
	netns string

	mu        sync.Mutex
	closed    bool
	byDiscr   map[uint32]*Session
	byPeer    map[peerKey]*Session
	listeners map[listenKey]*listener
	wg        sync.WaitGroup

	stats ServerStats
}

type peerKey struct {
	addr     netip.Addr
	multihop bool
}

type listenKey struct {
	v6       bool
	multihop bool
}

// ServerStats counts packets that no session accepted.
type ServerStats struct {
	// Malformed packets failed ParseControlPacket.
	Malformed uint64
	// NoSession packets matched no session (unknown discriminator or peer).
	NoSession uint64
}

// NewServer returns a server with no sessions and no sockets.
func NewServer(opts ServerOptions) *Server {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		log:       l,
		netns:     opts.NetnsPath,
		byDiscr:   map[uint32]*Session{},
		byPeer:    map[peerKey]*Session{},
		listeners: map[listenKey]*listener{},
	}
}

// SessionConfig describes one BFD session.
type SessionConfig struct {
	// Peer is the remote system's address (required, no zone).
	Peer netip.Addr
	// Local, when valid, is the source address of transmitted packets;
	// otherwise the kernel chooses it by route.
	Local netip.Addr
	// MultiHop selects RFC 5883 (port 4784, TTL at least
	// Profile.MinimumTTL) instead of single hop (port 3784, TTL 255).
	MultiHop bool
	// Profile holds the timers; zero fields take FRR's defaults.
	Profile Profile
	// OnStateChange, when set, is called from the session's goroutine after
	// every state change. It must not block for long.
	OnStateChange func(StateChange)
}

// StateChange describes one transition of a session.
type StateChange struct {
	Peer        netip.Addr
	Old, New    State
	Diag        Diag  // the local diagnostic after the change
	RemoteState State // the state the peer last reported
	Time        time.Time
}

// AddSession validates cfg, opens the session's transmit socket (and the
// receive socket of its kind if not yet open) and starts the session.
func (s *Server) AddSession(cfg SessionConfig) (*Session, error) {
	if !cfg.Peer.IsValid() {
		return nil, errors.New("bfd: session needs a peer address")
	}
	if cfg.Peer.Zone() != "" {
		return nil, fmt.Errorf("bfd: peer %s: addresses with a zone are not supported", cfg.Peer)
	}
	cfg.Peer = cfg.Peer.Unmap()
	if cfg.Local.IsValid() {
		cfg.Local = cfg.Local.Unmap()
		if cfg.Local.Is4() != cfg.Peer.Is4() {
			return nil, fmt.Errorf("bfd: peer %s: local address %s is of the other address family", cfg.Peer, cfg.Local)
		}
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("bfd: peer %s: %w", cfg.Peer, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("bfd: server is closed")
	}
	key := peerKey{cfg.Peer, cfg.MultiHop}
	if _, dup := s.byPeer[key]; dup {
		return nil, fmt.Errorf("bfd: a session with peer %s already exists: close it before adding another", cfg.Peer)
	}
	lk := listenKey{v6: cfg.Peer.Is6(), multihop: cfg.MultiHop}
	if s.listeners[lk] == nil {
		port := PortSingleHop
		if cfg.MultiHop {
			port = PortMultiHop
		}
		l, err := listenControl(s.netns, lk.v6, port)
		if err != nil {
			return nil, err
		}
		s.listeners[lk] = l
		s.wg.Add(1)
		go s.readLoop(l, cfg.MultiHop)
	}
	conn, port, err := openTx(s.netns, cfg.Peer, cfg.Local)
	if err != nil {
		return nil, err
	}
	var discr uint32
	for discr == 0 || s.byDiscr[discr] != nil {
		discr = rand.Uint32()
	}
	sess := newSession(s, cfg, conn, port, discr)
	s.byDiscr[discr] = sess
	s.byPeer[key] = sess
	go sess.run()
	return sess, nil
}

// remove forgets a session; called by Session.Close.
func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byDiscr[sess.discr] == sess {
		delete(s.byDiscr, sess.discr)
	}
	k := peerKey{sess.cfg.Peer, sess.cfg.MultiHop}
	if s.byPeer[k] == sess {
		delete(s.byPeer, k)
	}
}

// Stats returns the server's drop counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Sessions returns the live sessions.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.byDiscr))
	for _, sess := range s.byDiscr {
		out = append(out, sess)
	}
	return out
}

// Close closes every session (each sends AdminDown) and the receive
// sockets.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := make([]*Session, 0, len(s.byDiscr))
	for _, sess := range s.byDiscr {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.Close()
	}
	s.mu.Lock()
	for _, l := range s.listeners {
		l.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) readLoop(l *listener, multihop bool) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, src, dst, ttl, err := l.read(buf)
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			s.log.Warn("bfd: read failed", "port", l.port, "error", err)
			continue
		}
		s.deliver(buf[:n], src, dst, ttl, multihop)
	}
}

// deliver parses a datagram, finds its session and applies the transport
// checks (TTL, source) before handing the packet to the session.
func (s *Server) deliver(b []byte, src, dst netip.Addr, ttl int, multihop bool) {
	p, perr := ParseControlPacket(b)
	s.mu.Lock()
	var sess *Session
	if perr == nil && p.YourDiscriminator != 0 {
		sess = s.byDiscr[p.YourDiscriminator]
	} else {
		sess = s.byPeer[peerKey{src, multihop}]
	}
	if sess == nil {
		if perr != nil {
			s.stats.Malformed++
		} else {
			s.stats.NoSession++
		}
	}
	s.mu.Unlock()
	if sess == nil {
		s.log.Debug("bfd: packet matches no session", "from", src, "to", dst, "error", perr)
		return
	}
	if perr != nil {
		sess.drop("malformed packet: " + perr.Error())
		return
	}
	if sess.cfg.MultiHop != multihop {
		sess.drop("packet arrived on the port of the other hop mode")
		return
	}
	if src != sess.cfg.Peer {
		sess.drop(fmt.Sprintf("packet for discriminator %d from %s, not from the peer", p.YourDiscriminator, src))
		return
	}
	if multihop {
		if ttl < int(sess.minTTL()) {
			sess.drop(fmt.Sprintf("received TTL %d is below the minimum TTL %d", ttl, sess.minTTL()))
			return
		}
	} else if ttl != 255 {
		sess.drop(fmt.Sprintf("received TTL %d, single-hop BFD requires 255 (RFC 5881)", ttl))
		return
	}
	if p.AuthPresent {
		sess.drop("packet carries authentication, which is not configured (A bit set)")
		return
	}
	if p.Demand {
		sess.drop("peer asks for demand mode, which is not supported (D bit set)")
		return
	}
	sess.enqueue(p)
}
