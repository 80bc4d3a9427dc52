package vyos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ConfigBoot is the file name of the saved configuration in the router
// directory.
const ConfigBoot = "config.boot"

// RouterOptions configure a Router.
type RouterOptions struct {
	// Dir is the router directory; "save" writes Dir/config.boot and a new
	// Router loads it.
	Dir string
	// Dialect is the CLI syntax, V13 or V14.
	Dialect Dialect
	// FRR is the router's running FRR instance. Commits apply to it.
	FRR *frr.Instance
	// NetnsPath is the network namespace whose interfaces the router
	// configures and where ping/traceroute run; empty means the current
	// one (the appliance runs inside the router's namespace).
	NetnsPath string
	// KeepForwarding leaves the namespace's IPv4/IPv6 forwarding sysctls
	// alone; by default NewRouter turns forwarding on, as VyOS does.
	KeepForwarding bool
	// FilesRoot is the directory the router's file system ("/") is in:
	// "save FILE", "load FILE" and "merge FILE" use it (a relative FILE
	// is under /config). The appliance's file area, whose
	// /config/config.boot is Dir/config.boot. Empty: no files but
	// config.boot.
	FilesRoot string
	// OnCommit, when set, is called after every successful commit (and
	// after the boot configuration is applied) with a copy of the new
	// active configuration, e.g. to follow "service ssh" changes.
	OnCommit func(active *Config)
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// Router is a VyOS-compatible router: the active (committed)
// configuration and the engine that commits a new one to FRR and the
// interfaces, all or nothing.
type Router struct {
	opts RouterOptions
	log  *slog.Logger

	mu      sync.Mutex // serializes commits and protects the fields below
	active  *Config
	gen     uint64 // bumped on every commit
	nl      *netlink.Handle
	savedAt uint64 // gen of the last save
}

// NewRouter creates a Router. If Dir/config.boot exists it is loaded and
// committed (an error is returned, with VyOS's commit text, if it does not
// commit); otherwise the router starts from an empty configuration, which
// is applied too so that FRR and the interfaces match it.
func NewRouter(ctx context.Context, opts RouterOptions) (*Router, error) {
	if opts.Dir == "" {
		return nil, errors.New("vyos: RouterOptions.Dir is empty: give the router a directory for config.boot")
	}
	if opts.FRR == nil {
		return nil, errors.New("vyos: RouterOptions.FRR is nil: start the router's FRR first (internal/frr)")
	}
	d, err := ParseDialect(string(opts.Dialect))
	if err != nil {
		return nil, err
	}
	opts.Dialect = d
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Router{opts: opts, log: log, active: NewConfig(d)}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("vyos: create router directory: %w", err)
	}
	if opts.NetnsPath == "" {
		r.nl, err = netlink.NewHandle()
	} else {
		var fd netns.NsHandle
		fd, err = netns.GetFromPath(opts.NetnsPath)
		if err == nil {
			r.nl, err = netlink.NewHandleAt(fd)
			fd.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vyos: netlink handle for namespace %q: %w", opts.NetnsPath, err)
	}
	if !opts.KeepForwarding && !r.inInitNamespace() {
		for _, k := range []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding"} {
			if err := r.writeSysctl(k, "1"); err != nil {
				log.Warn("could not enable forwarding", "sysctl", k, "err", err)
			}
		}
	}
	boot := NewConfig(d)
	path := filepath.Join(opts.Dir, ConfigBoot)
	if b, err := os.ReadFile(path); err == nil {
		boot, err = ParseBoot(d, string(b))
		if err != nil {
			r.nl.Close()
			return nil, fmt.Errorf("vyos: load %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		r.nl.Close()
		return nil, fmt.Errorf("vyos: read %s: %w", path, err)
	}
	// Apply the boot configuration against an empty "previous" one.
	res := r.commit(ctx, boot, true)
	if !res.OK {
		r.nl.Close()
		return nil, fmt.Errorf("vyos: the saved configuration %s does not commit:\n%s", path, strings.TrimSpace(res.Output))
	}
	r.savedAt = r.gen
	return r, nil
}

// inInitNamespace reports whether the router's namespace is the host's
// (pid 1's): forwarding is then left to the host's administrator.
func (r *Router) inInitNamespace() bool {
	path := r.opts.NetnsPath
	if path == "" {
		path = fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	}
	mine, err1 := nsx.Inode(path)
	host, err2 := nsx.Inode("/proc/1/ns/net")
	return err1 != nil || err2 != nil || mine == host
}

func (r *Router) writeSysctl(key, val string) error {
	if r.opts.NetnsPath == "" {
		return os.WriteFile(filepath.Join("/proc/sys/net", key), []byte(val), 0o644)
	}
	return nsx.WriteSysctl(r.opts.NetnsPath, key, val)
}

// Close releases the router's netlink handle. FRR is not stopped.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nl != nil {
		r.nl.Close()
		r.nl = nil
	}
	return nil
}

// Dialect returns the router's CLI dialect.
func (r *Router) Dialect() Dialect { return r.opts.Dialect }

// Dir returns the router directory.
func (r *Router) Dir() string { return r.opts.Dir }

// FRR returns the router's FRR instance.
func (r *Router) FRR() *frr.Instance { return r.opts.FRR }

// Active returns a copy of the committed configuration.
func (r *Router) Active() *Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.Clone()
}

func (r *Router) snapshot() (*Config, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.Clone(), r.gen
}

// HostName returns the committed system host-name ("vyos" by default).
func (r *Router) HostName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hostName(r.active)
}

func hostName(c *Config) string {
	if h := c.root.value("system", "host-name"); h != "" {
		return h
	}
	return "vyos"
}

// SSHService is the committed "service ssh" configuration.
type SSHService struct {
	Enabled         bool
	Ports           []int    // 22 when not configured
	ListenAddresses []string // empty: all addresses
	// NoPasswords is disable-password-authentication: keys only.
	NoPasswords bool
}

// SSH returns the committed SSH service settings.
func (r *Router) SSH() SSHService {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sshOf(r.active)
}

func sshOf(c *Config) SSHService {
	n := c.root.get("service", "ssh")
	if n == nil {
		return SSHService{}
	}
	s := SSHService{Enabled: true, ListenAddresses: n.list("listen-address"), NoPasswords: n.has("disable-password-authentication")}
	for _, p := range n.list("port") {
		if v, err := strconv.Atoi(p); err == nil {
			s.Ports = append(s.Ports, v)
		}
	}
	if len(s.Ports) == 0 {
		s.Ports = []int{22}
	}
	return s
}

// CommitResult is the outcome of a commit.
type CommitResult struct {
	// OK is false when nothing was changed (failure, or no changes).
	OK bool
	// Output is what VyOS prints: warnings on success; the failing
	// subtree's message, "[[path]] failed" and "Commit failed" on failure;
	// "No configuration changes to commit" when working equals active.
	Output string
}

// Commit makes working the active configuration: it verifies it (VyOS's
// commit-time checks), renders it for FRR, applies the interface changes
// with netlink and the FRR changes with frr.Apply. On any failure both are
// rolled back, so FRR and the interfaces stay exactly as they were, and the
// result carries VyOS's failure text.
func (r *Router) Commit(ctx context.Context, working *Config) CommitResult {
	return r.commit(ctx, working, false)
}

func (r *Router) commit(ctx context.Context, working *Config, boot bool) CommitResult {
	res, committed := r.commitLocked(ctx, working, boot)
	if committed != nil && r.opts.OnCommit != nil {
		r.opts.OnCommit(committed)
	}
	return res
}

// commitLocked does the commit under the router lock and returns a copy of
// the new active configuration when it changed.
func (r *Router) commitLocked(ctx context.Context, working *Config, boot bool) (CommitResult, *Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nl == nil {
		return CommitResult{Output: "Commit failed: the router is closed\n"}, nil
	}
	if working.dialect != r.opts.Dialect {
		return CommitResult{Output: fmt.Sprintf("Commit failed: configuration is in dialect %s, the router speaks %s\n", working.dialect, r.opts.Dialect)}, nil
	}
	if !boot && working.Equal(r.active) {
		return CommitResult{Output: "No configuration changes to commit\n"}, nil
	}
	issues := Verify(working, VerifyEnv{InterfaceExists: r.interfaceExists, IsLocalAddress: r.isLocalAddress})
	var errs, warns []Issue
	for _, is := range issues {
		if is.Warning {
			warns = append(warns, is)
		} else {
			errs = append(errs, is)
		}
	}
	if len(errs) > 0 {
		return CommitResult{Output: formatIssues(warns) + formatFailure(errs)}, nil
	}
	old := r.active
	if boot {
		old = NewConfig(r.opts.Dialect)
	}
	undo, err := r.applyInterfaces(old, working)
	if err != nil {
		undo()
		return CommitResult{Output: formatIssues(warns) + formatFailure([]Issue{err.(*ifaceError).issue})}, nil
	}
	// Like VyOS, only touch FRR when its part of the configuration changed
	// (a restarted daemon is brought back with Reapply).
	if target := Render(working); boot || target != Render(old) {
		if _, err := r.opts.FRR.Apply(ctx, target); err != nil {
			undo()
			path := blameFRR(old, working)
			r.log.Warn("commit rejected by FRR", "err", err)
			msg := "FRR rejected the configuration: " + frrErrorText(err)
			return CommitResult{Output: formatIssues(warns) + formatFailure([]Issue{{Path: path, Header: path, Message: msg}})}, nil
		}
	}
	if h := hostName(working); boot || h != hostName(old) {
		r.setFRRHostname(ctx, h)
	}
	r.active = working.Clone()
	r.gen++
	return CommitResult{OK: true, Output: formatIssues(warns)}, r.active.Clone()
}

func frrErrorText(err error) string {
	var ae *frr.ApplyError
	if errors.As(err, &ae) {
		var ve *frr.VtyshError
		if errors.As(ae.Err, &ve) && strings.TrimSpace(ve.Output) != "" {
			txt := strings.TrimSpace(ve.Output)
			if !ae.RolledBack {
				txt += fmt.Sprintf(" (restoring the previous FRR configuration failed too: %v)", ae.RollbackErr)
			}
			return txt
		}
	}
	return err.Error()
}

// blameFRR names the FRR-backed subtree a rejected change most likely
// came from.
func blameFRR(old, cur *Config) string {
	for _, p := range []string{"protocols bgp", "protocols bfd", "protocols static", "policy"} {
		words := strings.Fields(p)
		a, b := old.root.get(words...), cur.root.get(words...)
		if a == nil && b == nil {
			continue
		}
		if a == nil || b == nil || !nodesEqual(a, b) {
			if p == "protocols bgp" && cur.dialect == V13 {
				if e := cur.root.entries("protocols", "bgp"); len(e) > 0 {
					return p + " " + e[0].name
				}
			}
			return p
		}
	}
	return "protocols bgp"
}

// formatIssues prints warnings as VyOS's commit does.
func formatIssues(warns []Issue) string {
	var b strings.Builder
	last := ""
	for _, w := range warns {
		if w.Header != last {
			fmt.Fprintf(&b, "[ %s ]\n", w.Header)
			last = w.Header
		}
		fmt.Fprintf(&b, "\n%s\n\n", wrap("WARNING: "+w.Message, 72))
	}
	return b.String()
}

// formatFailure prints commit errors: each failing subtree's message
// under its "[ path ]" header, "[[path]] failed", then "Commit failed".
func formatFailure(errs []Issue) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, e := range errs {
		if seen[e.Path] {
			continue // VyOS stops a subtree's script at its first error
		}
		seen[e.Path] = true
		fmt.Fprintf(&b, "[ %s ]\n", e.Header)
		msg := wrap(e.Message, 72)
		if e.Indent != "" {
			msg = e.Indent + strings.ReplaceAll(msg, "\n", "\n"+e.Indent)
		}
		fmt.Fprintf(&b, "%s\n\n[[%s]] failed\n", msg, e.Path)
	}
	b.WriteString("Commit failed\n")
	return b.String()
}

// Reapply pushes the active configuration to FRR and the interfaces again,
// e.g. after FRR was restarted (a restarted daemon starts empty).
func (r *Router) Reapply(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nl == nil {
		return errors.New("vyos: re-apply: the router is closed")
	}
	if _, err := r.applyInterfaces(NewConfig(r.opts.Dialect), r.active); err != nil {
		return fmt.Errorf("vyos: re-apply interfaces: %v", err)
	}
	if _, err := r.opts.FRR.Apply(ctx, Render(r.active)); err != nil {
		return fmt.Errorf("vyos: re-apply the committed configuration to FRR: %w", err)
	}
	r.setFRRHostname(ctx, hostName(r.active))
	return nil
}

// setFRRHostname gives FRR's daemons the router's host name (BGP sends it
// in the hostname capability), as a VyOS box's FRR has it from the system.
// vtysh itself always shows the machine's name in "show running-config",
// so the line is not part of what Apply compares.
func (r *Router) setFRRHostname(ctx context.Context, name string) {
	if _, err := r.opts.FRR.Vtysh(ctx, "configure terminal", "hostname "+name); err != nil {
		r.log.Warn("could not set FRR's host name", "hostname", name, "err", err)
	}
}

// Save writes the active configuration to Dir/config.boot (atomically)
// and returns what VyOS prints.
func (r *Router) Save() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	path := filepath.Join(r.opts.Dir, ConfigBoot)
	if err := writeFileAtomic(path, r.active.Boot()); err != nil {
		return "", fmt.Errorf("vyos: save %s: %w", path, err)
	}
	r.savedAt = r.gen
	if r.opts.Dialect == V13 {
		return "Saving configuration to '/config/config.boot'...\nDone\n", nil
	}
	return "", nil
}

// Saved reports whether the active configuration has been saved.
func (r *Router) Saved() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.savedAt == r.gen
}

func (r *Router) interfaceExists(name string) bool {
	if r.nl == nil {
		return false
	}
	_, err := r.nl.LinkByName(name)
	return err == nil
}

func (r *Router) isLocalAddress(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil || r.nl == nil {
		return false
	}
	addrs, err := r.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return false
	}
	for _, x := range addrs {
		if ip, ok := netip.AddrFromSlice(x.IP); ok && ip.Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}
