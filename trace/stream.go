package trace

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Limits of one reassembly direction.
const (
	// maxPendingBytes and maxPendingSegments bound the out-of-order data
	// held while waiting for a missing segment; past them the gap is
	// declared lost and the stream resynchronises on the next BGP marker.
	maxPendingBytes    = 1 << 20
	maxPendingSegments = 256
)

// bgpStream turns one direction of a TCP connection into BGP messages. It
// orders segments by sequence number, drops retransmitted bytes, holds
// out-of-order segments until the gap before them is filled, and splits the
// byte stream on BGP message boundaries. A stream joined mid-way (no SYN
// seen) or one with bytes missing from the capture resynchronises on the
// next all-ones BGP marker that starts a plausible header.
type bgpStream struct {
	started bool
	next    uint32 // sequence number of the next in-order byte
	synced  bool   // buf starts at a message boundary
	buf     []byte
	pending []pendingSeg
	pendBy  int

	// skipped counts bytes discarded while looking for a marker; the next
	// message carries a note about them.
	skipped int
	// lost counts bytes never captured (gaps given up on).
	lost int
	// joined is set when the stream was joined mid-way.
	joined bool
}

type pendingSeg struct {
	seq  uint32
	data []byte
}

// streamMsg is a complete BGP message cut from a stream (or, at the end, an
// incomplete one), with a note on how the stream got there.
type streamMsg struct {
	data       []byte
	incomplete bool
	note       string
}

// seqLess reports a < b in sequence-number space (RFC 1982 arithmetic).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// syn starts the stream at the initial sequence number of a SYN.
func (s *bgpStream) syn(isn uint32) {
	*s = bgpStream{started: true, next: isn + 1, synced: true}
}

// segment adds a segment's payload and returns the messages it completes
// and whether the segment repeated bytes already seen (a retransmission).
func (s *bgpStream) segment(seq uint32, data []byte) (msgs []streamMsg, retrans bool) {
	if len(data) == 0 {
		return nil, false
	}
	if !s.started {
		s.started, s.next, s.synced, s.joined = true, seq, false, true
	}
	end := seq + uint32(len(data))
	switch {
	case !seqLess(s.next, end): // entirely old
		return nil, true
	case seqLess(seq, s.next): // starts before next: keep the new tail
		retrans = true
		data = data[s.next-seq:]
		seq = s.next
	}
	if seq != s.next {
		for _, p := range s.pending {
			if p.seq == seq && len(p.data) >= len(data) {
				return nil, true
			}
		}
		s.pending = append(s.pending, pendingSeg{seq: seq, data: append([]byte(nil), data...)})
		s.pendBy += len(data)
		sort.Slice(s.pending, func(i, j int) bool { return seqLess(s.pending[i].seq, s.pending[j].seq) })
		if s.pendBy > maxPendingBytes || len(s.pending) > maxPendingSegments {
			msgs = append(msgs, s.skipGap()...)
			msgs = append(msgs, s.drain()...)
			return msgs, retrans
		}
		return nil, retrans
	}
	s.buf = append(s.buf, data...)
	s.next = end
	s.fillFromPending()
	return s.drain(), retrans
}

// fillFromPending appends held segments that are now in order.
func (s *bgpStream) fillFromPending() {
	for len(s.pending) > 0 {
		p := s.pending[0]
		if seqLess(s.next, p.seq) {
			return
		}
		s.pending = s.pending[1:]
		s.pendBy -= len(p.data)
		end := p.seq + uint32(len(p.data))
		if !seqLess(s.next, end) {
			continue
		}
		s.buf = append(s.buf, p.data[s.next-p.seq:]...)
		s.next = end
	}
}

// skipGap gives up on the bytes missing before the first held segment:
// a partial message in buf is returned as incomplete and the stream
// resynchronises after the gap.
func (s *bgpStream) skipGap() []streamMsg {
	if len(s.pending) == 0 {
		return nil
	}
	var out []streamMsg
	if m, ok := s.partial(); ok {
		out = append(out, m)
	}
	s.lost += int(s.pending[0].seq - s.next)
	s.next = s.pending[0].seq
	s.buf = s.buf[:0]
	s.synced = false
	s.fillFromPending()
	return out
}

// partial returns the incomplete message at the head of buf, if any.
func (s *bgpStream) partial() (streamMsg, bool) {
	if !s.synced || len(s.buf) < bgpHeaderLen || !isMarker(s.buf[:16]) {
		return streamMsg{}, false
	}
	l := int(binary.BigEndian.Uint16(s.buf[16:18]))
	m := streamMsg{data: append([]byte(nil), s.buf...), incomplete: true,
		note: fmt.Sprintf("incomplete message: %d of %d bytes captured", len(s.buf), l)}
	return m, true
}

// drain cuts complete messages off the front of buf.
func (s *bgpStream) drain() []streamMsg {
	var out []streamMsg
	off := 0
loop:
	for {
		rest := s.buf[off:]
		if !s.synced {
			i, st := findHeader(rest)
			switch st {
			case headerNone:
				// Keep a trailing run of 0xff that may begin a marker.
				keep := 0
				for keep < len(rest) && keep < 15 && rest[len(rest)-1-keep] == 0xff {
					keep++
				}
				s.skipped += len(rest) - keep
				off += len(rest) - keep
				break loop
			case headerPartial:
				s.skipped += i
				off += i
				break loop
			}
			s.skipped += i
			off += i
			rest = s.buf[off:]
			s.synced = true
		}
		if len(rest) < bgpHeaderLen {
			break
		}
		l := int(binary.BigEndian.Uint16(rest[16:18]))
		if !isMarker(rest[:16]) || l < bgpHeaderLen {
			s.synced = false
			s.skipped++
			off++
			continue
		}
		if len(rest) < l {
			break
		}
		m := streamMsg{data: rest[:l:l]}
		m.note = s.takeNote()
		out = append(out, m)
		off += l
	}
	if off > 0 {
		// Copy messages out before the buffer is compacted.
		for i := range out {
			out[i].data = append([]byte(nil), out[i].data...)
		}
		n := copy(s.buf, s.buf[off:])
		s.buf = s.buf[:n]
	}
	return out
}

// takeNote describes skipped or lost bytes before the message being cut.
func (s *bgpStream) takeNote() string {
	var note string
	switch {
	case s.lost > 0 && s.skipped > 0:
		note = fmt.Sprintf("%d bytes missing from the capture; resynchronised on a BGP marker after %d more bytes", s.lost, s.skipped)
	case s.lost > 0:
		note = fmt.Sprintf("%d bytes missing from the capture; resynchronised on a BGP marker", s.lost)
	case s.joined && s.skipped > 0:
		note = fmt.Sprintf("joined the connection mid-stream; resynchronised on a BGP marker after %d bytes", s.skipped)
	case s.joined:
		note = "joined the connection mid-stream"
	case s.skipped > 0:
		note = fmt.Sprintf("lost the message boundary; resynchronised on a BGP marker after %d bytes", s.skipped)
	}
	s.lost, s.skipped, s.joined = 0, 0, false
	return note
}

// flush ends the stream at the end of a capture: held segments after a gap
// are decoded as far as they go, and a trailing partial message is
// returned as incomplete.
func (s *bgpStream) flush() []streamMsg {
	var out []streamMsg
	for len(s.pending) > 0 {
		out = append(out, s.skipGap()...)
		out = append(out, s.drain()...)
	}
	if m, ok := s.partial(); ok {
		out = append(out, m)
	}
	s.buf = s.buf[:0]
	return out
}

// Results of findHeader.
const (
	headerNone    = iota // no marker in b
	headerPartial        // a marker at the end of b, its length and type not yet there
	headerFound          // a marker followed by a plausible length and type
)

// findHeader returns the offset of the first plausible BGP header in b: a
// 16-byte all-ones marker followed by a length and type that fit together.
func findHeader(b []byte) (int, int) {
	for i := 0; i+16 <= len(b); i++ {
		if b[i] != 0xff || !isMarker(b[i:i+16]) {
			continue
		}
		if i+bgpHeaderLen > len(b) {
			return i, headerPartial
		}
		if plausibleHeader(binary.BigEndian.Uint16(b[i+16:i+18]), b[i+18]) {
			return i, headerFound
		}
	}
	return 0, headerNone
}

// plausibleHeader checks a header's length against its type's minimum.
func plausibleHeader(l uint16, t uint8) bool {
	switch t {
	case BGPOpenType:
		return l >= 29
	case BGPUpdateType:
		return l >= 23
	case BGPNotificationType:
		return l >= 21
	case BGPKeepaliveType:
		return l == 19
	case BGPRouteRefreshType:
		return l >= 23
	}
	return false
}
