package nsx_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
)

func TestCreateDoDelete(t *testing.T) {
	testutil.RequireRoot(t)
	name := testutil.RandName("onptest-", 8)
	if err := nsx.Create(name); err != nil {
		t.Fatal(err)
	}
	if err := nsx.Create(name); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create: want 'already exists', got %v", err)
	}
	if !nsx.IsMounted(name) {
		t.Fatal("namespace not mounted")
	}
	root, _ := nsx.Inode("/proc/self/ns/net")
	in, _ := nsx.Inode(nsx.Path(name))
	if root == in {
		t.Fatal("new namespace has the root namespace inode")
	}
	cmd := exec.Command("sleep", "30")
	if err := nsx.Start(nsx.Path(name), cmd); err != nil {
		t.Fatal(err)
	}
	pids, err := nsx.Pids(map[uint64]bool{in: true})
	if err != nil || pids[cmd.Process.Pid] != in {
		t.Fatalf("Pids did not find sleep %d: %v %v", cmd.Process.Pid, pids, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if v, err := nsx.ReadSysctl(nsx.Path(name), "ipv4/ip_forward"); err != nil || v != "0" {
		t.Fatalf("ip_forward in new ns = %q, %v", v, err)
	}
	if err := nsx.WriteSysctl(nsx.Path(name), "ipv4/ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := nsx.ReadSysctl(nsx.Path(name), "ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %q after write", v)
	}
	if v, _ := nsx.ReadSysctl("/proc/self/ns/net", "ipv4/ip_forward"); v == "" {
		t.Fatal("cannot read root ip_forward")
	}
	if err := nsx.Delete(name); err != nil {
		t.Fatal(err)
	}
	if nsx.Exists(name) {
		t.Fatal("still exists after Delete")
	}
	if err := nsx.Delete(name); err != nil {
		t.Fatalf("Delete is not idempotent: %v", err)
	}
}

func TestSelfSurvivesCreate(t *testing.T) {
	testutil.RequireRoot(t)
	want, _ := nsx.Inode("/proc/thread-self/ns/net")
	p, release, err := nsx.Self()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// Create moves a thread (possibly the main one) into new namespaces;
	// the pinned path must keep naming ours throughout.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			name := testutil.RandName("onptest-self-", 6)
			if err := nsx.Create(name); err == nil {
				nsx.Delete(name)
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if got, err := nsx.Inode(p); err != nil || got != want {
			t.Fatalf("pinned namespace changed: %d != %d (%v)", got, want, err)
		}
	}
}
