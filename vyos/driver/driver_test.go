package driver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestParseVersion(t *testing.T) {
	cases := []struct{ out, rel, dialect string }{
		{"Version:          VyOS 1.3.8\nRelease train:    equuleus\n", "1.3", "1.3"},
		{"Version:          VyOS 1.4.0\nRelease train:    sagitta\n", "1.4", "1.4"},
		{"Version:          VyOS 1.5-rolling-202405150019\n", "1.5", "1.4"},
		{"Version:          VyOS 1.2.9-S1\n", "1.2", "1.3"},
		{"Version:          VyOS 2025.11.05-0019-rolling\n", "2025.11", "1.4"},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.out)
		if err != nil || v.Release != c.rel || v.Dialect != c.dialect {
			t.Errorf("ParseVersion(%q) = %+v, %v", c.out, v, err)
		}
	}
	if _, err := ParseVersion("Linux foo 6.1\n"); err == nil || !strings.Contains(err.Error(), "Linux foo") {
		t.Errorf("non-VyOS: %v", err)
	}
}

func TestScript(t *testing.T) {
	s := Script([]string{"set system host-name r1", "delete protocols bgp"}, true, true)
	want := "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\n" +
		"echo '@@onp-step 1'\nset system host-name r1\n" +
		"echo '@@onp-step 2'\ndelete protocols bgp\n" +
		"echo '@@onp-step commit'\ncommit\n" +
		"echo '@@onp-step save'\nsave\n" +
		"echo '@@onp-step exit'\nexit\n"
	if s != want {
		t.Errorf("script:\n%s\nwant:\n%s", s, want)
	}
	dry := Script([]string{"set a"}, false, true)
	if !strings.HasSuffix(dry, "echo '@@onp-step 1'\nset a\necho '@@onp-step exit'\nexit discard\n") {
		t.Errorf("dry run:\n%s", dry)
	}
}

func TestParsePush(t *testing.T) {
	cmds := []string{"set a", "set protocols bgp 64512 neighbor 1.1.1.1 remote-as foo", "set c"}
	t.Run("ok", func(t *testing.T) {
		r, err := parsePush("r1", cmds, Result{Stdout: "@@onp-step 1\r\n@@onp-step 2\r\n@@onp-step 3\r\n@@onp-step commit\r\n@@onp-step save\r\nSaving configuration to '/config/config.boot'...\r\nDone\r\n@@onp-step exit\r\nexit\r\n"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Output != "Saving configuration to '/config/config.boot'...\nDone\nexit\n" {
			t.Errorf("output %q", r.Output)
		}
	})
	t.Run("set fails", func(t *testing.T) {
		_, err := parsePush("r1", cmds, Result{Stdout: "@@onp-step 1\n@@onp-step 2\n\n  Invalid AS number\n  Value validation failed\n  Set failed\n\n@@onp-step 3\n@@onp-step commit\n", ExitStatus: 1})
		var ce *CommitError
		if !errors.As(err, &ce) || ce.Index != 2 || ce.Command != cmds[1] || ce.Text != "Invalid AS number\n  Value validation failed\n  Set failed" {
			t.Fatalf("err = %#v", err)
		}
		if !strings.Contains(err.Error(), `command 2 "set protocols bgp 64512 neighbor 1.1.1.1 remote-as foo"`) {
			t.Errorf("message: %v", err)
		}
	})
	t.Run("commit fails", func(t *testing.T) {
		_, err := parsePush("r1", cmds, Result{Stdout: "@@onp-step 3\n@@onp-step commit\n\nNeighbor \"1.1.1.1\" remote-as must be set!\n\n[[protocols bgp]] failed\nCommit failed\n@@onp-step exit\n"})
		var ce *CommitError
		if !errors.As(err, &ce) || ce.Index != 0 || ce.Command != "commit" || !strings.Contains(ce.Text, "remote-as must be set") {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("no markers", func(t *testing.T) {
		_, err := parsePush("r1", cmds, Result{Stderr: "\n  Configuration path: [protocols bgp 64512 neighbor 1.1.1.1 remote-as foo] is not valid\n  Set failed\n"})
		var ce *CommitError
		if !errors.As(err, &ce) || ce.Index != 2 {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("status only", func(t *testing.T) {
		_, err := parsePush("r1", cmds, Result{Stdout: "@@onp-step 1\nboom\n", ExitStatus: 3})
		var ce *CommitError
		if !errors.As(err, &ce) || ce.Status != 3 {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"show":                  "show",
		"show bgp summary json": "'show bgp summary json'",
		"it's":                  `'it'\''s'`,
		"":                      "''",
		"192.0.2.1/24":          "192.0.2.1/24",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// keyServer is an SSH server that only completes the handshake with a given
// host key and then rejects every login: enough to test host key pinning.
func keyServer(t *testing.T, key ssh.Signer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
		return nil, errors.New("no")
	}}
	cfg.AddHostKey(key)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ssh.NewServerConn(c, cfg)
			}()
		}
	}()
	return sock
}

func newKey(t *testing.T) ssh.Signer {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTrustOnFirstUse(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "lab", "known_hosts")
	k1 := newKey(t)
	sock := keyServer(t, k1)
	cfg := Config{Network: "unix", Address: sock, Password: "x", KnownHostsFile: kh, HostKeyAlias: "vyos", Timeout: 5 * time.Second}
	// first contact pins the key (and then the login is refused)
	_, err := Dial(context.Background(), cfg)
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("first dial: %v", err)
	}
	b, _ := os.ReadFile(kh)
	if !strings.HasPrefix(string(b), "vyos ssh-ed25519 ") {
		t.Fatalf("known_hosts = %q", b)
	}
	// same key again: accepted, nothing appended
	if _, err := Dial(context.Background(), cfg); !errors.As(err, &ae) {
		t.Fatalf("second dial: %v", err)
	}
	if b2, _ := os.ReadFile(kh); string(b2) != string(b) {
		t.Errorf("known_hosts grew: %q", b2)
	}
	// a different key under the same name: error naming file and line
	cfg.Address = keyServer(t, newKey(t))
	start := time.Now()
	_, err = Dial(context.Background(), cfg)
	var hk *HostKeyChangedError
	if !errors.As(err, &hk) || hk.File != kh || hk.Line != 1 {
		t.Fatalf("changed key: %v", err)
	}
	if !strings.Contains(err.Error(), "delete line 1 of "+kh) {
		t.Errorf("message: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("changed key was retried")
	}
}

func TestDialRetriesUntilDeadline(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	sock := filepath.Join(t.TempDir(), "late.sock")
	cfg := Config{Network: "unix", Address: sock, Password: "x", KnownHostsFile: kh, Timeout: 300 * time.Millisecond, RetryInterval: 20 * time.Millisecond}
	_, err := Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "did not answer SSH within 300ms") {
		t.Fatalf("err = %v", err)
	}
	// a server that shows up after a failed attempt is found
	retrying := make(chan struct{}, 100)
	cfg.Logger = slog.New(&signalHandler{msg: "retrying", ch: retrying})
	cfg.Timeout = 5 * time.Second
	errc := make(chan error, 1)
	go func() {
		_, err := Dial(context.Background(), cfg)
		errc <- err
	}()
	<-retrying
	keyServer2(t, sock)
	if err := <-errc; !errors.As(err, new(*AuthError)) {
		t.Fatalf("late server: %v", err)
	}
}

// signalHandler signals ch for every record whose message contains msg.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

func keyServer2(t *testing.T, sock string) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
		return nil, errors.New("no")
	}}
	cfg.AddHostKey(newKey(t))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ssh.NewServerConn(c, cfg)
			}()
		}
	}()
}
