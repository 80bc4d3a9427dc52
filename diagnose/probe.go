package diagnose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
)

// Probe timeouts: short, so that a whole diagnosis fits in the capture.
const (
	pingTimeout = time.Second
	dialTimeout = 1500 * time.Millisecond
	httpTimeout = 2 * time.Second
)

// probeTarget says what to probe from a node.
type probeTarget struct {
	from, fromNS string
	to           string // node owning the address, if any
	addr         netip.Addr
	port         int
	onLink       bool
}

// runProbes pings the target and connects to its TCP port from inside the
// node, then reads the ARP entry the attempts left behind.
func runProbes(ctx context.Context, env Env, t probeTarget) []Probe {
	type res struct {
		p  Probe
		ix int
	}
	out := make([]Probe, 2)
	done := make(chan res, 2)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		p := Probe{From: t.from, To: t.to, Kind: "ping", Target: t.addr.String()}
		rtt, err := env.NodePing(pctx, t.from, t.addr)
		if err != nil {
			p.Result, p.Detail = classifyPing(err)
		} else {
			p.Result, p.RTT = ResultOK, Duration(rtt)
		}
		done <- res{p, 0}
	}()
	go func() {
		target := net.JoinHostPort(t.addr.String(), strconv.Itoa(t.port))
		p := Probe{From: t.from, To: t.to, Kind: "tcp", Target: target}
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		start := time.Now()
		c, port, err := dialProbe(dctx, t.fromNS, target)
		p.LocalPort = port
		if err != nil {
			p.Result, p.Detail = classifyDial(err)
			if dctx.Err() != nil && ctx.Err() == nil {
				p.Result, p.Detail = ResultTimeout, fmt.Sprintf("no answer within %s", dialTimeout)
			}
		} else {
			p.Result, p.RTT, p.Local = ResultOK, Duration(time.Since(start)), c.LocalAddr().String()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		}
		done <- res{p, 1}
	}()
	for range 2 {
		r := <-done
		out[r.ix] = r.p
	}
	if t.onLink && t.fromNS != "" {
		out = append(out, arpProbe(t))
	}
	return out
}

// dialProbe connects from inside a namespace from a random local port, so
// that the probe's packets can be told apart from BGP's in the capture.
func dialProbe(ctx context.Context, nsPath, target string) (net.Conn, int, error) {
	var lastErr error
	for range 5 {
		port := 33000 + rand.IntN(27000)
		d := net.Dialer{LocalAddr: &net.TCPAddr{Port: port}}
		var conn net.Conn
		err := nsx.Do(nsPath, func() error {
			c, err := d.DialContext(ctx, "tcp", target)
			conn = c
			return err
		})
		if errors.Is(err, syscall.EADDRINUSE) {
			lastErr = err
			continue
		}
		return conn, port, err
	}
	return nil, 0, lastErr
}

func classifyPing(err error) (string, string) {
	var pe interface{ Error() string }
	if errors.As(err, &pe) {
		msg := pe.Error()
		switch {
		case containsAny(msg, "unreachable"):
			return ResultUnreachable, msg
		case containsAny(msg, "no reply", "deadline", "timeout"):
			return ResultTimeout, msg
		}
		return ResultError, msg
	}
	return ResultError, fmt.Sprint(err)
}

func classifyDial(err error) (string, string) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ResultRefused, "connection refused (RST)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return ResultUnreachable, "no route to host (ARP unanswered or ICMP host unreachable)"
	case errors.Is(err, syscall.ENETUNREACH):
		return ResultUnreachable, "network unreachable (no route)"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ResultTimeout, fmt.Sprintf("no answer within %s", dialTimeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ResultTimeout, fmt.Sprintf("no answer within %s", dialTimeout)
	}
	return ResultError, err.Error()
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// arpProbe reads the ARP entry of an on-link target in the node.
func arpProbe(t probeTarget) Probe {
	p := Probe{From: t.from, To: t.to, Kind: "arp", Target: t.addr.String()}
	var h *netlink.Handle
	if err := nsx.Do(t.fromNS, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		p.Result, p.Detail = ResultError, err.Error()
		return p
	}
	defer h.Close()
	ns, err := h.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		p.Result, p.Detail = ResultError, err.Error()
		return p
	}
	for _, n := range ns {
		a, _ := netip.AddrFromSlice(n.IP)
		if a.Unmap() != t.addr {
			continue
		}
		st := neighState(n.State)
		switch st {
		case "REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT":
			p.Result = ResultOK
			p.Detail = fmt.Sprintf("%s is at %s (%s)", t.addr, n.HardwareAddr, st)
		default:
			p.Result = ResultFailed
			p.Detail = fmt.Sprintf("%s: no ARP reply (%s)", t.addr, st)
		}
		return p
	}
	p.Result, p.Detail = ResultFailed, fmt.Sprintf("%s: no ARP entry", t.addr)
	return p
}

// httpProbe fetches http://ip:port/ from a node.
func httpProbe(ctx context.Context, env Env, from, service, ip string, port int) HTTPProbe {
	u := "http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + "/"
	hp := HTTPProbe{From: from, Service: service, URL: u}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return env.NodeDial(ctx, from, network, addr)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: httpTimeout}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		hp.Result, hp.Error = ResultError, err.Error()
		return hp
	}
	resp, err := hc.Do(req)
	hp.Took = Duration(time.Since(start))
	if err != nil {
		hp.Result, hp.Error = classifyDial(err)
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			hp.Result, hp.Error = ResultTimeout, fmt.Sprintf("no answer within %s", httpTimeout)
		}
		return hp
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	hp.Status = resp.StatusCode
	hp.Result = ResultOK
	return hp
}
