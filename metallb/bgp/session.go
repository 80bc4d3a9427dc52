package bgp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onp-lab/onp/metallb/bfd"
)

// historySize is how many transitions a Status keeps.
const historySize = 32

// opTimeout bounds one call into the backend.
const opTimeout = 30 * time.Second

// Session is one BGP session with a declarative set of advertisements.
// Its methods are safe for concurrent use.
type Session struct {
	m          *Manager
	name       string
	logp       atomic.Pointer[slog.Logger]
	newBackend newBackendFunc

	// opMu serialises Set, Update and Close and guards the fields up to mu.
	opMu      sync.Mutex
	params    SessionParameters // with defaults
	closed    bool
	gen       uint64
	genStop   chan struct{}
	genDone   chan struct{}
	backend   backend
	desired   map[netip.Prefix]Advertisement
	announced map[netip.Prefix]Advertisement
	bfdSess   *bfd.Session
	bfdHeld   bool // the peer is disabled because BFD went down
	sniffer   *notificationSniffer
	baseSent  MessageCount
	baseRecv  MessageCount

	curGen atomic.Uint64
	bfdGen atomic.Uint64

	// the event queue, drained in order by eventLoop
	qMu    sync.Mutex
	queue  []queued
	qStop  bool
	wake   chan struct{}
	evDone chan struct{}

	// mu guards st.
	mu sync.Mutex
	st sessionState
}

type sessionState struct {
	peer             string // "ip:port"
	state            FSMState
	since            time.Time
	history          []Transition
	lastError        string
	lastErrorTime    time.Time
	lastSent         *Notification
	lastRecv         *Notification
	establishedAt    time.Time
	lastDown         time.Time
	establishedCount uint64
	peerASN          uint32
	remoteRouterID   string
	routerID         netip.Addr
	pendingReason    string
	pendingTo        FSMState
	// resetReason is why the session itself reset an Established
	// connection (checkDynamicASN): the reason of the transition that
	// follows, rather than the read error the reset causes.
	resetReason   string
	lastDialError string
	adminReason   string // why the peer was disabled (BFD)
	// recvKey and recvAt identify the last received NOTIFICATION, which
	// may be reported twice (gobgp's record and the sniffer).
	recvKey string
	recvAt  time.Time
}

type queued struct {
	gen    uint64
	state  *stateEvent
	tap    *tapRecord
	bfd    *bfd.StateChange
	bfdGen uint64
}

type stateEvent struct {
	to             FSMState
	peerASN        uint32
	remoteRouterID string
}

// genEvents routes one backend generation's events into the session.
type genEvents struct {
	s   *Session
	gen uint64
}

func (g genEvents) stateChanged(to FSMState, peerASN uint32, rid string) {
	g.s.enqueue(queued{gen: g.gen, state: &stateEvent{to, peerASN, rid}})
}

func (g genEvents) tapped(rec tapRecord) { g.s.enqueue(queued{gen: g.gen, tap: &rec}) }

func (s *Session) enqueue(q queued) {
	s.qMu.Lock()
	if !s.qStop {
		s.queue = append(s.queue, q)
	}
	s.qMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Name returns the session's name.
func (s *Session) Name() string { return s.name }

// Parameters returns the session's parameters, with defaults applied.
func (s *Session) Parameters() SessionParameters {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return s.params
}

// Set replaces the set of advertisements the peer should receive. Prefixes
// listed more than once are merged (communities unioned). Only the
// difference to what is announced is sent: new and changed prefixes are
// announced, missing ones withdrawn; the session itself is not touched.
// Set returns when gobgp has the change; the peer learns it asynchronously.
// While the session is not running (e.g. its source address is missing)
// the set is kept and announced once it is.
func (s *Session) Set(advs ...Advertisement) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.closed {
		return fmt.Errorf("bgp session %q is closed", s.name)
	}
	merged, err := mergeAdvertisements(advs, s.params.PeerAddress.Is4(), s.name)
	if err != nil {
		return err
	}
	s.desired = merged
	if s.backend == nil {
		return nil
	}
	return s.syncLocked()
}

// syncLocked brings the backend's paths to the desired set. opMu held.
func (s *Session) syncLocked() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var add, del []Advertisement
	for p, a := range s.desired {
		if old, ok := s.announced[p]; !ok || !equalAdvertisement(old, a) {
			add = append(add, a)
		}
	}
	for p, a := range s.announced {
		if _, ok := s.desired[p]; !ok {
			del = append(del, a)
		}
	}
	byPrefix := func(a, b Advertisement) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	}
	slices.SortFunc(add, byPrefix)
	slices.SortFunc(del, byPrefix)
	addErrs := s.each(ctx, add, s.backend.announce)
	delErrs := s.each(ctx, del, s.backend.withdraw)
	var errs []error
	for i, a := range add {
		if addErrs[i] != nil {
			errs = append(errs, addErrs[i])
			continue
		}
		s.announced[a.Prefix] = a
	}
	for i, a := range del {
		if delErrs[i] != nil {
			errs = append(errs, delErrs[i])
			continue
		}
		delete(s.announced, a.Prefix)
	}
	if len(add)+len(del) > 0 {
		s.logger().Debug("advertisements updated", "event", "updatedAdvertisements", "announced", len(add), "withdrawn", len(del), "total", len(s.announced))
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Errorf("and %d more", len(errs)-5))
		}
		return fmt.Errorf("bgp session %q: %w", s.name, errors.Join(errs...))
	}
	return nil
}

// syncWorkers is how many backend calls a large Set keeps in flight. gobgp
// runs every AddPath/DeletePath as one operation of its server loop; with
// one caller, each operation waits for a goroutine handoff in both
// directions, which dominates the cost of a large Set. A few concurrent
// callers keep the loop busy instead (10,000 paths into an idle session on
// the 2-core test machine: about 210 ms with 8 callers, 260–750 ms with one).
const syncWorkers = 8

// each calls op for every advertisement, concurrently when there are many,
// and returns the errors by index.
func (s *Session) each(ctx context.Context, advs []Advertisement, op func(context.Context, Advertisement) error) []error {
	errs := make([]error, len(advs))
	if len(advs) < 2*syncWorkers {
		for i, a := range advs {
			errs[i] = op(ctx, a)
		}
		return errs
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < syncWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(advs) {
					return
				}
				errs[i] = op(ctx, advs[i])
			}
		}()
	}
	wg.Wait()
	return errs
}

// Update applies new parameters. A change of BGP parameters re-creates
// this session (the peer sees Cease / Peer De-configured, then a new
// session that gets the same advertisements); a change of the BFD profile
// alone updates the BFD session without touching BGP. Other sessions are
// never affected.
func (s *Session) Update(p SessionParameters) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.withDefaults()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.closed {
		return fmt.Errorf("bgp session %q is closed", s.name)
	}
	if p.Name != s.name {
		return fmt.Errorf("bgp session %q: cannot rename to %q: close it and create a new session", s.name, p.Name)
	}
	old := s.params
	if sameSession(old, p) {
		if sameBFD(old.BFD, p.BFD) {
			return nil
		}
		s.params = p
		return s.updateBFDLocked(old.BFD, p.BFD)
	}
	if old.PeerAddress.Is4() != p.PeerAddress.Is4() {
		for pfx := range s.desired {
			if pfx.Addr().Is4() != p.PeerAddress.Is4() {
				return fmt.Errorf("bgp session %q: peer %s is of another address family than the advertised prefix %s: Set the new family's prefixes after the change, or close and re-create the session", s.name, p.PeerAddress, pfx)
			}
		}
	}
	s.logger().Info("session parameters changed, re-creating the session", "event", "sessionUpdated", "changed", strings.Join(changedFields(old, p), ","))
	s.stopGenerationLocked("session parameters changed")
	s.closeBFDLocked()
	s.params = p
	s.logp.Store(s.m.sessionLogger(p))
	s.mu.Lock()
	s.st.peer = p.PeerString()
	s.mu.Unlock()
	var bfdErr error
	if p.BFD != nil {
		bfdErr = s.openBFDLocked()
	}
	s.startGenerationLocked()
	return bfdErr
}

// Close withdraws nothing explicitly: it ends the session (the peer sees
// Cease / Peer De-configured and drops the routes) and its BFD session
// (AdminDown), and removes it from its Manager.
func (s *Session) Close() error {
	s.opMu.Lock()
	if s.closed {
		s.opMu.Unlock()
		return nil
	}
	s.closed = true
	s.stopGenerationLocked("session closed")
	s.closeBFDLocked()
	done := s.genDone
	s.opMu.Unlock()
	<-done
	s.m.forget(s)
	s.qMu.Lock()
	s.qStop = true
	s.qMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.evDone
	s.logger().Info("session closed", "event", "sessionClosed")
	return nil
}

// startGenerationLocked starts a backend for the current parameters in the
// background: it waits until the preconditions hold (source address,
// route to the peer), then starts gobgp and announces the desired set.
func (s *Session) startGenerationLocked() {
	s.gen++
	gen := s.gen
	s.curGen.Store(gen)
	stop, done := make(chan struct{}), make(chan struct{})
	s.genStop, s.genDone = stop, done
	s.announced = map[netip.Prefix]Advertisement{}
	go s.runGeneration(gen, s.params, stop, done)
}

func (s *Session) runGeneration(gen uint64, p SessionParameters, stop, done chan struct{}) {
	defer close(done)
	lastErr := ""
	for {
		rid, err := preflight(p)
		if err == nil {
			sn := s.startSniffer(gen, p)
			b := s.newBackend(backendConfig{params: p, routerID: rid, log: s.m.gobgpLogger(p), events: genEvents{s, gen}})
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			err = b.start(ctx)
			cancel()
			if err == nil {
				s.install(gen, b, rid, sn)
				return
			}
			if sn != nil {
				sn.stop()
			}
		}
		if err.Error() != lastErr {
			s.logger().Error("cannot start the BGP session, retrying", "op", "connect", "error", err, "retryIn", p.ConnectTime.String())
			s.setError(err.Error())
		}
		lastErr = err.Error()
		t := time.NewTimer(p.ConnectTime)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// startSniffer starts the NOTIFICATION sniffer of a generation when the
// process may open packet sockets; without it, NOTIFICATIONs received
// before Established are only counted.
func (s *Session) startSniffer(gen uint64, p SessionParameters) *notificationSniffer {
	if !s.m.sniff {
		return nil
	}
	sn, err := startSniffer(p.PeerAddress, p.PeerPort, func(n Notification) {
		s.enqueue(queued{gen: gen, tap: &tapRecord{notification: &n}})
	})
	if err != nil {
		s.logger().Debug("NOTIFICATIONs received before Established will not be decoded", "error", err)
		return nil
	}
	return sn
}

// install makes b the session's backend unless the generation is stale.
func (s *Session) install(gen uint64, b backend, rid netip.Addr, sn *notificationSniffer) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if s.closed || gen != s.gen {
		b.stop(ctx)
		if sn != nil {
			sn.stop()
		}
		return
	}
	s.backend = b
	s.sniffer = sn
	s.mu.Lock()
	s.st.routerID = rid
	s.mu.Unlock()
	if s.bfdHeld {
		b.setAdminDown(ctx, true, "BFD session down")
	}
	if err := s.syncLocked(); err != nil {
		s.logger().Error("cannot announce advertisements", "op", "setAdvertisements", "error", err)
		s.setError(err.Error())
	}
}

// stopGenerationLocked stops the running backend (if any) and records the
// session as Idle.
func (s *Session) stopGenerationLocked(reason string) {
	if s.genStop != nil {
		close(s.genStop)
		s.genStop = nil
	}
	s.curGen.Store(0)
	if b := s.backend; b != nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if bs, err := b.snapshot(ctx); err == nil {
			s.baseSent = s.baseSent.add(bs.sent)
			s.baseRecv = s.baseRecv.add(bs.received)
		}
		if err := b.stop(ctx); err != nil {
			s.logger().Warn("stopping the BGP session failed", "error", err)
		}
		cancel()
		s.backend = nil
	}
	if s.sniffer != nil {
		s.sniffer.stop()
		s.sniffer = nil
	}
	s.bfdHeld = false
	s.transition(StateIdle, 0, "", reason)
}

// setError records the session's last error.
func (s *Session) setError(msg string) {
	s.mu.Lock()
	s.st.lastError, s.st.lastErrorTime = msg, time.Now()
	s.mu.Unlock()
}

// eventLoop handles queued events in order until Close.
func (s *Session) eventLoop() {
	defer close(s.evDone)
	for {
		s.qMu.Lock()
		batch := s.queue
		s.queue = nil
		stop := s.qStop
		s.qMu.Unlock()
		for _, q := range batch {
			s.handle(q)
		}
		if stop && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-s.wake
		}
	}
}

func (s *Session) handle(q queued) {
	switch {
	case q.state != nil:
		if q.gen != s.curGen.Load() {
			return
		}
		s.transition(q.state.to, q.state.peerASN, q.state.remoteRouterID, "")
	case q.tap != nil:
		if q.gen != s.curGen.Load() && q.tap.notification == nil {
			return
		}
		s.onTap(q.tap, q.gen == s.curGen.Load())
	case q.bfd != nil:
		if q.bfdGen != s.bfdGen.Load() {
			return
		}
		s.onBFD(*q.bfd)
	}
}

// transition records a state change and emits the events and logs that go
// with it. reason, when empty, is taken from gobgp's last transition
// record.
func (s *Session) transition(to FSMState, peerASN uint32, rid, reason string) {
	now := time.Now()
	s.mu.Lock()
	from := s.st.state
	if peerASN != 0 {
		s.st.peerASN = peerASN
	}
	if rid != "" {
		s.st.remoteRouterID = rid
	}
	if from == to {
		s.mu.Unlock()
		return
	}
	if reason == "" && s.st.pendingReason != "" && s.st.pendingTo == to {
		reason = s.humanReason(s.st.pendingReason)
	}
	s.st.pendingReason = ""
	s.st.history = append(s.st.history, Transition{Time: now, From: from, To: to, Reason: reason})
	if len(s.st.history) > historySize {
		s.st.history = slices.Delete(s.st.history, 0, len(s.st.history)-historySize)
	}
	s.st.state, s.st.since = to, now
	if to == StateEstablished {
		s.st.establishedAt = now
		s.st.establishedCount++
		s.st.lastDialError, s.st.resetReason = "", ""
	}
	if from == StateEstablished {
		s.st.lastDown = now
		if s.st.resetReason != "" {
			reason, s.st.resetReason = s.st.resetReason, ""
			s.st.history[len(s.st.history)-1].Reason = reason
		}
		if reason != "" {
			s.st.lastError, s.st.lastErrorTime = "session down: "+reason, now
		}
	}
	learned := s.st.peerASN
	s.mu.Unlock()

	s.logger().Debug("BGP state changed", "event", "stateChange", "from", from.String(), "to", to.String(), "reason", reason)
	s.m.emit(Event{Type: EventStateChange, Session: s.name, Peer: s.peerString(), Time: now, From: from, To: to, Reason: reason})
	if to == StateEstablished {
		s.logger().Info("BGP session established", "event", "sessionUp")
		s.m.emit(Event{Type: EventSessionUp, Session: s.name, Peer: s.peerString(), Time: now, From: from, To: to})
		s.checkDynamicASN(learned)
	}
	if from == StateEstablished {
		s.logger().Warn("BGP session down", "event", "sessionDown", "reason", reason)
		s.m.emit(Event{Type: EventSessionDown, Session: s.name, Peer: s.peerString(), Time: now, From: from, To: to, Reason: reason})
	}
}

func (s *Session) peerString() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.peer
}

func (s *Session) logger() *slog.Logger { return s.logp.Load() }

// humanReason turns gobgp's transition reason into words, naming the
// NOTIFICATION when there was one. s.mu held.
func (s *Session) humanReason(r string) string {
	switch {
	case strings.HasPrefix(r, "notification-received") && s.st.lastRecv != nil:
		return "notification received: " + s.st.lastRecv.String()
	case strings.HasPrefix(r, "notification-sent") && s.st.lastSent != nil:
		return "notification sent: " + s.st.lastSent.String()
	case r == "invalid-msg" && s.st.lastRecv != nil && time.Since(s.st.lastRecv.Time) < 2*time.Second:
		// gobgp's name for a NOTIFICATION that came before Established.
		return "notification received: " + s.st.lastRecv.String()
	case r == "invalid-msg" && s.st.lastSent != nil:
		return "invalid message from the peer, notification sent: " + s.st.lastSent.String()
	case r == "hold-timer-expired":
		return "hold timer expired"
	case r == "read-failed":
		return "connection closed by the peer (or read error)"
	case r == "write-failed":
		return "write to the peer failed"
	case r == "admin-down" && s.st.adminReason != "":
		return "peer disabled: " + s.st.adminReason
	case r == "admin-down":
		return "administratively disabled"
	case r == "dying":
		return "session stopped"
	case r == "idle-hold-timer-expired":
		return "idle hold timer expired"
	}
	return r
}

func (s *Session) onTap(t *tapRecord, current bool) {
	switch {
	case t.notification != nil:
		n := *t.notification
		s.mu.Lock()
		if !n.Sent {
			key := fmt.Sprintf("%d/%d/%x", n.Code, n.Subcode, n.Data)
			if key == s.st.recvKey && n.Time.Sub(s.st.recvAt).Abs() < 2*time.Second {
				s.mu.Unlock()
				return // the same NOTIFICATION from the other source
			}
			s.st.recvKey, s.st.recvAt = key, n.Time
		}
		if n.Sent {
			s.st.lastSent = &n
		} else {
			s.st.lastRecv = &n
		}
		// Our own Cease (shutdown, de-configuration, reset) is not an error.
		isErr := !n.Sent || n.Code != 6
		if isErr && current {
			verb := "received"
			if n.Sent {
				verb = "sent"
			}
			s.st.lastError, s.st.lastErrorTime = "notification "+verb+": "+n.String(), n.Time
		}
		s.mu.Unlock()
		if !current {
			return
		}
		errText := fmt.Sprintf("got BGP notification code 0x%02x%02x (%s)", n.Code, n.Subcode, NotificationName(n.Code, n.Subcode))
		if n.Sent {
			s.logger().Warn("sent notification to peer", "event", "peerNotification", "code", n.Code, "subcode", n.Subcode, "notification", n.String())
		} else {
			s.logger().Error("peer sent notification, closing session", "event", "peerNotification", "error", errText, "code", n.Code, "subcode", n.Subcode)
		}
		s.m.emit(Event{Type: EventPeerNotification, Session: s.name, Peer: s.peerString(), Time: n.Time, Notification: &n})
	case t.toName != "":
		to, ok := gobgpStates[t.toName]
		if !ok {
			return
		}
		s.mu.Lock()
		s.st.pendingReason, s.st.pendingTo = t.reason, to
		s.mu.Unlock()
	case t.dialError != "":
		s.mu.Lock()
		changed := s.st.lastDialError != t.dialError
		s.st.lastDialError = t.dialError
		s.st.lastError, s.st.lastErrorTime = "connect: "+t.dialError, time.Now()
		s.mu.Unlock()
		if changed {
			s.logger().Warn("failed to connect to peer", "op", "connect", "error", t.dialError)
		}
	}
}

// gobgpStates maps gobgp's FSM state names (bgp.FSMState.String) to ours.
var gobgpStates = map[string]FSMState{
	"BGP_FSM_IDLE":        StateIdle,
	"BGP_FSM_CONNECT":     StateConnect,
	"BGP_FSM_ACTIVE":      StateActive,
	"BGP_FSM_OPENSENT":    StateOpenSent,
	"BGP_FSM_OPENCONFIRM": StateOpenConfirm,
	"BGP_FSM_ESTABLISHED": StateEstablished,
}

// checkDynamicASN resets a session whose peer AS is not of the kind
// DynamicASN asks for. gobgp accepts any AS when none is configured, so
// the check can only run once the session is up.
func (s *Session) checkDynamicASN(peerASN uint32) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	p := s.params
	if p.DynamicASN == DynamicASNNone || s.backend == nil || peerASN == 0 {
		return
	}
	internal := peerASN == p.MyASN
	if internal == (p.DynamicASN == DynamicASNInternal) {
		return
	}
	why := fmt.Sprintf("peer AS %d does not match dynamicASN %s (myASN %d)", peerASN, p.DynamicASN, p.MyASN)
	s.logger().Error("unexpected peer ASN, resetting the session", "op", "connect", "error", why)
	s.setError(why)
	s.mu.Lock()
	s.st.resetReason = why
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// The reason travels in the Cease as a shutdown communication.
	s.backend.reset(ctx, why)
}

// Status returns a snapshot of the session.
func (s *Session) Status() Status {
	s.opMu.Lock()
	b := s.backend
	p := s.params
	desired := len(s.desired)
	baseSent, baseRecv := s.baseSent, s.baseRecv
	bs := s.bfdSess
	held := s.bfdHeld
	s.opMu.Unlock()

	var bst backendState
	var snapErr error
	if b != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		bst, snapErr = b.snapshot(ctx)
		cancel()
	}
	now := time.Now()
	s.mu.Lock()
	st := Status{
		Name: s.name, Peer: p.PeerString(), MyASN: p.MyASN, PeerASN: p.PeerASN, IBGP: p.IBGP(),
		State: s.st.state, Since: s.st.since, AdminDown: held || bst.adminDown,
		EstablishedCount: s.st.establishedCount,
		History:          slices.Clone(s.st.history),
		LastError:        s.st.lastError, LastErrorTime: s.st.lastErrorTime,
		Sent: baseSent.add(bst.sent), Received: baseRecv.add(bst.received),
		PrefixesDesired:    desired,
		PrefixesAdvertised: bst.advertised,
		NegotiatedHoldTime: bst.negotiatedHoldTime, KeepaliveInterval: bst.keepaliveInterval,
		RemoteRouterID: s.st.remoteRouterID, LocalAddress: bst.localAddress,
	}
	if s.st.routerID.IsValid() {
		st.RouterID = s.st.routerID.String()
	}
	if p.DynamicASN != DynamicASNNone {
		st.PeerASN = s.st.peerASN
		st.IBGP = s.st.peerASN == p.MyASN
	}
	if bst.remoteRouterID != "" {
		st.RemoteRouterID = bst.remoteRouterID
	}
	if n := s.st.lastSent; n != nil {
		c := *n
		st.LastNotificationSent = &c
	}
	if n := s.st.lastRecv; n != nil {
		c := *n
		st.LastNotificationReceived = &c
	}
	if st.State == StateEstablished {
		st.Uptime = now.Sub(s.st.establishedAt)
	} else {
		st.PrefixesAdvertised, st.NegotiatedHoldTime, st.KeepaliveInterval = 0, 0, 0
		if !s.st.lastDown.IsZero() {
			st.Downtime = now.Sub(s.st.lastDown)
		}
	}
	s.mu.Unlock()
	if snapErr != nil && st.LastError == "" {
		st.LastError = snapErr.Error()
	}
	if bs != nil {
		b := bs.Status()
		st.BFD = &b
	}
	return st
}

// changedFields names the parameters that differ, for the log.
func changedFields(a, b SessionParameters) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("peerAddress", a.PeerAddress != b.PeerAddress)
	add("peerPort", a.PeerPort != b.PeerPort)
	add("sourceAddress", a.SourceAddress != b.SourceAddress)
	add("myASN", a.MyASN != b.MyASN)
	add("peerASN", a.PeerASN != b.PeerASN)
	add("dynamicASN", a.DynamicASN != b.DynamicASN)
	add("routerID", a.RouterID != b.RouterID)
	add("holdTime", a.HoldTime != b.HoldTime)
	add("keepaliveTime", a.KeepaliveTime != b.KeepaliveTime)
	add("connectTime", a.ConnectTime != b.ConnectTime)
	add("password", a.Password != b.Password)
	add("ebgpMultiHop", a.EBGPMultiHop != b.EBGPMultiHop)
	add("bfdProfile", !sameBFD(a.BFD, b.BFD))
	return out
}
