package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
)

// netnsNet is the network stack of a node in a network namespace on this
// machine. Sockets are opened inside the namespace (nsx.Do) and used from
// anywhere afterwards.
type netnsNet struct {
	node string
	path string
}

// DialContext implements NodeNet.
func (n *netnsNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var conn net.Conn
	err := nsx.Do(n.path, func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		conn = c
		return err
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// Ping implements NodeNet with one ICMP echo over a raw socket.
func (n *netnsNet) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var echo icmp.Type = ipv4.ICMPTypeEcho
	if dst.Is6() {
		network, laddr, proto, echo = "ip6:ipv6-icmp", "::", 58, ipv6.ICMPTypeEchoRequest
	}
	var pc *icmp.PacketConn
	if err := nsx.Do(n.path, func() error {
		c, err := icmp.ListenPacket(network, laddr)
		pc = c
		return err
	}); err != nil {
		return 0, Permanent(fmt.Errorf("open an ICMP socket on %s: %w", n.node, err))
	}
	defer pc.Close()
	var rb [2]byte
	rand.Read(rb[:])
	id := int(binary.BigEndian.Uint16(rb[:]))
	msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("onp check ping")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return 0, err
	}
	if dl, ok := ctx.Deadline(); ok {
		pc.SetDeadline(dl)
	}
	start := time.Now()
	if _, err := pc.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return 0, &PingError{Reason: netErrText(err)}
	}
	buf := make([]byte, 1500)
	for {
		nr, peer, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, &PingError{Reason: "no reply within " + humanDuration(time.Since(start).Round(100*time.Millisecond))}
			}
			return 0, err
		}
		m, err := icmp.ParseMessage(proto, buf[:nr])
		if err != nil {
			continue
		}
		switch body := m.Body.(type) {
		case *icmp.Echo:
			if (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) && body.ID == id && body.Seq == 1 {
				return time.Since(start), nil
			}
		case *icmp.DstUnreach:
			if quotedEchoID(body.Data, dst.Is6()) == id {
				return 0, &PingError{Reason: fmt.Sprintf("destination unreachable (from %s)", peer)}
			}
		}
	}
}

// quotedEchoID returns the echo identifier of the packet quoted in an ICMP
// error, or -1.
func quotedEchoID(b []byte, v6 bool) int {
	hl := 40
	if !v6 {
		if len(b) < 20 {
			return -1
		}
		hl = int(b[0]&0x0f) * 4
	}
	if len(b) < hl+6 {
		return -1
	}
	return int(binary.BigEndian.Uint16(b[hl+4:]))
}

// Routes implements NodeNet: the main table's routes for exactly prefix.
func (n *netnsNet) Routes(ctx context.Context, prefix netip.Prefix) ([]KernelRoute, error) {
	var h *netlink.Handle
	if err := nsx.Do(n.path, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		return nil, fmt.Errorf("netlink on %s: %w", n.node, err)
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes on %s: %w", n.node, err)
	}
	names := map[int]string{}
	devName := func(idx int) string {
		if s, ok := names[idx]; ok {
			return s
		}
		s := fmt.Sprintf("if%d", idx)
		if l, err := h.LinkByIndex(idx); err == nil {
			s = l.Attrs().Name
		}
		names[idx] = s
		return s
	}
	var out []KernelRoute
	for _, r := range routes {
		if routePrefix(r.Dst, prefix.Addr().Is6()) != prefix {
			continue
		}
		kr := KernelRoute{Prefix: prefix, Protocol: r.Protocol.String()}
		if len(r.MultiPath) > 0 {
			for _, p := range r.MultiPath {
				a, _ := netip.AddrFromSlice(p.Gw)
				kr.Gateways = append(kr.Gateways, a.Unmap())
				kr.Devices = append(kr.Devices, devName(p.LinkIndex))
			}
		} else {
			a, _ := netip.AddrFromSlice(r.Gw)
			kr.Gateways = append(kr.Gateways, a.Unmap())
			kr.Devices = append(kr.Devices, devName(r.LinkIndex))
		}
		out = append(out, kr)
	}
	return out, nil
}

// routePrefix converts a route's destination (nil for a default route) to
// a prefix.
func routePrefix(dst *net.IPNet, v6 bool) netip.Prefix {
	if dst == nil {
		if v6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	a, ok := netip.AddrFromSlice(dst.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
