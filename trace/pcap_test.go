package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

// sessionFrames is a short synthetic session: handshake, OPENs,
// KEEPALIVEs, an UPDATE and a NOTIFICATION.
func sessionFrames(t *testing.T) [][]byte {
	open1, open2 := openMsg(t, 64512, 90, "192.168.126.3"), openMsg(t, 64512, 90, "192.168.126.2")
	ka := keepaliveMsg(t)
	upd := updateMsg(t)
	notif := notificationMsg(t, 6, 3, nil)
	r, s := uint32(1000), uint32(5000)
	return [][]byte{
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: s, flags: tcpSYN}),
		tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: r, ack: s + 1, flags: tcpSYN | tcpACK}),
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: s + 1, ack: r + 1, flags: tcpACK | tcpPSH, payload: open2}),
		tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: r + 1, ack: s + 1 + uint32(len(open2)), flags: tcpACK | tcpPSH, payload: append(slices.Clone(open1), ka...)}),
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: s + 1 + uint32(len(open2)), ack: r + 1, flags: tcpACK | tcpPSH, payload: append(slices.Clone(ka), upd...)}),
		tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: r + 1 + uint32(len(open1)+len(ka)), flags: tcpACK | tcpPSH | tcpFIN, payload: notif}),
	}
}

func writePcap(t *testing.T, frames [][]byte) []byte {
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WritePacket(Packet{Time: t0.Add(time.Duration(i) * time.Microsecond), Data: f, Length: len(f)}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readAll(t *testing.T, data []byte, opts Options) ([]Event, Summary, error) {
	var evs []Event
	sum, err := Read(bytes.NewReader(data), opts, func(e Event) error { evs = append(evs, e); return nil })
	return evs, sum, err
}

func TestPcapRoundTrip(t *testing.T) {
	file := writePcap(t, sessionFrames(t))
	evs, sum, err := readAll(t, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"OPEN", "OPEN", "KEEPALIVE", "KEEPALIVE", "UPDATE", "NOTIFICATION"}
	if got := bgpTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !evs[0].Time.Equal(t0) {
		t.Errorf("first timestamp %v, want %v (ns precision)", evs[0].Time, t0)
	}
	if got := sum.String(); got != "6 packets; 6 BGP messages (2 OPEN, 1 UPDATE, 1 NOTIFICATION, 2 KEEPALIVE); 0 BFD packets; TCP 1 SYN, 1 SYN-ACK, 1 FIN" {
		t.Errorf("summary: %s", got)
	}
}

func TestPcapTruncated(t *testing.T) {
	file := writePcap(t, sessionFrames(t))
	for cut := 0; cut < len(file); cut++ {
		evs, _, err := readAll(t, file[:cut], Options{})
		if cut < 24 {
			if err == nil {
				t.Fatalf("cut %d: no error for a file without header", cut)
			}
			continue
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut %d: %v", cut, err)
		}
		_ = evs
	}
	// Cut inside the last record: five frames decode, the NOTIFICATION is
	// lost, and the error says truncated.
	evs, sum, err := readAll(t, file[:len(file)-10], Options{})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if sum.Packets != 5 || len(bgpTypes(evs)) != 5 {
		t.Errorf("packets %d, messages %v", sum.Packets, bgpTypes(evs))
	}
}

func TestPcapNotACapture(t *testing.T) {
	_, _, err := readAll(t, []byte("this is not a capture file at all"), Options{})
	if err == nil {
		t.Fatal("no error")
	}
}

func TestPcapBigEndianMicro(t *testing.T) {
	frames := sessionFrames(t)
	var b []byte
	b = binary.BigEndian.AppendUint32(b, pcapMagicMicro)
	b = binary.BigEndian.AppendUint16(b, 2)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint32(b, 65535)
	b = binary.BigEndian.AppendUint32(b, 1)
	for i, f := range frames {
		b = binary.BigEndian.AppendUint32(b, uint32(t0.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(123456+i))
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	evs, _, err := readAll(t, b, Options{})
	if err != nil || len(bgpTypes(evs)) != 6 {
		t.Fatalf("err %v, messages %v", err, bgpTypes(evs))
	}
	if evs[0].Time.Nanosecond() != 123456000 {
		t.Errorf("µs timestamp read as %v", evs[0].Time)
	}
}

// pcapng builds a little-endian pcapng file with one interface (ns
// resolution) and enhanced packet blocks.
func pcapng(frames [][]byte) []byte {
	block := func(typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		l := uint32(12 + len(body))
		b := binary.LittleEndian.AppendUint32(nil, typ)
		b = binary.LittleEndian.AppendUint32(b, l)
		b = append(b, body...)
		return binary.LittleEndian.AppendUint32(b, l)
	}
	shb := binary.LittleEndian.AppendUint32(nil, pcapngBOM)
	shb = binary.LittleEndian.AppendUint16(shb, 1)
	shb = binary.LittleEndian.AppendUint16(shb, 0)
	shb = binary.LittleEndian.AppendUint64(shb, ^uint64(0))
	out := block(pcapngSHB, shb)
	idb := binary.LittleEndian.AppendUint16(nil, 1)
	idb = binary.LittleEndian.AppendUint16(idb, 0)
	idb = binary.LittleEndian.AppendUint32(idb, 0)
	idb = append(idb, 2, 0, 4, 0, 's', 'n', 'o', '0') // if_name
	idb = append(idb, 9, 0, 1, 0, 9, 0, 0, 0)         // if_tsresol = 10^-9
	idb = append(idb, 0, 0, 0, 0)
	out = append(out, block(1, idb)...)
	out = append(out, block(0xbad, []byte{1, 2, 3, 4})...) // unknown block: skipped
	for i, f := range frames {
		ts := uint64(t0.UnixNano()) + uint64(i)
		epb := binary.LittleEndian.AppendUint32(nil, 0)
		epb = binary.LittleEndian.AppendUint32(epb, uint32(ts>>32))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(ts))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(len(f)))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(len(f)))
		epb = append(epb, f...)
		out = append(out, block(6, epb)...)
	}
	return out
}

func TestPcapng(t *testing.T) {
	evs, _, err := readAll(t, pcapng(sessionFrames(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bgpTypes(evs); len(got) != 6 {
		t.Fatalf("messages %v", got)
	}
	if evs[0].Interface != "sno0" || !evs[2].Time.Equal(t0.Add(2*time.Nanosecond)) {
		t.Errorf("interface %q time %v", evs[0].Interface, evs[2].Time)
	}
}

func TestReadFilters(t *testing.T) {
	file := writePcap(t, sessionFrames(t))
	evs, _, _ := readAll(t, file, Options{Count: 3})
	if len(evs) != 3 {
		t.Errorf("count 3: %d events", len(evs))
	}
	evs, _, _ = readAll(t, file, Options{Filter: Filter{Peer: routerAP.Addr()}})
	if len(evs) != 9 {
		t.Errorf("peer filter on a party: %d events, want 9", len(evs))
	}
	evs, _, _ = readAll(t, file, Options{Filter: Filter{Peer: netipAddr("192.168.126.99")}})
	if len(evs) != 0 {
		t.Errorf("peer filter on a stranger: %d events", len(evs))
	}
	evs, _, _ = readAll(t, file, Options{Duration: 2500 * time.Nanosecond})
	if len(evs) != 3 { // SYN, SYN-ACK, OPEN: frames at 0, 1 and 2µs
		t.Errorf("duration: %d events", len(evs))
	}
}
