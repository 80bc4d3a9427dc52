package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// DefaultSnaplen is the snap length of captures and written files: enough
// for a GSO/GRO-coalesced TCP segment of 64 KiB, hence for any BGP message.
const DefaultSnaplen = 262144

// maxRecord bounds a record a Reader accepts, so a corrupt length field
// cannot make it allocate gigabytes.
const maxRecord = 1 << 20

// pcap magic numbers.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	pcapngSHB      = 0x0a0d0d0a
	pcapngBOM      = 0x1a2b3c4d
)

// PcapWriter writes a classic pcap file (nanosecond timestamps,
// LINKTYPE_ETHERNET by default) that tshark and Wireshark read.
type PcapWriter struct {
	w        *bufio.Writer
	snaplen  int
	linkType uint32
}

// NewPcapWriter writes the file header to w. linkType 0 means Ethernet;
// snaplen 0 means DefaultSnaplen.
func NewPcapWriter(w io.Writer, linkType uint32, snaplen int) (*PcapWriter, error) {
	if linkType == 0 {
		linkType = LinkTypeEthernet
	}
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	pw := &PcapWriter{w: bufio.NewWriter(w), snaplen: snaplen, linkType: linkType}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagicNano)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(h[20:], linkType)
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return pw, pw.w.Flush()
}

// WritePacket appends one record. Frames of another link type than the
// file's are rejected. Nothing is buffered across calls: each record is
// on its way to the underlying writer when WritePacket returns, so an
// interrupted capture leaves a readable file.
func (pw *PcapWriter) WritePacket(p Packet) error {
	lt := p.LinkType
	if lt == 0 {
		lt = LinkTypeEthernet
	}
	if lt != pw.linkType {
		return fmt.Errorf("write pcap record: frame of link type %d in a file of link type %d", lt, pw.linkType)
	}
	data := p.Data
	if len(data) > pw.snaplen {
		data = data[:pw.snaplen]
	}
	orig := max(p.Length, len(p.Data))
	var h [16]byte
	ts := p.Time.UnixNano()
	binary.LittleEndian.PutUint32(h[0:], uint32(ts/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(ts%1e9))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[12:], uint32(min(orig, math.MaxUint32)))
	if _, err := pw.w.Write(h[:]); err != nil {
		return fmt.Errorf("write pcap record: %w", err)
	}
	if _, err := pw.w.Write(data); err != nil {
		return fmt.Errorf("write pcap record: %w", err)
	}
	return pw.w.Flush()
}

// ErrTruncated is wrapped by Reader.Next when the file ends inside a record.
var ErrTruncated = errors.New("capture file truncated")

// Reader reads a classic pcap (any byte order, µs or ns timestamps) or a
// pcapng file (section header, interface description, enhanced and simple
// packet blocks; other blocks are skipped).
type Reader struct {
	r       *bufio.Reader
	ng      bool
	order   binary.ByteOrder
	nano    bool
	link    uint32
	snaplen uint32
	// pcapng interfaces: link type and timestamp resolution per id
	ifaces []ngIface
	// Records counts records returned so far.
	Records int
}

type ngIface struct {
	link    uint32
	snaplen uint32
	// tsUnit is the duration of one timestamp tick.
	tsUnit float64 // seconds
	name   string
}

// NewReader reads the file header.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a pcap or pcapng file: %d bytes (%w)", len(head), ErrTruncated)
	}
	rd := &Reader{r: br}
	switch {
	case binary.BigEndian.Uint32(head) == pcapngSHB:
		rd.ng = true
		if err := rd.readSHB(); err != nil {
			return nil, err
		}
		return rd, nil
	case binary.LittleEndian.Uint32(head) == pcapMagicMicro:
		rd.order = binary.LittleEndian
	case binary.LittleEndian.Uint32(head) == pcapMagicNano:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(head) == pcapMagicMicro:
		rd.order = binary.BigEndian
	case binary.BigEndian.Uint32(head) == pcapMagicNano:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file (magic %x): save captures with tshark/tcpdump -w or onp trace -w", head)
	}
	var h [24]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("pcap file header: %w", ErrTruncated)
	}
	rd.snaplen = rd.order.Uint32(h[16:])
	rd.link = fileLinkType(rd.order.Uint32(h[20:]) & 0x0fffffff)
	return rd, nil
}

// LinkType returns the link type of a classic pcap file (0 for pcapng,
// where it is per interface).
func (rd *Reader) LinkType() uint32 {
	if rd.ng {
		return 0
	}
	return rd.link
}

// Next returns the next packet, io.EOF at the end of the file, or an error
// wrapping ErrTruncated when the file ends inside a record.
func (rd *Reader) Next() (Packet, error) {
	if rd.ng {
		return rd.nextNG()
	}
	var h [16]byte
	n, err := io.ReadFull(rd.r, h[:])
	if err == io.EOF {
		return Packet{}, io.EOF
	}
	if err != nil {
		return Packet{}, fmt.Errorf("record %d header: %d of 16 bytes: %w", rd.Records+1, n, ErrTruncated)
	}
	sec := rd.order.Uint32(h[0:])
	frac := rd.order.Uint32(h[4:])
	incl := rd.order.Uint32(h[8:])
	orig := rd.order.Uint32(h[12:])
	if incl > maxRecord {
		return Packet{}, fmt.Errorf("record %d: captured length %d is not plausible (file corrupt)", rd.Records+1, incl)
	}
	data := make([]byte, incl)
	if n, err := io.ReadFull(rd.r, data); err != nil {
		return Packet{}, fmt.Errorf("record %d: %d of %d bytes: %w", rd.Records+1, n, incl, ErrTruncated)
	}
	rd.Records++
	ns := int64(frac)
	if !rd.nano {
		ns *= 1000
	}
	return Packet{Time: time.Unix(int64(sec), ns), Data: data, Length: int(orig), LinkType: rd.link}, nil
}

func (rd *Reader) readBlock() (typ uint32, body []byte, err error) {
	var h [8]byte
	n, err := io.ReadFull(rd.r, h[:])
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("pcapng block header: %d of 8 bytes: %w", n, ErrTruncated)
	}
	typ = rd.order.Uint32(h[0:])
	l := rd.order.Uint32(h[4:])
	if l < 12 || l%4 != 0 || l > maxRecord {
		return 0, nil, fmt.Errorf("pcapng block of type 0x%x with length %d is not plausible (file corrupt)", typ, l)
	}
	rest := make([]byte, l-8)
	if n, err := io.ReadFull(rd.r, rest); err != nil {
		return 0, nil, fmt.Errorf("pcapng block: %d of %d bytes: %w", n, l-8, ErrTruncated)
	}
	return typ, rest[:len(rest)-4], nil
}

func (rd *Reader) readSHB() error {
	var h [12]byte
	if _, err := io.ReadFull(rd.r, h[:]); err != nil {
		return fmt.Errorf("pcapng section header: %w", ErrTruncated)
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == pcapngBOM:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == pcapngBOM:
		rd.order = binary.BigEndian
	default:
		return fmt.Errorf("pcapng section header with unknown byte-order magic %x", h[8:])
	}
	l := rd.order.Uint32(h[4:])
	if l < 28 || l%4 != 0 || l > maxRecord {
		return fmt.Errorf("pcapng section header length %d is not plausible (file corrupt)", l)
	}
	if _, err := io.CopyN(io.Discard, rd.r, int64(l-12)); err != nil {
		return fmt.Errorf("pcapng section header: %w", ErrTruncated)
	}
	rd.ifaces = nil
	return nil
}

func (rd *Reader) nextNG() (Packet, error) {
	for {
		head, err := rd.r.Peek(4)
		if len(head) == 0 && err != nil {
			return Packet{}, io.EOF
		}
		if len(head) == 4 && binary.BigEndian.Uint32(head) == pcapngSHB {
			if err := rd.readSHB(); err != nil {
				return Packet{}, err
			}
			continue
		}
		typ, body, err := rd.readBlock()
		if err != nil {
			return Packet{}, err
		}
		switch typ {
		case 1: // interface description
			if len(body) < 8 {
				return Packet{}, fmt.Errorf("pcapng interface block of %d bytes: %w", len(body), ErrTruncated)
			}
			ifc := ngIface{link: fileLinkType(uint32(rd.order.Uint16(body[0:]))), snaplen: rd.order.Uint32(body[4:]), tsUnit: 1e-6}
			rd.parseIfaceOptions(&ifc, body[8:])
			rd.ifaces = append(rd.ifaces, ifc)
		case 6: // enhanced packet
			if len(body) < 20 {
				return Packet{}, fmt.Errorf("pcapng packet block of %d bytes: %w", len(body), ErrTruncated)
			}
			id := rd.order.Uint32(body[0:])
			if int(id) >= len(rd.ifaces) {
				return Packet{}, fmt.Errorf("pcapng packet for interface %d, which was not described (file corrupt)", id)
			}
			ifc := rd.ifaces[id]
			ts := uint64(rd.order.Uint32(body[4:]))<<32 | uint64(rd.order.Uint32(body[8:]))
			capLen := rd.order.Uint32(body[12:])
			orig := rd.order.Uint32(body[16:])
			if int(capLen) > len(body)-20 {
				return Packet{}, fmt.Errorf("pcapng packet %d: %d of %d bytes: %w", rd.Records+1, len(body)-20, capLen, ErrTruncated)
			}
			rd.Records++
			return Packet{Time: ngTime(ts, ifc.tsUnit), Interface: ifc.name, Data: body[20 : 20+capLen], Length: int(orig), LinkType: ifc.link}, nil
		case 3: // simple packet
			if len(body) < 4 || len(rd.ifaces) == 0 {
				return Packet{}, fmt.Errorf("pcapng simple packet block without interface: %w", ErrTruncated)
			}
			orig := rd.order.Uint32(body[0:])
			data := body[4:]
			if int(orig) < len(data) {
				data = data[:orig]
			}
			rd.Records++
			return Packet{Data: data, Length: int(orig), LinkType: rd.ifaces[0].link}, nil
		}
	}
}

func (rd *Reader) parseIfaceOptions(ifc *ngIface, opts []byte) {
	for len(opts) >= 4 {
		code := rd.order.Uint16(opts[0:])
		l := int(rd.order.Uint16(opts[2:]))
		if 4+l > len(opts) {
			return
		}
		v := opts[4 : 4+l]
		switch code {
		case 0:
			return
		case 2: // if_name
			ifc.name = printable(string(v))
		case 9: // if_tsresol
			if l >= 1 {
				r := v[0]
				if r&0x80 != 0 {
					ifc.tsUnit = math.Pow(2, -float64(r&0x7f))
				} else {
					ifc.tsUnit = math.Pow(10, -float64(r))
				}
			}
		}
		n := 4 + (l+3)/4*4
		if n > len(opts) {
			return
		}
		opts = opts[n:]
	}
}

func ngTime(ts uint64, unit float64) time.Time {
	if unit == 1e-9 {
		return time.Unix(0, int64(ts))
	}
	if unit == 1e-6 {
		return time.Unix(int64(ts/1e6), int64(ts%1e6)*1000)
	}
	sec := float64(ts) * unit
	s := math.Floor(sec)
	return time.Unix(int64(s), int64((sec-s)*1e9))
}

// fileLinkType maps a file's link type to Packet.LinkType, where 0 means
// Ethernet: LINKTYPE_NULL (0) becomes linkTypeNull.
func fileLinkType(lt uint32) uint32 {
	if lt == 0 {
		return linkTypeNull
	}
	return lt
}
