// Package driver configures VyOS routers over SSH the way automation does:
// it logs in with a password or key, pins the router's host key in a
// per-lab known_hosts file, reads the release with `show version`, pushes
// configuration as a script-template script uploaded over SFTP and run with
// vbash, recognises VyOS's failure messages, and reads FRR state with
// `vtysh -c '... json'`.
//
// It works unchanged against a real VyOS 1.3/1.4 and against onp's
// VyOS-compatible appliance (vyos/appliance), which also offers its SSH
// server on a unix socket so a router without an address can be reached
// "like a console".
package driver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Config says how to reach and log in to a router.
type Config struct {
	// Network is "tcp" (default) or "unix" (the appliance's console socket).
	Network string
	// Address is host:port for tcp (port 22 when omitted) or the socket path.
	Address string
	// User defaults to "vyos".
	User string
	// Password for password (and keyboard-interactive) login; may be empty
	// when Signers are given.
	Password string
	// Signers are private keys for public-key login, tried before the password.
	Signers []ssh.Signer
	// KnownHostsFile pins host keys (trust on first use). Required: each lab
	// keeps its own file.
	KnownHostsFile string
	// HostKeyAlias is the name the host key is pinned under. Empty means the
	// address. Give the node name to share one pin between TCP and socket.
	HostKeyAlias string
	// Timeout bounds Dial, retries included. Zero means 60 s.
	Timeout time.Duration
	// RetryInterval is the pause between connection attempts. Zero means 200 ms.
	RetryInterval time.Duration
	// DialContext opens the transport, e.g. from inside a network namespace.
	// Nil uses a net.Dialer.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// Client is a logged-in SSH connection to one router.
type Client struct {
	cfg  Config
	ssh  *ssh.Client
	log  *slog.Logger
	name string

	mu   sync.Mutex
	sftp *sftp.Client
	ver  *Version
}

// AuthError is returned when the router rejects the credentials.
type AuthError struct {
	Address string
	User    string
	Err     error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("ssh %s@%s: authentication failed: %v (check the user, password or key; a fresh VyOS uses vyos/vyos)", e.User, e.Address, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// Dial connects and logs in, retrying until the router answers or the
// deadline (Config.Timeout or ctx) passes. A rejected login or a changed host
// key ends it at once.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.Network != "tcp" && cfg.Network != "unix" {
		return nil, fmt.Errorf("vyos driver: network %q: use \"tcp\" or \"unix\"", cfg.Network)
	}
	if cfg.Address == "" {
		return nil, errors.New("vyos driver: no address: give host:port or the router's socket path")
	}
	if cfg.Network == "tcp" {
		if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
			cfg.Address = net.JoinHostPort(strings.Trim(cfg.Address, "[]"), "22")
		}
	}
	if cfg.KnownHostsFile == "" {
		return nil, errors.New("vyos driver: no known_hosts file: set Config.KnownHostsFile (one per lab)")
	}
	if cfg.User == "" {
		cfg.User = "vyos"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 200 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dial := cfg.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	var auth []ssh.AuthMethod
	if len(cfg.Signers) > 0 {
		auth = append(auth, ssh.PublicKeys(cfg.Signers...))
	}
	if cfg.Password != "" {
		pw := cfg.Password
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			ans := make([]string, len(qs))
			for i := range ans {
				ans[i] = pw
			}
			return ans, nil
		}))
	}
	if len(auth) == 0 {
		return nil, errors.New("vyos driver: no credentials: set Config.Password or Config.Signers")
	}
	name := cfg.Address
	if cfg.HostKeyAlias != "" {
		name = cfg.HostKeyAlias
	}
	sshCfg := &ssh.ClientConfig{
		User:            cfg.User,
		Auth:            auth,
		HostKeyCallback: tofuCallback(cfg.KnownHostsFile, cfg.HostKeyAlias),
		Timeout:         10 * time.Second,
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var lastErr error
	for attempt := 1; ; attempt++ {
		c, err := dialOnce(ctx, dial, cfg.Network, cfg.Address, sshCfg)
		if err == nil {
			log.Debug("ssh connected", "router", name, "attempts", attempt)
			return &Client{cfg: cfg, ssh: c, log: log, name: name}, nil
		}
		var hk *HostKeyChangedError
		if errors.As(err, &hk) {
			return nil, fmt.Errorf("vyos driver: %w", hk)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &AuthError{Address: cfg.Address, User: cfg.User, Err: err}
		}
		if strings.Contains(err.Error(), "known_hosts") {
			return nil, fmt.Errorf("vyos driver: %w", err)
		}
		lastErr = err
		log.Debug("ssh connect failed; retrying", "router", name, "attempt", attempt, "err", err)
		t := time.NewTimer(cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("vyos driver: %s %s did not answer SSH within %v (%d attempts; last error: %v): is the router up and is `service ssh` configured?",
				cfg.Network, cfg.Address, cfg.Timeout, attempt, lastErr)
		case <-t.C:
		}
	}
}

func dialOnce(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), network, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := dial(dctx, network, addr)
	if err != nil {
		return nil, err
	}
	// the handshake honours ctx through a deadline
	dl, _ := dctx.Deadline()
	conn.SetDeadline(dl)
	hostname := addr
	c, chans, reqs, err := ssh.NewClientConn(conn, hostname, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// Close ends the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.sftp != nil {
		c.sftp.Close()
		c.sftp = nil
	}
	c.mu.Unlock()
	return c.ssh.Close()
}

// SSH returns the underlying connection (for interactive sessions).
func (c *Client) SSH() *ssh.Client { return c.ssh }

// Result is what a remote command produced.
type Result struct {
	Stdout     string
	Stderr     string
	ExitStatus int
}

// Output returns stdout and stderr together.
func (r Result) Output() string {
	switch {
	case r.Stderr == "":
		return r.Stdout
	case r.Stdout == "":
		return r.Stderr
	}
	return r.Stdout + r.Stderr
}

// Run runs a command string on the router (as its login shell would) with
// stdin (may be nil). A non-zero exit status is not an error; a broken
// connection or ctx ending is.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	s, err := c.ssh.NewSession()
	if err != nil {
		return Result{}, fmt.Errorf("vyos driver: %s: open session: %w", c.name, err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	if stdin != nil {
		s.Stdin = stdin
	}
	done := make(chan error, 1)
	if err := s.Start(cmd); err != nil {
		return Result{}, fmt.Errorf("vyos driver: %s: run %q: %w", c.name, cmd, err)
	}
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Signal(ssh.SIGTERM)
		s.Close()
		return Result{Stdout: o.String(), Stderr: e.String()}, fmt.Errorf("vyos driver: %s: %q: %w", c.name, cmd, ctx.Err())
	}
	r := Result{Stdout: o.String(), Stderr: e.String()}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.ExitStatus = ee.ExitStatus()
	default:
		return r, fmt.Errorf("vyos driver: %s: %q: %w", c.name, cmd, err)
	}
	c.log.Debug("ran", "router", c.name, "command", cmd, "status", r.ExitStatus)
	return r, nil
}

// Version is what `show version` says about the router.
type Version struct {
	Release string // e.g. "1.3", "1.4", "1.5", "2025.11"
	Dialect string // the CLI syntax to use: "1.3" (AS as a tag) or "1.4" (system-as)
	Text    string // the full output
}

var versionRE = regexp.MustCompile(`Version:\s*VyOS (\d+)\.(\d+)`)

// ParseVersion reads the release from `show version` output.
func ParseVersion(out string) (Version, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return Version{Text: out}, fmt.Errorf("vyos driver: `show version` has no \"Version: VyOS X.Y\" line; is this a VyOS router? It said: %s", firstLines(out, 5))
	}
	v := Version{Release: m[1] + "." + m[2], Text: out}
	major, minor := atoi(m[1]), atoi(m[2])
	if major > 1 || (major == 1 && minor >= 4) {
		v.Dialect = "1.4"
	} else {
		v.Dialect = "1.3"
	}
	return v, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			break
		}
	}
	return n
}

// Version runs `show version` (once per connection) and picks the dialect.
func (c *Client) Version(ctx context.Context) (Version, error) {
	c.mu.Lock()
	if c.ver != nil {
		v := *c.ver
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	out, err := c.Op(ctx, "show version")
	if err != nil {
		return Version{}, err
	}
	v, err := ParseVersion(out)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	c.ver = &v
	c.mu.Unlock()
	return v, nil
}

// opWrapper runs an operational command outside an interactive shell on
// VyOS (and on the appliance).
const opWrapper = "/opt/vyatta/bin/vyatta-op-cmd-wrapper"

// OpError is an operational command that failed.
type OpError struct {
	Router  string
	Command string
	Result  Result
}

func (e *OpError) Error() string {
	return fmt.Sprintf("vyos driver: %s: %q failed (exit status %d): %s", e.Router, e.Command, e.Result.ExitStatus, strings.TrimSpace(e.Result.Output()))
}

// Op runs an operational-mode command ("show interfaces") and returns its
// output.
func (c *Client) Op(ctx context.Context, cmd string) (string, error) {
	words := strings.Fields(cmd)
	if len(words) == 0 {
		return "", errors.New("vyos driver: empty operational command")
	}
	r, err := c.Run(ctx, opWrapper+" "+shellQuoteAll(words), nil)
	if err != nil {
		return "", err
	}
	if r.ExitStatus != 0 || hasFailure(r.Output()) {
		return r.Output(), &OpError{Router: c.name, Command: cmd, Result: r}
	}
	return r.Stdout, nil
}

func shellQuoteAll(ws []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = shellQuote(w)
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = append(ls[:n], "...")
	}
	return strings.Join(ls, " | ")
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WindowSize is a terminal size in characters.
type WindowSize struct{ Width, Height int }

// ShellOptions wire an interactive login to a terminal.
type ShellOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Term           string // TERM; empty means "xterm"
	Size           WindowSize
	// Resize delivers window size changes (SIGWINCH); may be nil.
	Resize <-chan WindowSize
}

// Shell runs an interactive login session on a PTY (the caller puts its
// own terminal in raw mode) and returns the session's exit status.
func (c *Client) Shell(ctx context.Context, o ShellOptions) (int, error) {
	s, err := c.ssh.NewSession()
	if err != nil {
		return 0, fmt.Errorf("vyos driver: %s: open session: %w", c.name, err)
	}
	defer s.Close()
	if o.Term == "" {
		o.Term = "xterm"
	}
	if o.Size.Width <= 0 {
		o.Size.Width = 80
	}
	if o.Size.Height <= 0 {
		o.Size.Height = 24
	}
	if err := s.RequestPty(o.Term, o.Size.Height, o.Size.Width, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		return 0, fmt.Errorf("vyos driver: %s: request terminal: %w", c.name, err)
	}
	s.Stdin, s.Stdout, s.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := s.Shell(); err != nil {
		return 0, fmt.Errorf("vyos driver: %s: start shell: %w", c.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	for {
		select {
		case ws, ok := <-o.Resize:
			if !ok {
				o.Resize = nil
				continue
			}
			s.WindowChange(ws.Height, ws.Width)
		case err := <-done:
			var ee *ssh.ExitError
			switch {
			case err == nil:
				return 0, nil
			case errors.As(err, &ee):
				return ee.ExitStatus(), nil
			default:
				return 0, fmt.Errorf("vyos driver: %s: shell: %w", c.name, err)
			}
		case <-ctx.Done():
			s.Close()
			return 0, ctx.Err()
		}
	}
}
