package bgp

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
)

// addrOnHost reports whether a is assigned to an interface of this host
// (the network namespace the process runs in).
func addrOnHost(a netip.Addr) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("list local addresses: %w", err)
	}
	for _, x := range addrs {
		if ipn, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(ipn.IP); ok && b.Unmap() == a {
				return true, nil
			}
		}
	}
	return false, nil
}

// routeSource returns the local address the kernel picks to reach peer. A
// connected UDP socket does the route lookup without sending anything.
func routeSource(peer netip.Addr, port uint16) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, port)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// ipv4OnSameInterface returns an IPv4 address of the interface that holds a.
func ipv4OnSameInterface(a netip.Addr) (netip.Addr, bool) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		var has bool
		var v4 netip.Addr
		for _, x := range addrs {
			ipn, ok := x.(*net.IPNet)
			if !ok {
				continue
			}
			b, _ := netip.AddrFromSlice(ipn.IP)
			b = b.Unmap()
			if b == a {
				has = true
			}
			if b.Is4() && !v4.IsValid() {
				v4 = b
			}
		}
		if has && v4.IsValid() {
			return v4, true
		}
	}
	return netip.Addr{}, false
}

// hashRouterID derives a router ID from a name, as MetalLB native does with
// the node name (CRC32, little endian).
func hashRouterID(name string) netip.Addr {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(name)))
	return netip.AddrFrom4(b)
}

// preflight checks what must hold before the session can dial, and picks
// the router ID: the configured one; else the source address or the
// route's source address when IPv4; else an IPv4 address on the same
// interface; else a hash of the session's name.
func preflight(p SessionParameters) (netip.Addr, error) {
	if p.SourceAddress.IsValid() {
		ok, err := addrOnHost(p.SourceAddress)
		if err != nil {
			return netip.Addr{}, err
		}
		if !ok {
			return netip.Addr{}, fmt.Errorf("address %q doesn't exist on this host: add it to an interface or remove sourceAddress from BGPPeer %q", p.SourceAddress, p.Name)
		}
	}
	if p.RouterID.IsValid() {
		return p.RouterID, nil
	}
	local := p.SourceAddress
	if !local.IsValid() {
		var err error
		local, err = routeSource(p.PeerAddress, p.PeerPort)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("no route to peer %s: %w (add an address in its subnet or a route, or set sourceAddress)", p.PeerAddress, err)
		}
	}
	if local.Is4() {
		return local, nil
	}
	if v4, ok := ipv4OnSameInterface(local); ok {
		return v4, nil
	}
	return hashRouterID(p.Name), nil
}
