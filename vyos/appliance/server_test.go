package appliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// fakeShell is a stand-in CLI for testing the SSH plumbing alone.
type fakeShell struct {
	mu     sync.Mutex
	config bool
}

func (f *fakeShell) Prompt() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.config {
		return "[edit]\nvyos@vyos# "
	}
	return "vyos@vyos:~$ "
}

func (f *fakeShell) Exec(ctx context.Context, line string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch strings.TrimSpace(line) {
	case "":
		return "", false
	case "configure":
		f.config = true
		return "", false
	case "exit":
		if f.config {
			f.config = false
			return "exit", false
		}
		return "", true
	case "show version":
		return "Version:          VyOS 1.3.9-onp\n", false
	case "set bad":
		return "\n  Configuration path: [bad] is not valid\n  Set failed\n", false
	case "sleep":
		<-ctx.Done()
		return "interrupted", false
	}
	return "ok: " + line + "\n", false
}

func (f *fakeShell) Complete(line string) []string {
	return []string{"configure", "show", "set"}
}

func (f *fakeShell) RunScript(ctx context.Context, script string, stdout, stderr io.Writer) int {
	status := 0
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "source ") {
			continue
		}
		out, _ := f.Exec(ctx, l)
		if failureStatus(out) != 0 {
			io.WriteString(stderr, out)
			status = 1
		} else {
			io.WriteString(stdout, out)
		}
	}
	return status
}

type testServer struct {
	addr  string
	files string
	key   ssh.PublicKey
	user  ssh.Signer
}

func startTestServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	hk, err := loadHostKey(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	_, upriv, _ := ed25519.GenerateKey(rand.Reader)
	us, _ := ssh.NewSignerFromKey(upriv)
	files := filepath.Join(dir, "files")
	os.MkdirAll(filepath.Join(files, "tmp"), 0o755)
	srv, err := newServer(serverConfig{
		HostKey:   hk,
		Users:     []User{{Name: "vyos", Password: "vyos", AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(us.PublicKey()))}}},
		FailDelay: 10 * time.Millisecond,
		Banner:    "Welcome to VyOS\n",
		FilesRoot: files,
		NewShell:  func(string) Shell { return &fakeShell{} },
		Vtysh: func(ctx context.Context, cmds []string, stdout, stderr io.Writer) int {
			fmt.Fprintf(stdout, "{\"cmds\":%q}\n", cmds)
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "ssh.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{addr: sock, files: files, key: hk.PublicKey(), user: us}
}

func (ts *testServer) dial(t *testing.T, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	if len(auth) == 0 {
		auth = []ssh.AuthMethod{ssh.Password("vyos")}
	}
	return ssh.Dial("unix", ts.addr, &ssh.ClientConfig{
		User:            "vyos",
		Auth:            auth,
		HostKeyCallback: ssh.FixedHostKey(ts.key),
		Timeout:         5 * time.Second,
	})
}

func mustDial(t *testing.T, ts *testServer) *ssh.Client {
	c, err := ts.dial(t)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads from r until the accumulated output contains want.
type expecter struct {
	t   *testing.T
	ch  chan []byte
	buf bytes.Buffer
}

func newExpecter(t *testing.T, r io.Reader) *expecter {
	e := &expecter{t: t, ch: make(chan []byte, 64)}
	go func() {
		for {
			b := make([]byte, 4096)
			n, err := r.Read(b)
			if n > 0 {
				e.ch <- b[:n]
			}
			if err != nil {
				close(e.ch)
				return
			}
		}
	}()
	return e
}

// expect waits for want and returns everything read up to and including it.
func (e *expecter) expect(want string) string {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if i := strings.Index(e.buf.String(), want); i >= 0 {
			s := e.buf.String()[:i+len(want)]
			rest := e.buf.String()[i+len(want):]
			e.buf.Reset()
			e.buf.WriteString(rest)
			return s
		}
		select {
		case b, ok := <-e.ch:
			if !ok {
				e.t.Fatalf("stream closed waiting for %q; got %q", want, e.buf.String())
			}
			e.buf.Write(b)
		case <-deadline:
			e.t.Fatalf("timeout waiting for %q; got %q", want, e.buf.String())
		}
	}
}

func TestServerInteractive(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	e := newExpecter(t, out)
	if got := e.expect("vyos@vyos:~$ "); !strings.HasPrefix(got, "Welcome to VyOS\r\n") {
		t.Errorf("banner: %q", got)
	}
	io.WriteString(in, "show version\r")
	if got := e.expect("vyos@vyos:~$ "); got != "show version\r\nVersion:          VyOS 1.3.9-onp\r\nvyos@vyos:~$ " {
		t.Errorf("show version: %q", got)
	}
	io.WriteString(in, "configure\r")
	if got := e.expect("vyos@vyos# "); got != "configure\r\n[edit]\r\nvyos@vyos# " {
		t.Errorf("configure: %q", got)
	}
	if err := s.WindowChange(24, 132); err != nil {
		t.Fatal(err)
	}
	// Ctrl-C cancels a running command.
	io.WriteString(in, "sleep\r")
	e.expect("sleep\r\n")
	io.WriteString(in, "\x03")
	e.expect("interrupted\r\n[edit]\r\nvyos@vyos# ")
	// completion
	io.WriteString(in, "con\t\x15exit\r")
	e.expect("exit\r\nexit\r\nvyos@vyos:~$ ")
	io.WriteString(in, "exit\r")
	if err := s.Wait(); err != nil {
		t.Errorf("exit status: %v", err)
	}
}

func TestServerCtrlDLogout(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	s, _ := c.NewSession()
	defer s.Close()
	s.RequestPty("vt100", 24, 80, nil)
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	s.Shell()
	e := newExpecter(t, out)
	e.expect("vyos@vyos:~$ ")
	io.WriteString(in, "\x04")
	e.expect("logout\r\n")
	if err := s.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func run(t *testing.T, c *ssh.Client, cmd, stdin string) (string, string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	s.Stdin = strings.NewReader(stdin)
	err = s.Run(cmd)
	code := 0
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitStatus()
	} else if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return o.String(), e.String(), code
}

func TestServerExec(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	cases := []struct {
		cmd, stdin, out, err string
		code                 int
	}{
		{"show version", "", "Version:          VyOS 1.3.9-onp\n", "", 0},
		{"/opt/vyatta/bin/vyatta-op-cmd-wrapper show version", "", "Version:          VyOS 1.3.9-onp\n", "", 0},
		{"/bin/vbash -cil 'show version'", "", "Version:          VyOS 1.3.9-onp\n", "", 0},
		{`sg vyattacfg -c "/bin/vbash -c 'show version'"`, "", "Version:          VyOS 1.3.9-onp\n", "", 0},
		{"vbash -s", "source /opt/vyatta/etc/functions/script-template\nconfigure\nset a\ncommit\nexit\n", "ok: set a\nok: commit\nexit", "", 0},
		{"vbash -s", "configure\nset bad\n", "", "\n  Configuration path: [bad] is not valid\n  Set failed\n", 1},
		{"vtysh -c 'show bgp summary json' -c 'show bfd peers json'", "", "{\"cmds\":[\"show bgp summary json\" \"show bfd peers json\"]}\n", "", 0},
		{"vtysh", "", "", "vtysh: no command (interactive vtysh needs a terminal; use vtysh -c 'COMMAND')\n", 1},
		{"set bad", "", "\n  Configuration path: [bad] is not valid\n  Set failed\n", "", 1},
		{"vbash /tmp/missing.sh", "", "", "vbash: /tmp/missing.sh: No such file or directory\n", 127},
		{"vbash -c 'unterminated", "", "", "vbash: unexpected EOF while looking for matching `''\n", 2},
	}
	for _, tc := range cases {
		o, e, code := run(t, c, tc.cmd, tc.stdin)
		if o != tc.out || e != tc.err || code != tc.code {
			t.Errorf("%s:\n stdout %q want %q\n stderr %q want %q\n code %d want %d", tc.cmd, o, tc.out, e, tc.err, code, tc.code)
		}
	}
}

func TestServerSignalEndsExec(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	s, _ := c.NewSession()
	defer s.Close()
	var o bytes.Buffer
	s.Stdout = &o
	if err := s.Start("sleep"); err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if o.String() != "interrupted\n" {
		t.Errorf("output %q", o.String())
	}
}

func TestServerShellWithoutPTY(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	s, _ := c.NewSession()
	defer s.Close()
	var o bytes.Buffer
	s.Stdout = &o
	s.Stdin = strings.NewReader("show version\nset bad\n")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	err := s.Wait()
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 {
		t.Errorf("exit: %v", err)
	}
	if !strings.HasPrefix(o.String(), "Version:") || !strings.Contains(o.String(), "Set failed") {
		t.Errorf("output %q", o.String())
	}
}

func TestServerSFTPUploadAndRun(t *testing.T) {
	ts := startTestServer(t)
	c := mustDial(t, ts)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := sc.Create("/tmp/onp-config.sh")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\nset x\nexit\n")
	f.Close()
	if err := sc.Chmod("/tmp/onp-config.sh", 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(ts.files, "tmp", "onp-config.sh")); err != nil || !strings.Contains(string(b), "set x") {
		t.Fatalf("upload did not land in the router's file area: %v %q", err, b)
	}
	// escaping the root is impossible
	if f, err := sc.Create("/../../escape"); err == nil {
		f.Close()
		if _, err := os.Stat(filepath.Join(ts.files, "escape")); err != nil {
			t.Errorf("/../../escape not mapped into the root: %v", err)
		}
	}
	if err := sc.Symlink("/etc/passwd", "/tmp/link"); err == nil {
		t.Errorf("symlink allowed")
	}
	fis, err := sc.ReadDir("/tmp")
	if err != nil || len(fis) != 1 || fis[0].Name() != "onp-config.sh" {
		t.Errorf("ReadDir /tmp = %v, %v", fis, err)
	}
	wd, err := sc.Getwd()
	if err != nil || wd != "/home/vyos" {
		t.Errorf("Getwd = %q, %v", wd, err)
	}
	for _, cmd := range []string{"/bin/vbash /tmp/onp-config.sh", "vbash /tmp/onp-config.sh", `sg vyattacfg -c "/bin/vbash /tmp/onp-config.sh"`} {
		o, e, code := run(t, c, cmd, "")
		if o != "ok: set x\nexit" || e != "" || code != 0 {
			t.Errorf("%s: %q %q %d", cmd, o, e, code)
		}
	}
	// relative to home
	f, _ = sc.Create("rel.sh")
	io.WriteString(f, "show version\n")
	f.Close()
	if o, _, code := run(t, c, "vbash rel.sh", ""); code != 0 || !strings.Contains(o, "VyOS") {
		t.Errorf("vbash rel.sh: %q %d", o, code)
	}
}

func TestServerAuth(t *testing.T) {
	ts := startTestServer(t)
	start := time.Now()
	_, err := ts.dial(t, ssh.Password("wrong"))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("wrong password: %v", err)
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Errorf("failed login not delayed")
	}
	c, err := ts.dial(t, ssh.PublicKeys(ts.user))
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	c.Close()
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	os, _ := ssh.NewSignerFromKey(other)
	if _, err := ts.dial(t, ssh.PublicKeys(os)); err == nil {
		t.Errorf("unknown key accepted")
	}
	c, err = ts.dial(t, ssh.KeyboardInteractive(func(name, instr string, qs []string, echos []bool) ([]string, error) {
		return []string{"vyos"}, nil
	}))
	if err != nil {
		t.Fatalf("keyboard-interactive: %v", err)
	}
	c.Close()
}

func TestHostKeyPersisted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	a, err := loadHostKey(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadHostKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.PublicKey().Marshal(), b.PublicKey().Marshal()) {
		t.Errorf("host key changed across loads")
	}
	os.WriteFile(p, []byte("garbage"), 0o600)
	if _, err := loadHostKey(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("corrupt key: %v", err)
	}
}

func TestSplitWords(t *testing.T) {
	cases := map[string][]string{
		`a b  c`:                       {"a", "b", "c"},
		`vtysh -c 'show bgp summary'`:  {"vtysh", "-c", "show bgp summary"},
		`sg vyattacfg -c "vbash x"`:    {"sg", "vyattacfg", "-c", "vbash x"},
		`a\ b "c\"d" 'e"f'`:            {"a b", `c"d`, `e"f`},
		`x''y ""`:                      {"xy", ""},
		"set description 'héllo wrld'": {"set", "description", "héllo wrld"},
	}
	for in, want := range cases {
		got, err := splitWords(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzSplitWords(f *testing.F) {
	f.Add(`sg vyattacfg -c "/bin/vbash -c 'show version'"`)
	f.Add(`a\ b "c\"d" 'e"f' \`)
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := splitWords(s)
		if err == nil && len(ws) > len(s)+1 {
			t.Fatalf("%d words from %d bytes", len(ws), len(s))
		}
		joinWords(ws)
	})
}
