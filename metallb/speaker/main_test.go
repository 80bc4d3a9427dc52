package speaker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
)

// nodeNetnsEnv names the namespace the test binary was re-executed in.
const nodeNetnsEnv = "ONP_SPEAKER_TEST_NODE_NETNS"

// nodeNetns is the namespace this test process runs in when root: the
// cluster node sno4. The speaker must run with its whole process inside
// the node's namespace (gobgp dials from arbitrary threads), as onp runs
// it, so TestMain creates a throwaway namespace and re-executes the test
// binary inside it. Routers get namespaces of their own.
var nodeNetns string

func TestMain(m *testing.M) {
	if name := os.Getenv(nodeNetnsEnv); name != "" {
		nodeNetns = name
		os.Exit(m.Run())
	}
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	os.Exit(runInNodeNetns())
}

func runInNodeNetns() int {
	name := testutil.RandName("onptest-sno-", 8)
	if err := nsx.Create(name); err != nil {
		fmt.Fprintf(os.Stderr, "create the node namespace: %v\n", err)
		return 1
	}
	path := nsx.Path(name)
	defer func() {
		if ino, err := nsx.Inode(path); err == nil {
			pids, _ := nsx.Pids(map[uint64]bool{ino: true})
			for pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			for pid := range pids {
				testutil.Poll(5*time.Second, 10*time.Millisecond, func() error {
					if syscall.Kill(pid, 0) == nil {
						return fmt.Errorf("pid %d alive", pid)
					}
					return nil
				})
			}
		}
		nsx.Delete(name)
	}()
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nodeNetnsEnv+"="+name)
	if err := nsx.Start(path, cmd); err != nil {
		fmt.Fprintf(os.Stderr, "start the tests in %s: %v\n", name, err)
		return 1
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests in %s: %v\n", name, err)
		return 1
	}
	return 0
}

// requireNode skips tests with real daemons unless the process runs in its
// own node namespace (as root), and returns that namespace with lo up.
func requireNode(t testing.TB) *testutil.Netns {
	t.Helper()
	testutil.RequireRoot(t)
	if nodeNetns == "" {
		t.Skip("skipped: the node namespace was not set up")
	}
	ns := &testutil.Netns{Name: nodeNetns, Path: nsx.Path(nodeNetns)}
	h := ns.Handle(t)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", ns.Name, err)
	}
	return ns
}
