package bgp

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/onp-lab/onp/metallb/bfd"
)

// metric is one Prometheus metric family of the exposition.
type metric struct {
	name, help, typ string
	value           func(st *Status) (float64, bool)
	bfd             bool // labelled with the peer IP, present only with BFD
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// bgpMetrics uses MetalLB's names and help texts: the native speaker's
// (session_up, updates_total, announced_prefixes_total,
// pending_prefixes_total) and the FRR mode's message counters, plus
// notifications_received.
var bgpMetrics = []metric{
	{"metallb_bgp_session_up", "BGP session state (1 is up, 0 is down)", "gauge",
		func(s *Status) (float64, bool) { return b2f(s.State == StateEstablished), true }, false},
	{"metallb_bgp_updates_total", "Number of BGP UPDATE messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.Update), true }, false},
	{"metallb_bgp_updates_total_received", "Number of BGP UPDATE messages received", "counter",
		func(s *Status) (float64, bool) { return float64(s.Received.Update), true }, false},
	{"metallb_bgp_announced_prefixes_total", "Number of prefixes currently being advertised on the BGP session", "gauge",
		func(s *Status) (float64, bool) { return float64(s.PrefixesAdvertised), true }, false},
	{"metallb_bgp_pending_prefixes_total", "Number of prefixes that should be advertised on the BGP session", "gauge",
		func(s *Status) (float64, bool) { return float64(s.PrefixesDesired), true }, false},
	{"metallb_bgp_opens_sent", "Number of BGP open messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.Open), true }, false},
	{"metallb_bgp_opens_received", "Number of BGP open messages received", "counter",
		func(s *Status) (float64, bool) { return float64(s.Received.Open), true }, false},
	{"metallb_bgp_keepalives_sent", "Number of BGP keepalive messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.Keepalive), true }, false},
	{"metallb_bgp_keepalives_received", "Number of BGP keepalive messages received", "counter",
		func(s *Status) (float64, bool) { return float64(s.Received.Keepalive), true }, false},
	{"metallb_bgp_notifications_sent", "Number of BGP notification messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.Notification), true }, false},
	{"metallb_bgp_notifications_received", "Number of BGP notification messages received", "counter",
		func(s *Status) (float64, bool) { return float64(s.Received.Notification), true }, false},
	{"metallb_bgp_route_refresh_sent", "Number of BGP route refresh messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.RouteRefresh), true }, false},
	{"metallb_bgp_total_sent", "Number of total BGP messages sent", "counter",
		func(s *Status) (float64, bool) { return float64(s.Sent.Total), true }, false},
	{"metallb_bgp_total_received", "Number of total BGP messages received", "counter",
		func(s *Status) (float64, bool) { return float64(s.Received.Total), true }, false},

	// MetalLB FRR mode's BFD metrics, labelled with the peer's IP.
	{"metallb_bfd_session_up", "BFD session state (1 is up, 0 is down)", "gauge",
		func(s *Status) (float64, bool) { return b2f(s.BFD != nil && s.BFD.State == bfd.StateUp), s.BFD != nil }, true},
	{"metallb_bfd_control_packet_input", "Number of received BFD control packets", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.ControlPacketsIn }) }, true},
	{"metallb_bfd_control_packet_output", "Number of sent BFD control packets", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.ControlPacketsOut }) }, true},
	{"metallb_bfd_echo_packet_input", "Number of received BFD echo packets", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.EchoPacketsIn }) }, true},
	{"metallb_bfd_echo_packet_output", "Number of sent BFD echo packets", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.EchoPacketsOut }) }, true},
	{"metallb_bfd_session_up_events", "Number of BFD session up events", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.UpEvents }) }, true},
	{"metallb_bfd_session_down_events", "Number of BFD session down events", "counter",
		func(s *Status) (float64, bool) { return bfdValue(s, func() uint64 { return s.BFD.DownEvents }) }, true},
}

func bfdValue(s *Status, f func() uint64) (float64, bool) {
	if s.BFD == nil {
		return 0, false
	}
	return float64(f()), true
}

// WriteMetrics writes every session's metrics in the Prometheus text
// exposition format (version 0.0.4), with MetalLB's metric names. BGP
// metrics are labelled peer="ip:port", BFD metrics peer="ip", as MetalLB
// does.
func (m *Manager) WriteMetrics(w io.Writer) error {
	return writeMetrics(w, m.Status())
}

func writeMetrics(w io.Writer, sts []Status) error {
	bw := bufio.NewWriter(w)
	for _, mt := range bgpMetrics {
		var lines []string
		for i := range sts {
			st := &sts[i]
			v, ok := mt.value(st)
			if !ok {
				continue
			}
			peer := st.Peer
			if mt.bfd {
				peer = st.BFD.Peer.String()
			}
			lines = append(lines, fmt.Sprintf("%s{peer=\"%s\"} %g\n", mt.name, escapeLabel(peer), v))
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", mt.name, mt.help, mt.name, mt.typ)
		for _, l := range lines {
			bw.WriteString(l)
		}
	}
	return bw.Flush()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
