package trace

import (
	"net/netip"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// BGPPort is the well-known BGP port; Decoder always treats it as BGP.
const BGPPort = 179

// DecoderOptions configure a Decoder.
type DecoderOptions struct {
	// Ports are further TCP ports carrying BGP (MetalLB's peerPort, for
	// example); 179 is always included.
	Ports []uint16
	// ARP turns ARP requests and replies into events.
	ARP bool
}

// Decoder turns captured frames into events. It keeps per-connection state
// (TCP reassembly, negotiated ADD-PATH), so frames of one capture must be
// fed in order to one Decoder. It is not safe for concurrent use.
type Decoder struct {
	ports map[uint16]bool
	arp   bool
	conns map[connKey]*conn
	frame int
	// Frames counts frames given to Decode; Undecoded counts those that
	// were not BGP, BFD or ARP (or could not be parsed).
	Frames, Undecoded int
}

// connKey identifies a TCP connection on one interface, endpoints in
// canonical order.
type connKey struct {
	iface string
	a, b  netip.AddrPort
}

type conn struct {
	streams [2]bgpStream
	// synSeq is the ISN of each side's SYN (valid if synSeen).
	synSeq  [2]uint32
	synSeen [2]bool
	finSeen [2]bool
	finSeq  [2]uint32
	// addPath are the ADD-PATH modes each side advertised in its OPEN.
	addPath [2]map[bgp.RouteFamily]bgp.BGPAddPathMode
	last    time.Time
}

// maxConns bounds connection state; past it, connections idle longest are
// forgotten.
const maxConns = 4096

// NewDecoder returns a Decoder.
func NewDecoder(opts DecoderOptions) *Decoder {
	d := &Decoder{ports: map[uint16]bool{BGPPort: true}, arp: opts.ARP, conns: map[connKey]*conn{}}
	for _, p := range opts.Ports {
		if p != 0 {
			d.ports[p] = true
		}
	}
	return d
}

// Decode decodes one frame and returns the events it produces: none for
// frames of no interest, several when a TCP segment completes several BGP
// messages. Malformed input never panics; it yields events with Note or
// Error set, or nothing.
func (d *Decoder) Decode(p Packet) []Event {
	d.frame++
	d.Frames++
	f, err := parseFrame(p.LinkType, p.Data)
	if err != nil || f.fragment {
		d.Undecoded++
		return nil
	}
	base := Event{Time: p.Time, Interface: p.Interface, Frame: d.frame, TTL: f.ttl}
	if f.arp != nil {
		if !d.arp {
			d.Undecoded++
			return nil
		}
		base.Kind, base.ARP, base.TTL = KindARP, f.arp, 0
		return []Event{base}
	}
	base.Src = netip.AddrPortFrom(f.src.Unmap(), f.sport)
	base.Dst = netip.AddrPortFrom(f.dst.Unmap(), f.dport)
	switch f.proto {
	case protoTCP:
		if d.ports[f.sport] || d.ports[f.dport] {
			return d.tcp(p, f, base)
		}
	case protoUDP:
		if ev, ok := bfdEvent(f, base); ok {
			return []Event{ev}
		}
	}
	d.Undecoded++
	return nil
}

func bfdEvent(f *frame, base Event) (Event, bool) {
	switch {
	case f.dport == BFDControlPort || f.dport == BFDMultihopPort || (f.sport == BFDControlPort || f.sport == BFDMultihopPort) && f.dport != BFDEchoPort:
		b := DecodeBFD(f.payload)
		b.Multihop = f.dport == BFDMultihopPort || f.sport == BFDMultihopPort
		if f.truncated && b.Error == "" {
			b.Error = "packet cut short by the capture"
		}
		base.Kind, base.BFD = KindBFD, &b
		return base, true
	case f.dport == BFDEchoPort || f.sport == BFDEchoPort:
		base.Kind = KindBFD
		base.BFD = &BFDPacket{Echo: true, Length: uint8(min(len(f.payload), 255))}
		return base, true
	}
	return Event{}, false
}

// conn returns the state of the connection a segment belongs to, creating
// it if create is set (nil otherwise), and the segment's direction.
func (d *Decoder) conn(iface string, src, dst netip.AddrPort, now time.Time, create bool) (*conn, connKey, int) {
	k := connKey{iface: iface, a: src, b: dst}
	dir := 0
	if dst.Compare(src) < 0 {
		k.a, k.b = dst, src
		dir = 1
	}
	c := d.conns[k]
	if c == nil {
		if !create {
			return nil, k, dir
		}
		if len(d.conns) >= maxConns {
			d.evict()
		}
		c = &conn{}
		d.conns[k] = c
	}
	c.last = now
	return c, k, dir
}

// evict forgets the half of the connections idle longest.
func (d *Decoder) evict() {
	var times []time.Time
	for _, c := range d.conns {
		times = append(times, c.last)
	}
	// Median by selection is overkill here: sort a copy.
	sortTimes(times)
	cut := times[len(times)/2]
	for k, c := range d.conns {
		if !c.last.After(cut) {
			delete(d.conns, k)
		}
	}
}

func (d *Decoder) tcp(p Packet, f *frame, base Event) []Event {
	// Pure ACKs of connections not seen before carry nothing to decode.
	create := f.flags&(tcpSYN|tcpFIN|tcpRST) != 0 || len(f.payload) > 0
	c, key, dir := d.conn(p.Interface, base.Src, base.Dst, p.Time, create)
	if c == nil {
		return nil
	}
	s := &c.streams[dir]
	var out []Event
	tcpEv := func(name string, retrans bool) {
		e := base
		e.Kind = KindTCP
		e.TCP = &TCPEvent{Event: name, Flags: tcpFlagString(f.flags), Seq: f.seq, Len: len(f.payload), Retransmission: retrans, MD5: f.md5, AO: f.ao}
		if f.flags&tcpACK != 0 {
			e.TCP.Ack = f.ack
		}
		out = append(out, e)
	}
	if f.flags&tcpSYN != 0 {
		retrans := c.synSeen[dir] && c.synSeq[dir] == f.seq
		if !retrans {
			if c.synSeen[dir] && f.flags&tcpACK == 0 {
				// A new connection on the same 4-tuple.
				*c = conn{last: p.Time}
				s = &c.streams[dir]
			}
			c.synSeen[dir], c.synSeq[dir] = true, f.seq
			s.syn(f.seq)
		}
		name := TCPSyn
		if f.flags&tcpACK != 0 {
			name = TCPSynAck
		}
		tcpEv(name, retrans)
		if f.flags&tcpRST != 0 {
			tcpEv(TCPRst, false)
		}
		return out
	}
	if len(f.payload) > 0 {
		msgs, retrans := s.segment(f.seq, f.payload)
		if retrans {
			tcpEv(TCPRetransmission, true)
		}
		for _, m := range msgs {
			out = append(out, d.bgpEvent(c, dir, base, m))
		}
	}
	if f.flags&tcpFIN != 0 {
		finSeq := f.seq + uint32(len(f.payload))
		retrans := c.finSeen[dir] && c.finSeq[dir] == finSeq
		c.finSeen[dir], c.finSeq[dir] = true, finSeq
		tcpEv(TCPFin, retrans)
	}
	if f.flags&tcpRST != 0 {
		tcpEv(TCPRst, false)
	}
	// A reset or twice-closed connection is flushed (what is held after a
	// gap or cut short is reported) and forgotten; segments that still
	// arrive start a new, joined state.
	if f.flags&tcpRST != 0 || c.finSeen[0] && c.finSeen[1] {
		for i := range c.streams {
			src, dst := base.Src, base.Dst
			if i != dir {
				src, dst = dst, src
			}
			for _, m := range c.streams[i].flush() {
				e := base
				e.Src, e.Dst = src, dst
				if i != dir {
					e.TTL = 0
				}
				out = append(out, d.bgpEvent(c, i, e, m))
			}
		}
		delete(d.conns, key)
	}
	return out
}

func (d *Decoder) bgpEvent(c *conn, dir int, base Event, m streamMsg) Event {
	e := base
	e.Kind = KindBGP
	e.Note = m.note
	var addPath map[bgp.RouteFamily]bgp.BGPAddPathMode
	if c.addPath[dir] != nil && c.addPath[1-dir] != nil {
		addPath = map[bgp.RouteFamily]bgp.BGPAddPathMode{}
		for rf, mode := range c.addPath[dir] {
			if mode&bgp.BGP_ADD_PATH_SEND != 0 && c.addPath[1-dir][rf]&bgp.BGP_ADD_PATH_RECEIVE != 0 {
				addPath[rf] = bgp.BGP_ADD_PATH_RECEIVE
			}
		}
	}
	if m.incomplete {
		e.BGP = decodeIncomplete(m.data)
		e.BGP.Error = joinErr(m.note, e.BGP.Error)
		e.Note = ""
		return e
	}
	e.BGP = decodeBGP(m.data, addPath)
	if e.BGP.TypeCode == BGPOpenType {
		c.addPath[dir] = addPathModes(m.data)
	}
	return e
}

// decodeIncomplete describes a message whose tail is missing: its header
// only.
func decodeIncomplete(b []byte) *BGPMessage {
	m := &BGPMessage{}
	if len(b) >= bgpHeaderLen {
		m.TypeCode = b[18]
		m.Type = BGPTypeName(m.TypeCode)
		m.Length = int(uint16(b[16])<<8 | uint16(b[17]))
	}
	return m
}

// addPathModes returns the ADD-PATH capability of an OPEN as modes per
// family (empty map if absent).
func addPathModes(msg []byte) map[bgp.RouteFamily]bgp.BGPAddPathMode {
	out := map[bgp.RouteFamily]bgp.BGPAddPathMode{}
	if len(msg) < bgpHeaderLen {
		return out
	}
	hdr := &bgp.BGPHeader{Len: uint16(len(msg)), Type: BGPOpenType}
	m, err := parseBody(hdr, msg[bgpHeaderLen:], nil)
	if err != nil || m == nil {
		return out
	}
	o, ok := m.Body.(*bgp.BGPOpen)
	if !ok {
		return out
	}
	for _, p := range o.OptParams {
		if oc, ok := p.(*bgp.OptionParameterCapability); ok {
			for _, c := range oc.Capability {
				if ap, ok := c.(*bgp.CapAddPath); ok {
					for _, t := range ap.Tuples {
						out[t.RouteFamily] = t.Mode
					}
				}
			}
		}
	}
	return out
}

// Flush ends the capture: data held after gaps is decoded as far as it
// goes and incomplete trailing messages are reported.
func (d *Decoder) Flush() []Event {
	var out []Event
	for k, c := range d.conns {
		for dir := range c.streams {
			msgs := c.streams[dir].flush()
			if len(msgs) == 0 {
				continue
			}
			src, dst := k.a, k.b
			if dir == 1 {
				src, dst = dst, src
			}
			base := Event{Time: c.last, Interface: k.iface, Frame: d.frame, Src: src, Dst: dst}
			for _, m := range msgs {
				out = append(out, d.bgpEvent(c, dir, base, m))
			}
		}
	}
	sortEvents(out)
	return out
}
