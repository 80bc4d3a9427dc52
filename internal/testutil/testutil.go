// Package testutil holds helpers shared by onp's tests: gates for root and
// external binaries, polling with deadlines, and throwaway network
// namespaces that are always removed, with everything running in them.
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root (creates network namespaces, links and daemons); CI runs as root")
	}
}

// RequireBinary skips the test unless the program is installed; pkg names the
// Debian package that provides it.
func RequireBinary(t testing.TB, path, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		t.Skipf("skipped: %s not found (apt-get install -y %s)", path, pkg)
	}
	return p
}

// Eventually calls fn every interval until it returns nil or timeout passes;
// then it fails the test with fn's last error.
func Eventually(t testing.TB, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	if err := Poll(timeout, interval, fn); err != nil {
		t.Fatalf("not true after %v: %v", timeout, err)
	}
}

// Poll calls fn every interval until it returns nil or timeout passes, and
// returns fn's last error in the latter case.
func Poll(timeout, interval time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}

// RandName returns prefix followed by n random hex characters.
func RandName(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)[:n]
}

// Netns is a throwaway network namespace for one test.
type Netns struct {
	Name string
	Path string
}

// NewNetns creates a namespace named "onptest-XXXXXXXX" with lo up. At the end
// of the test every process inside it is killed and it is deleted.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireRoot(t)
	name := RandName("onptest-", 8)
	if err := nsx.Create(name); err != nil {
		t.Fatalf("create netns: %v", err)
	}
	ns := &Netns{Name: name, Path: nsx.Path(name)}
	t.Cleanup(func() { ns.destroy(t) })
	h := ns.Handle(t)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return ns
}

func (ns *Netns) destroy(t testing.TB) {
	ino, err := nsx.Inode(ns.Path)
	if err == nil {
		pids, _ := nsx.Pids(map[uint64]bool{ino: true})
		for pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for pid := range pids {
			Poll(5*time.Second, 10*time.Millisecond, func() error {
				if syscall.Kill(pid, 0) == nil {
					return fmt.Errorf("pid %d alive", pid)
				}
				return nil
			})
		}
	}
	if err := nsx.Delete(ns.Name); err != nil {
		t.Errorf("delete netns %s: %v", ns.Name, err)
	}
}

// Handle returns a netlink handle bound to the namespace, closed at cleanup.
func (ns *Netns) Handle(t testing.TB) *netlink.Handle {
	t.Helper()
	fd, err := netns.GetFromPath(ns.Path)
	if err != nil {
		t.Fatalf("open %s: %v", ns.Path, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", ns.Name, err)
	}
	t.Cleanup(h.Close)
	return h
}

// Command returns a command that Start/Run execute inside the namespace.
func (ns *Netns) Command(name string, args ...string) *NsCmd {
	return &NsCmd{Cmd: exec.Command(name, args...), ns: ns}
}

// NsCmd is an exec.Cmd bound to a namespace.
type NsCmd struct {
	*exec.Cmd
	ns *Netns
}

// Start starts the command inside the namespace.
func (c *NsCmd) Start() error { return nsx.Start(c.ns.Path, c.Cmd) }

// Run starts the command inside the namespace and waits for it.
func (c *NsCmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command inside the namespace and returns its stdout.
func (c *NsCmd) Output() ([]byte, error) {
	var out strings.Builder
	c.Stdout = &out
	err := c.Run()
	return []byte(out.String()), err
}

// Exec runs argv inside the namespace and returns combined output; it fails
// the test if the command fails.
func (ns *Netns) Exec(t testing.TB, argv ...string) string {
	t.Helper()
	var out strings.Builder
	c := ns.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(argv, " "), ns.Name, err, out.String())
	}
	return out.String()
}

// Link connects two namespaces with a veth pair named ifA (in a) and ifB (in
// b), gives each end the address (CIDR, may be empty) and sets both up.
func Link(t testing.TB, a *Netns, ifA, addrA string, b *Netns, ifB, addrB string) {
	t.Helper()
	ha, hb := a.Handle(t), b.Handle(t)
	fdB, err := netns.GetFromPath(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer fdB.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ifA}, PeerName: ifB, PeerNamespace: netlink.NsFd(fdB)}
	if err := ha.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s: %v", ifA, ifB, err)
	}
	for _, e := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{ha, ifA, addrA}, {hb, ifB, addrB}} {
		l, err := e.h.LinkByName(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if e.addr != "" {
			a, err := netlink.ParseAddr(e.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.h.AddrAdd(l, a); err != nil {
				t.Fatalf("addr %s on %s: %v", e.addr, e.name, err)
			}
		}
		if err := e.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}
