// Package frr runs one FRR instance (zebra, bgpd, staticd, bfdd) whose
// sockets, pid files and logs all live in one directory, talks to it with
// vtysh, and applies configuration to it frr-reload style: a diff of the
// running configuration against a target, sent as additions and "no ..."
// removals, without restarting a daemon.
//
// Every path is explicit (FRR's "recipe B": --vty_socket DIR, -z
// DIR/zserv.api, -i DIR/<daemon>.pid, bfdd --bfdctl DIR/bfdd.sock, -P 0), so
// two instances with different directories never share a socket or a pid
// file, even inside one network namespace.
//
// The daemons run as root (-u root) with group frrvty (-g frrvty). FRR
// refuses to start when the run-as user is not a member of its vty group, and
// getgrouplist(3) counts the -g group, so "-u root -g frrvty" passes that
// check while the daemons keep root's file access: the directory needs no
// chown and may live anywhere root can write (for example under a lab
// directory in /root). When the system has no frrvty group, -g root is used.
//
// Daemons are child processes in the foreground (no -d): their pids are
// known without reading pid files, their exits are observed directly, and
// stdout/stderr go to DIR/<daemon>.out. Logs go to DIR/<daemon>.log.
package frr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
)

// Daemon names.
const (
	Zebra   = "zebra"
	Bgpd    = "bgpd"
	Staticd = "staticd"
	Bfdd    = "bfdd"
)

// DefaultDaemons is the daemon set started when Options.Daemons is empty.
var DefaultDaemons = []string{Zebra, Bgpd, Staticd, Bfdd}

// DefaultFDLimit is the number of file descriptors a daemon is sized for
// (FRR's --limit-fds): a lab router has a few sessions, and 1024 is the
// open-files limit FRR gets on a default system.
const DefaultFDLimit = 1024

// MaxSocketPath is the longest unix socket path the kernel accepts
// (sizeof(sun_path) minus the terminating NUL).
const MaxSocketPath = 107

// Options configure an FRR instance.
type Options struct {
	// Dir holds every runtime file of the instance: <daemon>.vty sockets,
	// zserv.api, bfdd.sock, <daemon>.pid, <daemon>.log, <daemon>.out. It is
	// created (0755) if missing. Keep it short: socket paths inside it must
	// fit in 107 bytes.
	Dir string
	// NetnsPath is the network namespace the daemons run in (for example
	// /run/netns/NAME). Empty means the caller's namespace.
	NetnsPath string
	// Daemons to run; zebra is always started first. Empty means
	// DefaultDaemons.
	Daemons []string
	// BinDir holds the daemon binaries. Empty means /usr/lib/frr.
	BinDir string
	// Vtysh is the vtysh binary. Empty means "vtysh" from PATH.
	Vtysh string
	// LogLevel is passed as --log-level (e.g. "debug"); empty keeps FRR's default.
	LogLevel string
	// StartTimeout bounds Start's readiness wait. Zero means 15s.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL. Zero
	// means 5s.
	StopTimeout time.Duration
	// FDLimit is passed as --limit-fds: FRR sizes each event loop's tables
	// by it (by the process's open-files limit otherwise, which is often
	// tens of thousands: some 2.5 MB per daemon for nothing). Zero means
	// DefaultFDLimit; -1 leaves it to the open-files limit.
	FDLimit int
	// OnExit is called (in its own goroutine) when a daemon exits without
	// Stop having asked it to; err is the wait error. The owner typically
	// calls Restart and then re-applies its configuration.
	OnExit func(daemon string, err error)
	// Logger receives debug and warning records; nil discards.
	Logger *slog.Logger
}

// Instance is a running FRR instance.
type Instance struct {
	opts  Options
	log   *slog.Logger
	group string

	mu       sync.Mutex
	procs    map[string]*proc
	stopping bool

	applyMu sync.Mutex
}

type proc struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{}
	err  error
	// expected is set when the exit was requested (Stop, Restart).
	expected bool
}

// Start validates the options, starts the daemons and waits until vtysh can
// reach every one of them. On failure everything started is stopped again.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	if opts.Dir == "" {
		return nil, errors.New("frr: Options.Dir is empty: give the instance a runtime directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("frr: runtime directory %q: %w", opts.Dir, err)
	}
	opts.Dir = dir
	if len(opts.Daemons) == 0 {
		opts.Daemons = DefaultDaemons
	}
	if opts.BinDir == "" {
		opts.BinDir = "/usr/lib/frr"
	}
	if opts.Vtysh == "" {
		opts.Vtysh = "vtysh"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 15 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 5 * time.Second
	}
	daemons, err := orderDaemons(opts.Daemons)
	if err != nil {
		return nil, err
	}
	opts.Daemons = daemons
	if err := CheckSocketPaths(dir, daemons); err != nil {
		return nil, err
	}
	for _, d := range daemons {
		bin := filepath.Join(opts.BinDir, d)
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("frr: daemon binary %s: %w (install FRR: apt-get install -y frr)", bin, err)
		}
	}
	if _, err := exec.LookPath(opts.Vtysh); err != nil {
		return nil, fmt.Errorf("frr: vtysh %q not found: %w (install FRR: apt-get install -y frr)", opts.Vtysh, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("frr: create runtime directory: %w", err)
	}
	if err := clearStale(dir, daemons); err != nil {
		return nil, err
	}
	// vtysh reads its vtysh.conf from the instance directory (see
	// VtyshArgs); an empty one means no integrated configuration, so
	// "write memory" lands in the daemons' own files here.
	if err := os.WriteFile(filepath.Join(dir, "vtysh.conf"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("frr: create vtysh.conf: %w", err)
	}

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	in := &Instance{
		opts:  opts,
		log:   log.With("frr", dir),
		group: vtyGroup(),
		procs: map[string]*proc{},
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for _, d := range daemons {
		if err := in.startDaemon(d); err != nil {
			in.Stop(context.Background())
			return nil, err
		}
		if d == Zebra {
			// The other daemons connect to zserv.api; let zebra create it
			// first so they do not start with a failed connection.
			if err := in.waitSocket(ctx, Zebra, filepath.Join(dir, "zserv.api")); err != nil {
				in.Stop(context.Background())
				return nil, err
			}
		}
	}
	if err := in.WaitReady(ctx); err != nil {
		in.Stop(context.Background())
		return nil, err
	}
	in.log.Debug("frr instance ready", "daemons", strings.Join(daemons, ","), "pids", in.Pids())
	return in, nil
}

// CheckSocketPaths reports an error when a socket of the given daemons in
// dir would not fit in a unix socket address.
func CheckSocketPaths(dir string, daemons []string) error {
	paths := []string{filepath.Join(dir, "zserv.api")}
	for _, d := range daemons {
		paths = append(paths, filepath.Join(dir, d+".vty"))
		if d == Bfdd {
			paths = append(paths, filepath.Join(dir, "bfdd.sock"))
		}
	}
	for _, p := range paths {
		if len(p) > MaxSocketPath {
			return fmt.Errorf("frr: socket path %s is %d bytes, over the %d-byte unix socket limit: use a shorter runtime directory (Options.Dir), for example under /run/onp", p, len(p), MaxSocketPath)
		}
	}
	return nil
}

func orderDaemons(ds []string) ([]string, error) {
	known := map[string]bool{Zebra: true, Bgpd: true, Staticd: true, Bfdd: true}
	seen := map[string]bool{}
	out := []string{Zebra}
	seen[Zebra] = true
	for _, d := range ds {
		if !known[d] {
			return nil, fmt.Errorf("frr: unknown daemon %q in Options.Daemons (known: zebra, bgpd, staticd, bfdd)", d)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

func vtyGroup() string {
	if _, err := user.LookupGroup("frrvty"); err == nil {
		return "frrvty"
	}
	return "root"
}

// clearStale removes sockets and pid files left by an earlier instance in
// dir, after making sure that instance is gone.
func clearStale(dir string, daemons []string) error {
	for _, d := range DefaultDaemons {
		pidFile := filepath.Join(dir, d+".pid")
		b, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), dir) && strings.Contains(string(cmdline), d) {
			return fmt.Errorf("frr: %s (pid %d) is already running with runtime directory %s: stop that instance first or use another directory", d, pid, dir)
		}
	}
	names := []string{"zserv.api", "bfdd.sock"}
	for _, d := range DefaultDaemons {
		names = append(names, d+".vty", d+".pid")
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("frr: remove stale %s: %w", filepath.Join(dir, n), err)
		}
	}
	return nil
}

func (in *Instance) daemonArgs(d string) []string {
	dir := in.opts.Dir
	args := []string{
		"-P", "0",
		"-u", "root", "-g", in.group,
		// An empty config file of the daemon's own: never /dev/null, because
		// "write memory" (vtysh, frr-reload.py) makes a daemon rename its
		// config file to .sav and write a new one in its place.
		"-f", filepath.Join(dir, d+".conf"),
		"--vty_socket", dir,
		"-z", filepath.Join(dir, "zserv.api"),
		"-i", filepath.Join(dir, d+".pid"),
		"--log", "file:" + filepath.Join(dir, d+".log"),
	}
	if in.opts.LogLevel != "" {
		args = append(args, "--log-level", in.opts.LogLevel)
	}
	switch {
	case in.opts.FDLimit > 0:
		args = append(args, "--limit-fds", strconv.Itoa(in.opts.FDLimit))
	case in.opts.FDLimit == 0:
		args = append(args, "--limit-fds", strconv.Itoa(DefaultFDLimit))
	}
	if d == Bfdd {
		args = append(args, "--bfdctl", filepath.Join(dir, "bfdd.sock"))
	}
	return args
}

// startDaemon starts one daemon and a goroutine that reaps it.
func (in *Instance) startDaemon(d string) error {
	in.mu.Lock()
	if in.stopping {
		in.mu.Unlock()
		return fmt.Errorf("frr: instance %s is stopping; not starting %s", in.opts.Dir, d)
	}
	if p := in.procs[d]; p != nil && !p.exited() {
		in.mu.Unlock()
		return nil
	}
	in.mu.Unlock()

	// A daemon that died leaves its socket behind; the new one would fail
	// to bind it.
	os.Remove(filepath.Join(in.opts.Dir, d+".vty"))
	if d == Zebra {
		os.Remove(filepath.Join(in.opts.Dir, "zserv.api"))
	}
	if d == Bfdd {
		os.Remove(filepath.Join(in.opts.Dir, "bfdd.sock"))
	}
	outPath := filepath.Join(in.opts.Dir, d+".out")
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("frr: open %s: %w", outPath, err)
	}
	bin := filepath.Join(in.opts.BinDir, d)
	// Every start begins from an empty configuration: the instance is
	// configured through vtysh (Apply), not from files a "write memory"
	// may have left.
	if err := os.WriteFile(filepath.Join(in.opts.Dir, d+".conf"), nil, 0o600); err != nil {
		out.Close()
		return fmt.Errorf("frr: create %s.conf: %w", d, err)
	}
	cmd := exec.Command(bin, in.daemonArgs(d)...)
	cmd.Dir = in.opts.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group: a Ctrl-C aimed at the controlling program must
	// not take the routers down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := nsx.Start(in.opts.NetnsPath, cmd); err != nil {
		out.Close()
		where := "the current network namespace"
		if in.opts.NetnsPath != "" {
			where = "network namespace " + in.opts.NetnsPath
		}
		return fmt.Errorf("frr: start %s in %s: %w", bin, where, err)
	}
	p := &proc{name: d, cmd: cmd, out: out, done: make(chan struct{})}
	in.mu.Lock()
	in.procs[d] = p
	in.mu.Unlock()
	in.log.Debug("frr daemon started", "daemon", d, "pid", cmd.Process.Pid)
	go in.reap(p)
	return nil
}

func (in *Instance) reap(p *proc) {
	err := p.cmd.Wait()
	p.out.Close()
	in.mu.Lock()
	p.err = err
	expected := p.expected || in.stopping
	close(p.done)
	in.mu.Unlock()
	if expected {
		in.log.Debug("frr daemon stopped", "daemon", p.name, "pid", p.cmd.Process.Pid)
		return
	}
	in.log.Warn("frr daemon exited unexpectedly", "daemon", p.name, "pid", p.cmd.Process.Pid, "err", err,
		"hint", "see "+filepath.Join(in.opts.Dir, p.name+".log"))
	if in.opts.OnExit != nil {
		go in.opts.OnExit(p.name, err)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitSocket polls until the unix socket at path accepts a connection, the
// daemon exits, or ctx ends.
func (in *Instance) waitSocket(ctx context.Context, d, path string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		in.mu.Lock()
		p := in.procs[d]
		in.mu.Unlock()
		if p != nil && p.exited() {
			return fmt.Errorf("frr: %s exited during start-up (%v): see %s and %s", d, p.err,
				filepath.Join(in.opts.Dir, d+".out"), filepath.Join(in.opts.Dir, d+".log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("frr: %s did not open %s: %w (see %s)", d, path, ctx.Err(), filepath.Join(in.opts.Dir, d+".log"))
		case <-tick.C:
		}
	}
}

// WaitReady polls until every daemon's vty socket accepts connections and
// vtysh answers, or ctx ends.
func (in *Instance) WaitReady(ctx context.Context) error {
	for _, d := range in.opts.Daemons {
		if err := in.waitSocket(ctx, d, filepath.Join(in.opts.Dir, d+".vty")); err != nil {
			return err
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := in.Vtysh(ctx, "show version")
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("frr: vtysh does not answer on %s: %w (last error: %v)", in.opts.Dir, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// Dir returns the instance's runtime directory.
func (in *Instance) Dir() string { return in.opts.Dir }

// NetnsPath returns the namespace the daemons run in ("" = the caller's).
func (in *Instance) NetnsPath() string { return in.opts.NetnsPath }

// Daemons returns the daemons of the instance, zebra first.
func (in *Instance) Daemons() []string { return append([]string(nil), in.opts.Daemons...) }

// Pids returns the pid of every daemon that is running.
func (in *Instance) Pids() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for d, p := range in.procs {
		if !p.exited() {
			out[d] = p.cmd.Process.Pid
		}
	}
	return out
}

// Running reports whether every daemon of the instance is running.
func (in *Instance) Running() bool {
	return len(in.Pids()) == len(in.opts.Daemons)
}

// Restart starts the named daemons (all of them when none are named) that
// are not running, stopping the named ones that still are, and waits until
// they answer. Configuration is not restored: the owner re-applies it.
func (in *Instance) Restart(ctx context.Context, daemons ...string) error {
	if len(daemons) == 0 {
		daemons = in.opts.Daemons
	}
	want, err := orderDaemons(daemons)
	if err != nil {
		return err
	}
	if len(daemons) > 0 && !contains(daemons, Zebra) {
		want = want[1:]
	}
	ctx, cancel := context.WithTimeout(ctx, in.opts.StartTimeout)
	defer cancel()
	for _, d := range want {
		if !contains(in.opts.Daemons, d) {
			return fmt.Errorf("frr: %s is not one of this instance's daemons (%s)", d, strings.Join(in.opts.Daemons, ", "))
		}
		in.mu.Lock()
		p := in.procs[d]
		in.mu.Unlock()
		if p != nil && !p.exited() {
			in.stopProc(p)
		}
		if err := in.startDaemon(d); err != nil {
			return err
		}
		if d == Zebra {
			if err := in.waitSocket(ctx, Zebra, filepath.Join(in.opts.Dir, "zserv.api")); err != nil {
				return err
			}
		}
	}
	return in.WaitReady(ctx)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// stopProc sends SIGTERM, waits up to StopTimeout, then SIGKILLs.
func (in *Instance) stopProc(p *proc) {
	in.mu.Lock()
	p.expected = true
	in.mu.Unlock()
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(in.opts.StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	in.log.Warn("frr daemon ignored SIGTERM; killing it", "daemon", p.name, "pid", p.cmd.Process.Pid, "after", in.opts.StopTimeout)
	p.cmd.Process.Kill()
	<-p.done
}

// Stop terminates every daemon by pid (SIGTERM, then SIGKILL after
// StopTimeout), zebra last, and removes the sockets and pid files. It is
// safe to call more than once.
func (in *Instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	in.stopping = true
	var others []*proc
	var zebra *proc
	for d, p := range in.procs {
		if d == Zebra {
			zebra = p
		} else {
			others = append(others, p)
		}
	}
	in.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range others {
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			in.stopProc(p)
		}(p)
	}
	wg.Wait()
	if zebra != nil {
		in.stopProc(zebra)
	}
	names := []string{"zserv.api", "bfdd.sock"}
	for _, d := range in.opts.Daemons {
		names = append(names, d+".vty", d+".pid")
	}
	var errs []error
	for _, n := range names {
		if err := os.Remove(filepath.Join(in.opts.Dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Kill sends SIGKILL to one daemon without marking the exit as expected,
// as a crash would. Tests use it to exercise the OnExit path.
func (in *Instance) Kill(daemon string) error {
	in.mu.Lock()
	p := in.procs[daemon]
	in.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("frr: %s is not running", daemon)
	}
	return p.cmd.Process.Kill()
}

// Wait blocks until the named daemon has exited (or ctx ends).
func (in *Instance) Wait(ctx context.Context, daemon string) error {
	in.mu.Lock()
	p := in.procs[daemon]
	in.mu.Unlock()
	if p == nil {
		return fmt.Errorf("frr: %s was never started", daemon)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
