// Package nsx creates, enters and removes named Linux network namespaces and
// finds the processes that live in them. It is the only place in onp that
// switches a thread's network namespace.
//
// Named namespaces live where iproute2 keeps them (/run/netns/NAME), so
// `ip netns` and `ip -n NAME` see everything onp creates.
package nsx

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RunDir is where named network namespaces are bind-mounted.
const RunDir = "/run/netns"

// Path returns the bind-mount path of the named namespace.
func Path(name string) string { return filepath.Join(RunDir, name) }

// Exists reports whether a named namespace file exists.
func Exists(name string) bool {
	_, err := os.Lstat(Path(name))
	return err == nil
}

// List returns the names of all named network namespaces, sorted.
func List() ([]string, error) {
	ents, err := os.ReadDir(RunDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// Create makes a new, empty network namespace and bind-mounts it at
// /run/netns/NAME. It fails if the name is taken. The calling goroutine's
// namespace is not changed.
func Create(name string) error { return CreateWith(name, nil) }

// CreateWith is Create with a setup function that runs inside the new
// namespace before it is bind-mounted under its name. Whatever init does
// (e.g. tagging the namespace) is therefore visible as soon as the name is:
// a crash leaves either an empty, unmounted file or a fully initialised
// namespace, never an uninitialised one under the name.
func CreateWith(name string, init func() error) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("invalid namespace name %q", name)
	}
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", RunDir, err)
	}
	target := Path(name)
	f, err := os.OpenFile(target, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("network namespace %q already exists", name)
		}
		return fmt.Errorf("create namespace file %s: %w", target, err)
	}
	f.Close()
	err = onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		if init != nil {
			if err := init(); err != nil {
				return err
			}
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, target, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount namespace at %s: %w", target, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(target)
		return err
	}
	return nil
}

// Delete unmounts and removes a named namespace. The namespace itself is
// destroyed by the kernel once no process and no open handle refers to it.
// A missing namespace is not an error.
func Delete(name string) error {
	target := Path(name)
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", target, err)
	}
	return nil
}

// Inode returns the namespace inode number that identifies the namespace at
// path (a /run/netns file or a /proc/PID/ns/net link).
func Inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// IsEmptyFile reports whether the named namespace path is an empty regular
// file that is not a mounted namespace: what a crash between creating the
// name and mounting the namespace leaves behind.
func IsEmptyFile(name string) bool {
	st, err := os.Lstat(Path(name))
	return err == nil && st.Mode().IsRegular() && st.Size() == 0 && !IsMounted(name)
}

// IsMounted reports whether the named namespace file is a live namespace
// (a bind mount of nsfs) rather than a leftover empty file.
func IsMounted(name string) bool {
	var sfs unix.Statfs_t
	if err := unix.Statfs(Path(name), &sfs); err != nil {
		return false
	}
	return sfs.Type == unix.NSFS_MAGIC
}

// onLockedThread runs fn on a fresh OS thread that is thrown away afterwards
// if fn changed a namespace that could not be restored.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime destroys it when this
			// goroutine returns, so no other goroutine runs in the wrong
			// namespace.
			errc <- errors.Join(ferr, fmt.Errorf("restore network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Do runs fn on an OS thread whose network namespace is the one at nsPath.
// Sockets opened by fn stay in that namespace after Do returns.
func Do(nsPath string, fn func() error) error {
	ns, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	return onLockedThread(func() error {
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", nsPath, err)
		}
		return fn()
	})
}

// Start starts cmd inside the network namespace at nsPath. An empty nsPath
// starts it in the caller's namespace.
func Start(nsPath string, cmd *exec.Cmd) error {
	if nsPath == "" {
		return cmd.Start()
	}
	return Do(nsPath, cmd.Start)
}

// WriteSysctl writes a value under /proc/sys/net inside the namespace at
// nsPath, e.g. WriteSysctl(p, "ipv4/ip_forward", "1").
func WriteSysctl(nsPath, key, value string) error {
	return Do(nsPath, func() error {
		return os.WriteFile(filepath.Join("/proc/sys/net", key), []byte(value), 0o644)
	})
}

// ReadSysctl reads a value under /proc/sys/net inside the namespace at nsPath.
func ReadSysctl(nsPath, key string) (string, error) {
	var out string
	err := Do(nsPath, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys/net", key))
		out = strings.TrimSpace(string(b))
		return err
	})
	return out, err
}

// Pids returns the processes whose network namespace is one of the given
// inodes, mapped to that inode. Processes that exit while scanning are
// skipped.
func Pids(inodes map[uint64]bool) (map[int]uint64, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	out := map[int]uint64{}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink("/proc/" + n + "/ns/net")
		if err != nil {
			continue
		}
		ino, ok := parseNsLink(link)
		if ok && inodes[ino] {
			out[pid] = ino
		}
	}
	return out, nil
}

// parseNsLink parses "net:[4026531840]".
func parseNsLink(s string) (uint64, bool) {
	i := strings.IndexByte(s, '[')
	j := strings.LastIndexByte(s, ']')
	if i < 0 || j <= i {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i+1:j], 10, 64)
	return v, err == nil
}

// Self returns a path that keeps naming the network namespace the calling
// thread is in now (normally the process's), and a function that releases
// it. Use it instead of /proc/self/ns/net in a process that creates
// namespaces: /proc/self names the main thread, which may be the very
// thread that Create has moved into a new namespace for a moment.
func Self() (string, func(), error) {
	var f *os.File
	err := onLockedThread(func() error {
		var err error
		f, err = os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		return err
	})
	if err != nil {
		return "", func() {}, fmt.Errorf("pin the current network namespace: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), func() { f.Close() }, nil
}
