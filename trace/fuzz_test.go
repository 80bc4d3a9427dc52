package trace

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// seedCaptures returns the committed real captures.
func seedCaptures(t testing.TB) map[string][]byte {
	files, _ := filepath.Glob("testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no seed captures under testdata (regenerate with go test -run TestLive -update as root)")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// payloads returns the TCP payloads per direction and the UDP payloads of
// a capture, in order.
func payloads(t testing.TB, file []byte) (streams map[[2]string][]byte, udp [][]byte) {
	rd, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	streams = map[[2]string][]byte{}
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		f, err := parseFrame(p.LinkType, p.Data)
		if err != nil || f.arp != nil {
			continue
		}
		k := [2]string{f.src.String() + ":" + strconv.Itoa(int(f.sport)), f.dst.String() + ":" + strconv.Itoa(int(f.dport))}
		switch f.proto {
		case protoTCP:
			streams[k] = append(streams[k], f.payload...)
		case protoUDP:
			udp = append(udp, slices.Clone(f.payload))
		}
	}
	return streams, udp
}

// decodeStream feeds stream to a fresh decoder as the payload of one TCP
// direction started by a SYN, cut at the lengths given by cuts (one byte
// per segment length, 0 meaning 1), and returns the BGP messages' types
// and errors.
func decodeStream(stream, cuts []byte) []string {
	d := NewDecoder(DecoderOptions{})
	frames := [][]byte{synFrame()}
	off := 0
	for i := 0; off < len(stream); i++ {
		n := len(stream) - off
		if len(cuts) > 0 {
			n = min(n, max(1, int(cuts[i%len(cuts)])))
		}
		frames = append(frames, dataFrame(isn+1+uint32(off), stream[off:off+n]))
		off += n
	}
	var out []string
	for _, e := range feed(d, frames...) {
		if e.Kind == KindBGP {
			out = append(out, e.BGP.Type+"|"+e.BGP.Error)
		}
	}
	return out
}

// FuzzBGPStream checks that the stream decoder never panics and that how a
// stream is cut into segments does not change what it decodes to.
func FuzzBGPStream(f *testing.F) {
	for _, file := range seedCaptures(f) {
		streams, _ := payloads(f, file)
		for _, s := range streams {
			if len(s) > 0 {
				f.Add(s, []byte{1})
				f.Add(s, []byte{7, 19, 200})
				f.Add(s[min(len(s), 5):], []byte{40})
			}
		}
	}
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		if len(stream) > 1<<16 {
			return
		}
		whole := decodeStream(stream, nil)
		split := decodeStream(stream, cuts)
		if !slices.Equal(whole, split) {
			t.Fatalf("segmentation changed the result:\nwhole %q\nsplit %q", whole, split)
		}
	})
}

// FuzzBFD checks that the BFD decoder never panics and that a packet it
// accepts passes the receive checks of RFC 5880 §6.8.6.
func FuzzBFD(f *testing.F) {
	for _, file := range seedCaptures(f) {
		_, udp := payloads(f, file)
		for _, u := range udp {
			f.Add(u)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := DecodeBFD(b)
		if p.Error != "" {
			return
		}
		if len(b) < 24 || p.Version != 1 || p.DetectMult == 0 || p.Multipoint || p.MyDisc == 0 || int(p.Length) > len(b) || p.Length < 24 {
			t.Fatalf("accepted an invalid packet: %+v", p)
		}
		_ = p.summary()
	})
}

// FuzzRead checks that reading and decoding any file never panics and
// never loops: each record is consumed.
func FuzzRead(f *testing.F) {
	for _, file := range seedCaptures(f) {
		f.Add(file)
		f.Add(file[:len(file)/2])
	}
	f.Add(pcapng(nil))
	f.Fuzz(func(t *testing.T, file []byte) {
		n := 0
		Read(bytes.NewReader(file), Options{ARP: true}, func(e Event) error {
			n++
			_ = e.Text()
			return nil
		})
	})
}

// FuzzFrame checks that the frame decoder never panics on any frame, for
// every link type.
func FuzzFrame(f *testing.F) {
	for _, file := range seedCaptures(f) {
		rd, _ := NewReader(bytes.NewReader(file))
		for {
			p, err := rd.Next()
			if err != nil {
				break
			}
			f.Add(p.Data, uint8(0))
		}
	}
	links := []uint32{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, linkTypeNull}
	f.Fuzz(func(t *testing.T, data []byte, link uint8) {
		d := NewDecoder(DecoderOptions{ARP: true, Ports: []uint16{1790}})
		for _, e := range d.Decode(Packet{Data: data, LinkType: links[int(link)%len(links)]}) {
			_ = e.Text()
		}
		d.Flush()
	})
}

func TestSeedCapturesDecode(t *testing.T) {
	for name, file := range seedCaptures(t) {
		evs, sum, err := readAll(t, file, Options{ARP: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, e := range evs {
			if (e.Kind == KindBGP && e.BGP.Error != "") || (e.Kind == KindBFD && e.BFD.Error != "") {
				t.Errorf("%s: %s", name, e.Text())
			}
		}
		t.Logf("%s: %s", name, sum)
	}
}

// BenchmarkDecode measures decode throughput on a reassembled stream of
// UPDATE and KEEPALIVE messages in 1448-byte segments.
func BenchmarkDecode(b *testing.B) {
	var stream []byte
	msgs := 0
	for len(stream) < 1<<20 {
		stream = append(stream, updateMsg(b)...)
		stream = append(stream, keepaliveMsg(b)...)
		msgs += 2
	}
	var frames [][]byte
	for off := 0; off < len(stream); off += 1448 {
		end := min(off+1448, len(stream))
		frames = append(frames, dataFrame(isn+1+uint32(off), stream[off:end]))
	}
	syn := synFrame()
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := NewDecoder(DecoderOptions{})
		d.Decode(Packet{Data: syn})
		n := 0
		for _, f := range frames {
			n += len(d.Decode(Packet{Data: f}))
		}
		if n != msgs {
			b.Fatalf("decoded %d messages, want %d", n, msgs)
		}
	}
	b.ReportMetric(float64(msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
