package bgp

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/onp-lab/onp/metallb/bfd"
)

// openBFDLocked starts the session's BFD session. opMu held.
func (s *Session) openBFDLocked() error {
	p := s.params
	srv, err := s.m.bfdServer()
	if err != nil {
		return err
	}
	local := p.SourceAddress
	if local.IsValid() {
		// While the source address is missing the BGP session waits for
		// it; BFD binds to no address and lets the kernel pick the source.
		if ok, _ := addrOnHost(local); !ok {
			local = netip.Addr{}
		}
	}
	g := s.bfdGen.Add(1)
	sess, err := srv.AddSession(bfd.SessionConfig{
		Peer:          p.PeerAddress,
		Local:         local,
		MultiHop:      p.EBGPMultiHop,
		Profile:       *p.BFD,
		OnStateChange: func(c bfd.StateChange) { s.enqueue(queued{bfd: &c, bfdGen: g}) },
	})
	if err != nil {
		err = fmt.Errorf("bgp session %q: start BFD: %w", s.name, err)
		s.setError(err.Error())
		return err
	}
	s.bfdSess = sess
	return nil
}

// closeBFDLocked stops the BFD session (AdminDown to the peer) and releases
// a peer that BFD held down. opMu held.
func (s *Session) closeBFDLocked() {
	if s.bfdSess != nil {
		s.bfdGen.Add(1)
		s.bfdSess.Close()
		s.bfdSess = nil
	}
	if s.bfdHeld {
		s.bfdHeld = false
		s.mu.Lock()
		s.st.adminReason = ""
		s.mu.Unlock()
		if s.backend != nil {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			s.backend.setAdminDown(ctx, false, "")
			cancel()
		}
	}
}

// updateBFDLocked applies a BFD profile change without touching BGP. opMu
// held.
func (s *Session) updateBFDLocked(old, cur *bfd.Profile) error {
	switch {
	case cur == nil:
		s.logger().Info("BFD profile removed", "event", "bfdProfileChanged")
		s.closeBFDLocked()
		return nil
	case old == nil || s.bfdSess == nil:
		s.logger().Info("BFD profile added", "event", "bfdProfileChanged", "profile", cur.Name)
		return s.openBFDLocked()
	default:
		s.logger().Info("BFD profile changed", "event", "bfdProfileChanged", "profile", cur.Name)
		return s.bfdSess.SetProfile(*cur)
	}
}

// onBFD applies RFC 5882 to a BFD state change: Up → Down (unless the peer
// signalled AdminDown) disables the BGP peer; Up enables it again.
func (s *Session) onBFD(c bfd.StateChange) {
	s.m.emit(Event{Type: EventBFDStateChange, Session: s.name, Peer: s.peerString(), Time: c.Time, BFD: &c})
	down := c.Old == bfd.StateUp && c.New == bfd.StateDown && c.RemoteState != bfd.StateAdminDown
	up := c.New == bfd.StateUp
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	switch {
	case down && !s.bfdHeld:
		s.bfdHeld = true
		reason := "BFD session down (" + c.Diag.String() + ")"
		s.mu.Lock()
		s.st.adminReason = reason
		s.mu.Unlock()
		s.setError(reason + ": BGP peer disabled until BFD is up again")
		s.logger().Warn("BFD session down, disabling the BGP peer", "event", "bfdDown", "diag", c.Diag.String())
		if s.backend != nil {
			if err := s.backend.setAdminDown(ctx, true, reason); err != nil {
				s.logger().Error("cannot disable the BGP peer", "error", err)
			}
		}
	case up && s.bfdHeld:
		s.bfdHeld = false
		s.mu.Lock()
		s.st.adminReason = ""
		s.mu.Unlock()
		s.logger().Info("BFD session up, enabling the BGP peer", "event", "bfdUp")
		if s.backend != nil {
			if err := s.backend.setAdminDown(ctx, false, ""); err != nil {
				s.logger().Error("cannot enable the BGP peer", "error", err)
			}
		}
	}
}
