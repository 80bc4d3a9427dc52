package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Well-known ports and limits (RFC 5880, 5881, 5883).
const (
	// PortSingleHop is the UDP destination port of single-hop control packets.
	PortSingleHop = 3784
	// PortEcho is the UDP destination port of echo packets (not sent here).
	PortEcho = 3785
	// PortMultiHop is the UDP destination port of multihop control packets.
	PortMultiHop = 4784
	// MinSourcePort and MaxSourcePort bound the source port of a session.
	MinSourcePort = 49152
	MaxSourcePort = 65535

	// Version is the protocol version this package speaks.
	Version = 1
	// HeaderLen is the length of a control packet without authentication.
	HeaderLen = 24
)

// Errors returned by ParseControlPacket. Each names one of the receive
// checks of RFC 5880 §6.8.6; the returned error wraps it with the values
// seen.
var (
	ErrShort              = errors.New("bfd: packet shorter than 24 bytes")
	ErrVersion            = errors.New("bfd: unsupported version")
	ErrLength             = errors.New("bfd: bad length field")
	ErrDetectMult         = errors.New("bfd: detect multiplier is zero")
	ErrMultipoint         = errors.New("bfd: multipoint (M) bit set")
	ErrMyDiscriminator    = errors.New("bfd: my discriminator is zero")
	ErrYourDiscriminator  = errors.New("bfd: your discriminator is zero in a packet whose state is not Down or AdminDown")
	ErrPollAndFinal       = errors.New("bfd: both poll (P) and final (F) bits set")
	ErrAuthSectionTooLong = errors.New("bfd: authentication section longer than the packet")
)

// ControlPacket is a BFD control packet (RFC 5880 §4.1). Intervals are in
// microseconds, as on the wire.
type ControlPacket struct {
	Version                   uint8
	Diag                      Diag
	State                     State
	Poll                      bool
	Final                     bool
	ControlPlaneIndependent   bool
	AuthPresent               bool
	Demand                    bool
	Multipoint                bool
	DetectMult                uint8
	MyDiscriminator           uint32
	YourDiscriminator         uint32
	DesiredMinTxInterval      uint32
	RequiredMinRxInterval     uint32
	RequiredMinEchoRxInterval uint32
	// Auth is the raw authentication section (type, length, data) when
	// AuthPresent is set. This package does not verify it.
	Auth []byte
}

const (
	flagPoll   = 0x20
	flagFinal  = 0x10
	flagCPI    = 0x08
	flagAuth   = 0x04
	flagDemand = 0x02
	flagMulti  = 0x01
)

// Len is the encoded length of the packet.
func (p *ControlPacket) Len() int {
	if p.AuthPresent {
		return HeaderLen + len(p.Auth)
	}
	return HeaderLen
}

// AppendTo appends the wire encoding of p to b. A zero Version is encoded
// as Version 1. It does not validate p; ParseControlPacket does that on
// the receiving side.
func (p *ControlPacket) AppendTo(b []byte) []byte {
	v := p.Version
	if v == 0 {
		v = Version
	}
	var flags byte
	for _, f := range []struct {
		on  bool
		bit byte
	}{
		{p.Poll, flagPoll}, {p.Final, flagFinal}, {p.ControlPlaneIndependent, flagCPI},
		{p.AuthPresent, flagAuth}, {p.Demand, flagDemand}, {p.Multipoint, flagMulti},
	} {
		if f.on {
			flags |= f.bit
		}
	}
	b = append(b,
		v<<5|byte(p.Diag)&0x1f,
		byte(p.State)<<6|flags,
		p.DetectMult,
		byte(p.Len()),
	)
	b = binary.BigEndian.AppendUint32(b, p.MyDiscriminator)
	b = binary.BigEndian.AppendUint32(b, p.YourDiscriminator)
	b = binary.BigEndian.AppendUint32(b, p.DesiredMinTxInterval)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinRxInterval)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinEchoRxInterval)
	if p.AuthPresent {
		b = append(b, p.Auth...)
	}
	return b
}

// Marshal returns the wire encoding of p.
func (p *ControlPacket) Marshal() []byte { return p.AppendTo(make([]byte, 0, p.Len())) }

// ParseControlPacket decodes a control packet from a UDP payload and applies
// the packet-level receive checks of RFC 5880 §6.8.6: version, length
// (at least 24, or 26 with the A bit; not more than the payload), detect
// multiplier, M bit, My Discriminator, and Your Discriminator being zero
// only in Down or AdminDown packets. It also rejects a packet with both P
// and F set (§6.5). Bytes after Length are ignored, and so is a Length
// above 24 without the A bit (as FRR does); such a packet re-encodes with
// Length 24.
func ParseControlPacket(b []byte) (ControlPacket, error) {
	var p ControlPacket
	if len(b) < HeaderLen {
		return p, fmt.Errorf("%w (got %d)", ErrShort, len(b))
	}
	p.Version = b[0] >> 5
	if p.Version != Version {
		return p, fmt.Errorf("%w %d (want %d)", ErrVersion, p.Version, Version)
	}
	p.Diag = Diag(b[0] & 0x1f)
	p.State = State(b[1] >> 6)
	p.Poll = b[1]&flagPoll != 0
	p.Final = b[1]&flagFinal != 0
	p.ControlPlaneIndependent = b[1]&flagCPI != 0
	p.AuthPresent = b[1]&flagAuth != 0
	p.Demand = b[1]&flagDemand != 0
	p.Multipoint = b[1]&flagMulti != 0
	p.DetectMult = b[2]
	length := int(b[3])
	minLen := HeaderLen
	if p.AuthPresent {
		minLen = HeaderLen + 2
	}
	if length < minLen || length > len(b) {
		return p, fmt.Errorf("%w %d (payload %d bytes, minimum %d)", ErrLength, length, len(b), minLen)
	}
	p.MyDiscriminator = binary.BigEndian.Uint32(b[4:])
	p.YourDiscriminator = binary.BigEndian.Uint32(b[8:])
	p.DesiredMinTxInterval = binary.BigEndian.Uint32(b[12:])
	p.RequiredMinRxInterval = binary.BigEndian.Uint32(b[16:])
	p.RequiredMinEchoRxInterval = binary.BigEndian.Uint32(b[20:])
	if p.AuthPresent {
		authLen := int(b[HeaderLen+1])
		if authLen < 2 || HeaderLen+authLen > length {
			return p, fmt.Errorf("%w (auth length %d, packet length %d)", ErrAuthSectionTooLong, authLen, length)
		}
		// The section is what Length declares; its own length field is
		// kept inside it for whoever verifies it.
		p.Auth = append([]byte(nil), b[HeaderLen:length]...)
	}
	switch {
	case p.DetectMult == 0:
		return p, ErrDetectMult
	case p.Multipoint:
		return p, ErrMultipoint
	case p.MyDiscriminator == 0:
		return p, ErrMyDiscriminator
	case p.YourDiscriminator == 0 && p.State != StateDown && p.State != StateAdminDown:
		return p, fmt.Errorf("%w (state %s)", ErrYourDiscriminator, p.State)
	case p.Poll && p.Final:
		return p, ErrPollAndFinal
	}
	return p, nil
}
