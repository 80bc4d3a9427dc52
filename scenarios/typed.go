package scenarios

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onp-lab/onp/scenarios/format"
	"github.com/onp-lab/onp/vyos/driver"
)

// promptRE matches the VyOS prompts at the end of the output: operational
// mode "vyos@vyos:~$ " and configuration mode "vyos@vyos# ".
var promptRE = regexp.MustCompile(`[\w.-]+@[\w.-]+(:[^\s]*)?[$#] $`)

// LineTimeout bounds how long one typed line may take (a commit included).
const LineTimeout = 60 * time.Second

// TypeLines logs in on an interactive terminal and types lines as a person
// would, one at a time, waiting for the prompt after each. It stops at the
// first line the router refuses (VyOS's failure messages) and returns the
// transcript so far. Lines of set/delete commands without a "configure" are
// wrapped in configure ... commit, save, exit.
func TypeLines(ctx context.Context, c *ssh.Client, lines []string) (string, error) {
	lines = format.WrapConfigure(lines)
	s, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("open a terminal session: %w", err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 50, 250, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		return "", fmt.Errorf("request a terminal: %w", err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := s.Shell(); err != nil {
		return "", fmt.Errorf("start the CLI: %w", err)
	}
	t := &terminal{changed: make(chan struct{}, 1)}
	go t.pump(out)
	var transcript strings.Builder
	wait := func(what string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, LineTimeout)
		defer cancel()
		got, err := t.untilPrompt(ctx)
		transcript.WriteString(got)
		if err != nil {
			return got, fmt.Errorf("no prompt after %s: %w (last output: %q)", what, err, lastLines(got, 3))
		}
		return got, nil
	}
	if _, err := wait("login"); err != nil {
		return transcript.String(), err
	}
	for i, line := range lines {
		if _, err := io.WriteString(in, line+"\r"); err != nil {
			return transcript.String(), fmt.Errorf("type line %d %q: %w", i+1, line, err)
		}
		got, err := wait(fmt.Sprintf("line %d %q", i+1, line))
		if err != nil {
			return transcript.String(), err
		}
		for _, m := range driver.FailureMarkers {
			if strings.Contains(got, m) {
				return transcript.String(), fmt.Errorf("the router refused typed line %d %q: %s", i+1, line, strings.Join(strings.Fields(cleanEcho(got, line)), " "))
			}
		}
	}
	io.WriteString(in, "exit\r")
	return transcript.String(), nil
}

func cleanEcho(got, line string) string {
	got = strings.ReplaceAll(got, "\r", "")
	got = strings.TrimPrefix(strings.TrimLeft(got, "\n"), line)
	if i := strings.LastIndex(got, "\n"); i >= 0 {
		got = got[:i] // drop the prompt
	}
	return got
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// terminal collects a session's output.
type terminal struct {
	mu      sync.Mutex
	buf     strings.Builder
	err     error
	changed chan struct{}
}

func (t *terminal) pump(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		t.mu.Lock()
		t.buf.Write(b[:n])
		if err != nil {
			t.err = err
		}
		t.mu.Unlock()
		select {
		case t.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// untilPrompt waits until the output ends with a prompt and returns the
// output since the last call.
func (t *terminal) untilPrompt(ctx context.Context) (string, error) {
	for {
		t.mu.Lock()
		s := t.buf.String()
		err := t.err
		if promptRE.MatchString(s) {
			t.buf.Reset()
			t.mu.Unlock()
			return s, nil
		}
		t.mu.Unlock()
		if err != nil {
			return s, fmt.Errorf("the session ended: %w", err)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-t.changed:
		}
	}
}
