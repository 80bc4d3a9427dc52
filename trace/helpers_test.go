package trace

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// t0 is the time of the first synthetic frame.
var t0 = time.Date(2026, 3, 1, 12, 3, 4, 123456000, time.UTC)

// tcpSeg describes a synthetic TCP segment.
type tcpSeg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	payload  []byte
	// opts are raw TCP options (padded to 4 bytes by the caller).
	opts []byte
}

// ethFrame wraps an IP packet in Ethernet.
func ethFrame(etype uint16, ip []byte) []byte {
	b := make([]byte, 14, 14+len(ip))
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], etype)
	return append(b, ip...)
}

func ipv4Packet(src, dst netip.Addr, proto uint8, ttl uint8, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	b[6] = 0x40 // DF
	b[8] = ttl
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return append(b, l4...)
}

func ipv6Packet(src, dst netip.Addr, proto uint8, hop uint8, l4 []byte) []byte {
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6] = proto
	b[7] = hop
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, l4...)
}

func tcpHeader(s tcpSeg) []byte {
	b := make([]byte, 20, 20+len(s.opts)+len(s.payload))
	binary.BigEndian.PutUint16(b[0:], s.src.Port())
	binary.BigEndian.PutUint16(b[2:], s.dst.Port())
	binary.BigEndian.PutUint32(b[4:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ack)
	b[12] = byte(5+len(s.opts)/4) << 4
	b[13] = s.flags
	binary.BigEndian.PutUint16(b[14:], 64240)
	b = append(b, s.opts...)
	return append(b, s.payload...)
}

// tcpFrame builds an Ethernet/IP/TCP frame (IPv4 or IPv6 by address).
func tcpFrame(s tcpSeg) []byte {
	if s.src.Addr().Is4() {
		return ethFrame(etherIPv4, ipv4Packet(s.src.Addr(), s.dst.Addr(), protoTCP, 1, tcpHeader(s)))
	}
	return ethFrame(etherIPv6, ipv6Packet(s.src.Addr(), s.dst.Addr(), protoTCP, 1, tcpHeader(s)))
}

func udpFrame(src, dst netip.AddrPort, ttl uint8, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], src.Port())
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	b = append(b, payload...)
	if src.Addr().Is4() {
		return ethFrame(etherIPv4, ipv4Packet(src.Addr(), dst.Addr(), protoUDP, ttl, b))
	}
	return ethFrame(etherIPv6, ipv6Packet(src.Addr(), dst.Addr(), protoUDP, ttl, b))
}

func arpFrame(op uint16, smac net.HardwareAddr, sip netip.Addr, tmac net.HardwareAddr, tip netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)
	binary.BigEndian.PutUint16(b[2:], etherIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:14], smac)
	s, t := sip.As4(), tip.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], tmac)
	copy(b[24:28], t[:])
	return ethFrame(etherARP, b)
}

// serialize encodes a gobgp message.
func serialize(t testing.TB, m *bgp.BGPMessage) []byte {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatalf("serialize %T: %v", m.Body, err)
	}
	return b
}

func openMsg(t testing.TB, as uint32, hold uint16, id string) []byte {
	myAS := uint16(as)
	if as > 65535 {
		myAS = 23456
	}
	caps := []bgp.ParameterCapabilityInterface{
		bgp.NewCapMultiProtocol(bgp.RF_IPv4_UC),
		bgp.NewCapRouteRefresh(),
		bgp.NewCapFourOctetASNumber(as),
		bgp.NewCapAddPath([]*bgp.CapAddPathTuple{bgp.NewCapAddPathTuple(bgp.RF_IPv4_UC, bgp.BGP_ADD_PATH_RECEIVE)}),
		bgp.NewCapFQDN("router", "lab"),
	}
	return serialize(t, bgp.NewBGPOpenMessage(myAS, hold, id, []bgp.OptionParameterInterface{bgp.NewOptionParameterCapability(caps)}))
}

func keepaliveMsg(t testing.TB) []byte { return serialize(t, bgp.NewBGPKeepAliveMessage()) }

func updateMsg(t testing.TB) []byte {
	attrs := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(2),
		bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{64512, 4200000001})}),
		bgp.NewPathAttributeNextHop("192.168.126.2"),
		bgp.NewPathAttributeMultiExitDisc(10),
		bgp.NewPathAttributeLocalPref(150),
		bgp.NewPathAttributeCommunities([]uint32{0xffffff02, 64512<<16 | 100}),
		bgp.NewPathAttributeLargeCommunities([]*bgp.LargeCommunity{bgp.NewLargeCommunity(64512, 1, 2)}),
	}
	return serialize(t, bgp.NewBGPUpdateMessage(nil, attrs, []*bgp.IPAddrPrefix{bgp.NewIPAddrPrefix(32, "203.0.113.10")}))
}

func withdrawMsg(t testing.TB) []byte {
	return serialize(t, bgp.NewBGPUpdateMessage([]*bgp.IPAddrPrefix{bgp.NewIPAddrPrefix(32, "203.0.113.10")}, nil, nil))
}

func notificationMsg(t testing.TB, code, sub uint8, data []byte) []byte {
	return serialize(t, bgp.NewBGPNotificationMessage(code, sub, data))
}

// feed decodes frames with consecutive timestamps 1ms apart and returns
// every event, flushed.
func feed(d *Decoder, frames ...[]byte) []Event {
	var out []Event
	for i, f := range frames {
		out = append(out, d.Decode(Packet{Time: t0.Add(time.Duration(i) * time.Millisecond), Interface: "br0", Data: f, Length: len(f)})...)
	}
	return append(out, d.Flush()...)
}

// bgpTypes lists the BGP message types of the events, in order.
func bgpTypes(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == KindBGP {
			out = append(out, e.BGP.Type)
		}
	}
	return out
}

var (
	routerAP  = netip.MustParseAddrPort("192.168.126.3:179")
	speakerAP = netip.MustParseAddrPort("192.168.126.2:41234")
)

func netipAddrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
