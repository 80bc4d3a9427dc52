package trace

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
)

// FilterSpec says what the kernel filter lets through.
type FilterSpec struct {
	// Ports are TCP ports carrying BGP besides 179.
	Ports []uint16
	// ARP lets ARP frames through.
	ARP bool
	// Snaplen is how many bytes of a frame are kept (0: DefaultSnaplen).
	Snaplen int
}

func (fs FilterSpec) tcpPorts() []uint16 {
	ports := []uint16{BGPPort}
	for _, p := range fs.Ports {
		if p != 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// asm assembles classic BPF with symbolic jump targets.
type asm struct {
	ins    []bpf.Instruction
	jumps  map[int][2]string // instruction index → true/false labels ("" = next)
	labels map[string]int
}

func (a *asm) emit(i ...bpf.Instruction) { a.ins = append(a.ins, i...) }
func (a *asm) label(l string)            { a.labels[l] = len(a.ins) }

func (a *asm) jeq(val uint32, ifTrue, ifFalse string) {
	a.jumps[len(a.ins)] = [2]string{ifTrue, ifFalse}
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
}

func (a *asm) jset(val uint32, ifTrue, ifFalse string) {
	a.jumps[len(a.ins)] = [2]string{ifTrue, ifFalse}
	a.emit(bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: val})
}

func (a *asm) jmp(l string) {
	a.jumps[len(a.ins)] = [2]string{l, ""}
	a.emit(bpf.Jump{})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	ins := slices.Clone(a.ins)
	for i, t := range a.jumps {
		skip := func(l string) (uint32, error) {
			if l == "" {
				return 0, nil
			}
			at, ok := a.labels[l]
			if !ok || at <= i {
				return 0, fmt.Errorf("bpf: bad jump to %q from %d", l, i)
			}
			return uint32(at - i - 1), nil
		}
		st, err := skip(t[0])
		if err != nil {
			return nil, err
		}
		sf, err := skip(t[1])
		if err != nil {
			return nil, err
		}
		switch j := ins[i].(type) {
		case bpf.JumpIf:
			if st > 255 || sf > 255 {
				return nil, fmt.Errorf("bpf: jump too far at %d", i)
			}
			j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
			ins[i] = j
		case bpf.Jump:
			j.Skip = st
			ins[i] = j
		}
	}
	return bpf.Assemble(ins)
}

// Program returns the classic BPF program for an Ethernet packet socket:
// IPv4 or IPv6 TCP with a BGP port as source or destination, UDP to or
// from the BFD ports 3784 (control), 3785 (echo) and 4784 (multihop), and
// ARP when asked. IPv4 fragments after the first are dropped; IPv6
// extension headers are not walked (BGP and BFD do not use them).
func (fs FilterSpec) Program() ([]bpf.RawInstruction, error) {
	snap := fs.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	a := &asm{jumps: map[int][2]string{}, labels: map[string]int{}}
	ports := fs.tcpPorts()
	bfdPorts := []uint16{BFDControlPort, BFDEchoPort, BFDMultihopPort}
	portTests := func(ps []uint16, yes string) {
		for _, p := range ps {
			a.jeq(uint32(p), yes, "")
		}
	}

	a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(etherIPv4, "ip4", "")
	a.jeq(etherIPv6, "ip6", "")
	if fs.ARP {
		a.jeq(etherARP, "accept", "drop")
	} else {
		a.jmp("drop")
	}

	a.label("ip4")
	a.emit(bpf.LoadAbsolute{Off: 20, Size: 2})
	a.jset(0x1fff, "drop", "")
	a.emit(bpf.LoadAbsolute{Off: 23, Size: 1})
	a.jeq(protoTCP, "tcp4", "")
	a.jeq(protoUDP, "udp4", "drop")

	a.label("tcp4")
	a.emit(bpf.LoadMemShift{Off: 14})
	a.emit(bpf.LoadIndirect{Off: 14, Size: 2})
	portTests(ports, "accept")
	a.emit(bpf.LoadIndirect{Off: 16, Size: 2})
	portTests(ports, "accept")
	a.jmp("drop")

	a.label("udp4")
	a.emit(bpf.LoadMemShift{Off: 14})
	a.emit(bpf.LoadIndirect{Off: 16, Size: 2})
	portTests(bfdPorts, "accept")
	a.emit(bpf.LoadIndirect{Off: 14, Size: 2})
	portTests(bfdPorts, "accept")
	a.jmp("drop")

	a.label("ip6")
	a.emit(bpf.LoadAbsolute{Off: 20, Size: 1})
	a.jeq(protoTCP, "tcp6", "")
	a.jeq(protoUDP, "udp6", "drop")

	a.label("tcp6")
	a.emit(bpf.LoadAbsolute{Off: 54, Size: 2})
	portTests(ports, "accept")
	a.emit(bpf.LoadAbsolute{Off: 56, Size: 2})
	portTests(ports, "accept")
	a.jmp("drop")

	a.label("udp6")
	a.emit(bpf.LoadAbsolute{Off: 56, Size: 2})
	portTests(bfdPorts, "accept")
	a.emit(bpf.LoadAbsolute{Off: 54, Size: 2})
	portTests(bfdPorts, "accept")
	a.jmp("drop")

	a.label("accept")
	a.emit(bpf.RetConstant{Val: uint32(snap)})
	a.label("drop")
	a.emit(bpf.RetConstant{Val: 0})
	return a.assemble()
}
