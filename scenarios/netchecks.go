package scenarios

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

func fibRoute(env Env, node string, e *routeExpectation) func(context.Context) (Observation, error) {
	return func(ctx context.Context) (Observation, error) {
		nn, err := env.Net(node)
		if err != nil {
			return Observation{}, err
		}
		routes, err := nn.Routes(ctx, e.prefix)
		if err != nil {
			return Observation{}, err
		}
		return e.evalFIB(routes), nil
	}
}

func (e *routeExpectation) evalFIB(routes []KernelRoute) Observation {
	describe := func() string {
		var parts []string
		for _, r := range routes {
			var hops []string
			for i, dev := range r.Devices {
				h := "dev " + dev
				if i < len(r.Gateways) && r.Gateways[i].IsValid() {
					h = "via " + describeAddr(e.lab, r.Gateways[i]) + " " + h
				}
				hops = append(hops, h)
			}
			if len(hops) == 0 {
				hops = []string{"no next hop"}
			}
			s := strings.Join(hops, ", ")
			if r.Protocol != "" {
				s += " proto " + r.Protocol
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "; ")
	}
	if !e.present {
		if len(routes) == 0 {
			return Observation{OK: true, Expected: "no route", Seen: "no route"}
		}
		return Observation{Expected: "no route", Seen: "a route " + describe()}
	}
	if len(routes) == 0 {
		return Observation{Expected: "a route", Seen: "none"}
	}
	var gws []netip.Addr
	var devs []string
	for _, r := range routes {
		for _, g := range r.Gateways {
			if g.IsValid() {
				gws = append(gws, g)
			}
		}
		devs = append(devs, r.Devices...)
	}
	var m mismatch
	if e.nexthops != nil && !matchHosts(e.nexthops, gws) {
		m.add("next hops", hostsText(e.nexthops), addrsText(e.lab, gws))
	}
	if e.iface != "" && !slices.Contains(devs, e.iface) {
		got := strings.Join(devs, ", ")
		if got == "" {
			got = "none"
		}
		m.add("interface", e.iface, got)
	}
	if !m.empty() {
		return Observation{Expected: strings.Join(m.want, ", "), Seen: strings.Join(m.got, ", ")}
	}
	return Observation{OK: true, Expected: "a matching route", Seen: describe()}
}

// netErrText names a network error the way a person would.
func netErrText(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer"
	}
	return err.Error()
}

var clientAddrRE = regexp.MustCompile(`client_address=([0-9A-Fa-f:.]+)`)

// httpCheck fetches a URL from a node.
type httpCheck struct {
	env          Env
	node, url    string
	status       int
	bodyContains string
	client       []netip.Addr
	clientText   string
}

func (h *httpCheck) attempt(ctx context.Context) (Observation, error) {
	nn, err := h.env.Net(h.node)
	if err != nil {
		return Observation{}, err
	}
	want := []string{fmt.Sprintf("HTTP %d", h.status)}
	if h.bodyContains != "" {
		want = append(want, fmt.Sprintf("a body containing %q", h.bodyContains))
	}
	if h.client != nil {
		want = append(want, "client_address="+h.clientText)
	}
	expected := strings.Join(want, ", ")
	tr := &http.Transport{
		DialContext:       nn.DialContext,
		DisableKeepAlives: true,
		// Lab services use throwaway certificates.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return Observation{}, Permanent(err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return Observation{Expected: expected, Seen: netErrText(err)}, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Observation{Expected: expected, Seen: fmt.Sprintf("HTTP %d, then %s while reading the body", resp.StatusCode, netErrText(err))}, nil
	}
	seenStatus := fmt.Sprintf("HTTP %d", resp.StatusCode)
	var m mismatch
	if resp.StatusCode != h.status {
		m.want = append(m.want, fmt.Sprintf("HTTP %d", h.status))
		m.got = append(m.got, seenStatus)
	}
	if h.bodyContains != "" && !strings.Contains(string(body), h.bodyContains) {
		m.want = append(m.want, fmt.Sprintf("a body containing %q", h.bodyContains))
		m.got = append(m.got, fmt.Sprintf("a body without it (%d bytes, starting %q)", len(body), firstLine(string(body), 60)))
	}
	seenClient := ""
	if sm := clientAddrRE.FindStringSubmatch(string(body)); sm != nil {
		seenClient = sm[1]
	}
	if h.client != nil {
		a, err := netip.ParseAddr(seenClient)
		switch {
		case seenClient == "":
			m.want = append(m.want, "client_address="+h.clientText)
			m.got = append(m.got, "no client_address in the answer")
		case err != nil || !slices.Contains(h.client, a.Unmap()):
			m.want = append(m.want, "client_address="+h.clientText)
			m.got = append(m.got, "client_address="+seenClient)
		}
	}
	if !m.empty() {
		return Observation{Expected: strings.Join(m.want, ", "), Seen: strings.Join(m.got, ", ")}, nil
	}
	seen := seenStatus + " " + http.StatusText(resp.StatusCode)
	if seenClient != "" {
		seen += ", client_address=" + seenClient
	}
	return Observation{OK: true, Expected: expected, Seen: seen}, nil
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

func tcpConnect(env Env, node, addr, want string) func(context.Context) (Observation, error) {
	return func(ctx context.Context) (Observation, error) {
		nn, err := env.Net(node)
		if err != nil {
			return Observation{}, err
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := nn.DialContext(dctx, "tcp", addr)
		seen, detail := "open", ""
		if err == nil {
			conn.Close()
		} else {
			switch t := netErrText(err); t {
			case "connection refused":
				seen = "closed"
				detail = "connection refused"
			case "no answer":
				seen = "filtered"
				detail = "no answer within 2 s"
			default:
				seen = t
			}
		}
		o := Observation{OK: seen == want, Expected: want, Seen: seen}
		if !o.OK {
			o.Detail = detail
		}
		return o, nil
	}
}

func ping(env Env, node string, dst netip.Addr, reachable bool) func(context.Context) (Observation, error) {
	want := "a reply"
	if !reachable {
		want = "no reply"
	}
	return func(ctx context.Context) (Observation, error) {
		nn, err := env.Net(node)
		if err != nil {
			return Observation{}, err
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		rtt, err := nn.Ping(pctx, dst)
		if err != nil {
			var pe *PingError
			if !errors.As(err, &pe) {
				return Observation{}, err
			}
			return Observation{OK: !reachable, Expected: want, Seen: "no reply", Detail: pe.Reason}, nil
		}
		return Observation{OK: reachable, Expected: want, Seen: "a reply", Detail: fmt.Sprintf("rtt %.2f ms", float64(rtt.Microseconds())/1000)}, nil
	}
}

// PingError says why an echo request got no reply (an observation, not a
// failure to run).
type PingError struct{ Reason string }

func (e *PingError) Error() string { return "no reply: " + e.Reason }

func serviceIP(env Env, node, ns, name, ip string) func(context.Context) (Observation, error) {
	want := "an EXTERNAL-IP"
	if ip != "" {
		want = "EXTERNAL-IP " + ip
	}
	return func(ctx context.Context) (Observation, error) {
		cl, err := env.Cluster(ctx, node)
		if err != nil {
			return Observation{}, err
		}
		ips, err := cl.ServiceIngress(ctx, ns, name)
		var nf *notFoundError
		if errors.As(err, &nf) {
			return Observation{Expected: want, Seen: "no such Service"}, nil
		}
		if err != nil {
			return Observation{}, err
		}
		if len(ips) == 0 {
			return Observation{Expected: want, Seen: "<pending>"}, nil
		}
		seen := "EXTERNAL-IP " + strings.Join(ips, ",")
		ok := ip == "" || slices.ContainsFunc(ips, func(s string) bool {
			a, err1 := netip.ParseAddr(s)
			b, err2 := netip.ParseAddr(ip)
			return err1 == nil && err2 == nil && a == b
		})
		return Observation{OK: ok, Expected: want, Seen: seen}, nil
	}
}
