package appliance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Shell is the router CLI the SSH server drives: one per login session.
// *vyos.Shell satisfies it.
type Shell interface {
	// Prompt is what the CLI shows before reading a line: "vyos@vyos:~$ "
	// in operational mode, "[edit]\nvyos@vyos# " in configuration mode.
	Prompt() string
	// Exec runs one line typed at the prompt and returns its output; exit
	// reports that the session ends (exit/logout in operational mode).
	Exec(ctx context.Context, line string) (out string, exit bool)
	// Complete returns candidates for the next word of line.
	Complete(line string) []string
	// RunScript runs a vbash script in the script-template form and returns
	// its exit status.
	RunScript(ctx context.Context, script string, stdout, stderr io.Writer) int
}

// execTo runs one line on sh, streaming its output to w, and returns
// whether the session ends and the command's exit status. A Shell with
// ExecTo (vyos.Shell) streams and reports the status itself; otherwise the
// status is derived from VyOS's failure markers.
func execTo(ctx context.Context, sh Shell, line string, w io.Writer) (exit bool, status int) {
	if s, ok := sh.(interface {
		ExecTo(context.Context, string, io.Writer) (bool, int)
	}); ok {
		return s.ExecTo(ctx, line, w)
	}
	out, exit := sh.Exec(ctx, line)
	io.WriteString(w, out)
	return exit, failureStatus(out)
}

// User is one login account.
type User struct {
	Name     string
	Password string // empty: no password login
	// AuthorizedKeys holds public keys in authorized_keys format, one per line.
	AuthorizedKeys []string
}

// serverConfig is what the SSH server needs; Run builds it from Options.
type serverConfig struct {
	HostKey   ssh.Signer
	Users     []User
	FailDelay time.Duration // how long a failed password login waits
	Banner    string        // printed at the start of an interactive session
	FilesRoot string        // root of the SFTP view and of script paths
	Log       *slog.Logger
	NewShell  func(user string) Shell
	// Vtysh runs vtysh commands against the router's FRR.
	Vtysh func(ctx context.Context, cmds []string, stdout, stderr io.Writer) int
}

// server answers SSH connections with a VyOS-like login.
type server struct {
	cfg    serverConfig
	sshCfg *ssh.ServerConfig
	users  map[string]*userAuth

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
	// noPasswords refuses password logins over TCP ("service ssh
	// disable-password-authentication"); the console socket keeps them.
	noPasswords atomic.Bool
}

type userAuth struct {
	password string
	keys     [][]byte // wire-format public keys
}

func newServer(cfg serverConfig) (*server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HostKey == nil {
		return nil, errors.New("ssh server: no host key")
	}
	s := &server{cfg: cfg, users: map[string]*userAuth{}, conns: map[net.Conn]bool{}}
	for _, u := range cfg.Users {
		if u.Name == "" {
			return nil, errors.New("ssh server: a user has no name")
		}
		ua := &userAuth{password: u.Password}
		for i, k := range u.AuthorizedKeys {
			rest := []byte(k)
			for len(strings.TrimSpace(string(rest))) > 0 {
				pk, _, _, r, err := ssh.ParseAuthorizedKey(rest)
				if err != nil {
					return nil, fmt.Errorf("ssh server: user %s: authorized key %d: %w (use the authorized_keys format: \"ssh-ed25519 AAAA... comment\")", u.Name, i+1, err)
				}
				ua.keys = append(ua.keys, pk.Marshal())
				rest = r
			}
		}
		s.users[u.Name] = ua
	}
	s.sshCfg = &ssh.ServerConfig{
		PasswordCallback:            s.checkPassword,
		PublicKeyCallback:           s.checkKey,
		KeyboardInteractiveCallback: s.checkKeyboard,
		MaxAuthTries:                6,
		ServerVersion:               "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
	}
	s.sshCfg.AddHostKey(cfg.HostKey)
	return s, nil
}

var errAuth = errors.New("authentication failed")

func (s *server) checkPassword(md ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	if s.noPasswords.Load() && strings.HasPrefix(md.LocalAddr().Network(), "tcp") {
		s.cfg.Log.Info("password login refused: disable-password-authentication is set", "user", md.User(), "remote", md.RemoteAddr().String())
		return nil, errAuth
	}
	u := s.users[md.User()]
	if u != nil && u.password != "" && subtle.ConstantTimeCompare([]byte(u.password), pw) == 1 {
		return &ssh.Permissions{}, nil
	}
	s.cfg.Log.Info("failed password login", "user", md.User(), "remote", md.RemoteAddr().String())
	if s.cfg.FailDelay > 0 {
		time.Sleep(s.cfg.FailDelay) // slow down guessing, as sshd does
	}
	return nil, errAuth
}

func (s *server) checkKeyboard(md ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	ans, err := ch("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(ans) != 1 {
		return nil, errAuth
	}
	return s.checkPassword(md, []byte(ans[0]))
}

func (s *server) checkKey(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if u := s.users[md.User()]; u != nil {
		b := key.Marshal()
		for _, k := range u.keys {
			if subtle.ConstantTimeCompare(k, b) == 1 {
				return &ssh.Permissions{Extensions: map[string]string{"pubkey-fp": ssh.FingerprintSHA256(key)}}, nil
			}
		}
	}
	return nil, errAuth
}

// Serve accepts connections until ctx ends or the listener fails. When ctx
// ends it closes the listener and every open connection and waits for the
// sessions to finish.
func (s *server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, nil)
}

// serve is Serve; when retire is closed, only the listener closes: the
// sessions it accepted go on (as sshd's do when it restarts on a new port).
func (s *server) serve(ctx context.Context, ln net.Listener, retire <-chan struct{}) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if retire != nil {
		go func() {
			select {
			case <-retire:
				ln.Close()
			case <-ctx.Done():
			}
		}()
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-retire:
				if ctx.Err() == nil {
					return nil
				}
			default:
			}
			if ctx.Err() != nil {
				s.closeAll()
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.closeAll()
			s.wg.Wait()
			return fmt.Errorf("ssh server: accept on %s: %w", ln.Addr(), err)
		}
		s.track(c, true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false)
			s.handleConn(ctx, c)
		}()
	}
}

func (s *server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *server) handleConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // for the handshake only
	sc, chans, reqs, err := ssh.NewServerConn(c, s.sshCfg)
	if err != nil {
		s.cfg.Log.Debug("ssh handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	log := s.cfg.Log.With("user", sc.User(), "remote", sc.RemoteAddr().String())
	log.Info("ssh login")
	go ssh.DiscardRequests(reqs)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			log.Debug("accept channel", "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := &session{srv: s, user: sc.User(), ch: ch, log: log, width: 80}
			sess.serve(cctx, creqs)
		}()
	}
	cancel()
	wg.Wait()
	log.Info("ssh logout")
}

// session is one "session" channel: a shell, an exec or the sftp subsystem.
type session struct {
	srv  *server
	user string
	ch   ssh.Channel
	log  *slog.Logger

	mu      sync.Mutex
	pty     bool
	width   int
	editor  *lineEditor
	started bool
	kind    string // "shell", "exec" or "subsystem" once started
}

func (s *session) serve(ctx context.Context, reqs <-chan *ssh.Request) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				cancel()
				s.waitStarted(done)
				return
			}
			s.handleRequest(ctx, cancel, req, done)
		case <-done:
			// the program ended; keep answering until the client closes
			go func() {
				for req := range reqs {
					if req.WantReply {
						req.Reply(false, nil)
					}
				}
			}()
			return
		}
	}
}

func (s *session) waitStarted(done chan struct{}) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-done
	}
}

func (s *session) handleRequest(ctx context.Context, cancel context.CancelFunc, req *ssh.Request, done chan struct{}) {
	reply := func(ok bool) {
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	switch req.Type {
	case "pty-req":
		term, cols, ok := parsePtyReq(req.Payload)
		if !ok {
			reply(false)
			return
		}
		s.mu.Lock()
		s.pty = true
		if cols > 0 {
			s.width = cols
		}
		s.mu.Unlock()
		s.log.Debug("pty", "term", term, "cols", cols)
		reply(true)
	case "window-change":
		if len(req.Payload) >= 4 {
			cols := int(binary.BigEndian.Uint32(req.Payload))
			s.mu.Lock()
			if cols > 0 {
				s.width = cols
			}
			if s.editor != nil {
				s.editor.SetWidth(cols)
			}
			s.mu.Unlock()
		}
		reply(true)
	case "env":
		reply(true)
	case "signal":
		// SIGINT/SIGTERM/SIGKILL... from the client end the running exec
		// (the interactive CLI takes Ctrl-C from the terminal instead).
		s.mu.Lock()
		isExec := s.kind == "exec"
		s.mu.Unlock()
		if isExec {
			s.log.Debug("signal ends the command")
			cancel()
		}
		reply(isExec)
	case "shell", "exec", "subsystem":
		s.mu.Lock()
		if s.started {
			s.mu.Unlock()
			reply(false)
			return
		}
		var arg string
		if req.Type != "shell" {
			var p struct{ S string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				s.mu.Unlock()
				reply(false)
				return
			}
			arg = p.S
		}
		if req.Type == "subsystem" && arg != "sftp" {
			s.mu.Unlock()
			reply(false)
			return
		}
		s.started = true
		s.kind = req.Type
		s.mu.Unlock()
		reply(true)
		go func() {
			defer close(done)
			var status int
			switch req.Type {
			case "shell":
				status = s.shell(ctx)
			case "exec":
				s.log.Info("exec", "command", arg)
				status = s.exec(ctx, arg)
			case "subsystem":
				status = s.sftp(ctx)
			}
			s.ch.CloseWrite()
			s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			s.ch.Close()
		}()
	default:
		reply(false)
	}
}

func parsePtyReq(p []byte) (term string, cols int, ok bool) {
	var r struct {
		Term                 string
		Cols, Rows, PxW, PxH uint32
		Modes                string
	}
	if err := ssh.Unmarshal(p, &r); err != nil {
		return "", 0, false
	}
	return r.Term, int(r.Cols), true
}

// shell runs the interactive CLI (with a PTY) or reads commands from stdin
// one per line (without one).
func (s *session) shell(ctx context.Context) int {
	sh := s.srv.cfg.NewShell(s.user)
	s.mu.Lock()
	pty, width := s.pty, s.width
	s.mu.Unlock()
	in := newInputPump(s.ch)
	if !pty {
		return s.lines(ctx, sh, in)
	}
	out := s.ch
	ed := newLineEditor(in, out, width, completer(sh))
	s.mu.Lock()
	s.editor = ed
	ed.SetWidth(s.width) // a window-change may have come in between
	s.mu.Unlock()
	if s.srv.cfg.Banner != "" {
		io.WriteString(out, crlf(s.srv.cfg.Banner))
	}
	for {
		line, err := ed.ReadLine(sh.Prompt())
		if err != nil {
			if errors.Is(err, io.EOF) {
				io.WriteString(out, "logout\r\n")
			}
			return 0
		}
		ed.AddHistory(line)
		w := &crlfWriter{w: out}
		exit := s.run(ctx, sh, in, line, w)
		if w.n > 0 && w.last != '\n' {
			io.WriteString(out, "\r\n")
		}
		if exit || ctx.Err() != nil {
			return 0
		}
	}
}

// run executes one line, streaming its output to w; Ctrl-C typed while it
// runs cancels it.
func (s *session) run(ctx context.Context, sh Shell, in *inputPump, line string, w io.Writer) bool {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.setInterrupt(cancel)
	defer in.setInterrupt(nil)
	exit, _ := execTo(cctx, sh, line, w)
	return exit
}

// lines runs commands read from stdin without a terminal: no echo, no prompt.
func (s *session) lines(ctx context.Context, sh Shell, in io.Reader) int {
	status := 0
	for line, err := range readLines(in) {
		if err != nil {
			break
		}
		w := &crlfWriter{w: s.ch, raw: true}
		var exit bool
		exit, status = execTo(ctx, sh, line, w)
		if w.n > 0 && w.last != '\n' {
			io.WriteString(s.ch, "\n")
		}
		if exit || ctx.Err() != nil {
			break
		}
	}
	return status
}

func (s *session) exec(ctx context.Context, cmd string) int {
	s.mu.Lock()
	pty := s.pty
	s.mu.Unlock()
	var stdout, stderr io.Writer = s.ch, s.ch.Stderr()
	if pty {
		stdout, stderr = &crlfWriter{w: s.ch}, &crlfWriter{w: s.ch}
	}
	x := &execer{
		user:     s.user,
		newShell: s.srv.cfg.NewShell,
		vtysh:    s.srv.cfg.Vtysh,
		files:    s.srv.cfg.FilesRoot,
		stdin:    s.ch,
		stdout:   stdout,
		stderr:   stderr,
		log:      s.log,
	}
	return x.run(ctx, cmd, 0)
}

// loadHostKey reads the host key at path or creates an ed25519 key there.
func loadHostKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w (delete the file to generate a new key; clients will then see a changed host key)", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "vyos appliance host key")
	if err != nil {
		return nil, fmt.Errorf("encode host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(mustSigner(priv).PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write host public key: %w", err)
	}
	return mustSigner(priv), nil
}

func mustSigner(k ed25519.PrivateKey) ssh.Signer {
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		panic(err) // an ed25519 key is always accepted
	}
	return s
}

// crlfWriter turns \n into \r\n, as a terminal's output processing does
// (raw: passes bytes through), and remembers the last byte written.
type crlfWriter struct {
	w    io.Writer
	raw  bool
	n    int
	last byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.n += len(p)
	if c.raw {
		c.last = p[len(p)-1]
		return c.w.Write(p)
	}
	out := make([]byte, 0, len(p)+8)
	for _, b := range p {
		if b == '\n' && c.last != '\r' {
			out = append(out, '\r')
		}
		out = append(out, b)
		c.last = b
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
