package appliance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/vyos/appliance"
	"github.com/onp-lab/onp/vyos/driver"
	"github.com/pkg/sftp"
	"github.com/vishvananda/netlink"
	"golang.org/x/crypto/ssh"
)

// The test binary doubles as the appliance process for the start-up
// benchmark: with ONP_APPLIANCE_DIR set it runs the router and nothing else.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ONP_APPLIANCE_DIR"); dir != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		err := appliance.Run(ctx, appliance.Options{Dir: dir, Listen: "none", Dialect: os.Getenv("ONP_APPLIANCE_DIALECT"),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// router is an appliance running in-process for one test, in its own
// namespace, with a peer namespace on the other end of its eth0.
type router struct {
	dir    string
	ns     *testutil.Netns
	peer   *testutil.Netns
	sock   string
	cancel context.CancelFunc
	done   chan error
}

func requireFRR(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
}

// shortDir returns a fresh directory with a short path (FRR's sockets live
// under it), removed at the end of the test.
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "onpvy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func startRouter(t testing.TB, dir string, opts appliance.Options) *router {
	t.Helper()
	requireFRR(t)
	r := &router{dir: dir}
	r.ns = testutil.NewNetns(t)
	r.peer = testutil.NewNetns(t)
	testutil.Link(t, r.ns, "eth0", "", r.peer, "eth0", "192.168.126.2/24")
	r.start(t, opts)
	return r
}

func (r *router) start(t testing.TB, opts appliance.Options) {
	t.Helper()
	opts.Dir = r.dir
	opts.NetnsPath = r.ns.Path
	if opts.Listen == "" {
		opts.Listen = "none"
	}
	if opts.FailDelay == 0 {
		opts.FailDelay = 50 * time.Millisecond
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ready := make(chan string, 2)
	opts.OnReady = func(w string) { ready <- w }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	r.sock = filepath.Join(r.dir, appliance.SocketName)
	go func() { r.done <- appliance.Run(ctx, opts) }()
	t.Cleanup(r.stop)
	for want := range 2 {
		select {
		case <-ready:
		case err := <-r.done:
			r.done <- err
			t.Fatalf("appliance exited during start-up (%d/2 ready): %v", want, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("appliance not ready after 30s")
		}
	}
}

func (r *router) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

func (r *router) dial(t testing.TB, kh string) *driver.Client {
	t.Helper()
	if kh == "" {
		kh = filepath.Join(r.dir, "..", filepath.Base(r.dir)+".known_hosts")
		t.Cleanup(func() { os.Remove(kh) })
	}
	c, err := driver.Dial(context.Background(), driver.Config{Network: "unix", Address: r.sock, Password: "vyos",
		KnownHostsFile: kh, HostKeyAlias: "vyos", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// vtysh asks the router's FRR directly, bypassing SSH.
func (r *router) vtysh(t testing.TB, cmd string) string {
	t.Helper()
	out, err := exec.Command("vtysh", "--vty_socket", filepath.Join(r.dir, "frr"), "-c", cmd).Output()
	if err != nil {
		t.Fatalf("vtysh -c %q: %v", cmd, err)
	}
	return string(out)
}

func seedCommands(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("../../../shared/reference/seed-lab/04-vyos-commands.txt")
	if err != nil {
		t.Skipf("reference commands not found: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// configLines returns the set/delete lines of the seed commands (what a
// driver pushes).
func configLines(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if strings.HasPrefix(c, "set ") || strings.HasPrefix(c, "delete ") {
			out = append(out, c)
		}
	}
	return out
}

func checkSeedApplied(t *testing.T, r *router) {
	t.Helper()
	run := r.vtysh(t, "show running-config")
	for _, want := range []string{"router bgp 64512", "bgp router-id 192.168.126.3", "neighbor 192.168.126.2 remote-as 64512"} {
		if !strings.Contains(run, want) {
			t.Errorf("FRR running config lacks %q:\n%s", want, run)
		}
	}
	var nbrs map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.vtysh(t, "show bgp neighbors json")), &nbrs); err != nil || nbrs["192.168.126.2"] == nil {
		t.Errorf("FRR has no BGP neighbor 192.168.126.2: %v %v", err, nbrs)
	}
	h := r.ns.Handle(t)
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := h.AddrList(l, netlink.FAMILY_V4)
	found := false
	for _, a := range addrs {
		found = found || a.IPNet.String() == "192.168.126.3/24"
	}
	if !found {
		t.Errorf("eth0 addresses %v, want 192.168.126.3/24", addrs)
	}
}

// term is an interactive PTY session.
type term struct {
	t   *testing.T
	in  io.Writer
	out chan []byte
	buf strings.Builder
	s   *ssh.Session
}

func openTerm(t *testing.T, c *ssh.Client) *term {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.RequestPty("xterm", 40, 200, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, in: in, out: make(chan []byte, 128), s: s}
	go func() {
		defer close(tm.out)
		for {
			b := make([]byte, 4096)
			n, err := out.Read(b)
			if n > 0 {
				tm.out <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return tm
}

// until reads until the output ends with suffix and returns it all.
func (tm *term) until(suffix string) string {
	tm.t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.HasSuffix(tm.buf.String(), suffix) {
		select {
		case b, ok := <-tm.out:
			if !ok {
				tm.t.Fatalf("session closed waiting for %q; got %q", suffix, tm.buf.String())
			}
			tm.buf.Write(b)
		case <-deadline:
			tm.t.Fatalf("timeout waiting for %q; got %q", suffix, tm.buf.String())
		}
	}
	s := tm.buf.String()
	tm.buf.Reset()
	return s
}

func (tm *term) send(s string) { io.WriteString(tm.in, s) }

const (
	opPrompt  = "vyos@vyos:~$ "
	cfgPrompt = "[edit]\r\nvyos@vyos# "
)

func TestInteractiveSeedCommands(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{})
	c := r.dial(t, "")
	tm := openTerm(t, c.SSH())
	banner := tm.until(opPrompt)
	if !strings.Contains(banner, "Welcome to VyOS") {
		t.Errorf("banner: %q", banner)
	}
	// what a user types, and what the router must answer before the next prompt
	for _, line := range seedCommands(t) {
		tm.send(line + "\r")
		var got string
		switch line {
		case "configure":
			got = tm.until(cfgPrompt)
			if got != "configure\r\n"+cfgPrompt {
				t.Errorf("configure: %q", got)
			}
		case "save":
			got = tm.until(cfgPrompt)
			if !strings.Contains(got, "Saving configuration to '/config/config.boot'...") || !strings.Contains(got, "Done") {
				t.Errorf("save: %q", got)
			}
		case "exit":
			got = tm.until(opPrompt)
			if !strings.HasPrefix(got, "exit\r\n") || strings.Contains(got, "Cannot exit") {
				t.Errorf("exit: %q", got)
			}
		default: // set and commit answer with nothing but the prompt
			got = tm.until(cfgPrompt)
			if got != line+"\r\n"+cfgPrompt {
				t.Errorf("%s: %q", line, got)
			}
		}
		if strings.ContainsAny(strings.ReplaceAll(got, "\r\n", ""), "\r\n") {
			t.Errorf("%s: bare line ending in %q", line, got)
		}
	}
	// op mode: show commands answer
	tm.send("show configuration commands\r")
	got := tm.until(opPrompt)
	if !strings.Contains(got, "set protocols bgp 64512 neighbor 192.168.126.2 remote-as '64512'") {
		t.Errorf("show configuration commands: %q", got)
	}
	// tab completes, ? lists with help texts
	tm.send("show vers\t")
	if got := tm.until("show version "); got != "show version " {
		t.Errorf("tab: %q", got)
	}
	tm.send("\r")
	if got := tm.until(opPrompt); !strings.Contains(got, "Version:          VyOS 1.3") {
		t.Errorf("show version: %q", got)
	}
	tm.send("?")
	got = tm.until(opPrompt)
	if !strings.Contains(got, "Possible completions:") || !strings.Contains(got, "configure") || !strings.Contains(got, "Enter configure mode") {
		t.Errorf("?: %q", got)
	}
	tm.send("exit\r")
	if err := tm.s.Wait(); err != nil {
		t.Errorf("logout: %v", err)
	}
	checkSeedApplied(t, r)
	if b, err := os.ReadFile(filepath.Join(r.dir, appliance.ConfigBoot)); err != nil || !strings.Contains(string(b), "192.168.126.2") {
		t.Errorf("config.boot not saved: %v %q", err, b)
	}
}

func TestDriverPushAndRestart(t *testing.T) {
	dir := shortDir(t)
	r := startRouter(t, dir, appliance.Options{})
	c := r.dial(t, "")
	v, err := c.Version(context.Background())
	if err != nil || v.Dialect != "1.3" {
		t.Fatalf("version %+v: %v", v, err)
	}
	if _, err := c.Configure(context.Background(), configLines(seedCommands(t)), driver.ConfigureOptions{Save: true}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	checkSeedApplied(t, r)
	out, err := c.Op(context.Background(), "show configuration commands")
	if err != nil || !strings.Contains(out, "neighbor 192.168.126.2") {
		t.Errorf("op: %q %v", out, err)
	}
	// netlab's read-back one-liner
	res, err := c.Run(context.Background(), "/bin/vbash -cil 'show configuration commands'", nil)
	if err != nil || res.ExitStatus != 0 || !strings.Contains(res.Stdout, "set interfaces ethernet eth0 address '192.168.126.3/24'") {
		t.Errorf("vbash -cil: %+v %v", res, err)
	}
	// the saved configuration is /config/config.boot, over SFTP too
	res, err = c.Run(context.Background(), "show version", nil)
	if err != nil || !strings.Contains(res.Stdout, "VyOS 1.3") {
		t.Errorf("show version: %+v %v", res, err)
	}
	sc, err := sftp.NewClient(c.SSH())
	if err != nil {
		t.Fatal(err)
	}
	f, err := sc.Open("/config/config.boot")
	if err != nil {
		t.Fatalf("sftp get /config/config.boot: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	sc.Close()
	if !strings.Contains(string(b), "192.168.126.2") || !strings.Contains(string(b), "// vyos-config-version:") {
		t.Errorf("/config/config.boot over sftp:\n%s", b)
	}
	// restart: config.boot is loaded again
	c.Close()
	r.stop()
	r.start(t, appliance.Options{})
	checkSeedApplied(t, r)
}

// TestDriverOverTCP reaches the router the way a real VyOS is reached: over
// TCP port 22 on the address its configuration gave eth0, from the peer's
// namespace. The host key pinned through the console socket is the same.
func TestDriverOverTCP(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{Listen: ":22"})
	kh := filepath.Join(shortDir(t), "known_hosts")
	c := r.dial(t, kh)
	if _, err := c.Configure(context.Background(), configLines(seedCommands(t)), driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	tc, err := driver.Dial(context.Background(), driver.Config{Address: "192.168.126.3", Password: "vyos",
		KnownHostsFile: kh, HostKeyAlias: "vyos", Timeout: 10 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := nsx.Do(r.peer.Path, func() error {
				var d net.Dialer
				var err error
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}})
	if err != nil {
		t.Fatalf("dial over TCP: %v", err)
	}
	defer tc.Close()
	if v, err := tc.Version(context.Background()); err != nil || v.Release != "1.3" {
		t.Errorf("version over TCP: %+v %v", v, err)
	}
}

// TestDialect14 pushes 1.4 syntax to a 1.4 router, picked by show version.
func TestDialect14(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{Dialect: "1.4"})
	c := r.dial(t, "")
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || v.Dialect != "1.4" {
		t.Fatalf("version %+v: %v", v, err)
	}
	cmds := []string{
		"set interfaces ethernet eth0 address 192.168.126.3/24",
		"set protocols bgp system-as 64512",
		"set protocols bgp parameters router-id 192.168.126.3",
		"set protocols bgp neighbor 192.168.126.2 remote-as 64512",
		"set protocols bgp neighbor 192.168.126.2 address-family ipv4-unicast",
	}
	if _, err := c.Configure(ctx, cmds, driver.ConfigureOptions{Save: true}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	checkSeedApplied(t, r)
	if run := r.vtysh(t, "show running-config"); !strings.Contains(run, "no bgp default ipv4-unicast") {
		t.Errorf("1.4 rendering lacks no bgp default ipv4-unicast:\n%s", run)
	}
	// 1.3 syntax on 1.4 is refused
	_, err = c.Configure(ctx, []string{"set protocols bgp 64512 parameters router-id 192.168.126.9"}, driver.ConfigureOptions{})
	var ce *driver.CommitError
	if !errors.As(err, &ce) || !strings.Contains(ce.Text, "is not valid") {
		t.Errorf("1.3 syntax on 1.4: %v", err)
	}
}

func TestDriverCommitFailureChangesNothing(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{})
	c := r.dial(t, "")
	ctx := context.Background()
	if _, err := c.Configure(ctx, configLines(seedCommands(t)), driver.ConfigureOptions{}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	before := r.vtysh(t, "show running-config")
	cases := []struct {
		cmds    []string
		command string
		text    string
	}{
		// commit-time check: a neighbor without remote-as
		{[]string{"set protocols bgp 64512 neighbor 192.168.126.9 description x", "set protocols bgp 64512 parameters router-id 192.168.126.33"}, "commit", "remote-as"},
		// a path outside the CLI
		{[]string{"set protocols bgp 64512 parameters router-id 192.168.126.33", "set protocols bgp 64512 no-such-node 1"}, "set protocols bgp 64512 no-such-node 1", "is not valid"},
		// a bad value
		{[]string{"set protocols bgp 64512 neighbor 192.168.126.2 remote-as foo", "set protocols bgp 64512 parameters router-id 192.168.126.33"}, "set protocols bgp 64512 neighbor 192.168.126.2 remote-as foo", "failed"},
	}
	for _, tc := range cases {
		_, err := c.Configure(ctx, tc.cmds, driver.ConfigureOptions{})
		var ce *driver.CommitError
		if !errors.As(err, &ce) {
			t.Fatalf("%v: err = %v, want a CommitError", tc.cmds, err)
		}
		if ce.Command != tc.command || !strings.Contains(ce.Text, tc.text) {
			t.Errorf("%v: command %q text %q; want %q containing %q", tc.cmds, ce.Command, ce.Text, tc.command, tc.text)
		}
		t.Logf("%v", err)
		if after := r.vtysh(t, "show running-config"); after != before {
			t.Errorf("%v: running config changed:\n%s\nwas\n%s", tc.cmds, after, before)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{})
	_, err := driver.Dial(context.Background(), driver.Config{Network: "unix", Address: r.sock, Password: "wrong",
		KnownHostsFile: filepath.Join(shortDir(t), "known_hosts"), Timeout: 10 * time.Second})
	var ae *driver.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an authentication failure", err)
	}
	// a raw client never gets a shell either
	_, err = ssh.Dial("unix", r.sock, &ssh.ClientConfig{User: "vyos", Auth: []ssh.AuthMethod{ssh.Password("")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err == nil {
		t.Fatal("empty password accepted")
	}
}

func TestHostKeyChange(t *testing.T) {
	kh := filepath.Join(shortDir(t), "known_hosts")
	r := startRouter(t, shortDir(t), appliance.Options{})
	r.dial(t, kh).Close()
	// the router is re-created: new directory, new host key, same name
	r.stop()
	os.Remove(filepath.Join(r.dir, appliance.HostKeyName))
	r.start(t, appliance.Options{})
	_, err := driver.Dial(context.Background(), driver.Config{Network: "unix", Address: r.sock, Password: "vyos",
		KnownHostsFile: kh, HostKeyAlias: "vyos", Timeout: 10 * time.Second})
	var hk *driver.HostKeyChangedError
	if !errors.As(err, &hk) || !strings.Contains(err.Error(), kh) || hk.Line != 1 {
		t.Fatalf("err = %v, want a changed host key naming %s line 1", err, kh)
	}
}

func TestSFTPUploadAndRunAndVtysh(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{})
	c := r.dial(t, "")
	ctx := context.Background()
	script := "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\n" +
		strings.Join(configLines(seedCommands(t)), "\n") + "\ncommit\nexit\n"
	if err := c.Upload("/tmp/lab-config.sh", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "files", "tmp", "lab-config.sh")); err != nil {
		t.Errorf("upload not in the router's file area: %v", err)
	}
	res, err := c.Run(ctx, "/bin/vbash /tmp/lab-config.sh", nil)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("vbash: %+v %v", res, err)
	}
	checkSeedApplied(t, r)
	// vtysh over exec: FRR's JSON
	res, err = c.Run(ctx, "vtysh -c 'show bgp summary json'", nil)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("vtysh: %+v %v", res, err)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum["ipv4Unicast"] == nil {
		t.Errorf("summary json: %v %q", err, res.Stdout)
	}
	s, err := c.BGPSummary(ctx)
	if err != nil || s["ipv4Unicast"].Peers["192.168.126.2"].RemoteAS != 64512 {
		t.Errorf("BGPSummary: %+v %v", s, err)
	}
	n, err := c.BGPNeighbors(ctx)
	if err != nil || n["192.168.126.2"].RemoteAS != 64512 {
		t.Errorf("BGPNeighbors: %v", err)
	}
	if _, err := c.Routes(ctx, ""); err != nil {
		t.Errorf("Routes: %v", err)
	}
	if _, err := c.BFDPeers(ctx); err != nil {
		t.Errorf("BFDPeers: %v", err)
	}
	// several -c in one call, and a refused command
	out, err := c.Vtysh(ctx, "show version", "show bgp summary")
	if err != nil || !strings.Contains(out, "FRRouting") {
		t.Errorf("two commands: %q %v", out, err)
	}
	if _, err := c.Vtysh(ctx, "show no-such-thing"); err == nil {
		t.Errorf("bad vtysh command accepted")
	}
	// no usable upload directory: the script is piped to vbash -s instead
	if _, err := c.Configure(ctx, []string{"set system host-name r9"}, driver.ConfigureOptions{ScriptDir: "/no/such/dir"}); err != nil {
		t.Fatalf("configure through vbash -s: %v", err)
	}
	if out, err := c.Op(ctx, "show configuration commands"); err != nil || !strings.Contains(out, "set system host-name 'r9'") {
		t.Errorf("host-name not committed through vbash -s: %q %v", out, err)
	}
}

func TestFRRDaemonRestarted(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{})
	c := r.dial(t, "")
	if _, err := c.Configure(context.Background(), configLines(seedCommands(t)), driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	pidOf := func() int {
		b, err := os.ReadFile(filepath.Join(r.dir, "frr", "bgpd.pid"))
		if err != nil {
			return 0
		}
		var p int
		fmt.Sscan(string(b), &p)
		return p
	}
	old := pidOf()
	if old == 0 {
		t.Fatal("no bgpd pid file")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if p := pidOf(); p == old || p == 0 || syscall.Kill(p, 0) != nil {
			return fmt.Errorf("bgpd not restarted (pid %d, was %d)", p, old)
		}
		out, err := exec.Command("vtysh", "--vty_socket", filepath.Join(r.dir, "frr"), "-c", "show running-config").Output()
		if err != nil || !strings.Contains(string(out), "neighbor 192.168.126.2 remote-as 64512") {
			return fmt.Errorf("configuration not re-applied: %v", err)
		}
		return nil
	})
}

// BenchmarkStartup measures a fresh appliance process: start → SSH answers
// on the console socket, and start → FRR ready (vtysh answers over SSH).
func BenchmarkStartup(b *testing.B) {
	requireFRR(b)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var sshT, frrT []time.Duration
	for i := 0; i < b.N; i++ {
		ns := testutil.NewNetns(b)
		dir := shortDir(b)
		sock := filepath.Join(dir, appliance.SocketName)
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "ONP_APPLIANCE_DIR="+dir)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		start := time.Now()
		if err := nsx.Start(ns.Path, cmd); err != nil {
			b.Fatal(err)
		}
		c, err := driver.Dial(context.Background(), driver.Config{Network: "unix", Address: sock, Password: "vyos",
			KnownHostsFile: filepath.Join(dir, "kh"), Timeout: 20 * time.Second, RetryInterval: 2 * time.Millisecond})
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal(err)
		}
		sshT = append(sshT, time.Since(start))
		testutil.Eventually(b, 20*time.Second, 2*time.Millisecond, func() error {
			_, err := c.Vtysh(context.Background(), "show version")
			return err
		})
		frrT = append(frrT, time.Since(start))
		c.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	b.ReportMetric(float64(median(sshT).Microseconds())/1000, "ms-to-ssh")
	b.ReportMetric(float64(median(frrT).Microseconds())/1000, "ms-to-frr")
}

// BenchmarkCommit20 measures a 20-line change pushed through the driver
// (upload, vbash, commit into FRR), alternating between two versions so that
// every commit changes something.
func BenchmarkCommit20(b *testing.B) {
	r := startRouter(b, shortDir(b), appliance.Options{})
	c := r.dial(b, "")
	ctx := context.Background()
	if _, err := c.Configure(ctx, configLines(seedCommands(b)), driver.ConfigureOptions{}); err != nil {
		b.Fatal(err)
	}
	change := func(v int) []string {
		var out []string
		for i := 0; i < 10; i++ {
			n := fmt.Sprintf("192.168.126.%d", 100+i)
			out = append(out,
				fmt.Sprintf("set protocols bgp 64512 neighbor %s remote-as %d", n, 64600+v),
				fmt.Sprintf("set protocols bgp 64512 neighbor %s description peer-%d-%d", n, i, v))
		}
		return out
	}
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Configure(ctx, change(i%2), driver.ConfigureOptions{}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(percentile(ds, 95).Microseconds())/1000, "ms-p95")
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[(len(s)-1)*p/100]
}

// "service ssh" moves the TCP listener as VyOS's sshd moves: a new port
// and listen address after the commit, the session that committed it
// still up; disable-password-authentication refuses passwords over TCP
// (the console socket keeps them); without "service ssh" the router goes
// back to its default listener.
func TestServiceSSHFollowsCommits(t *testing.T) {
	r := startRouter(t, shortDir(t), appliance.Options{Listen: ":22"})
	kh := filepath.Join(shortDir(t), "known_hosts")
	fromPeer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := nsx.Do(r.peer.Path, func() error {
			d := net.Dialer{Timeout: 2 * time.Second}
			var err error
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	dialTCP := func(addr, password string) (*driver.Client, error) {
		return driver.Dial(context.Background(), driver.Config{Address: addr, Password: password,
			KnownHostsFile: kh, HostKeyAlias: "vyos", Timeout: 5 * time.Second, DialContext: fromPeer})
	}
	refused := func(addr string) error {
		c, err := fromPeer(context.Background(), "tcp", addr)
		if err == nil {
			c.Close()
			return fmt.Errorf("%s still accepts connections", addr)
		}
		return nil
	}
	ctx := context.Background()
	console := r.dial(t, "")
	if _, err := console.Configure(ctx, []string{"set interfaces ethernet eth0 address 192.168.126.3/24", "set service ssh"}, driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := dialTCP("192.168.126.3:22", "vyos")
	if err != nil {
		t.Fatalf("dial :22: %v", err)
	}
	defer c.Close()
	if _, err := c.Configure(ctx, []string{
		"set service ssh port 2222",
		"set service ssh listen-address 192.168.126.3",
	}, driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	// The session that committed it is still up.
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("the committing session went down: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error { return refused("192.168.126.3:22") })
	c2, err := dialTCP("192.168.126.3:2222", "vyos")
	if err != nil {
		t.Fatalf("dial :2222 after the commit: %v", err)
	}
	defer c2.Close()

	if _, err := c2.Configure(ctx, []string{"set service ssh disable-password-authentication"}, driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	var ae *driver.AuthError
	if _, err := dialTCP("192.168.126.3:2222", "vyos"); !errors.As(err, &ae) {
		t.Fatalf("password login over TCP with disable-password-authentication: %v, want refused", err)
	}
	if _, err := console.Configure(ctx, []string{"delete service ssh"}, driver.ConfigureOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error { return refused("192.168.126.3:2222") })
	c3, err := dialTCP("192.168.126.3:22", "vyos")
	if err != nil {
		t.Fatalf("dial :22 without service ssh: %v", err)
	}
	c3.Close()
}
