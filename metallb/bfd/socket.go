package bfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"

	"github.com/onp-lab/onp/internal/nsx"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// tosCS6 is DSCP CS6 (network control), as FRR's bfdd marks its packets.
const tosCS6 = 0xc0

// inNetns runs fn inside the network namespace at path, or directly when
// path is empty. Sockets created by fn stay in that namespace.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return nsx.Do(path, fn)
}

// listenControl opens the receive socket for one family and port with the
// TTL/hop-limit control messages enabled.
func listenControl(netnsPath string, v6 bool, port int) (*listener, error) {
	network, addr := "udp4", fmt.Sprintf("0.0.0.0:%d", port)
	if v6 {
		network, addr = "udp6", fmt.Sprintf("[::]:%d", port)
	}
	var c net.PacketConn
	err := inNetns(netnsPath, func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bfd: listen on %s %s: %w (is another BFD daemon running in this network namespace?)", network, addr, err)
	}
	l := &listener{conn: c, v6: v6, port: port}
	if v6 {
		p := ipv6.NewPacketConn(c)
		err = p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		l.p6 = p
	} else {
		p := ipv4.NewPacketConn(c)
		err = p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		l.p4 = p
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bfd: enable TTL control messages on %s %s: %w", network, addr, err)
	}
	return l, nil
}

// listener is one receive socket.
type listener struct {
	conn net.PacketConn
	p4   *ipv4.PacketConn
	p6   *ipv6.PacketConn
	v6   bool
	port int
}

// read returns one datagram with its source, destination and received
// TTL (hop limit); ttl is -1 when the kernel gave none.
func (l *listener) read(buf []byte) (n int, src, dst netip.Addr, ttl int, err error) {
	var from net.Addr
	ttl = -1
	if l.v6 {
		var cm *ipv6.ControlMessage
		n, cm, from, err = l.p6.ReadFrom(buf)
		if cm != nil {
			ttl = cm.HopLimit
			dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, from, err = l.p4.ReadFrom(buf)
		if cm != nil {
			ttl = cm.TTL
			dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	}
	if ua, ok := from.(*net.UDPAddr); ok {
		src, _ = netip.AddrFromSlice(ua.IP)
	}
	return n, src.Unmap(), dst.Unmap(), ttl, err
}

// openTx opens a session's transmit socket bound to local (or the
// unspecified address of the peer's family) and a source port in
// 49152–65535, with TTL/hop limit 255 and DSCP CS6.
func openTx(netnsPath string, peer, local netip.Addr) (*net.UDPConn, uint16, error) {
	v6 := peer.Is6()
	network := "udp4"
	bindIP := net.IPv4zero
	if v6 {
		network, bindIP = "udp6", net.IPv6unspecified
	}
	if local.IsValid() {
		bindIP = net.IP(local.AsSlice())
	}
	const span = MaxSourcePort - MinSourcePort + 1
	start := rand.IntN(span)
	var lastErr error
	for i := 0; i < 128; i++ {
		port := MinSourcePort + (start+i)%span
		var c *net.UDPConn
		err := inNetns(netnsPath, func() error {
			var err error
			c, err = net.ListenUDP(network, &net.UDPAddr{IP: bindIP, Port: port})
			return err
		})
		if errors.Is(err, syscall.EADDRINUSE) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("bfd: bind transmit socket to %s port %d for peer %s: %w (does the local address exist on this host?)", bindIP, port, peer, err)
		}
		if v6 {
			p := ipv6.NewConn(c)
			err = errors.Join(p.SetHopLimit(255), p.SetTrafficClass(tosCS6))
		} else {
			p := ipv4.NewConn(c)
			err = errors.Join(p.SetTTL(255), p.SetTOS(tosCS6))
		}
		if err != nil {
			c.Close()
			return nil, 0, fmt.Errorf("bfd: set TTL 255 on transmit socket for peer %s: %w", peer, err)
		}
		return c, uint16(port), nil
	}
	return nil, 0, fmt.Errorf("bfd: no free source port in %d-%d for peer %s: %w", MinSourcePort, MaxSourcePort, peer, lastErr)
}
