package driver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// FailureMarkers are the strings by which VyOS says a configuration command
// failed. A failed node script shows as "[[protocols bgp]] failed".
var FailureMarkers = []string{
	"Set failed",
	"Delete failed",
	"Commit failed",
	"is not valid",
	"Invalid command",
	"Value validation failed",
	"Failed to generate committed config",
	"]] failed",
}

func hasFailure(s string) bool {
	for _, m := range FailureMarkers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// ConfigureOptions tune a push.
type ConfigureOptions struct {
	// Save writes the committed configuration to /config/config.boot.
	Save bool
	// ScriptDir is where the script is uploaded. Empty means /tmp.
	ScriptDir string
	// NoPrecheck skips the dry run. By default the commands are first run
	// in a configuration session that is discarded without commit, so a
	// rejected set/delete stops the push before anything is committed
	// (a VyOS script would otherwise commit the lines that were accepted).
	NoPrecheck bool
}

// ConfigureResult is a successful push.
type ConfigureResult struct {
	Output string // what the script printed (markers removed)
}

// CommitError is a push the router refused: the first command that failed
// and the router's own text for it. On the appliance (and on VyOS when the
// failure is at commit) the running configuration is unchanged.
type CommitError struct {
	Router  string
	Command string // the failing command ("commit" when the commit failed)
	Index   int    // 1-based position in the pushed list; 0 for commit/save
	Text    string // the router's failure text for that command
	Output  string // everything the script printed
	Status  int    // the script's exit status
}

func (e *CommitError) Error() string {
	where := fmt.Sprintf("command %d %q", e.Index, e.Command)
	if e.Index == 0 {
		where = fmt.Sprintf("%q", e.Command)
	}
	return fmt.Sprintf("vyos driver: %s rejected %s: %s", e.Router, where, strings.Join(strings.Fields(e.Text), " "))
}

// stepMarker is echoed before each step of a pushed script so that the
// router's output can be attributed to the command that produced it.
const stepMarker = "@@onp-step "

// Script renders commands as a VyOS script in the documented
// script-template form, with a marker echoed before each step. With commit
// false the script only tries the commands and discards them (a dry run).
func Script(cmds []string, commit, save bool) string {
	var b strings.Builder
	b.WriteString("#!/bin/vbash\n")
	b.WriteString("source /opt/vyatta/etc/functions/script-template\n")
	b.WriteString("configure\n")
	for i, c := range cmds {
		fmt.Fprintf(&b, "echo '%s%d'\n", stepMarker, i+1)
		b.WriteString(c)
		b.WriteByte('\n')
	}
	if !commit {
		fmt.Fprintf(&b, "echo '%sexit'\n", stepMarker)
		b.WriteString("exit discard\n")
		return b.String()
	}
	fmt.Fprintf(&b, "echo '%scommit'\n", stepMarker)
	b.WriteString("commit\n")
	if save {
		fmt.Fprintf(&b, "echo '%ssave'\n", stepMarker)
		b.WriteString("save\n")
	}
	fmt.Fprintf(&b, "echo '%sexit'\n", stepMarker)
	b.WriteString("exit\n")
	return b.String()
}

// Configure pushes configuration commands (set/delete/... lines in the
// router's dialect) in one configuration session: uploads a script over
// SFTP, runs it with vbash as group vyattacfg, and checks the output for
// VyOS's failure markers. Unless NoPrecheck, a dry run without commit goes
// first, so a rejected command leaves the router unchanged. A refused push
// is a *CommitError.
func (c *Client) Configure(ctx context.Context, cmds []string, opts ConfigureOptions) (*ConfigureResult, error) {
	var clean []string
	for i, l := range cmds {
		l = strings.TrimSpace(l)
		if strings.ContainsAny(l, "\n\r") {
			return nil, fmt.Errorf("vyos driver: command %d has a line break: give one command per list entry", i+1)
		}
		clean = append(clean, l)
	}
	dir := opts.ScriptDir
	if dir == "" {
		dir = "/tmp"
	}
	if !opts.NoPrecheck {
		if _, err := c.runScript(ctx, path.Join(dir, "onp-check-"+randHex(6)+".sh"), Script(clean, false, false), clean); err != nil {
			return nil, err
		}
	}
	return c.runScript(ctx, path.Join(dir, "onp-config-"+randHex(6)+".sh"), Script(clean, true, opts.Save), clean)
}

// runScript uploads and runs one script (or pipes it to vbash -s when SFTP
// is not available) and attributes its output.
func (c *Client) runScript(ctx context.Context, file, script string, cmds []string) (*ConfigureResult, error) {
	var r Result
	var err error
	if uerr := c.upload(file, script); uerr == nil {
		r, err = c.runPTY(ctx, `sg vyattacfg -c "/bin/vbash `+file+`"`)
		c.remove(file)
	} else {
		c.log.Debug("sftp upload failed; piping the script to vbash -s", "router", c.name, "err", uerr)
		r, err = c.runPTYStdin(ctx, `sg vyattacfg -c "/bin/vbash -s"`, strings.NewReader(script))
	}
	if err != nil {
		return nil, err
	}
	return parsePush(c.name, cmds, r)
}

// parsePush attributes the script's output to its steps.
func parsePush(router string, cmds []string, r Result) (*ConfigureResult, error) {
	out := strings.ReplaceAll(r.Output(), "\r\n", "\n")
	type step struct {
		name string
		text strings.Builder
	}
	var steps []*step
	cur := &step{name: "configure"}
	steps = append(steps, cur)
	var kept strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		t := strings.TrimRight(l, "\n")
		if strings.HasPrefix(strings.TrimSpace(t), stepMarker) {
			cur = &step{name: strings.TrimPrefix(strings.TrimSpace(t), stepMarker)}
			steps = append(steps, cur)
			continue
		}
		cur.text.WriteString(l)
		kept.WriteString(l)
	}
	for _, s := range steps {
		text := s.text.String()
		if !hasFailure(text) {
			continue
		}
		e := &CommitError{Router: router, Text: strings.TrimSpace(text), Output: kept.String(), Status: r.ExitStatus}
		if n, err := strconv.Atoi(s.name); err == nil && n >= 1 && n <= len(cmds) {
			e.Index, e.Command = n, cmds[n-1]
		} else {
			e.Command = s.name
		}
		if len(steps) == 1 {
			// no markers came back: attribute by the path VyOS names
			e.Command, e.Index = guessCommand(text, cmds)
		}
		return nil, e
	}
	if r.ExitStatus != 0 {
		return nil, &CommitError{Router: router, Command: "script", Text: fmt.Sprintf("the script exited with status %d: %s", r.ExitStatus, strings.TrimSpace(kept.String())), Output: kept.String(), Status: r.ExitStatus}
	}
	return &ConfigureResult{Output: kept.String()}, nil
}

// guessCommand finds the command a failure text names ("Configuration
// path: [a b c] is not valid"); commit failures are attributed to commit.
func guessCommand(text string, cmds []string) (string, int) {
	if i := strings.Index(text, "path: ["); i >= 0 {
		rest := text[i+len("path: ["):]
		if j := strings.Index(rest, "]"); j >= 0 {
			p := strings.Join(strings.Fields(rest[:j]), " ")
			for k, c := range cmds {
				ws := strings.Fields(strings.NewReplacer("'", "", `"`, "").Replace(c))
				if len(ws) > 1 && strings.HasPrefix(strings.Join(ws[1:], " "), p) {
					return c, k + 1
				}
			}
		}
	}
	if strings.Contains(text, "Commit failed") || strings.Contains(text, "]] failed") {
		return "commit", 0
	}
	return "", 0
}

// runPTY runs cmd with a terminal so that stdout and stderr arrive merged
// and in order, as on a console.
func (c *Client) runPTY(ctx context.Context, cmd string) (Result, error) {
	return c.runPTYStdin(ctx, cmd, nil)
}

func (c *Client) runPTYStdin(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	s, err := c.ssh.NewSession()
	if err != nil {
		return Result{}, fmt.Errorf("vyos driver: %s: open session: %w", c.name, err)
	}
	defer s.Close()
	if stdin == nil {
		// the script does not read stdin; a terminal merges the streams
		if err := s.RequestPty("dumb", 0, 512, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
			return Result{}, fmt.Errorf("vyos driver: %s: request terminal: %w", c.name, err)
		}
	} else {
		s.Stdin = stdin
	}
	// One buffer behind a lock: the session copies stdout and stderr in
	// two goroutines, and bytes.Buffer's ReadFrom is not safe for that.
	o := &lockedBuffer{}
	s.Stdout, s.Stderr = o, o
	if err := s.Start(cmd); err != nil {
		return Result{}, fmt.Errorf("vyos driver: %s: run %q: %w", c.name, cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Close()
		return Result{Stdout: o.String()}, fmt.Errorf("vyos driver: %s: %q: %w", c.name, cmd, ctx.Err())
	}
	r := Result{Stdout: o.String()}
	if ee, ok := err.(*ssh.ExitError); ok {
		r.ExitStatus = ee.ExitStatus()
	} else if err != nil {
		return r, fmt.Errorf("vyos driver: %s: %q: %w", c.name, cmd, err)
	}
	return r, nil
}

// lockedBuffer collects output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (c *Client) sftpClient() (*sftp.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	sc, err := sftp.NewClient(c.ssh)
	if err != nil {
		return nil, err
	}
	c.sftp = sc
	return sc, nil
}

// Upload writes content to path on the router over SFTP.
func (c *Client) Upload(path string, content []byte, mode uint32) error {
	sc, err := c.sftpClient()
	if err != nil {
		return fmt.Errorf("vyos driver: %s: sftp: %w", c.name, err)
	}
	f, err := sc.Create(path)
	if err != nil {
		return fmt.Errorf("vyos driver: %s: sftp create %s: %w", c.name, path, err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("vyos driver: %s: sftp write %s: %w", c.name, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vyos driver: %s: sftp close %s: %w", c.name, path, err)
	}
	if mode != 0 {
		if err := sc.Chmod(path, fileMode(mode)); err != nil {
			return fmt.Errorf("vyos driver: %s: sftp chmod %s: %w", c.name, path, err)
		}
	}
	return nil
}

func (c *Client) upload(path, script string) error {
	return c.Upload(path, []byte(script), 0o755)
}

func (c *Client) remove(path string) {
	if sc, err := c.sftpClient(); err == nil {
		sc.Remove(path)
	}
}
