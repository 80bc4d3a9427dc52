package bgp

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// backend is the BGP implementation under one session generation: one
// peer, one address family, its own RIB. gobgp.go implements it with
// gobgp/v3; a move to gobgp v4 means writing another implementation of
// this interface and of logAdapter, and nothing else in the package.
// Methods are safe for concurrent use.
type backend interface {
	// start brings the speaker up and adds the peer; it returns once the
	// peer is configured (the session itself comes up asynchronously).
	start(ctx context.Context) error
	// announce adds the path for a.Prefix, replacing any previous one.
	announce(ctx context.Context, a Advertisement) error
	// withdraw removes the path for a.Prefix.
	withdraw(ctx context.Context, a Advertisement) error
	// setAdminDown disables (true) or enables (false) the peer. Disabling
	// sends Cease / Administrative Shutdown with the reason when the
	// session is up.
	setAdminDown(ctx context.Context, down bool, reason string) error
	// reset drops the session with Cease / Administrative Reset; the peer
	// is retried after the backend's reset hold time.
	reset(ctx context.Context, reason string) error
	// snapshot reads the peer's state and counters.
	snapshot(ctx context.Context) (backendState, error)
	// stop tells the peer (Cease / Peer De-configured) and releases the
	// speaker. The backend is unusable afterwards.
	stop(ctx context.Context) error
}

// backendConfig is what a backend is built from.
type backendConfig struct {
	params   SessionParameters // with defaults applied
	routerID netip.Addr
	log      *slog.Logger
	events   backendEvents
}

// backendEvents receives what the backend observes, possibly from several
// goroutines; implementations must not block.
type backendEvents interface {
	// stateChanged reports a new FSM state, with the peer's AS and BGP
	// identifier as known at that moment.
	stateChanged(to FSMState, peerASN uint32, remoteRouterID string)
	// tapped reports facts read from the implementation's log records.
	tapped(rec tapRecord)
}

// backendState is a backend's view of its peer.
type backendState struct {
	state              FSMState
	adminDown          bool
	peerASN            uint32
	remoteRouterID     string
	localAddress       string
	sent, received     MessageCount
	negotiatedHoldTime time.Duration
	keepaliveInterval  time.Duration
	advertised         int
	flaps              uint32
}

// newBackendFunc builds a backend; tests substitute a fake.
type newBackendFunc func(cfg backendConfig) backend
