// Package appliance is onp's VyOS-compatible router: the process that runs
// inside a router's network namespace. It starts and supervises the router's
// own FRR (zebra, bgpd, staticd, bfdd), loads config.boot into a vyos.Router
// and serves the VyOS CLI over SSH: interactive PTY sessions, exec requests
// as automation sends them (vbash scripts, vtysh -c, op commands) and SFTP.
//
// Besides TCP (port 22 by default) the same SSH server listens on a unix
// socket in the router directory, so onp can log in "like a console" to a
// router whose interfaces have no address yet.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/vyos"
)

// Options configure one router.
type Options struct {
	// Dir is the router directory: config.boot, the SSH host key
	// (ssh_host_ed25519_key), the console socket (ssh.sock), the SFTP file
	// area (files/) and, unless FRRDir is set, FRR's runtime files (frr/).
	Dir string
	// FRRDir holds FRR's sockets, pid files and logs. Empty means Dir/frr;
	// socket paths in it must fit in 107 bytes, so keep it short.
	FRRDir string
	// Dialect is the VyOS CLI syntax: "1.3" (default) or "1.4".
	Dialect string
	// Users who may log in. Empty means vyos/vyos.
	Users []User
	// Listen is the TCP address of the SSH server. Empty means ":22";
	// "none" disables TCP.
	Listen string
	// Socket is the unix socket of the SSH server. Empty means Dir/ssh.sock;
	// "none" disables it.
	Socket string
	// NetnsPath is the network namespace the router lives in (its TCP
	// listener, FRR and interfaces). Empty means the namespace this process
	// runs in, which is how onp starts the appliance.
	NetnsPath string
	// FailDelay is how long a failed password login waits. Zero means 1 s.
	FailDelay time.Duration
	// Vtysh is the vtysh binary; empty means "vtysh" from PATH.
	Vtysh string
	// FRRBinDir holds the FRR daemons; empty means /usr/lib/frr.
	FRRBinDir string
	// OnReady, when set, is called with "ssh" once the SSH listeners accept
	// connections and with "frr" once FRR answers and config.boot is applied.
	OnReady func(what string)
	// Logger receives the router's log; nil discards.
	Logger *slog.Logger
}

// ConfigBoot is the name of the saved configuration in the router directory.
const ConfigBoot = "config.boot"

// SocketName is the name of the console socket in the router directory.
const SocketName = "ssh.sock"

// HostKeyName is the host key file in the router directory.
const HostKeyName = "ssh_host_ed25519_key"

// banner is what an interactive login prints first.
func banner(dialect string) string {
	d := vyos.Dialect(dialect)
	return "Welcome to VyOS!\n\n" +
		"   ┌── ┐\n" +
		"   . VyOS " + d.Release() + " (" + d.Train() + "), onp appliance on FRR\n" +
		"   └ ──┘\n\n" +
		" * Documentation:  https://docs.vyos.io/en/" + d.Train() + "\n" +
		" * Configure with: configure / set ... / commit / save\n\n"
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		return errors.New("appliance: Options.Dir is empty: give the router a directory")
	}
	d, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("appliance: router directory %q: %w", o.Dir, err)
	}
	o.Dir = d
	if o.FRRDir == "" {
		o.FRRDir = filepath.Join(o.Dir, "frr")
	}
	switch o.Dialect {
	case "":
		o.Dialect = "1.3"
	case "1.3", "1.4":
	default:
		return fmt.Errorf("appliance: dialect %q: use \"1.3\" or \"1.4\"", o.Dialect)
	}
	if len(o.Users) == 0 {
		o.Users = []User{{Name: "vyos", Password: "vyos"}}
	}
	if o.Listen == "" {
		o.Listen = ":22"
	}
	if o.Socket == "" {
		o.Socket = filepath.Join(o.Dir, SocketName)
	}
	if o.Socket != "none" && len(o.Socket) > frr.MaxSocketPath {
		return fmt.Errorf("appliance: console socket path %s is %d bytes, over the %d-byte unix socket limit: use a shorter router directory or set Options.Socket", o.Socket, len(o.Socket), frr.MaxSocketPath)
	}
	if o.FailDelay == 0 {
		o.FailDelay = time.Second
	}
	if o.Vtysh == "" {
		o.Vtysh = "vtysh"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run runs the router until ctx ends: SSH first (so a login is answered
// at once), then FRR and the configuration engine. On return FRR is stopped
// and the listeners are closed.
func Run(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	log := opts.Logger
	files := filepath.Join(opts.Dir, "files")
	for _, d := range []string{opts.Dir, filepath.Join(files, "tmp"), filepath.Join(files, "config")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("appliance: %w", err)
		}
	}
	os.Chmod(filepath.Join(files, "tmp"), 0o1777)
	// /config/config.boot in the file area is the router's saved
	// configuration, as on VyOS (scp vyos@router:/config/config.boot .).
	if link := filepath.Join(files, "config", ConfigBoot); !exists(link) {
		if err := os.Symlink(filepath.Join("..", "..", ConfigBoot), link); err != nil {
			log.Warn("no /config/config.boot in the file area", "err", err)
		}
	}
	hostKey, err := loadHostKey(filepath.Join(opts.Dir, HostKeyName))
	if err != nil {
		return fmt.Errorf("appliance: %w", err)
	}

	rt := &runtime{opts: opts, log: log, ready: make(chan struct{})}
	srv, err := newServer(serverConfig{
		HostKey:   hostKey,
		Users:     opts.Users,
		FailDelay: opts.FailDelay,
		Banner:    banner(opts.Dialect),
		FilesRoot: files,
		Log:       log,
		NewShell:  rt.newShell,
		Vtysh:     rt.vtysh,
	})
	if err != nil {
		return fmt.Errorf("appliance: %w", err)
	}
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	if opts.Socket != "none" {
		os.Remove(opts.Socket) // a stale socket from an earlier run
		l, err := net.Listen("unix", opts.Socket)
		if err != nil {
			return fmt.Errorf("appliance: console socket %s: %w", opts.Socket, err)
		}
		os.Chmod(opts.Socket, 0o600)
		lns = append(lns, l)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	if opts.Listen != "none" {
		rt.tcp = &tcpListeners{srv: srv, nsPath: opts.NetnsPath, fallback: opts.Listen, log: log,
			ctx: ctx, wg: &wg, errc: errc, active: map[string]chan struct{}{}}
		if err := rt.tcp.sync([]string{opts.Listen}); err != nil {
			closeAll()
			return fmt.Errorf("appliance: %w (another sshd in this namespace?)", err)
		}
	}
	for _, l := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, l); err != nil {
				errc <- err
			}
		}()
	}
	log.Info("ssh console listening", "socket", opts.Socket)
	if opts.OnReady != nil {
		opts.OnReady("ssh")
	}

	err = rt.start(ctx)
	if err == nil {
		log.Info("router ready", "dialect", opts.Dialect, "dir", opts.Dir)
		if opts.OnReady != nil {
			opts.OnReady("frr")
		}
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	} else {
		rt.fail(err)
	}
	cancel()
	wg.Wait()
	srv.closeAll() // sessions of retired listeners
	srv.wg.Wait()
	if opts.Socket != "none" {
		os.Remove(opts.Socket)
	}
	rt.stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// runtime ties the SSH server to the router's FRR and CLI engine, which
// come up after the listeners.
type runtime struct {
	opts Options
	log  *slog.Logger

	ready   chan struct{} // closed when engine (or err) is set
	once    sync.Once
	err     error
	frr     *frr.Instance
	engine  engine
	restart sync.Mutex
	// tcp follows "service ssh" (nil when TCP is off).
	tcp *tcpListeners
}

// engine is the configuration engine behind the CLI.
type engine interface {
	NewShell(user string) Shell
	// Reapply pushes the committed configuration to FRR again (after a
	// daemon restart).
	Reapply(ctx context.Context) error
	// Close releases what the engine holds (FRR is stopped separately).
	Close() error
}

func (rt *runtime) fail(err error) {
	rt.once.Do(func() {
		rt.err = err
		close(rt.ready)
	})
}

func (rt *runtime) start(ctx context.Context) error {
	in, err := frr.Start(ctx, frr.Options{
		Dir:       rt.opts.FRRDir,
		NetnsPath: rt.opts.NetnsPath,
		BinDir:    rt.opts.FRRBinDir,
		Vtysh:     rt.opts.Vtysh,
		OnExit:    func(daemon string, err error) { rt.daemonDied(ctx, daemon, err) },
		Logger:    rt.log,
	})
	if err != nil {
		return fmt.Errorf("appliance: start FRR: %w", err)
	}
	rt.frr = in
	onCommit := func(*vyos.Config) {}
	if rt.tcp != nil {
		onCommit = rt.tcp.follow
	}
	eng, err := newEngine(ctx, rt.opts, in, onCommit)
	if err != nil {
		return fmt.Errorf("appliance: %w", err)
	}
	rt.engine = eng
	rt.once.Do(func() { close(rt.ready) })
	return nil
}

// daemonDied restarts a daemon that exited and re-applies the committed
// configuration.
func (rt *runtime) daemonDied(ctx context.Context, daemon string, err error) {
	rt.restart.Lock()
	defer rt.restart.Unlock()
	<-rt.ready // rt.frr and rt.engine are set (or the start failed)
	if ctx.Err() != nil || rt.frr == nil {
		return
	}
	rt.log.Warn("FRR daemon died; restarting it", "daemon", daemon, "err", err)
	// zebra's clients lose their session with it: restart them too
	names := []string{daemon}
	if daemon == frr.Zebra {
		names = rt.frr.Daemons()
	}
	for attempt := 1; attempt <= 5 && ctx.Err() == nil; attempt++ {
		if err = rt.frr.Restart(ctx, names...); err == nil {
			break
		}
		rt.log.Warn("FRR restart failed", "daemon", daemon, "attempt", attempt, "err", err)
		t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err != nil {
		rt.log.Error("FRR daemon could not be restarted", "daemon", daemon, "err", err)
		return
	}
	if rt.engine == nil {
		return
	}
	if err := rt.engine.Reapply(ctx); err != nil {
		rt.log.Error("re-applying the committed configuration after a restart failed", "daemon", daemon, "err", err)
		return
	}
	rt.log.Info("FRR daemon restarted and configuration re-applied", "daemon", daemon)
}

func (rt *runtime) stop() {
	if rt.engine != nil {
		rt.engine.Close()
	}
	if rt.frr != nil {
		rt.frr.Stop(context.Background())
	}
}

// newShell waits for the engine; a router that failed to start answers
// with the reason.
func (rt *runtime) newShell(user string) Shell {
	<-rt.ready
	if rt.engine == nil {
		return brokenShell{err: rt.err}
	}
	return rt.engine.NewShell(user)
}

// vtysh runs vtysh against the router's FRR, streaming its output.
func (rt *runtime) vtysh(ctx context.Context, cmds []string, stdout, stderr io.Writer) int {
	<-rt.ready
	if rt.frr == nil {
		fmt.Fprintf(stderr, "Exiting: failed to connect to any daemons.\n")
		return 1
	}
	args := rt.frr.VtyshArgs()
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	cmd := exec.CommandContext(ctx, rt.opts.Vtysh, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VTYSH_PAGER=cat", "HOME=/"}
	cmd.Stdout = stdout
	nf := &noiseFilter{w: stderr}
	cmd.Stderr = nf
	err := cmd.Run()
	nf.flush()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "vtysh: %v\n", err)
	return 1
}

// noiseFilter drops vtysh's complaint about a missing vtysh.conf.
type noiseFilter struct {
	w   io.Writer
	buf []byte
}

func (f *noiseFilter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	for {
		i := strings.IndexByte(string(f.buf), '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if !strings.Contains(string(line), "Can't open configuration file") {
			if _, err := f.w.Write(line); err != nil {
				return 0, err
			}
		}
		f.buf = f.buf[i+1:]
	}
	return len(p), nil
}

func (f *noiseFilter) flush() {
	if len(f.buf) > 0 && !strings.Contains(string(f.buf), "Can't open configuration file") {
		f.w.Write(f.buf)
	}
	f.buf = nil
}

// brokenShell answers every command with why the router is not running.
type brokenShell struct{ err error }

func (b brokenShell) Prompt() string { return "vyos@vyos:~$ " }
func (b brokenShell) Exec(context.Context, string) (string, bool) {
	return fmt.Sprintf("router failed to start: %v\n", b.err), false
}
func (b brokenShell) Complete(string) []string { return nil }
func (b brokenShell) RunScript(_ context.Context, _ string, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "router failed to start: %v\n", b.err)
	return 1
}
