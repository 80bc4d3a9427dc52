package supervisor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
)

// The test binary doubles as the supervisor process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ONP_SUPERVISOR_TEST_DIR"); dir != "" {
		if err := Run(context.Background(), dir, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func launch(t *testing.T, nsPath string) (*Client, string, int) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("ONP_SUPERVISOR_TEST_DIR", dir)
	pid, err := Launch(context.Background(), dir, nsPath, []string{os.Args[0], "-test.run=^$"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(dir)
	t.Cleanup(func() {
		c.Shutdown(context.Background())
		testutil.Poll(5*time.Second, 10*time.Millisecond, func() error { return alive(pid) })
		syscall.Kill(pid, syscall.SIGKILL)
	})
	return c, dir, pid
}

func alive(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
		return nil
	}
	return fmt.Errorf("pid %d still alive", pid)
}

func dead(pid int) error {
	if alive(pid) == nil {
		return nil
	}
	return fmt.Errorf("pid %d alive", pid)
}

func find(t *testing.T, c *Client, name string) State {
	t.Helper()
	sts, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in %+v", name, sts)
	return State{}
}

func TestRestartStopAndLogs(t *testing.T) {
	c, dir, _ := launch(t, "")
	ctx := context.Background()
	st, err := c.Start(ctx, Spec{Name: "n1/sleeper", Argv: []string{"sh", "-c", "echo hello from $0; exec sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	pid1 := st.Pid
	b, _ := os.ReadFile(PidPath(dir, "n1/sleeper"))
	if strings.TrimSpace(string(b)) != fmt.Sprint(pid1) {
		t.Fatalf("pid file says %q, want %d", b, pid1)
	}
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		b, _ := os.ReadFile(LogPath(dir, "n1/sleeper"))
		if !strings.Contains(string(b), "hello from sh") {
			return fmt.Errorf("log: %q", b)
		}
		return nil
	})
	// A crash is followed by a restart with a new pid.
	if err := c.Signal(ctx, "n1/sleeper", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		s := find(t, c, "n1/sleeper")
		if !s.Running || s.Pid == pid1 || s.Restarts != 1 {
			return fmt.Errorf("not restarted: %+v", s)
		}
		if s.LastExit != "killed by SIGKILL" {
			return fmt.Errorf("last exit %q", s.LastExit)
		}
		return nil
	})
	pid2 := find(t, c, "n1/sleeper").Pid
	// Stop keeps it stopped.
	if err := c.Stop(ctx, "n1/sleeper", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := dead(pid2); err != nil {
		t.Fatal(err)
	}
	if s := find(t, c, "n1/sleeper"); s.Running || !s.Stopped {
		t.Fatalf("after stop: %+v", s)
	}
	if _, err := os.Stat(PidPath(dir, "n1/sleeper")); !os.IsNotExist(err) {
		t.Fatalf("pid file left after stop: %v", err)
	}
	// A process that ignores SIGTERM is killed after the timeout.
	st, err = c.Start(ctx, Spec{Name: "n1/stubborn", Argv: []string{"sh", "-c", "trap '' TERM; while :; do sleep 1; done"}, StopTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "n1/stubborn", 0); err != nil {
		t.Fatal(err)
	}
	if err := dead(st.Pid); err != nil {
		t.Fatal(err)
	}
	// Restart policy never: a failing process stays down with its exit.
	if _, err := c.Start(ctx, Spec{Name: "n1/once", Argv: []string{"sh", "-c", "exit 3"}, Restart: Never}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s := find(t, c, "n1/once"); s.Running || s.LastExit != "exit status 3" {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	saved, err := SavedStates(dir)
	if err != nil || len(saved) != 3 {
		t.Fatalf("saved states: %v %v", saved, err)
	}
}

func TestStartInNamespaceAndShutdown(t *testing.T) {
	ns := testutil.NewNetns(t)
	c, dir, spid := launch(t, ns.Path)
	ino, _ := nsx.Inode(ns.Path)
	pids, _ := nsx.Pids(map[uint64]bool{ino: true})
	if _, ok := pids[spid]; !ok {
		t.Fatalf("supervisor %d is not in the namespace: %v", spid, pids)
	}
	st, err := c.Start(context.Background(), Spec{Name: "a/sleep", Netns: ns.Path, Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	pids, _ = nsx.Pids(map[uint64]bool{ino: true})
	if _, ok := pids[st.Pid]; !ok {
		t.Fatalf("service %d is not in the namespace", st.Pid)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error { return dead(st.Pid) })
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error { return dead(spid) })
	if ReadPid(dir) != 0 {
		t.Fatal("pid file left after shutdown")
	}
}
