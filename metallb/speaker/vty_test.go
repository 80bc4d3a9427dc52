package speaker

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/onp-lab/onp/internal/frr"
)

// vtyConn is a connection to one FRR daemon's vty socket, speaking the
// protocol vtysh speaks (a command ending in NUL; the answer ending in
// three NULs and a status byte). The benchmarks poll bgpd through it:
// starting vtysh costs some 40 ms of CPU each time, which polled every few
// milliseconds would take a core of the two the benchmark measures on.
type vtyConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialVty(dir, daemon string) (*vtyConn, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, daemon+".vty"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &vtyConn{c: c, r: bufio.NewReaderSize(c, 1<<16)}, nil
}

func (v *vtyConn) Close() error { return v.c.Close() }

// run sends one command and returns its output.
func (v *vtyConn) run(cmd string) ([]byte, error) {
	v.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := v.c.Write(append([]byte(cmd), 0)); err != nil {
		return nil, err
	}
	var out []byte
	for {
		b, err := v.r.ReadByte()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if n := len(out); n >= 4 && bytes.Equal(out[n-4:n-1], []byte{0, 0, 0}) {
			if status := out[n-1]; status != 0 {
				return nil, fmt.Errorf("vty %q: status %d: %s", cmd, status, out[:n-4])
			}
			return out[:n-4], nil
		}
	}
}

// bgpSummary is `show bgp summary json`.
func (v *vtyConn) bgpSummary() (frr.BGPSummary, error) {
	b, err := v.run("show bgp summary json")
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode %q: %w", b, err)
	}
	out := frr.BGPSummary{}
	for k, x := range raw {
		var af frr.BGPAFSummary
		if json.Unmarshal(x, &af) == nil {
			out[k] = af
		}
	}
	return out, nil
}
