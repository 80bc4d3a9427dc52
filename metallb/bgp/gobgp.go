package bgp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// gobgpBackend runs one session on its own gobgp/v3 BgpServer with no
// listener (ListenPort -1).
//
// Paths are withdrawn by value (family, NLRI and attributes) rather than by
// the UUID AddPath returns: in v3.37.0 DeletePath by UUID scans the whole
// global RIB, formatting every path's key, for each call, so withdrawing
// all of 10,000 prefixes that way takes quadratic time; by value it is one
// table lookup. The UUIDs are still kept per prefix (see uuids) and can be
// read for diagnosis.
//
// BgpServer.Serve has no exit in v3, so every stopped backend leaves one
// idle goroutine behind; stop empties the RIB first so that it holds no
// paths.
type gobgpBackend struct {
	cfg    backendConfig
	family *api.Family
	addr   string
	// fixed holds the encoded ORIGIN (IGP) and NEXT_HOP (unspecified)
	// attributes every path carries.
	fixed []*anypb.Any

	mu     sync.Mutex
	srv    *server.BgpServer
	cancel context.CancelFunc
	uuids  map[string][]byte
}

func newGobgpBackend(cfg backendConfig) backend {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if cfg.params.PeerAddress.Is6() {
		fam.Afi = api.Family_AFI_IP6
	}
	return &gobgpBackend{cfg: cfg, family: fam, addr: cfg.params.PeerAddress.String(), uuids: map[string][]byte{}}
}

// fixedAttrs returns the encoded ORIGIN IGP and NEXT_HOP attributes. The
// next hop is unspecified, so gobgp sends the session's local address.
func (b *gobgpBackend) fixedAttrs() ([]*anypb.Any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fixed != nil {
		return b.fixed, nil
	}
	nh := "0.0.0.0"
	if b.family.Afi == api.Family_AFI_IP6 {
		nh = "::"
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0})
	if err != nil {
		return nil, fmt.Errorf("encode ORIGIN: %w", err)
	}
	next, err := anypb.New(&api.NextHopAttribute{NextHop: nh})
	if err != nil {
		return nil, fmt.Errorf("encode NEXT_HOP: %w", err)
	}
	b.fixed = []*anypb.Any{origin, next}
	return b.fixed, nil
}

func seconds(d time.Duration) uint64 { return uint64(math.Ceil(d.Seconds())) }

// startMu serializes StartBgp across the process's servers.
var startMu sync.Mutex

func (b *gobgpBackend) start(ctx context.Context) error {
	p := b.cfg.params
	adapter := &logAdapter{log: b.cfg.log, tap: b.cfg.events.tapped}
	srv := server.NewBgpServer(server.LoggerOption(adapter))
	go srv.Serve()
	// gobgp v3's StartBgp writes package globals (table.SelectionOptions,
	// table.UseMultiplePaths; pkg/server/server.go:2470) that every server
	// reads when it selects paths: the same values for all of ours. One
	// StartBgp at a time at least keeps the writes apart; the reads of
	// running servers still race with them (benign: the bytes written are
	// the ones already there), which only a server per process avoids.
	startMu.Lock()
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        p.MyASN,
		RouterId:   b.cfg.routerID.String(),
		ListenPort: -1,
	}})
	startMu.Unlock()
	if err != nil {
		return fmt.Errorf("start gobgp for peer %s: %w", p.PeerString(), err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	err = srv.WatchEvent(wctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, b.onWatchEvent)
	if err != nil {
		cancel()
		srv.Stop()
		return fmt.Errorf("watch gobgp peer events for %s: %w", p.PeerString(), err)
	}
	peer := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: b.addr,
			PeerAsn:         p.PeerASN, // 0 with DynamicASN: gobgp accepts any AS
			LocalAsn:        p.MyASN,
			AuthPassword:    p.Password,
			Description:     p.Name,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      seconds(p.ConnectTime),
			HoldTime:          seconds(p.HoldTime),
			KeepaliveInterval: seconds(p.KeepaliveTime),
		}},
		Transport: &api.Transport{RemotePort: uint32(p.PeerPort)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: b.family, Enabled: true}}},
	}
	if p.SourceAddress.IsValid() {
		peer.Transport.LocalAddress = p.SourceAddress.String()
	}
	if p.EBGPMultiHop {
		peer.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
		cancel()
		srv.Stop()
		return fmt.Errorf("add gobgp peer %s: %w", p.PeerString(), err)
	}
	b.mu.Lock()
	b.srv, b.cancel = srv, cancel
	b.mu.Unlock()
	return nil
}

func (b *gobgpBackend) onWatchEvent(r *api.WatchEventResponse) {
	pe := r.GetPeer()
	if pe == nil || pe.Peer == nil || pe.Peer.State == nil {
		return
	}
	if pe.Type != api.WatchEventResponse_PeerEvent_STATE && pe.Type != api.WatchEventResponse_PeerEvent_INIT {
		return
	}
	st := pe.Peer.State
	rid := st.RouterId
	if rid == "<nil>" || rid == "0.0.0.0" {
		rid = ""
	}
	// The API enum is FSMState+1 with 0 for unknown, as is ours.
	b.cfg.events.stateChanged(FSMState(st.SessionState), st.PeerAsn, rid)
}

func (b *gobgpBackend) server() (*server.BgpServer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil, errors.New("gobgp backend is not running")
	}
	return b.srv, nil
}

// path builds the gobgp path of an advertisement: ORIGIN IGP, next hop
// unspecified (gobgp sends the session's local address), communities, and
// LOCAL_PREF when non-zero (gobgp removes it toward eBGP peers).
func (b *gobgpBackend) path(a Advertisement) (*api.Path, error) {
	fixed, err := b.fixedAttrs()
	if err != nil {
		return nil, err
	}
	var msgs []proto.Message
	if len(a.Communities) > 0 {
		cs := make([]uint32, len(a.Communities))
		for i, c := range a.Communities {
			cs[i] = uint32(c)
		}
		msgs = append(msgs, &api.CommunitiesAttribute{Communities: cs})
	}
	if len(a.LargeCommunities) > 0 {
		ls := make([]*api.LargeCommunity, len(a.LargeCommunities))
		for i, l := range a.LargeCommunities {
			ls[i] = &api.LargeCommunity{GlobalAdmin: l.GlobalAdmin, LocalData1: l.LocalData1, LocalData2: l.LocalData2}
		}
		msgs = append(msgs, &api.LargeCommunitiesAttribute{Communities: ls})
	}
	if a.LocalPref != 0 {
		msgs = append(msgs, &api.LocalPrefAttribute{LocalPref: a.LocalPref})
	}
	attrs := make([]*anypb.Any, 0, len(fixed)+len(msgs))
	attrs = append(attrs, fixed...)
	for _, m := range msgs {
		x, err := anypb.New(m)
		if err != nil {
			return nil, fmt.Errorf("encode %T for %s: %w", m, a.Prefix, err)
		}
		attrs = append(attrs, x)
	}
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: a.Prefix.Addr().String(), PrefixLen: uint32(a.Prefix.Bits())})
	if err != nil {
		return nil, fmt.Errorf("encode prefix %s: %w", a.Prefix, err)
	}
	return &api.Path{Family: b.family, Nlri: nlri, Pattrs: attrs}, nil
}

func (b *gobgpBackend) announce(ctx context.Context, a Advertisement) error {
	srv, err := b.server()
	if err != nil {
		return err
	}
	path, err := b.path(a)
	if err != nil {
		return err
	}
	r, err := srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
	if err != nil {
		return fmt.Errorf("announce %s: %w", a.Prefix, err)
	}
	b.mu.Lock()
	b.uuids[a.Prefix.String()] = r.Uuid
	b.mu.Unlock()
	return nil
}

func (b *gobgpBackend) withdraw(ctx context.Context, a Advertisement) error {
	srv, err := b.server()
	if err != nil {
		return err
	}
	path, err := b.path(a)
	if err != nil {
		return err
	}
	err = srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: b.family, Path: path})
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", a.Prefix, err)
	}
	b.mu.Lock()
	delete(b.uuids, a.Prefix.String())
	b.mu.Unlock()
	return nil
}

func (b *gobgpBackend) setAdminDown(ctx context.Context, down bool, reason string) error {
	srv, err := b.server()
	if err != nil {
		return err
	}
	if down {
		return srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: b.addr, Communication: reason})
	}
	return srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: b.addr})
}

func (b *gobgpBackend) reset(ctx context.Context, reason string) error {
	srv, err := b.server()
	if err != nil {
		return err
	}
	return srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: b.addr, Communication: reason})
}

func (b *gobgpBackend) snapshot(ctx context.Context) (backendState, error) {
	var out backendState
	srv, err := b.server()
	if err != nil {
		return out, err
	}
	found := false
	err = srv.ListPeer(ctx, &api.ListPeerRequest{Address: b.addr, EnableAdvertised: true}, func(p *api.Peer) {
		found = true
		if st := p.State; st != nil {
			out.state = FSMState(st.SessionState)
			out.adminDown = st.AdminState != api.PeerState_UP
			out.peerASN = st.PeerAsn
			out.remoteRouterID = st.RouterId
			out.flaps = st.Flops
			if m := st.Messages; m != nil {
				out.sent = messageCount(m.Sent)
				out.received = messageCount(m.Received)
			}
		}
		if t := p.Timers; t != nil && t.State != nil {
			out.negotiatedHoldTime = time.Duration(t.State.NegotiatedHoldTime) * time.Second
			out.keepaliveInterval = time.Duration(t.State.KeepaliveInterval) * time.Second
		}
		// gobgp v3 reports the configured local port (0 for a dialling
		// session), so the port is only shown when it knows one.
		if tr := p.Transport; tr != nil && tr.LocalAddress != "" && tr.LocalAddress != "<nil>" {
			out.localAddress = tr.LocalAddress
			if tr.LocalPort != 0 {
				out.localAddress = net.JoinHostPort(tr.LocalAddress, fmt.Sprint(tr.LocalPort))
			}
		}
		for _, af := range p.AfiSafis {
			if af.State != nil {
				out.advertised += int(af.State.Advertised)
			}
		}
	})
	if err != nil {
		return out, fmt.Errorf("read gobgp peer %s: %w", b.addr, err)
	}
	if !found {
		return out, fmt.Errorf("gobgp has no peer %s", b.addr)
	}
	if out.remoteRouterID == "<nil>" || out.remoteRouterID == "0.0.0.0" {
		out.remoteRouterID = ""
	}
	if out.state != StateEstablished {
		out.negotiatedHoldTime, out.keepaliveInterval, out.advertised = 0, 0, 0
	}
	return out, nil
}

func messageCount(m *api.Message) MessageCount {
	if m == nil {
		return MessageCount{}
	}
	return MessageCount{Open: m.Open, Update: m.Update, Keepalive: m.Keepalive,
		Notification: m.Notification, RouteRefresh: m.Refresh, Total: m.Total}
}

func (b *gobgpBackend) stop(ctx context.Context) error {
	b.mu.Lock()
	srv, cancel := b.srv, b.cancel
	b.srv, b.cancel = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return nil
	}
	// Peer first (Cease / Peer De-configured), then the now unadvertised
	// RIB, then the server.
	err := srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: b.addr})
	if derr := srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: b.family}); derr != nil && err == nil {
		err = derr
	}
	srv.Stop()
	cancel()
	if err != nil {
		return fmt.Errorf("stop gobgp peer %s: %w", b.addr, err)
	}
	return nil
}
