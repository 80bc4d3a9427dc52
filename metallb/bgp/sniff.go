package bgp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// notificationSniffer reads the NOTIFICATIONs a peer sends from the wire.
//
// gobgp/v3 reports a NOTIFICATION only when it arrives in Established; one
// that arrives in OpenSent or OpenConfirm — the peer rejecting our OPEN:
// Bad Peer AS, Bad BGP Identifier, Unacceptable Hold Time, Unsupported
// Capability — is counted and discarded with the reason "invalid-msg".
// Those are exactly the NOTIFICATIONs a user needs to see, so the session
// watches its peer's small TCP segments on a packet socket (AF_PACKET,
// needs CAP_NET_RAW) with a classic BPF filter: IPv4 or IPv6, TCP, from the
// peer's address and port, unfragmented, payload of 19–256 bytes. The
// kernel drops everything else, so route updates are not copied. Each
// accepted segment is parsed for BGP messages of type 3.
type notificationSniffer struct {
	f    *os.File
	done chan struct{}
}

// Payload bounds: a BGP message is at least 19 bytes; NOTIFICATIONs are
// small, and bulk UPDATE segments are skipped.
const (
	sniffMinPayload = 19
	sniffMaxPayload = 256
	sniffSnapLen    = 512
)

// asm assembles a classic BPF program with symbolic jump targets.
type asm struct {
	ins    []bpf.Instruction
	jumps  map[int][2]string
	labels map[string]int
}

func newAsm() *asm { return &asm{jumps: map[int][2]string{}, labels: map[string]int{}} }

func (a *asm) add(i ...bpf.Instruction) { a.ins = append(a.ins, i...) }
func (a *asm) label(name string)        { a.labels[name] = len(a.ins) }

// jump adds a conditional jump; an empty target means the next instruction.
func (a *asm) jump(cond bpf.JumpTest, val uint32, ifTrue, ifFalse string) {
	a.jumps[len(a.ins)] = [2]string{ifTrue, ifFalse}
	a.add(bpf.JumpIf{Cond: cond, Val: val})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for i, targets := range a.jumps {
		j := a.ins[i].(bpf.JumpIf)
		for k, name := range targets {
			if name == "" {
				continue
			}
			to, ok := a.labels[name]
			if !ok || to <= i {
				return nil, fmt.Errorf("bpf: bad jump target %q", name)
			}
			if k == 0 {
				j.SkipTrue = uint8(to - i - 1)
			} else {
				j.SkipFalse = uint8(to - i - 1)
			}
		}
		a.ins[i] = j
	}
	return bpf.Assemble(a.ins)
}

// notificationFilter builds the filter described on notificationSniffer.
// It runs on packets that start at the IP header (SOCK_DGRAM).
func notificationFilter(peer netip.Addr, port uint16) ([]bpf.RawInstruction, error) {
	a := newAsm()
	payloadChecks := func() {
		// A = payload length
		a.jump(bpf.JumpGreaterOrEqual, sniffMinPayload, "", "drop")
		a.jump(bpf.JumpGreaterThan, sniffMaxPayload, "drop", "accept")
	}
	a.add(bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	if peer.Is4() {
		a.jump(bpf.JumpEqual, 4, "", "drop")
		a.add(bpf.LoadAbsolute{Off: 9, Size: 1})
		a.jump(bpf.JumpEqual, unix.IPPROTO_TCP, "", "drop")
		a.add(bpf.LoadAbsolute{Off: 6, Size: 2})
		a.jump(bpf.JumpBitsSet, 0x3fff, "drop", "") // MF or a fragment offset
		v := peer.As4()
		a.add(bpf.LoadAbsolute{Off: 12, Size: 4})
		a.jump(bpf.JumpEqual, binary.BigEndian.Uint32(v[:]), "", "drop")
		a.add(bpf.LoadMemShift{Off: 0}) // X = IP header length
		a.add(bpf.LoadIndirect{Off: 0, Size: 2})
		a.jump(bpf.JumpEqual, uint32(port), "", "drop")
		a.add(
			bpf.LoadIndirect{Off: 12, Size: 1}, // TCP data offset
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4},
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2},
			bpf.ALUOpX{Op: bpf.ALUOpAdd},
			bpf.TAX{}, // X = IP + TCP header length
			bpf.LoadAbsolute{Off: 2, Size: 2},
			bpf.ALUOpX{Op: bpf.ALUOpSub},
		)
		payloadChecks()
	} else {
		a.jump(bpf.JumpEqual, 6, "", "drop")
		a.add(bpf.LoadAbsolute{Off: 6, Size: 1})
		a.jump(bpf.JumpEqual, unix.IPPROTO_TCP, "", "drop") // no extension headers
		v := peer.As16()
		for i := 0; i < 4; i++ {
			a.add(bpf.LoadAbsolute{Off: uint32(8 + 4*i), Size: 4})
			a.jump(bpf.JumpEqual, binary.BigEndian.Uint32(v[4*i:]), "", "drop")
		}
		a.add(bpf.LoadAbsolute{Off: 40, Size: 2})
		a.jump(bpf.JumpEqual, uint32(port), "", "drop")
		a.add(
			bpf.LoadAbsolute{Off: 52, Size: 1},
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4},
			bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 40},
			bpf.TAX{},
			bpf.LoadAbsolute{Off: 4, Size: 2},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 40},
			bpf.ALUOpX{Op: bpf.ALUOpSub},
		)
		payloadChecks()
	}
	a.label("accept")
	a.add(bpf.RetConstant{Val: sniffSnapLen})
	a.label("drop")
	a.add(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// parseNotifications returns the NOTIFICATIONs in an IP packet's TCP
// payload (which may hold several BGP messages).
func parseNotifications(pkt []byte) []Notification {
	if len(pkt) < 20 {
		return nil
	}
	var off int
	switch pkt[0] >> 4 {
	case 4:
		off = int(pkt[0]&0x0f) * 4
	case 6:
		off = 40
	default:
		return nil
	}
	if len(pkt) < off+20 {
		return nil
	}
	off += int(pkt[off+12]>>4) * 4
	if off > len(pkt) {
		return nil
	}
	var out []Notification
	p := pkt[off:]
	for len(p) >= 19 {
		for i := 0; i < 16; i++ {
			if p[i] != 0xff {
				return out
			}
		}
		l := int(binary.BigEndian.Uint16(p[16:18]))
		if l < 19 || l > 4096 {
			return out
		}
		if l > len(p) {
			l = len(p) // cut by the snap length
		}
		if p[18] == 3 && l >= 21 {
			out = append(out, Notification{Code: p[19], Subcode: p[20], Data: append([]byte(nil), p[21:l]...)})
		}
		p = p[l:]
	}
	return out
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startSniffer watches for NOTIFICATIONs from peer:port until stop.
func startSniffer(peer netip.Addr, port uint16, report func(Notification)) (*notificationSniffer, error) {
	prog, err := notificationFilter(peer, port)
	if err != nil {
		return nil, err
	}
	// Protocol 0 receives nothing until bind, so no packet gets past the
	// filter before it is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket for NOTIFICATIONs from %s: %w (needs CAP_NET_RAW)", peer, err)
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attach BPF filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket: %w", err)
	}
	s := &notificationSniffer{f: os.NewFile(uintptr(fd), "bgp-notification-sniffer"), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, sniffSnapLen)
		for {
			n, err := s.f.Read(buf)
			if err != nil {
				// Closed by stop, or a socket error that would repeat.
				return
			}
			now := time.Now()
			for _, nt := range parseNotifications(buf[:n]) {
				nt.Time = now
				report(nt)
			}
		}
	}()
	return s, nil
}

func (s *notificationSniffer) stop() {
	s.f.Close()
	<-s.done
}
