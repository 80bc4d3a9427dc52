package trace

import (
	"encoding/binary"
	"fmt"
)

// BFD UDP ports (RFC 5881, 5883).
const (
	BFDControlPort  = 3784
	BFDEchoPort     = 3785
	BFDMultihopPort = 4784
)

// bfdHeaderLen is the length of a control packet without authentication.
const bfdHeaderLen = 24

// DecodeBFD decodes a BFD control packet (the UDP payload). It never fails
// outright: whatever can be read is filled in, and Error names the first
// problem — a short packet, a version other than 1, a length field that
// disagrees with the datagram, or a violation of the receive checks of RFC
// 5880 §6.8.6 (detect multiplier 0, M bit set, My Discriminator 0, Your
// Discriminator 0 in a state other than Down/AdminDown).
func DecodeBFD(b []byte) BFDPacket {
	var p BFDPacket
	if len(b) < 1 {
		p.Error = "empty BFD packet"
		return p
	}
	p.Version = b[0] >> 5
	p.Diag = b[0] & 0x1f
	p.DiagName = BFDDiagName(p.Diag)
	if len(b) < 2 {
		p.Error = fmt.Sprintf("BFD packet truncated: %d of %d bytes", len(b), bfdHeaderLen)
		return p
	}
	p.State = BFDStateName(b[1] >> 6)
	p.Poll = b[1]&0x20 != 0
	p.Final = b[1]&0x10 != 0
	p.ControlPlaneIndependent = b[1]&0x08 != 0
	p.AuthPresent = b[1]&0x04 != 0
	p.Demand = b[1]&0x02 != 0
	p.Multipoint = b[1]&0x01 != 0
	if len(b) < bfdHeaderLen {
		if len(b) >= 3 {
			p.DetectMult = b[2]
		}
		if len(b) >= 4 {
			p.Length = b[3]
		}
		p.Error = fmt.Sprintf("BFD packet truncated: %d of %d bytes", len(b), bfdHeaderLen)
		return p
	}
	p.DetectMult = b[2]
	p.Length = b[3]
	p.MyDisc = binary.BigEndian.Uint32(b[4:8])
	p.YourDisc = binary.BigEndian.Uint32(b[8:12])
	p.DesiredMinTxUs = binary.BigEndian.Uint32(b[12:16])
	p.RequiredMinRxUs = binary.BigEndian.Uint32(b[16:20])
	p.RequiredMinEchoRxUs = binary.BigEndian.Uint32(b[20:24])
	if p.AuthPresent && len(b) >= bfdHeaderLen+2 {
		p.AuthType = b[24]
		p.AuthName = BFDAuthName(p.AuthType)
	}
	p.Error = bfdCheck(&p, len(b), b)
	return p
}

// bfdCheck returns the first receive check of RFC 5880 §6.8.6 the packet
// fails, or "".
func bfdCheck(p *BFDPacket, n int, b []byte) string {
	switch {
	case p.Version != 1:
		return fmt.Sprintf("BFD version %d, want 1", p.Version)
	case p.AuthPresent && p.Length < bfdHeaderLen+2:
		return fmt.Sprintf("length field %d too short for an authentication section", p.Length)
	case !p.AuthPresent && p.Length < bfdHeaderLen:
		return fmt.Sprintf("length field %d shorter than 24", p.Length)
	case int(p.Length) > n:
		return fmt.Sprintf("length field %d exceeds the %d-byte datagram", p.Length, n)
	case p.AuthPresent && int(b[25]) > int(p.Length)-bfdHeaderLen:
		return fmt.Sprintf("authentication section length %d exceeds the packet", b[25])
	case p.DetectMult == 0:
		return "detect multiplier is 0"
	case p.Multipoint:
		return "multipoint (M) bit set"
	case p.MyDisc == 0:
		return "My Discriminator is 0"
	case p.YourDisc == 0 && p.State != "Down" && p.State != "AdminDown":
		return fmt.Sprintf("Your Discriminator is 0 in state %s", p.State)
	case p.Poll && p.Final:
		return "both Poll (P) and Final (F) set"
	}
	return ""
}
