package bfd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// frrDown is the first packet FRR 8.4 bfdd sends to a peer that has not
// answered yet (reference capture): Down, no diagnostic, detect mult 3,
// slow timers 1 s, echo 50 ms.
const frrDown = "2040031874baa267 00000000 000f4240 000f4240 0000c350"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFRRPacket(t *testing.T) {
	p, err := ParseControlPacket(mustHex(t, frrDown))
	if err != nil {
		t.Fatal(err)
	}
	want := ControlPacket{
		Version: 1, State: StateDown, DetectMult: 3, MyDiscriminator: 0x74baa267,
		DesiredMinTxInterval: 1000000, RequiredMinRxInterval: 1000000, RequiredMinEchoRxInterval: 50000,
	}
	if p.Diag != want.Diag || p.State != want.State || p.DetectMult != want.DetectMult ||
		p.MyDiscriminator != want.MyDiscriminator || p.YourDiscriminator != 0 ||
		p.DesiredMinTxInterval != want.DesiredMinTxInterval || p.RequiredMinRxInterval != want.RequiredMinRxInterval ||
		p.RequiredMinEchoRxInterval != want.RequiredMinEchoRxInterval || p.Poll || p.Final {
		t.Fatalf("parsed %+v, want %+v", p, want)
	}
	if got := p.Marshal(); !bytes.Equal(got, mustHex(t, frrDown)) {
		t.Fatalf("re-encoded %x, want %s", got, frrDown)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []ControlPacket{
		{State: StateUp, Poll: true, DetectMult: 3, MyDiscriminator: 1, YourDiscriminator: 2, DesiredMinTxInterval: 300000, RequiredMinRxInterval: 300000, RequiredMinEchoRxInterval: 50000},
		{State: StateInit, Final: true, Diag: DiagControlDetectionExpired, DetectMult: 255, MyDiscriminator: 0xffffffff, YourDiscriminator: 7},
		{State: StateAdminDown, Diag: DiagAdministrativelyDown, DetectMult: 1, MyDiscriminator: 9, ControlPlaneIndependent: true},
		{State: StateDown, DetectMult: 3, MyDiscriminator: 9, AuthPresent: true, Auth: []byte{1, 4, 0, 0}},
	} {
		b := p.Marshal()
		if len(b) != p.Len() || int(b[3]) != p.Len() {
			t.Fatalf("%+v: encoded %d bytes, length field %d, want %d", p, len(b), b[3], p.Len())
		}
		got, err := ParseControlPacket(b)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		p.Version = Version
		if !bytes.Equal(got.Marshal(), b) || got.State != p.State || got.Diag != p.Diag || got.Poll != p.Poll || got.Final != p.Final {
			t.Fatalf("round trip: got %+v, want %+v", got, p)
		}
	}
}

func TestParseRejects(t *testing.T) {
	valid := ControlPacket{State: StateUp, DetectMult: 3, MyDiscriminator: 1, YourDiscriminator: 2}
	mod := func(f func(b []byte) []byte) []byte { return f(valid.Marshal()) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", make([]byte, 23), ErrShort},
		{"version 0", mod(func(b []byte) []byte { b[0] &= 0x1f; return b }), ErrVersion},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2<<5 | b[0]&0x1f; return b }), ErrVersion},
		{"length below 24", mod(func(b []byte) []byte { b[3] = 20; return b }), ErrLength},
		{"length beyond payload", mod(func(b []byte) []byte { b[3] = 30; return b }), ErrLength},
		{"auth bit with 24 bytes", mod(func(b []byte) []byte { b[1] |= flagAuth; return b }), ErrLength},
		{"auth section too long", mod(func(b []byte) []byte { b[1] |= flagAuth; b[3] = 26; return append(b, 1, 9) }), ErrAuthSectionTooLong},
		{"detect mult 0", mod(func(b []byte) []byte { b[2] = 0; return b }), ErrDetectMult},
		{"multipoint", mod(func(b []byte) []byte { b[1] |= flagMulti; return b }), ErrMultipoint},
		{"my discriminator 0", mod(func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), ErrMyDiscriminator},
		{"your discriminator 0 while Up", mod(func(b []byte) []byte { copy(b[8:12], []byte{0, 0, 0, 0}); return b }), ErrYourDiscriminator},
		{"poll and final", mod(func(b []byte) []byte { b[1] |= flagPoll | flagFinal; return b }), ErrPollAndFinal},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseControlPacket(c.b)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Your Discriminator 0 is fine in Down and AdminDown packets, and
	// trailing bytes after Length are ignored.
	for _, s := range []State{StateDown, StateAdminDown} {
		p := valid
		p.State, p.YourDiscriminator = s, 0
		if _, err := ParseControlPacket(append(p.Marshal(), 0xde, 0xad)); err != nil {
			t.Fatalf("state %s: %v", s, err)
		}
	}
}

func TestNames(t *testing.T) {
	if StateUp.String() != "Up" || StateAdminDown.String() != "AdminDown" || State(7).String() != "State(7)" {
		t.Fatal("state names")
	}
	if DiagControlDetectionExpired.String() != "Control Detection Time Expired" || Diag(31).String() != "Reserved Diagnostic 31" {
		t.Fatal("diag names")
	}
}

// FuzzParseControlPacket checks that parsing never panics and that every
// accepted packet re-encodes to the bytes it was parsed from.
func FuzzParseControlPacket(f *testing.F) {
	f.Add(mustHex(f, frrDown))
	up := ControlPacket{State: StateUp, Poll: true, DetectMult: 3, MyDiscriminator: 1, YourDiscriminator: 2, DesiredMinTxInterval: 300000}
	f.Add(up.Marshal())
	auth := ControlPacket{State: StateDown, DetectMult: 3, MyDiscriminator: 1, AuthPresent: true, Auth: []byte{1, 5, 1, 'a', 'b'}}
	f.Add(auth.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseControlPacket(b)
		if err != nil {
			return
		}
		enc := p.Marshal()
		in := append([]byte(nil), b[:p.Len()]...)
		in[3] = enc[3] // a Length above 24 without auth is accepted, re-encoded as 24
		if !bytes.Equal(enc, in) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", in, enc)
		}
		q, err := ParseControlPacket(enc)
		if err != nil {
			t.Fatalf("re-encoded packet rejected: %v", err)
		}
		if !bytes.Equal(q.Marshal(), enc) {
			t.Fatal("second round trip differs")
		}
	})
}
