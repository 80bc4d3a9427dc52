package trace

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// exchange is a BGP byte stream from router to speaker.
func exchange(t *testing.T) ([]byte, []string) {
	msgs := [][]byte{openMsg(t, 64512, 90, "192.168.126.3"), keepaliveMsg(t), updateMsg(t), keepaliveMsg(t), withdrawMsg(t), notificationMsg(t, 6, 2, append([]byte{11}, "maintenance"...))}
	return bytes.Join(msgs, nil), []string{"OPEN", "KEEPALIVE", "UPDATE", "KEEPALIVE", "UPDATE", "NOTIFICATION"}
}

var isn uint32 = 0xfffffff0 // sequence numbers wrap inside the stream

func synFrame() []byte {
	return tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: isn, flags: tcpSYN})
}

func dataFrame(seq uint32, payload []byte) []byte {
	return tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: seq, ack: 1, flags: tcpACK | tcpPSH, payload: payload})
}

// segments cuts stream into segments at the given offsets.
func segments(stream []byte, cuts []int) [][2]int {
	var out [][2]int
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		if c > prev {
			out = append(out, [2]int{prev, c})
			prev = c
		}
	}
	return out
}

func TestStreamEverySplitPoint(t *testing.T) {
	stream, want := exchange(t)
	for cut := 1; cut < len(stream); cut++ {
		d := NewDecoder(DecoderOptions{})
		frames := [][]byte{synFrame()}
		for _, s := range segments(stream, []int{cut}) {
			frames = append(frames, dataFrame(isn+1+uint32(s[0]), stream[s[0]:s[1]]))
		}
		evs := feed(d, frames...)
		if got := bgpTypes(evs); !slices.Equal(got, want) {
			t.Fatalf("cut at %d: got %v, want %v", cut, got, want)
		}
		for _, e := range evs {
			if e.Kind == KindBGP && (e.BGP.Error != "" || e.Note != "") {
				t.Fatalf("cut at %d: %s", cut, e.Text())
			}
		}
	}
}

func TestStreamByteByByteOutOfOrderAndRetransmitted(t *testing.T) {
	stream, want := exchange(t)
	var cuts []int
	for i := 1; i < len(stream); i += 7 {
		cuts = append(cuts, i)
	}
	segs := segments(stream, cuts)
	// Reverse pairs of segments, and send every third segment twice.
	var order [][2]int
	for i := 0; i < len(segs); i += 2 {
		if i+1 < len(segs) {
			order = append(order, segs[i+1])
		}
		order = append(order, segs[i])
		if i%3 == 0 {
			order = append(order, segs[i])
		}
	}
	frames := [][]byte{synFrame()}
	for _, s := range order {
		frames = append(frames, dataFrame(isn+1+uint32(s[0]), stream[s[0]:s[1]]))
	}
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, frames...)
	if got := bgpTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	retrans := 0
	for _, e := range evs {
		if e.Kind == KindTCP && e.TCP.Event == TCPRetransmission {
			retrans++
		}
	}
	if retrans == 0 {
		t.Errorf("no retransmission events for duplicated segments")
	}
}

func TestStreamOverlappingRetransmission(t *testing.T) {
	stream, want := exchange(t)
	// Segment 1: bytes 0-50; segment 2 (retransmitted with more data):
	// bytes 30-end.
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, synFrame(), dataFrame(isn+1, stream[:50]), dataFrame(isn+1+30, stream[30:]))
	if got := bgpTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestStreamMidStreamJoin(t *testing.T) {
	stream, want := exchange(t)
	// Start 40 bytes into the stream (inside the OPEN): everything from the
	// first KEEPALIVE on must decode, with a note on the first one.
	start := 40
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, dataFrame(1000, stream[start:start+100]), dataFrame(1100, stream[start+100:]))
	got := bgpTypes(evs)
	if !slices.Equal(got, want[1:]) {
		t.Fatalf("got %v, want %v", got, want[1:])
	}
	if !strings.Contains(evs[0].Note, "mid-stream") {
		t.Errorf("first event has no mid-stream note: %s", evs[0].Text())
	}
}

func TestStreamGapInCapture(t *testing.T) {
	stream, want := exchange(t)
	// The segment holding bytes 110-130 (inside the UPDATE) was never
	// captured. The UPDATE is reported incomplete, the rest decodes after
	// resynchronisation.
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, synFrame(), dataFrame(isn+1, stream[:110]), dataFrame(isn+1+130, stream[130:]))
	got := bgpTypes(evs)
	wantGot := []string{"OPEN", "KEEPALIVE", "UPDATE", "KEEPALIVE", "UPDATE", "NOTIFICATION"}
	if !slices.Equal(got, wantGot) {
		t.Fatalf("got %v, want %v (%v)", got, wantGot, want)
	}
	var upd, after *Event
	for i := range evs {
		if evs[i].Kind == KindBGP && evs[i].BGP.Type == "UPDATE" && upd == nil {
			upd = &evs[i]
		} else if upd != nil && evs[i].Kind == KindBGP && after == nil {
			after = &evs[i]
		}
	}
	if !strings.Contains(upd.BGP.Error, "incomplete") {
		t.Errorf("cut UPDATE not reported incomplete: %s", upd.Text())
	}
	if !strings.Contains(after.Note, "missing from the capture") {
		t.Errorf("message after the gap has no note: %s", after.Text())
	}
}

func TestStreamTruncatedAtEnd(t *testing.T) {
	stream, _ := exchange(t)
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, synFrame(), dataFrame(isn+1, stream[:len(stream)-5]))
	last := evs[len(evs)-1]
	if last.Kind != KindBGP || last.BGP.Type != "NOTIFICATION" || !strings.Contains(last.BGP.Error, "incomplete message") {
		t.Fatalf("last event: %s", last.Text())
	}
}

func TestStreamGarbageNeverPanics(t *testing.T) {
	d := NewDecoder(DecoderOptions{})
	junk := bytes.Repeat([]byte{0xff}, 40)
	junk = append(junk, 0x00, 0x13, 0x04) // a KEEPALIVE after a run of 0xff
	evs := feed(d, dataFrame(5, junk))
	if got := bgpTypes(evs); !slices.Equal(got, []string{"KEEPALIVE"}) {
		t.Fatalf("got %v", got)
	}
}

func TestTCPEvents(t *testing.T) {
	d := NewDecoder(DecoderOptions{})
	syn := tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 100, flags: tcpSYN})
	synack := tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: 500, ack: 101, flags: tcpSYN | tcpACK})
	fin := tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: 501, ack: 101, flags: tcpFIN | tcpACK})
	rst := tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 101, flags: tcpRST})
	evs := feed(d, syn, syn, synack, fin, rst)
	var got []string
	for _, e := range evs {
		s := e.TCP.Event
		if e.TCP.Retransmission {
			s += "*"
		}
		got = append(got, s)
	}
	want := []string{"SYN", "SYN*", "SYN-ACK", "FIN", "RST"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := evs[0].Text(); s != "12:03:04.123456 192.168.126.2:41234 → 192.168.126.3:179 TCP SYN [S] seq 100" {
		t.Errorf("text: %q", s)
	}
}

func TestOtherPortsIgnoredUnlessConfigured(t *testing.T) {
	a := routerAP
	b := speakerAP
	a2 := a.Addr()
	f := func(port uint16) []byte {
		return tcpFrame(tcpSeg{src: b, dst: netipAddrPort(a2, port), seq: 1, flags: tcpSYN})
	}
	if evs := feed(NewDecoder(DecoderOptions{}), f(1790)); len(evs) != 0 {
		t.Fatalf("port 1790 decoded without being configured: %v", evs)
	}
	if evs := feed(NewDecoder(DecoderOptions{Ports: []uint16{1790}}), f(1790)); len(evs) != 1 {
		t.Fatalf("configured port 1790 not decoded: %v", evs)
	}
}

func TestClosedConnectionsForgottenAndFlushed(t *testing.T) {
	stream, _ := exchange(t)
	d := NewDecoder(DecoderOptions{})
	rst := tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 1, flags: tcpRST})
	var evs []Event
	for _, f := range [][]byte{synFrame(), dataFrame(isn+1, stream[:len(stream)-5]), rst} {
		evs = append(evs, d.Decode(Packet{Time: t0, Data: f})...)
	}
	if len(d.conns) != 0 {
		t.Errorf("%d connections kept after RST", len(d.conns))
	}
	var cut *Event
	for i := range evs {
		if evs[i].Kind == KindBGP && evs[i].BGP.Type == "NOTIFICATION" {
			cut = &evs[i]
		}
	}
	if cut == nil || !strings.Contains(cut.BGP.Error, "incomplete message") || cut.Src != routerAP {
		t.Fatalf("message cut by the reset not reported: %v", evs)
	}
	// FIN both ways: forgotten too; a later pure ACK creates nothing.
	finA := tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: 10, flags: tcpFIN | tcpACK})
	finB := tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 20, flags: tcpFIN | tcpACK})
	ack := tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: 11, flags: tcpACK})
	feed(d, finA, finB, ack)
	if len(d.conns) != 0 {
		t.Errorf("%d connections kept after FIN/FIN/ACK", len(d.conns))
	}
}

func TestTCPMD5Option(t *testing.T) {
	md5 := append([]byte{1, 1, 19, 18}, make([]byte, 16)...) // NOP NOP MD5(16)
	d := NewDecoder(DecoderOptions{})
	evs := feed(d,
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 100, flags: tcpSYN, opts: md5}),
		tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: 500, ack: 101, flags: tcpRST | tcpACK}),
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 101, flags: tcpACK | tcpPSH, opts: md5, payload: keepaliveMsg(t)}))
	if !evs[0].TCP.MD5 || evs[1].TCP.MD5 || !strings.HasSuffix(evs[0].Text(), "TCP SYN [S] seq 100 md5") {
		t.Errorf("MD5 option: %s / %s", evs[0].Text(), evs[1].Text())
	}
	if got := bgpTypes(evs); !slices.Equal(got, []string{"KEEPALIVE"}) {
		t.Errorf("payload after options: %v", got)
	}
}
