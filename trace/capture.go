package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
)

// Source is an interface to capture on.
type Source struct {
	// Netns is the path of the network namespace holding the interface
	// (e.g. /run/netns/onp-lab); empty means the caller's namespace.
	Netns string `json:"netns,omitempty"`
	// Interface is the interface name, e.g. sno0 or eth0.
	Interface string `json:"interface"`
	// Promisc puts the interface in promiscuous mode while the capture is
	// open, which a bridge needs to see frames forwarded between its ports.
	Promisc bool `json:"promisc,omitempty"`
}

func (s Source) String() string {
	if s.Netns == "" {
		return s.Interface
	}
	return s.Interface + " in " + s.Netns
}

// Capture is an open AF_PACKET socket with a BGP/BFD filter.
type Capture struct {
	src  Source
	f    *os.File
	rc   syscall.RawConn
	buf  []byte
	oob  []byte
	snap int
}

// htons converts a protocol number to network byte order for socket(2).
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenCapture opens a packet socket on the source's interface, inside its
// namespace, with the kernel filter of spec attached before the socket is
// bound (so nothing unfiltered is queued), kernel timestamps enabled, and
// the interface in promiscuous mode if asked. It needs CAP_NET_RAW (and
// CAP_SYS_ADMIN to enter another namespace).
func OpenCapture(src Source, spec FilterSpec) (*Capture, error) {
	prog, err := spec.Program()
	if err != nil {
		return nil, err
	}
	snap := spec.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	var fd int
	open := func() error {
		ifi, err := net.InterfaceByName(src.Interface)
		if err != nil {
			return fmt.Errorf("interface %s: %w", src.Interface, err)
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("open packet socket: %w (run as root or with CAP_NET_RAW)", err)
			}
			return fmt.Errorf("open packet socket: %w", err)
		}
		fail := func(what string, err error) error {
			unix.Close(fd)
			return fmt.Errorf("%s: %w", what, err)
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fail("attach BPF filter", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fail("enable kernel timestamps", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return fail("bind packet socket to "+src.Interface, err)
		}
		if src.Promisc {
			mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
			if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
				return fail("promiscuous mode on "+src.Interface, err)
			}
		}
		return nil
	}
	if src.Netns != "" {
		err = nsx.Do(src.Netns, open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", src, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+src.Interface)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture on %s: %w", src, err)
	}
	return &Capture{src: src, f: f, rc: rc, buf: make([]byte, snap), oob: make([]byte, 256), snap: snap}, nil
}

// Source returns what the capture was opened on.
func (c *Capture) Source() Source { return c.src }

// ErrCaptureClosed is returned by Next after Close.
var ErrCaptureClosed = errors.New("capture closed")

// Next blocks until a frame passes the filter and returns it with its
// kernel timestamp. After Close it returns ErrCaptureClosed.
func (c *Capture) Next() (Packet, error) {
	var n, oobn int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, unix.MSG_TRUNC)
		return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
	})
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return Packet{}, ErrCaptureClosed
		}
		return Packet{}, fmt.Errorf("capture on %s: %w", c.src, err)
	}
	if rerr != nil {
		return Packet{}, fmt.Errorf("capture on %s: read: %w", c.src, rerr)
	}
	p := Packet{Interface: c.src.Interface, Length: n, LinkType: LinkTypeEthernet}
	p.Data = append([]byte(nil), c.buf[:min(n, len(c.buf))]...)
	p.Time = kernelTime(c.oob[:oobn])
	return p, nil
}

// kernelTime extracts the SCM_TIMESTAMPNS control message; without one it
// falls back to the current time.
func kernelTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
				continue
			}
			switch len(m.Data) {
			case 16:
				return time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:])), int64(binary.NativeEndian.Uint64(m.Data[8:])))
			case 8:
				return time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data[0:]))), int64(int32(binary.NativeEndian.Uint32(m.Data[4:]))))
			}
		}
	}
	return time.Now()
}

// CaptureStats are the kernel's counters of a capture.
type CaptureStats struct {
	// Received counts frames that passed the filter; Dropped those lost
	// because the socket buffer was full.
	Received, Dropped uint64
}

// Stats returns (and, as the kernel does, resets) the socket's counters.
func (c *Capture) Stats() (CaptureStats, error) {
	var st CaptureStats
	var serr error
	err := c.rc.Control(func(fd uintptr) {
		var s *unix.TpacketStats
		s, serr = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if serr == nil {
			st.Received, st.Dropped = uint64(s.Packets), uint64(s.Drops)
		}
	})
	if err == nil {
		err = serr
	}
	return st, err
}

// Close closes the socket; a blocked Next returns ErrCaptureClosed. The
// kernel leaves promiscuous mode when the socket goes.
func (c *Capture) Close() error { return c.f.Close() }

// namespaceMounted reports whether path is still a mounted network
// namespace.
func namespaceMounted(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}
