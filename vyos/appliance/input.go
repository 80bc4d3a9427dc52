package appliance

import (
	"bufio"
	"bytes"
	"io"
	"iter"
	"strings"
	"sync"
)

// inputPump reads a channel in the background so that Ctrl-C typed while a
// command runs can cancel it; everything else stays queued for the line
// editor (type-ahead).
type inputPump struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	err  error
	intr func()
}

func newInputPump(r io.Reader) *inputPump {
	p := &inputPump{}
	p.cond = sync.NewCond(&p.mu)
	go p.pump(r)
	return p
}

func (p *inputPump) pump(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		p.mu.Lock()
		p.buf = append(p.buf, b[:n]...)
		p.checkInterrupt()
		if err != nil {
			p.err = err
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// checkInterrupt drops queued input up to and including a Ctrl-C and calls
// the interrupt function; mu is held.
func (p *inputPump) checkInterrupt() {
	if p.intr == nil {
		return
	}
	if i := bytes.LastIndexByte(p.buf, keyCtrlC); i >= 0 {
		p.buf = append(p.buf[:0], p.buf[i+1:]...)
		f := p.intr
		p.intr = nil
		f()
	}
}

// setInterrupt installs (or, with nil, removes) the function called when
// Ctrl-C arrives.
func (p *inputPump) setInterrupt(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.intr = f
	p.checkInterrupt()
}

func (p *inputPump) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && p.err == nil {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, p.err
	}
	n := copy(b, p.buf)
	p.buf = append(p.buf[:0], p.buf[n:]...)
	return n, nil
}

// readLines yields the lines of r without their line ends; a final line
// without a newline is yielded too.
func readLines(r io.Reader) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if !yield(strings.TrimRight(line, "\r\n"), nil) {
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					yield("", err)
				}
				return
			}
		}
	}
}

// failureMarkers are the strings by which VyOS (and automation that drives
// it) recognises a failed command.
var failureMarkers = []string{
	"Set failed",
	"Delete failed",
	"Commit failed",
	"is not valid",
	"Invalid command",
	"Value validation failed",
	"Failed to generate committed config",
	"] failed",
	"Cannot exit: configuration modified",
	"Incomplete command",
	"Ambiguous command",
}

// failureStatus maps command output to an exit status: 1 when it carries a
// failure marker.
func failureStatus(out string) int {
	for _, m := range failureMarkers {
		if strings.Contains(out, m) {
			return 1
		}
	}
	return 0
}
