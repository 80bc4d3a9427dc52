package speaker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/bgp"
	"github.com/onp-lab/onp/metallb/config"
)

// Reasons the speaker holds no sessions at all (PeerStatus.Reason,
// ServiceStatus.Reason and the peerRemoved/serviceWithdrawn logs while it
// waits). They are this speaker's: in MetalLB, no speaker pod would run.
const (
	ReasonNoMetalLB       = "noMetalLBResource"
	ReasonNoNode          = "noNodeObject"
	ReasonNodeNotSelected = "nodeNotSelected"
	// ReasonRemovedFromConfig is MetalLB's reason when a BGPPeer goes away.
	ReasonRemovedFromConfig = "removedFromConfig"
)

// eventsKept is how many speaker events a StatusReport carries.
const eventsKept = 100

// DefaultResync is how often the speaker decides everything again without
// a change (Options.Resync).
const DefaultResync = 30 * time.Second

// backoff bounds for retries.
const (
	minBackoff = 50 * time.Millisecond
)

// Run runs the speaker for one node until ctx ends, then closes its
// sessions (the routers see Cease and drop the routes) and returns nil.
// It returns an error at once for invalid options or when an endpoint
// cannot listen.
//
// Until a MetalLB resource exists in MetalLB's namespace (and selects the
// node with its spec.nodeSelector) the speaker holds no sessions and its
// status says what it waits for; deleting the resource closes every
// session.
func Run(ctx context.Context, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	s := newSpeaker(o)
	return s.run(ctx)
}

// informer names.
const (
	infMetalLB       = "metallbs"
	infPools         = "ipaddresspools"
	infPeers         = "bgppeers"
	infAdvs          = "bgpadvertisements"
	infBFD           = "bfdprofiles"
	infCommunities   = "communities"
	infL2            = "l2advertisements"
	infSecrets       = "secrets"
	infNodes         = "nodes"
	infNamespaces    = "namespaces"
	infServices      = "services"
	infEndpointSlice = "endpointslices"
)

// configInformers feed config.For.
var configInformers = []string{infPools, infPeers, infAdvs, infBFD, infCommunities, infL2, infSecrets, infNodes, infNamespaces}

type speaker struct {
	opts    Options
	log     *slog.Logger
	ns      string
	started time.Time
	mgr     *bgp.Manager
	c       kube.Interface
	trigger chan struct{}
	events  *eventQueue
	// dirty is what the informers changed since the last round.
	dirty kube.Dirty

	// Reconcile-loop state (only the loop goroutine touches it).
	cfg         *config.Config
	cfgLoadedAt time.Time
	cfgDirty    bool
	cfgErr      error
	cfgSince    time.Time
	cfgState    string
	sessions    map[string]sessionMemo // by session name
	peerMemo    map[string]string      // peer → "" (session) or reason
	svcMemo     map[string]svcMemo     // by service key
	lastWait    string
	once        map[string]string
	// round is what the last complete round decided, which rounds for
	// changed services update.
	round *round
	// fullNext makes the next round a complete one (after a failure).
	fullNext bool
	// setDue are the sessions whose desired set changed since their last
	// Set; lastSet is when that was; setLater is set while a Set is
	// scheduled.
	setDue   map[string]bool
	lastSet  map[string]time.Time
	setLater bool

	mu       sync.Mutex // guards the fields below
	infs     map[string]*kube.Informer
	view     view
	ring     []EventRecord
	announce map[string][]string // service key → announced IPs
}

// round is the state a complete round leaves for the rounds that follow:
// what every decision depends on besides the service, the sessions'
// desired sets per prefix, and the decisions.
type round struct {
	waitReason, waitMsg string
	node                *api.Node
	lbClass             string
	sets                []*routeSet
	decisions           map[string]serviceDecision
}

// sessionMemo is what was last Set on a session.
type sessionMemo struct {
	sess *bgp.Session
	advs []bgp.Advertisement
}

type svcMemo struct {
	announced bool
	reason    string
	ips       string
	since     time.Time
}

// view is the speaker's side of the status. A complete round replaces
// it; rounds for changed services update its services and routes.
type view struct {
	state, message string
	connected      bool
	metallb        MetalLBStatus
	config         ConfigStatus
	pools          []PoolStatus
	peers          []PeerStatus
	sessions       map[string]*sessionView
	services       map[string]ServiceStatus
}

// sessionView is one session's configuration and desired set.
type sessionView struct {
	plan   sessionPlan
	routes map[netip.Prefix]RouteStatus
}

// What the informers' handlers note.
const (
	dirtyConfig   = "config"
	dirtyMetalLB  = "metallb"
	dirtyServices = "services"
	// dirtySets: a scheduled Set is due.
	dirtySets = "sets"
)

// minSetInterval is how often at most a session's desired set is Set
// while services keep changing (flushSets): every Set merges and compares
// the whole set, so a burst of changes must not Set it for each one.
const minSetInterval = 50 * time.Millisecond

func newSpeaker(o Options) *speaker {
	s := &speaker{
		opts: o, log: o.Logger, ns: o.Namespace, started: time.Now(),
		trigger:  make(chan struct{}, 1),
		sessions: map[string]sessionMemo{}, peerMemo: map[string]string{}, svcMemo: map[string]svcMemo{},
		announce: map[string][]string{}, cfgState: ConfigUnknown, once: map[string]string{}, cfgDirty: true,
		setDue: map[string]bool{}, lastSet: map[string]time.Time{},
	}
	s.dirty.SetNotify(s.poke)
	s.mgr = bgp.NewManager(bgp.Options{Logger: o.Logger, OnEvent: s.onSessionEvent})
	s.view = view{state: StateConnecting, message: "connecting to the cluster API", metallb: MetalLBStatus{Namespace: s.ns}, config: ConfigStatus{State: ConfigUnknown}}
	return s
}

// inform creates the informers over s.c and their handlers: a change of
// the configuration, the node or the MetalLB resource asks for a complete
// round; a change of a service or of its EndpointSlices for that service.
func (s *speaker) inform() *kube.Informers {
	f := kube.NewInformers(s.c, s.log)
	infs := map[string]*kube.Informer{
		infMetalLB:       f.ForNamespace(kube.KindFor[api.MetalLB](), s.ns),
		infPools:         f.ForNamespace(kube.KindFor[api.IPAddressPool](), s.ns),
		infPeers:         f.ForNamespace(kube.KindFor[api.BGPPeer](), s.ns),
		infAdvs:          f.ForNamespace(kube.KindFor[api.BGPAdvertisement](), s.ns),
		infBFD:           f.ForNamespace(kube.KindFor[api.BFDProfile](), s.ns),
		infCommunities:   f.ForNamespace(kube.KindFor[api.Community](), s.ns),
		infL2:            f.ForNamespace(kube.KindFor[api.L2Advertisement](), s.ns),
		infSecrets:       f.ForNamespace(kube.KindFor[api.Secret](), s.ns),
		infNodes:         f.For(kube.KindFor[api.Node]()),
		infNamespaces:    f.For(kube.KindFor[api.Namespace]()),
		infServices:      f.For(kube.KindFor[api.Service]()),
		infEndpointSlice: f.For(kube.KindFor[api.EndpointSlice]()),
	}
	for _, n := range configInformers {
		if n == infNodes {
			// Labels and conditions of the node matter to every decision.
			infs[n].AddHandler(func(kube.Change) { s.dirty.Mark(dirtyConfig, "") })
			continue
		}
		infs[n].AddHandler(func(ch kube.Change) {
			if specChanged(ch) {
				s.dirty.Mark(dirtyConfig, "")
			}
		})
	}
	infs[infMetalLB].AddHandler(func(kube.Change) { s.dirty.Mark(dirtyMetalLB, "") })
	infs[infServices].AddHandler(func(ch kube.Change) { s.dirty.Mark(dirtyServices, ch.Key) })
	es := infs[infEndpointSlice]
	es.AddIndex(kube.IndexService, kube.ServiceIndex)
	es.AddHandler(func(ch kube.Change) {
		var keys []string
		if ch.Old != nil {
			keys = kube.ServiceIndex(ch.Old)
		}
		if ch.New != nil {
			keys = append(keys, kube.ServiceIndex(ch.New)...)
		}
		if len(keys) > 0 {
			s.dirty.Mark(dirtyServices, keys...)
		}
	})
	s.mu.Lock()
	s.infs = infs
	s.mu.Unlock()
	return f
}

// specChanged reports whether a change of a configuration object can
// change the configuration: the object came or went, or its content
// (generation), labels, annotations or deletion changed — not a status
// update such as an IPAddressPool's counters.
func specChanged(ch kube.Change) bool {
	if ch.Type != kube.Modified {
		return true
	}
	a, b := ch.Old.Meta(), ch.New.Meta()
	return a.Generation != b.Generation || !maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil)
}

func (s *speaker) poke() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

func (s *speaker) run(ctx context.Context) error {
	srv, err := s.serve(ctx)
	if err != nil {
		s.mgr.Close()
		return err
	}
	defer srv.close()
	s.log.Info("speaker started", "event", "speakerStarted", "node", s.opts.NodeName, "namespace", s.ns,
		"apiSocket", s.opts.APISocket, "statusSocket", s.opts.StatusSocket, "metrics", s.opts.MetricsAddr, "pid", os.Getpid())
	if s.opts.Ready != nil {
		s.opts.Ready()
	}
	defer func() {
		s.mgr.Close()
		s.setState(StateStopped, "the speaker stopped")
		s.log.Info("speaker stopped", "event", "speakerStopped", "node", s.opts.NodeName)
	}()

	s.c = s.opts.Client
	if s.c == nil {
		cl := client.New(s.opts.APISocket)
		defer cl.Close()
		if err := s.connect(ctx, cl); err != nil {
			return nil // ctx ended
		}
		s.c = cl
	}
	s.setState(StateSyncing, "reading the cluster's objects")
	if !s.opts.DisableEvents {
		s.events = newEventQueue(s.c, s.opts.NodeName, s.log)
		go s.events.run(ctx)
	}
	infs := s.inform()
	infs.Start(ctx)
	defer infs.Wait()
	go func() {
		// The first round waits for every informer; the last one to list
		// may have nothing to tell its handlers.
		if infs.WaitForSync(ctx) {
			s.poke()
		}
	}()

	resync := s.opts.Resync
	if resync <= 0 {
		resync = DefaultResync
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	backoff := time.Duration(0)
	lastErr := ""
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.trigger:
		case <-retry:
		case <-tick.C:
			s.dirty.MarkAll()
		}
		retry = nil
		if !s.synced() {
			continue
		}
		sets, all := s.dirty.Take()
		if s.fullNext {
			all, s.fullNext = true, false
		}
		err := s.reconcile(ctx, sets, all)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.fullNext = true
			backoff = min(max(2*backoff, minBackoff), 10*time.Second)
			if msg := err.Error(); msg != lastErr {
				s.log.Warn("reconcile failed; retrying", "err", err, "in", backoff)
				lastErr = msg
			}
			retry = time.After(backoff)
			continue
		}
		if lastErr != "" {
			s.log.Info("reconcile recovered")
		}
		backoff, lastErr = 0, ""
	}
}

// connect waits until the cluster API answers.
func (s *speaker) connect(ctx context.Context, cl *client.Client) error {
	backoff := time.Duration(0)
	logged := ""
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := cl.Ping(pctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.view.connected = true
			s.mu.Unlock()
			if logged != "" {
				s.log.Info("cluster API answers", "socket", s.opts.APISocket)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.setState(StateConnecting, fmt.Sprintf("waiting for the cluster API at %s: %v", s.opts.APISocket, err))
		if msg := err.Error(); msg != logged {
			s.log.Warn("cluster API does not answer; retrying", "socket", s.opts.APISocket, "err", err)
			logged = msg
		}
		backoff = min(max(2*backoff, minBackoff), 2*time.Second)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *speaker) synced() bool {
	for _, inf := range s.infs {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

func (s *speaker) setState(state, msg string) {
	s.mu.Lock()
	s.view.state, s.view.message = state, msg
	s.mu.Unlock()
}

func (s *speaker) objects(name string) []api.Object {
	return s.infs[name].List()
}

// reconcile is one round. A complete round decides everything from the
// cached objects and brings the sessions, their advertisements, logs,
// events and metrics in line; it runs at start, when the configuration,
// the node or the MetalLB resource changed, every resync period and after
// a failure. Otherwise a round decides again only the services that
// changed (or whose EndpointSlices did), updates the desired sets of the
// sessions they reach prefix by prefix, and Sets those sessions' merged
// desired sets.
func (s *speaker) reconcile(ctx context.Context, sets map[string]map[string]bool, all bool) error {
	if all || s.round == nil || len(sets[dirtyConfig]) > 0 || len(sets[dirtyMetalLB]) > 0 {
		if len(sets[dirtyConfig]) > 0 || all {
			s.cfgDirty = true
		}
		return s.reconcileAll(ctx)
	}
	if len(sets[dirtySets]) > 0 {
		s.setLater = false
	}
	return s.reconcileServices(sets[dirtyServices])
}

// reconcileAll is a complete round.
func (s *speaker) reconcileAll(ctx context.Context) error {
	now := time.Now()
	mlbs := kube.Typed[api.MetalLB](s.objects(infMetalLB))
	slices.SortFunc(mlbs, func(a, b *api.MetalLB) int {
		ta, tb := time.Time{}, time.Time{}
		if a.CreationTimestamp != nil {
			ta = *a.CreationTimestamp
		}
		if b.CreationTimestamp != nil {
			tb = *b.CreationTimestamp
		}
		return cmp.Or(ta.Compare(tb), cmp.Compare(a.Name, b.Name))
	})
	var node *api.Node
	if o, ok := s.infs[infNodes].Get("", s.opts.NodeName); ok {
		node = o.(*api.Node)
	}
	services := kube.Typed[api.Service](s.objects(infServices))
	mstat := MetalLBStatus{Namespace: s.ns}
	lbClass := s.opts.LoadBalancerClass
	var mlb *api.MetalLB
	if len(mlbs) > 0 {
		mlb = mlbs[0]
		mstat.Present, mstat.Name = true, mlb.Name
		if lbClass == "" {
			lbClass = mlb.Spec.LoadBalancerClass
		}
		mstat.NodeSelected = node != nil && (api.LabelSelector{MatchLabels: mlb.Spec.SpeakerNodeSelector}).Matches(node.Labels)
		if len(mlbs) > 1 {
			s.logOnce("metallbs", "several MetalLB resources; the oldest is in effect", "metallb", mlb.Name, "count", len(mlbs))
		}
	}
	mstat.LoadBalancerClass = lbClass

	waitReason, waitMsg := "", ""
	switch {
	case mlb == nil:
		waitReason, waitMsg = ReasonNoMetalLB, fmt.Sprintf("waiting for a MetalLB resource in %s", s.ns)
	case node == nil:
		waitReason, waitMsg = ReasonNoNode, fmt.Sprintf("waiting for the Node object %q (the cluster agent registers it)", s.opts.NodeName)
	case !mstat.NodeSelected:
		waitReason, waitMsg = ReasonNodeNotSelected, fmt.Sprintf("node %s does not match spec.nodeSelector of MetalLB %s/%s (%s): no speaker runs on it", s.opts.NodeName, s.ns, mlb.Name, labelString(mlb.Spec.SpeakerNodeSelector))
	}
	if waitReason == "" {
		s.evaluateConfig(now)
		if s.cfg == nil {
			waitReason = ReasonNoConfig
			waitMsg = fmt.Sprintf("no valid MetalLB configuration in %s: %v", s.ns, firstLine(s.cfgErr))
		}
	}
	if waitReason != s.lastWait {
		if waitReason != "" {
			s.log.Info(waitMsg, "event", "speakerWaiting", "reason", waitReason)
		} else if s.lastWait != "" {
			s.log.Info("speaker running", "event", "speakerRunning", "metallb", mlb.Name)
		}
		s.lastWait = waitReason
	}

	var p plan
	var errs []error
	if waitReason != "" {
		errs = append(errs, s.applySessions(nil, nil, waitReason))
		for _, svc := range services {
			if svc.Spec.Type != api.ServiceTypeLoadBalancer {
				continue
			}
			d := newDecision(svc)
			d.reason, d.message = waitReason, waitMsg
			p.services = append(p.services, d)
		}
		sortDecisions(p.services)
	} else {
		p = decide(planInput{
			nodeName: s.opts.NodeName, node: node, cfg: s.cfg, services: services,
			slices: s.slicesByService(), lbClass: lbClass, ignoreExcludeLB: s.opts.IgnoreExcludeLB,
		})
		err := s.applySessions(p.sessions, p.peers, "")
		errs = append(errs, err)
		// A session the manager refused is not running: say why.
		for i := range p.peers {
			ps := &p.peers[i]
			if _, ok := s.mgr.Session(ps.Name); ps.Session && !ok {
				ps.Session, ps.Reason = false, ReasonSessionFailed
				ps.Message = "the session could not be created"
				if err != nil {
					ps.Message += ": " + err.Error()
				}
			}
		}
	}
	// Every session has its whole desired set now (or the round failed and
	// the next one is complete).
	clear(s.setDue)
	svcStatus := s.serviceTransitions(now, p.services, services)

	r := &round{waitReason: waitReason, waitMsg: waitMsg, node: node, lbClass: lbClass, decisions: make(map[string]serviceDecision, len(p.services))}
	for _, d := range p.services {
		r.decisions[d.key] = d
	}
	v := view{
		state: StateRunning, message: fmt.Sprintf("running: %d of %d BGPPeers selected for node %s", len(p.sessions), len(p.peers), s.opts.NodeName),
		metallb: mstat, config: s.configStatus(), peers: p.peers, services: svcStatus,
		sessions: map[string]*sessionView{},
	}
	if waitReason != "" {
		v.state, v.message = StateWaiting, waitMsg
	}
	if s.cfg != nil && waitReason != ReasonNoMetalLB {
		v.pools = poolStatus(s.cfg)
	}
	if waitReason != "" {
		v.peers = nil
	}
	for _, sp := range p.sessions {
		r.sets = append(r.sets, sp.set)
		sv := &sessionView{plan: sp, routes: make(map[netip.Prefix]RouteStatus, len(sp.routes))}
		for _, pfx := range sp.set.sortedPrefixes() {
			sv.routes[pfx], _ = sp.set.route(pfx)
		}
		sv.plan.advs, sv.plan.routes, sv.plan.set = nil, nil, nil
		v.sessions[sp.params.Name] = sv
	}
	s.round = r
	s.mu.Lock()
	v.connected = true
	s.view = v
	s.mu.Unlock()
	return errors.Join(errs...)
}

// reconcileServices decides again the services with these keys, with the
// configuration, node and sessions of the last complete round.
func (s *speaker) reconcileServices(keys map[string]bool) error {
	now := time.Now()
	r := s.round
	type routeChange struct {
		session string
		prefix  netip.Prefix
		route   RouteStatus
		ok      bool
	}
	var routes []routeChange
	statuses := map[string]*ServiceStatus{}
	announced := map[string][]string{}
	dirty := map[*routeSet]bool{}
	for key := range keys {
		var svc *api.Service
		if o, ok := s.infs[infServices].GetKey(key); ok {
			svc = o.(*api.Service)
		}
		var d *serviceDecision
		if svc != nil && svc.Spec.Type == api.ServiceTypeLoadBalancer {
			x := newDecision(svc)
			if r.waitReason != "" {
				x.reason, x.message = r.waitReason, r.waitMsg
			} else {
				x = decideService(planInput{
					nodeName: s.opts.NodeName, node: r.node, cfg: s.cfg, lbClass: r.lbClass, ignoreExcludeLB: s.opts.IgnoreExcludeLB,
					slices: map[string][]api.EndpointSlice{key: s.slicesOf(key)},
				}, svc)
				if x.announced {
					for _, rs := range r.sets {
						if slices.ContainsFunc(x.ads, func(a config.Advertisement) bool { return reaches(a, rs.params) }) {
							x.peers = append(x.peers, rs.params.Name)
						}
					}
				}
			}
			d = &x
		}
		for _, rs := range r.sets {
			for _, pfx := range rs.update(key, d) {
				dirty[rs] = true
				rt, ok := rs.route(pfx)
				routes = append(routes, routeChange{rs.params.Name, pfx, rt, ok})
			}
		}
		if d == nil {
			delete(r.decisions, key)
		} else {
			r.decisions[key] = *d
		}
		st, ips := s.transition(now, key, d, svc)
		statuses[key] = st
		announced[key] = ips
	}
	for rs := range dirty {
		s.setDue[rs.params.Name] = true
	}
	err := s.flushSets(now)
	s.mu.Lock()
	for key, st := range statuses {
		if st == nil {
			delete(s.view.services, key)
		} else {
			s.view.services[key] = *st
		}
		if ips := announced[key]; len(ips) > 0 {
			s.announce[key] = ips
		} else {
			delete(s.announce, key)
		}
	}
	for _, c := range routes {
		sv := s.view.sessions[c.session]
		if sv == nil {
			continue
		}
		if c.ok {
			sv.routes[c.prefix] = c.route
		} else {
			delete(sv.routes, c.prefix)
		}
	}
	s.mu.Unlock()
	return err
}

// flushSets Sets the merged desired set of each session whose set changed,
// at most once per minSetInterval while changes keep coming: the first
// change after a quiet moment goes out at once, a burst goes out in
// batches (each Set hands the session its whole desired set, which costs
// in proportion to its size). A Set not yet due is scheduled.
func (s *speaker) flushSets(now time.Time) error {
	var errs []error
	var wait time.Duration
	for _, rs := range s.round.sets {
		name := rs.params.Name
		if !s.setDue[name] {
			continue
		}
		if d := minSetInterval - now.Sub(s.lastSet[name]); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		delete(s.setDue, name)
		memo, ok := s.sessions[name]
		if !ok {
			continue
		}
		s.lastSet[name] = now
		advs := rs.desired()
		err := memo.sess.Set(advs...)
		if err != nil {
			errs = append(errs, err)
			s.sessions[name] = sessionMemo{sess: memo.sess}
			continue
		}
		s.log.Debug("updated advertisements", "event", "updatedAdvertisements", "peer", name, "numAds", len(advs))
		memo.advs = advs
		s.sessions[name] = memo
	}
	if wait > 0 && !s.setLater {
		s.setLater = true
		time.AfterFunc(wait, func() { s.dirty.Mark(dirtySets, "") })
	}
	return errors.Join(errs...)
}

// slicesOf returns the EndpointSlices of one service.
func (s *speaker) slicesOf(key string) []api.EndpointSlice {
	objs := s.infs[infEndpointSlice].ByIndex(kube.IndexService, key)
	out := make([]api.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		out = append(out, *o.(*api.EndpointSlice))
	}
	slices.SortFunc(out, func(a, b api.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// evaluateConfig runs config.For when a configuration object changed. An
// invalid configuration keeps the last valid one in effect, as MetalLB's
// speaker does.
func (s *speaker) evaluateConfig(now time.Time) {
	if !s.cfgDirty {
		return
	}
	s.cfgDirty = false
	var objs []api.Object
	for _, n := range configInformers {
		objs = append(objs, sortedObjects(s.objects(n))...)
	}
	cfg, err := config.For(config.ResourcesFrom(s.ns, objs))
	if err != nil {
		prev := s.cfgErr
		s.cfgErr = err
		if s.cfgState != ConfigInvalid {
			s.cfgState, s.cfgSince = ConfigInvalid, now
		}
		if prev == nil || prev.Error() != err.Error() {
			attrs := []any{"event", "configInvalid", "transient", config.OnlyTransient(err), "err", err}
			if s.cfg != nil {
				s.log.Error("the MetalLB configuration is invalid; keeping the last valid one", attrs...)
			} else {
				s.log.Error("the MetalLB configuration is invalid; nothing is configured until it is fixed", attrs...)
			}
			s.record(EventRecord{Time: now, Event: "configInvalid", Message: firstLine(err)})
		}
		return
	}
	changed := s.cfg == nil || s.cfgErr != nil || !reflect.DeepEqual(s.cfg, cfg)
	s.cfgErr = nil
	if s.cfgState != ConfigValid {
		s.cfgState, s.cfgSince = ConfigValid, now
	}
	if changed {
		s.cfg, s.cfgLoadedAt = cfg, now
		s.log.Info("config (re)loaded", "event", "configLoaded", "pools", len(cfg.Pools), "peers", len(cfg.Peers),
			"bgpAdvertisements", len(cfg.BGPAdvertisements), "warnings", len(cfg.Warnings))
		for _, w := range cfg.Warnings {
			s.log.Warn(w, "event", "configWarning")
		}
		s.record(EventRecord{Time: now, Event: "configLoaded", Message: fmt.Sprintf("%d pools, %d peers, %d BGP advertisements", len(cfg.Pools), len(cfg.Peers), len(cfg.BGPAdvertisements))})
	}
}

func (s *speaker) configStatus() ConfigStatus {
	cs := ConfigStatus{State: s.cfgState}
	if !s.cfgSince.IsZero() {
		t := s.cfgSince
		cs.Since = &t
	}
	if s.cfg != nil {
		t := s.cfgLoadedAt
		cs.LastValid = &t
		cs.Warnings = s.cfg.Warnings
	}
	if s.cfgErr != nil {
		cs.Error = s.cfgErr.Error()
		cs.Transient = config.OnlyTransient(s.cfgErr)
		cs.Stale = s.cfg != nil
		var list config.Errors
		if errors.As(s.cfgErr, &list) {
			for _, e := range list {
				cs.Errors = append(cs.Errors, ConfigError{Object: e.Object, Field: e.Field, Message: e.Msg, Transient: e.Transient})
			}
		}
	}
	return cs
}

func poolStatus(cfg *config.Config) []PoolStatus {
	out := make([]PoolStatus, 0, len(cfg.Pools))
	for _, p := range cfg.Pools {
		ps := PoolStatus{Name: p.Name, AutoAssign: p.AutoAssign, AvoidBuggyIPs: p.AvoidBuggyIPs, L2Advertised: p.L2Advertised, Advertisements: []string{}}
		for _, a := range p.Addresses {
			ps.Addresses = append(ps.Addresses, a.Text)
		}
		for _, a := range p.BGPAdvertisements {
			ps.Advertisements = append(ps.Advertisements, a.Name)
		}
		out = append(out, ps)
	}
	return out
}

// sortedObjects sorts objects by namespace and name, as a list returns
// them.
func sortedObjects(objs []api.Object) []api.Object {
	slices.SortFunc(objs, func(a, b api.Object) int {
		x, y := a.Meta(), b.Meta()
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
	return objs
}

// slicesByService groups the EndpointSlices by the service they belong to
// (label kubernetes.io/service-name).
func (s *speaker) slicesByService() map[string][]api.EndpointSlice {
	out := map[string][]api.EndpointSlice{}
	for _, es := range kube.Typed[api.EndpointSlice](sortedObjects(s.objects(infEndpointSlice))) {
		name := es.Labels[api.LabelServiceName]
		if name == "" {
			continue
		}
		k := serviceKey(es.Namespace, name)
		out[k] = append(out[k], *es)
	}
	return out
}

// applySessions reconciles the session manager with the planned sessions
// and Sets each session's desired set when it changed (or the session is
// new). Sessions are never touched for advertisement changes. peers says
// why a peer has no session; waitReason, when set, is the reason for
// every removal.
func (s *speaker) applySessions(plans []sessionPlan, peers []PeerStatus, waitReason string) error {
	params := make([]bgp.SessionParameters, len(plans))
	for i, sp := range plans {
		params[i] = sp.params
	}
	var errs []error
	if err := s.mgr.Reconcile(params); err != nil {
		errs = append(errs, err)
	}
	now := time.Now()
	// Logs for peers that gained or lost their session.
	reasons := map[string]PeerStatus{}
	for _, ps := range peers {
		reasons[ps.Name] = ps
	}
	for name := range s.sessions {
		if _, ok := s.mgr.Session(name); ok {
			continue
		}
		delete(s.sessions, name)
		reason := waitReason
		msg := ""
		if ps, ok := reasons[name]; ok && reason == "" {
			reason, msg = ps.Reason, ps.Message
		}
		if reason == "" {
			reason = ReasonRemovedFromConfig
		}
		s.log.Info("peer removed", "event", "peerRemoved", "peer", name, "reason", reason)
		s.record(EventRecord{Time: now, Event: "peerRemoved", Peer: name, Reason: reason, Message: msg})
	}
	for _, sp := range plans {
		sess, ok := s.mgr.Session(sp.params.Name)
		if !ok {
			continue
		}
		memo, had := s.sessions[sp.params.Name]
		if !had || memo.sess != sess {
			s.log.Info("peer added", "event", "peerAdded", "peer", sp.params.Name, "address", sp.params.PeerString(),
				"myASN", sp.params.MyASN, "peerASN", sp.params.PeerASN, "dynamicASN", string(sp.params.DynamicASN))
			s.record(EventRecord{Time: now, Event: "peerAdded", Peer: sp.params.Name, Message: sp.params.PeerString()})
			memo = sessionMemo{sess: sess}
		} else if sameAdvSet(memo.advs, sp.advs) {
			continue
		}
		s.lastSet[sp.params.Name] = now
		if err := sess.Set(sp.advs...); err != nil {
			errs = append(errs, err)
			s.sessions[sp.params.Name] = sessionMemo{sess: sess}
			continue
		}
		s.log.Debug("updated advertisements", "event", "updatedAdvertisements", "peer", sp.params.Name, "numAds", len(sp.advs))
		memo.advs = sp.advs
		s.sessions[sp.params.Name] = memo
	}
	// Peers whose reason for having no session changed (logged once).
	for _, ps := range peers {
		prev, had := s.peerMemo[ps.Name]
		if ps.Reason != "" && (!had || prev != ps.Reason) {
			s.log.Info("peer not selected for this node", "event", "peerSkipped", "peer", ps.Name, "reason", ps.Reason, "msg", ps.Message)
		}
		for _, w := range ps.Warnings {
			if !had {
				s.log.Warn(w, "event", "peerWarning", "peer", ps.Name)
			}
		}
		s.peerMemo[ps.Name] = ps.Reason
	}
	if peers == nil {
		clear(s.peerMemo)
	}
	return errors.Join(errs...)
}

func sameAdvs(a, b []bgp.Advertisement) bool {
	return slices.EqualFunc(a, b, sameAdv)
}

// sameAdvSet compares two desired sets (one advertisement per prefix) in
// any order.
func sameAdvSet(a, b []bgp.Advertisement) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[netip.Prefix]bgp.Advertisement, len(a))
	for _, x := range a {
		m[x.Prefix] = x
	}
	for _, y := range b {
		x, ok := m[y.Prefix]
		if !ok || !sameAdv(x, y) {
			return false
		}
	}
	return true
}

// eventWarningReasons are decisions that point at a configuration problem.
var eventWarningReasons = map[string]bool{
	config.ReasonNotOwner: true, config.ReasonNoMatchingAdvertisement: true,
	config.ReasonConflictingAdvertisements: true, ReasonIPNotAllowed: true,
}

// serviceTransitions logs serviceAnnounced/serviceWithdrawn, records
// events and updates the announced metric for decisions that changed, and
// returns the services' status (for a complete round: every decision).
func (s *speaker) serviceTransitions(now time.Time, ds []serviceDecision, services []*api.Service) map[string]ServiceStatus {
	byKey := make(map[string]*api.Service, len(services))
	for _, svc := range services {
		byKey[serviceKey(svc.Namespace, svc.Name)] = svc
	}
	out := make(map[string]ServiceStatus, len(ds))
	announced := map[string][]string{}
	for i := range ds {
		d := &ds[i]
		st, ips := s.transition(now, d.key, d, byKey[d.key])
		out[d.key] = *st
		if len(ips) > 0 {
			announced[d.key] = ips
		}
	}
	for key := range s.svcMemo {
		if _, ok := out[key]; !ok {
			s.transition(now, key, nil, byKey[key])
		}
	}
	s.mu.Lock()
	s.announce = announced
	s.mu.Unlock()
	return out
}

// transition handles one service's decision (nil: the service went or is
// no LoadBalancer any more): logs, events and memo when it changed. It
// returns the service's status (nil without a decision) and its
// announced IPs.
func (s *speaker) transition(now time.Time, key string, d *serviceDecision, svc *api.Service) (*ServiceStatus, []string) {
	prev, had := s.svcMemo[key]
	if d == nil {
		if !had {
			return nil, nil
		}
		delete(s.svcMemo, key)
		if prev.announced {
			reason := ReasonServiceDeleted
			if svc != nil && svc.Spec.Type != api.ServiceTypeLoadBalancer {
				reason = ReasonNotLoadBalancer
			}
			s.log.Info("withdrawing service announcement", "event", "serviceWithdrawn", "service", key, "ip", prev.ips, "reason", reason)
			s.record(EventRecord{Time: now, Event: "serviceWithdrawn", Service: key, IP: prev.ips, Reason: reason})
		}
		return nil, nil
	}
	ips := joinAddrs(d.ips)
	changed := !had || prev.announced != d.announced || prev.reason != d.reason || (d.announced && prev.ips != ips)
	since := prev.since
	if changed {
		since = now
		switch {
		case d.announced:
			s.log.Info("service has IP, announcing", "event", "serviceAnnounced", "service", d.key, "ips", ips, "pool", d.pool, "protocol", "bgp")
			s.record(EventRecord{Time: now, Event: "serviceAnnounced", Service: d.key, IP: ips, Message: "pool " + d.pool})
			s.serviceEvent(svc, kube.EventNormal, "nodeAssigned", fmt.Sprintf("announcing from node %q with protocol %q", s.opts.NodeName, "bgp"))
		case prev.announced:
			s.log.Info("withdrawing service announcement", "event", "serviceWithdrawn", "service", d.key, "ip", prev.ips, "reason", d.reason, "msg", d.message)
			s.record(EventRecord{Time: now, Event: "serviceWithdrawn", Service: d.key, IP: prev.ips, Reason: d.reason, Message: d.message})
			s.serviceEvent(svc, kube.EventNormal, d.reason, fmt.Sprintf("withdrawn from node %q: %s", s.opts.NodeName, d.message))
		default:
			s.log.Info("service not announced", "event", "serviceNotAnnounced", "service", d.key, "ip", ips, "reason", d.reason, "msg", d.message)
			if len(d.ips) > 0 && d.reason != ReasonLoadBalancerClass {
				typ := kube.EventNormal
				if eventWarningReasons[d.reason] {
					typ = kube.EventWarning
				}
				s.serviceEvent(svc, typ, d.reason, fmt.Sprintf("not announced from node %q: %s", s.opts.NodeName, d.message))
			}
		}
	}
	s.svcMemo[key] = svcMemo{announced: d.announced, reason: d.reason, ips: ips, since: since}
	var announced []string
	if d.announced {
		for _, ip := range d.ips {
			announced = append(announced, ip.String())
		}
	}
	st := &ServiceStatus{
		Namespace: d.namespace, Name: d.name, IPs: make([]string, 0, len(d.ips)), Pool: d.pool,
		ExternalTrafficPolicy: d.etp, Announced: d.announced, Reason: d.reason, Message: d.message,
		Advertisements: d.adNames, Peers: d.peers, Prefixes: d.prefixes, Since: since,
	}
	for _, ip := range d.ips {
		st.IPs = append(st.IPs, ip.String())
	}
	return st, announced
}

func (s *speaker) serviceEvent(svc *api.Service, typ, reason, msg string) {
	if s.events == nil || svc == nil {
		return
	}
	s.events.add(svc, typ, reason, msg)
}

// onSessionEvent receives the session layer's events for the status.
func (s *speaker) onSessionEvent(e bgp.Event) {
	r := EventRecord{Time: e.Time, Event: string(e.Type), Peer: e.Session, Reason: e.Reason}
	switch e.Type {
	case bgp.EventSessionUp:
		r.Message = e.Peer
	case bgp.EventSessionDown:
		r.Message = fmt.Sprintf("%s: %s → %s", e.Peer, e.From, e.To)
	case bgp.EventPeerNotification:
		if e.Notification != nil {
			r.Message = notification(e.Notification).String()
		}
	case bgp.EventBFDStateChange:
		if e.BFD != nil {
			r.Message = fmt.Sprintf("BFD %s: %s → %s (%s)", e.BFD.Peer, e.BFD.Old, e.BFD.New, e.BFD.Diag)
		}
	default:
		return
	}
	s.record(r)
}

func (s *speaker) record(r EventRecord) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) >= eventsKept {
		s.ring = append(s.ring[:0], s.ring[len(s.ring)-eventsKept+1:]...)
	}
	s.ring = append(s.ring, r)
}

// logOnce logs msg the first time key is seen with it.
func (s *speaker) logOnce(key, msg string, attrs ...any) {
	if s.once[key] == msg {
		return
	}
	s.once[key] = msg
	s.log.Warn(msg, attrs...)
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return msg[:i] + fmt.Sprintf(" (and %d more)", strings.Count(msg, "\n"))
	}
	return msg
}

// announcedSnapshot returns the announced IPs per service.
func (s *speaker) announcedSnapshot() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.announce)
}
