package bgp

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
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// speakerNetnsEnv names the namespace the test binary was re-executed in.
const speakerNetnsEnv = "ONP_BGP_TEST_SPEAKER_NETNS"

// speakerNetns is the namespace this test process runs in when root: the
// speaker's "node". gobgp dials from whatever thread its goroutines run
// on, so its sockets can only be placed in a namespace by running the
// whole process there, as the real speaker runs inside its node. TestMain
// therefore creates a throwaway namespace and re-executes the test binary
// inside it; routers live in namespaces of their own (testutil.NewNetns).
var speakerNetns string

func TestMain(m *testing.M) {
	if name := os.Getenv(speakerNetnsEnv); name != "" {
		speakerNetns = name
		os.Exit(m.Run())
	}
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	os.Exit(reexecInNetns())
}

func reexecInNetns() int {
	name := testutil.RandName("onptest-spk-", 8)
	if err := nsx.Create(name); err != nil {
		fmt.Fprintf(os.Stderr, "create speaker namespace: %v\n", err)
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
	if err := loUp(path); err != nil {
		fmt.Fprintf(os.Stderr, "lo up in %s: %v\n", name, err)
		return 1
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), speakerNetnsEnv+"="+name)
	if err := nsx.Start(path, cmd); err != nil {
		fmt.Fprintf(os.Stderr, "start tests in %s: %v\n", name, err)
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

func loUp(path string) error {
	fd, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// requireSpeakerNetns skips tests with real daemons unless the process runs
// in its own speaker namespace (as root).
func requireSpeakerNetns(t testing.TB) *testutil.Netns {
	t.Helper()
	testutil.RequireRoot(t)
	if speakerNetns == "" {
		t.Skip("skipped: the speaker namespace was not set up")
	}
	return &testutil.Netns{Name: speakerNetns, Path: nsx.Path(speakerNetns)}
}
