package frr

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// vtyConn speaks the protocol vtysh uses with a daemon's .vty socket: a
// command terminated by NUL; the answer is the output followed by three
// NUL bytes and a status byte (0 = success).
type vtyConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialVty(ctx context.Context, path string) (*vtyConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &vtyConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (v *vtyConn) Close() error { return v.c.Close() }

// cmd runs one command and returns its output and status byte.
func (v *vtyConn) cmd(ctx context.Context, line string) (string, byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		v.c.SetDeadline(dl)
	} else {
		v.c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if _, err := v.c.Write(append([]byte(line), 0)); err != nil {
		return "", 0, err
	}
	var out []byte
	for {
		b, err := v.r.ReadByte()
		if err != nil {
			return string(out), 0, err
		}
		out = append(out, b)
		n := len(out)
		if n >= 4 && out[n-4] == 0 && out[n-3] == 0 && out[n-2] == 0 {
			return string(out[:n-4]), out[n-1], nil
		}
	}
}

// runningConfigDirect reads every daemon's own running configuration over
// its vty socket (in parallel, without starting vtysh) and merges them the
// way vtysh does: contexts with the same header are joined and duplicate
// lines dropped. It fails when any daemon does not answer, so that a plan
// is never made against a partial view.
func (in *Instance) runningConfigDirect(ctx context.Context) (string, error) {
	daemons := in.opts.Daemons
	outs := make([]string, len(daemons))
	errs := make([]error, len(daemons))
	var wg sync.WaitGroup
	for i, d := range daemons {
		wg.Add(1)
		go func(i int, d string) {
			defer wg.Done()
			path := filepath.Join(in.opts.Dir, d+".vty")
			v, err := dialVty(ctx, path)
			if err != nil {
				errs[i] = fmt.Errorf("frr: connect to %s at %s: %w", d, path, err)
				return
			}
			defer v.Close()
			// The shell vty starts in view mode; running-config is an
			// enable-mode command.
			out, st, err := v.cmd(ctx, "enable")
			if err == nil && st == 0 {
				out, st, err = v.cmd(ctx, "show running-config")
			}
			if err == nil && st != 0 {
				err = fmt.Errorf("status %d: %s", st, strings.TrimSpace(out))
			}
			if err != nil {
				errs[i] = fmt.Errorf("frr: %s: show running-config: %w", d, err)
				return
			}
			outs[i] = out
		}(i, d)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	return strings.Join(outs, "\n!\nend\n"), nil
}
