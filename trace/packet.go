package trace

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Link types of captured frames (the pcap LINKTYPE_ values).
const (
	LinkTypeEthernet  = 1
	LinkTypeRaw       = 101 // raw IPv4/IPv6
	LinkTypeLinuxSLL  = 113
	LinkTypeIPv4      = 228
	LinkTypeIPv6      = 229
	LinkTypeLinuxSLL2 = 276
	// linkTypeNull stands for LINKTYPE_NULL (BSD loopback, 0 in files),
	// since 0 means Ethernet in Packet.LinkType.
	linkTypeNull = 1 << 31
)

// Packet is one captured frame.
type Packet struct {
	// Time is the kernel's receive timestamp.
	Time time.Time
	// Interface is where it was captured; empty when read from a file.
	Interface string
	// Data is the captured bytes, from the link-layer header on.
	Data []byte
	// Length is the frame's length on the wire (≥ len(Data) when the
	// capture was cut at the snap length).
	Length int
	// LinkType says how Data starts; 0 means Ethernet.
	LinkType uint32
}

// EtherTypes used here.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherIPv6 = 0x86dd
	etherVLAN = 0x8100
	etherQinQ = 0x88a8
)

// IP protocol numbers used here.
const (
	protoTCP = 6
	protoUDP = 17
)

// frame is a parsed frame: the IP and transport headers of interest.
type frame struct {
	arp      *ARPPacket
	src, dst netip.Addr
	ttl      uint8
	proto    uint8
	// fragment is set for IPv4/IPv6 fragments, whose transport header is
	// not (or not fully) present.
	fragment bool
	sport    uint16
	dport    uint16
	// TCP
	seq, ack uint32
	flags    uint8
	// md5 is set when the segment carries a TCP MD5 signature option
	// (RFC 2385, kind 19); ao for TCP-AO (RFC 5925, kind 29).
	md5, ao bool
	// payload is the transport payload (TCP or UDP).
	payload []byte
	// truncated says the capture holds fewer bytes than the headers claim.
	truncated bool
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
)

// parseFrame parses the link, network and transport headers of a frame.
// It returns an error for frames it cannot use (other protocols, headers
// cut short); a payload cut by the snap length is returned as far as it
// goes with truncated set.
func parseFrame(linkType uint32, b []byte) (*frame, error) {
	var etype uint16
	switch linkType {
	case 0, LinkTypeEthernet:
		if len(b) < 14 {
			return nil, fmt.Errorf("Ethernet header truncated (%d bytes)", len(b))
		}
		etype = binary.BigEndian.Uint16(b[12:14])
		b = b[14:]
		for etype == etherVLAN || etype == etherQinQ {
			if len(b) < 4 {
				return nil, fmt.Errorf("VLAN tag truncated")
			}
			etype = binary.BigEndian.Uint16(b[2:4])
			b = b[4:]
		}
	case LinkTypeLinuxSLL:
		if len(b) < 16 {
			return nil, fmt.Errorf("Linux cooked header truncated (%d bytes)", len(b))
		}
		etype = binary.BigEndian.Uint16(b[14:16])
		b = b[16:]
	case LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return nil, fmt.Errorf("Linux cooked v2 header truncated (%d bytes)", len(b))
		}
		etype = binary.BigEndian.Uint16(b[0:2])
		b = b[20:]
	case linkTypeNull:
		if len(b) < 4 {
			return nil, fmt.Errorf("loopback header truncated (%d bytes)", len(b))
		}
		b = b[4:]
		fallthrough
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		if len(b) < 1 {
			return nil, fmt.Errorf("empty raw IP packet")
		}
		switch b[0] >> 4 {
		case 4:
			etype = etherIPv4
		case 6:
			etype = etherIPv6
		default:
			return nil, fmt.Errorf("raw packet with IP version %d", b[0]>>4)
		}
	default:
		return nil, fmt.Errorf("link type %d not supported", linkType)
	}
	switch etype {
	case etherIPv4:
		return parseIPv4(b)
	case etherIPv6:
		return parseIPv6(b)
	case etherARP:
		return parseARP(b)
	}
	return nil, fmt.Errorf("EtherType 0x%04x not decoded", etype)
}

func parseARP(b []byte) (*frame, error) {
	if len(b) < 28 {
		return nil, fmt.Errorf("ARP packet truncated (%d bytes)", len(b))
	}
	if binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != etherIPv4 || b[4] != 6 || b[5] != 4 {
		return nil, fmt.Errorf("ARP for other than Ethernet/IPv4")
	}
	a := &ARPPacket{
		SenderMAC: net.HardwareAddr(b[8:14]).String(),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: net.HardwareAddr(b[18:24]).String(),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}
	switch op := binary.BigEndian.Uint16(b[6:8]); op {
	case 1:
		a.Op = "who-has"
	case 2:
		a.Op = "is-at"
	default:
		a.Op = fmt.Sprintf("op(%d)", op)
	}
	return &frame{arp: a, src: a.SenderIP, dst: a.TargetIP}, nil
}

func parseIPv4(b []byte) (*frame, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("IPv4 header truncated (%d bytes)", len(b))
	}
	if b[0]>>4 != 4 {
		return nil, fmt.Errorf("IPv4 EtherType with IP version %d", b[0]>>4)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return nil, fmt.Errorf("IPv4 header length %d invalid or truncated", ihl)
	}
	f := &frame{
		ttl:   b[8],
		proto: b[9],
		src:   netip.AddrFrom4([4]byte(b[12:16])),
		dst:   netip.AddrFrom4([4]byte(b[16:20])),
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	switch {
	case total == 0 && len(b) > ihl: // segmentation offload: length unset
		total = len(b)
	case total < ihl:
		return nil, fmt.Errorf("IPv4 total length %d shorter than its header", total)
	case total > len(b):
		f.truncated = true
		total = len(b)
	}
	fragOff := binary.BigEndian.Uint16(b[6:8])
	if fragOff&0x3fff != 0 {
		f.fragment = true
		return f, nil
	}
	return parseTransport(f, b[ihl:total])
}

func parseIPv6(b []byte) (*frame, error) {
	if len(b) < 40 {
		return nil, fmt.Errorf("IPv6 header truncated (%d bytes)", len(b))
	}
	if b[0]>>4 != 6 {
		return nil, fmt.Errorf("IPv6 EtherType with IP version %d", b[0]>>4)
	}
	f := &frame{
		ttl: b[7],
		src: netip.AddrFrom16([16]byte(b[8:24])),
		dst: netip.AddrFrom16([16]byte(b[24:40])),
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	body := b[40:]
	switch {
	case plen == 0 && len(body) > 0: // jumbogram or offload
	case plen > len(body):
		f.truncated = true
	default:
		body = body[:plen]
	}
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(body) < 8 {
				return nil, fmt.Errorf("IPv6 extension header truncated")
			}
			l := (int(body[1]) + 1) * 8
			if len(body) < l {
				return nil, fmt.Errorf("IPv6 extension header truncated")
			}
			next, body = body[0], body[l:]
			continue
		case 44: // fragment
			f.fragment = true
			f.proto = next
			return f, nil
		}
		break
	}
	f.proto = next
	return parseTransport(f, body)
}

func parseTransport(f *frame, b []byte) (*frame, error) {
	switch f.proto {
	case protoTCP:
		if len(b) < 20 {
			return nil, fmt.Errorf("TCP header truncated (%d bytes)", len(b))
		}
		f.sport = binary.BigEndian.Uint16(b[0:2])
		f.dport = binary.BigEndian.Uint16(b[2:4])
		f.seq = binary.BigEndian.Uint32(b[4:8])
		f.ack = binary.BigEndian.Uint32(b[8:12])
		off := int(b[12]>>4) * 4
		f.flags = b[13]
		if off < 20 || off > len(b) {
			return nil, fmt.Errorf("TCP data offset %d invalid or truncated", off)
		}
		f.payload = b[off:]
		f.md5, f.ao = tcpAuthOptions(b[20:off])
	case protoUDP:
		if len(b) < 8 {
			return nil, fmt.Errorf("UDP header truncated (%d bytes)", len(b))
		}
		f.sport = binary.BigEndian.Uint16(b[0:2])
		f.dport = binary.BigEndian.Uint16(b[2:4])
		l := int(binary.BigEndian.Uint16(b[4:6]))
		switch {
		case l < 8:
			f.payload = b[8:]
		case l > len(b):
			f.truncated = true
			f.payload = b[8:]
		default:
			f.payload = b[8:l]
		}
	}
	return f, nil
}

// tcpAuthOptions reports whether TCP options carry an MD5 signature
// (kind 19) or a TCP-AO option (kind 29).
func tcpAuthOptions(opts []byte) (md5, ao bool) {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // end of options
			return
		case 1: // no-op
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return
		}
		switch opts[0] {
		case 19:
			md5 = true
		case 29:
			ao = true
		}
		opts = opts[opts[1]:]
	}
	return
}

// tcpFlagString renders TCP flags the way tcpdump does: S, F, R, P, U, and
// "." for ACK.
func tcpFlagString(fl uint8) string {
	var s []byte
	for _, x := range []struct {
		bit uint8
		c   byte
	}{{tcpSYN, 'S'}, {tcpFIN, 'F'}, {tcpRST, 'R'}, {tcpPSH, 'P'}, {tcpURG, 'U'}, {tcpACK, '.'}} {
		if fl&x.bit != 0 {
			s = append(s, x.c)
		}
	}
	return string(s)
}
