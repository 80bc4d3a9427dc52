package speaker

import (
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/onp-lab/onp/metallb/bgp"
)

// servers are the speaker's endpoints.
type servers struct {
	https  []*http.Server
	socket string
}

func (sv *servers) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, h := range sv.https {
		if err := h.Shutdown(ctx); err != nil {
			h.Close()
		}
	}
	if sv.socket != "" {
		os.Remove(sv.socket)
	}
}

// serve starts the status socket and the metrics listener.
func (s *speaker) serve(ctx context.Context) (*servers, error) {
	sv := &servers{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	if s.opts.StatusSocket != "" {
		ln, err := listenUnix(ctx, s.opts.StatusSocket)
		if err != nil {
			return nil, err
		}
		h := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		sv.https = append(sv.https, h)
		sv.socket = s.opts.StatusSocket
		go h.Serve(ln)
	}
	if s.opts.MetricsAddr != MetricsOff {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", s.opts.MetricsAddr)
		if err != nil {
			sv.close()
			return nil, fmt.Errorf("speaker metrics: %w: another speaker may run in this node's namespace (stop it), or choose another --metrics-addr", err)
		}
		mm := http.NewServeMux()
		mm.HandleFunc("GET /metrics", s.handleMetrics)
		h := &http.Server{Handler: mm, ReadHeaderTimeout: 10 * time.Second}
		sv.https = append(sv.https, h)
		go h.Serve(ln)
	}
	return sv, nil
}

// listenUnix listens on a unix socket path, replacing a stale socket but
// refusing to take over one that still answers.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("speaker status socket: %w", err)
	}
	if len(path) > 107 {
		return nil, fmt.Errorf("speaker status socket %s: the path is %d bytes, longer than a unix socket address allows (107): use a shorter runtime directory", path, len(path))
	}
	if _, err := os.Stat(path); err == nil {
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("speaker status socket %s: another speaker answers on it: stop that one first", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("speaker status socket: remove the stale socket: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("speaker status socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("speaker status socket: %w", err)
	}
	return ln, nil
}

func (s *speaker) handleStatus(w http.ResponseWriter, r *http.Request) {
	rep := s.report()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if r.URL.Query().Has("pretty") {
		enc.SetIndent("", "  ")
	}
	enc.Encode(rep)
}

func (s *speaker) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	s.mgr.WriteMetrics(bw)
	s.writeMetrics(bw)
	bw.Flush()
}

// writeMetrics writes the speaker's own metrics with MetalLB's names.
func (s *speaker) writeMetrics(w io.Writer) {
	ann := s.announcedSnapshot()
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		fmt.Fprintf(w, "# HELP metallb_speaker_announced Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged.\n# TYPE metallb_speaker_announced gauge\n")
		for _, k := range keys {
			for _, ip := range ann[k] {
				fmt.Fprintf(w, "metallb_speaker_announced{ip=\"%s\",node=\"%s\",protocol=\"bgp\",service=\"%s\"} 1\n",
					escapeLabel(ip), escapeLabel(s.opts.NodeName), escapeLabel(k))
			}
		}
	}
	s.mu.Lock()
	cs := s.view.config
	s.mu.Unlock()
	loaded, stale := 0, 0
	if cs.LastValid != nil {
		loaded = 1
	}
	if cs.Stale {
		stale = 1
	}
	fmt.Fprintf(w, "# HELP metallb_k8s_client_config_loaded_bool 1 if the MetalLB configuration was successfully loaded at least once.\n# TYPE metallb_k8s_client_config_loaded_bool gauge\nmetallb_k8s_client_config_loaded_bool %d\n", loaded)
	fmt.Fprintf(w, "# HELP metallb_k8s_client_config_stale_bool 1 if running on a stale configuration, because the latest config failed to load.\n# TYPE metallb_k8s_client_config_stale_bool gauge\nmetallb_k8s_client_config_stale_bool %d\n", stale)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// report builds the StatusReport from the speaker's view and the sessions'
// live status.
func (s *speaker) report() *StatusReport {
	sts := s.mgr.Status()
	now := time.Now()
	s.mu.Lock()
	v := s.view
	events := slices.Clone(s.ring)
	services := make([]ServiceStatus, 0, len(v.services))
	for _, st := range v.services {
		services = append(services, st)
	}
	sessions := make([]SessionStatus, 0, len(sts))
	for _, st := range sts {
		var plan sessionPlan
		var routes []RouteStatus
		if sv := v.sessions[st.Name]; sv != nil {
			plan = sv.plan
			routes = sortedRoutes(sv.routes)
		}
		sessions = append(sessions, sessionStatus(st, plan, routes))
	}
	var lastErr error
	var lastAt time.Time
	for _, inf := range s.infs {
		if _, err, at := inf.State(); err != nil {
			v.connected = false
			if at.After(lastAt) {
				lastErr, lastAt = err, at
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(services, func(a, b ServiceStatus) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	rep := &StatusReport{
		SchemaVersion: SchemaVersion, Node: s.opts.NodeName, PID: os.Getpid(), StartedAt: s.started, Time: now,
		State: v.state, Message: v.message,
		Cluster: ClusterStatus{Socket: s.opts.APISocket, Connected: v.connected},
		MetalLB: v.metallb, Config: v.config,
		Pools: orEmpty(v.pools), Peers: orEmpty(v.peers), Services: services, Events: orEmpty(events),
		Sessions: sessions,
	}
	if lastErr != nil {
		rep.Cluster.LastError = lastErr.Error()
		rep.Cluster.LastErrorTime = &lastAt
	}
	return rep
}

// sortedRoutes lists a session's desired set by prefix.
func sortedRoutes(m map[netip.Prefix]RouteStatus) []RouteStatus {
	ps := make([]netip.Prefix, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	out := make([]RouteStatus, len(ps))
	for i, p := range ps {
		out[i] = m[p]
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// sessionStatus merges the session layer's status with the plan's
// configuration and routes.
func sessionStatus(st bgp.Status, sp sessionPlan, routes []RouteStatus) SessionStatus {
	p := sp.params
	out := SessionStatus{
		Name: st.Name, Peer: st.Peer, LocalAddress: st.LocalAddress,
		MyASN: st.MyASN, PeerASN: st.PeerASN, DynamicASN: string(p.DynamicASN), IBGP: st.IBGP,
		RouterID: st.RouterID, RemoteRouterID: st.RemoteRouterID,
		State: st.State.String(), Since: st.Since, AdminDown: st.AdminDown,
		Uptime: D(st.Uptime), Downtime: D(st.Downtime), EstablishedCount: st.EstablishedCount,
		Transitions: make([]Transition, 0, len(st.History)),
		LastError:   st.LastError,
		Sent:        counts(st.Sent), Received: counts(st.Received),
		NegotiatedHoldTime: D(st.NegotiatedHoldTime), KeepaliveInterval: D(st.KeepaliveInterval),
		EBGPMultiHop: p.EBGPMultiHop, Password: p.Password != "", PasswordSecret: sp.passwordSecret,
		PrefixesDesired: st.PrefixesDesired, PrefixesAdvertised: st.PrefixesAdvertised,
		Routes: orEmpty(routes),
	}
	if ap, err := netip.ParseAddrPort(st.Peer); err == nil {
		out.PeerAddress, out.PeerPort = ap.Addr().String(), ap.Port()
	}
	if p.SourceAddress.IsValid() {
		out.SourceAddress = p.SourceAddress.String()
	}
	out.HoldTime = D(cmpOr(p.HoldTime, bgp.DefaultHoldTime))
	out.KeepaliveTime = D(cmpOr(p.KeepaliveTime, out.HoldTime.Duration/3))
	out.ConnectTime = D(cmpOr(p.ConnectTime, bgp.DefaultConnectTime))
	for _, t := range st.History {
		out.Transitions = append(out.Transitions, Transition{Time: t.Time, From: t.From.String(), To: t.To.String(), Reason: t.Reason})
	}
	if !st.LastErrorTime.IsZero() {
		t := st.LastErrorTime
		out.LastErrorTime = &t
	}
	if n := st.LastNotificationSent; n != nil {
		out.LastNotificationSent = notification(n)
	}
	if n := st.LastNotificationReceived; n != nil {
		out.LastNotificationReceived = notification(n)
	}
	if b := st.BFD; b != nil {
		out.BFD = &BFDStatus{
			Profile: cmpOr(b.Profile.Name, sp.bfdProfile), State: b.State.String(), Diag: b.Diag.String(),
			RemoteState: b.RemoteState.String(), RemoteDiag: b.RemoteDiag.String(), MultiHop: b.MultiHop, SourcePort: b.SourcePort,
			LocalDiscriminator: b.LocalDiscriminator, RemoteDiscriminator: b.RemoteDiscriminator,
			ReceiveInterval: D(b.Profile.ReceiveInterval), TransmitInterval: D(b.Profile.TransmitInterval),
			DetectMultiplier: b.Profile.DetectMultiplier, EchoInterval: D(b.Profile.EchoInterval),
			EchoMode: b.Profile.EchoMode, PassiveMode: b.Profile.PassiveMode, MinimumTTL: b.Profile.MinimumTTL,
			RemoteReceiveInterval: D(b.RemoteRequiredMinRx), RemoteTransmitInterval: D(b.RemoteDesiredMinTx),
			RemoteEchoReceiveInterval: D(b.RemoteRequiredMinEchoRx), RemoteDetectMultiplier: b.RemoteDetectMult,
			TxInterval: D(b.TxInterval), DetectionTime: D(b.DetectionTime),
			ControlPacketsIn: b.ControlPacketsIn, ControlPacketsOut: b.ControlPacketsOut,
			UpEvents: b.UpEvents, DownEvents: b.DownEvents, Dropped: b.Dropped, LastDropReason: b.LastDropReason,
			LastChange: b.LastChange,
		}
	}
	return out
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func counts(c bgp.MessageCount) MessageCounts {
	return MessageCounts{Open: c.Open, Update: c.Update, Keepalive: c.Keepalive, Notification: c.Notification, RouteRefresh: c.RouteRefresh, Total: c.Total}
}

func notification(n *bgp.Notification) *Notification {
	dir := "received"
	if n.Sent {
		dir = "sent"
	}
	out := &Notification{
		Direction: dir, Code: n.Code, Subcode: n.Subcode, CodeName: n.CodeName(), SubcodeName: n.SubcodeName(),
		Name: bgp.NotificationName(n.Code, n.Subcode), Communication: n.Communication, Time: n.Time,
	}
	if len(n.Data) > 0 {
		out.Data = hex.EncodeToString(n.Data)
	}
	return out
}

// Status asks the speaker listening on socketPath (Options.StatusSocket)
// for its StatusReport.
func Status(ctx context.Context, socketPath string) (*StatusReport, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://speaker/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, serr := os.Stat(socketPath); errors.Is(serr, os.ErrNotExist) {
			return nil, fmt.Errorf("speaker status: no socket at %s: the speaker is not running (onp status shows the node's speaker process)", socketPath)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("speaker status: nothing answers on %s: the speaker is not running or has just stopped (onp status shows the node's speaker process)", socketPath)
		}
		return nil, fmt.Errorf("speaker status at %s: %w", socketPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("speaker status at %s: %s: %s", socketPath, resp.Status, strings.TrimSpace(string(b)))
	}
	var rep StatusReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return nil, fmt.Errorf("speaker status at %s: cannot decode the answer: %w", socketPath, err)
	}
	if rep.SchemaVersion > SchemaVersion {
		return &rep, fmt.Errorf("speaker status at %s: schema version %d is newer than this onp understands (%d): use the same onp binary as the speaker", socketPath, rep.SchemaVersion, SchemaVersion)
	}
	return &rep, nil
}
