package bfd

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"golang.org/x/net/ipv4"
)

// frrBFD runs zebra and bfdd in a namespace with explicit paths (no
// pathspace, nothing under /etc/frr or /var/run/frr).
type frrBFD struct {
	dir, run string
}

func startFRRBFD(t *testing.T, ns *testutil.Netns, bfddConf string) *frrBFD {
	t.Helper()
	testutil.RequireBinary(t, "/usr/lib/frr/bfdd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	u, err := user.Lookup("frr")
	if err != nil {
		t.Skipf("skipped: no frr user (apt-get install -y frr): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "onp-bfd-frr-")
	if err != nil {
		t.Fatal(err)
	}
	f := &frrBFD{dir: dir, run: filepath.Join(dir, "run")}
	if err := os.MkdirAll(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"zebra.conf": "hostname r\n", "bfdd.conf": bfddConf}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, f.run, filepath.Join(dir, "zebra.conf"), filepath.Join(dir, "bfdd.conf")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			stopPid(pid)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "bfdd.log"))
			t.Logf("bfdd.log:\n%s", lastLines(string(b), 40))
		}
		os.RemoveAll(dir)
	})
	for _, d := range []string{"zebra", "bfdd"} {
		args := []string{"-d", "-P", "0", "--vty_socket", f.run, "-z", filepath.Join(f.run, "zserv.api"),
			"-i", filepath.Join(f.run, d+".pid"), "-f", filepath.Join(dir, d+".conf"),
			"--log", "file:" + filepath.Join(dir, d+".log"), "--log-level", "debug"}
		if d == "bfdd" {
			args = append(args, "--bfdctl", filepath.Join(f.run, "bfdd.sock"))
		}
		// The daemon forks and keeps the launcher's stdout and stderr: give
		// it a file, not a pipe, or Run would wait for the pipe to close.
		outPath := filepath.Join(dir, d+".out")
		out, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := ns.Command("/usr/lib/frr/"+d, args...)
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Run()
		out.Close()
		if err != nil {
			b, _ := os.ReadFile(outPath)
			t.Fatalf("start %s: %v\n%s", d, err, b)
		}
		var pid int
		testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
			b, err := os.ReadFile(filepath.Join(f.run, d+".pid"))
			if err != nil {
				return err
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return err
		})
		pids = append([]int{pid}, pids...)
	}
	testutil.Eventually(t, 5*time.Second, 50*time.Millisecond, func() error {
		_, err := f.vtysh("show bfd peers")
		return err
	})
	return f
}

func (f *frrBFD) vtysh(cmds ...string) (string, error) {
	args := []string{"--vty_socket", f.run}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("vtysh", args...).Output()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w", cmds, err)
	}
	return string(out), nil
}

type frrBFDPeer struct {
	Peer                      string `json:"peer"`
	Status                    string `json:"status"`
	Diagnostic                string `json:"diagnostic"`
	RemoteDiagnostic          string `json:"remote-diagnostic"`
	ID                        uint32 `json:"id"`
	RemoteID                  uint32 `json:"remote-id"`
	RemoteReceiveInterval     int    `json:"remote-receive-interval"`
	RemoteTransmitInterval    int    `json:"remote-transmit-interval"`
	RemoteEchoReceiveInterval int    `json:"remote-echo-receive-interval"`
	RemoteDetectMultiplier    int    `json:"remote-detect-multiplier"`
}

func (f *frrBFD) peer(addr string) (frrBFDPeer, error) {
	out, err := f.vtysh("show bfd peers json")
	if err != nil {
		return frrBFDPeer{}, err
	}
	var peers []frrBFDPeer
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return frrBFDPeer{}, fmt.Errorf("decode %q: %w", out, err)
	}
	for _, p := range peers {
		if p.Peer == addr {
			return p, nil
		}
	}
	return frrBFDPeer{}, fmt.Errorf("peer %s not in %s", addr, out)
}

// stopPid sends SIGTERM, waits up to 5 s, then SIGKILL.
func stopPid(pid int) {
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	if testutil.Poll(5*time.Second, 20*time.Millisecond, func() error {
		if syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("alive")
		}
		return nil
	}) != nil {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// bfdLab is a speaker namespace (our side, 10.99.0.2) linked to a router
// namespace running FRR bfdd (10.99.0.1).
func bfdLab(t *testing.T, frrProfile string) (*Server, *testutil.Netns, *frrBFD) {
	return bfdLabPeer(t, frrProfile, "peer 10.99.0.2 local-address 10.99.0.1")
}

// bfdLabPeer is bfdLab with FRR's peer line given.
func bfdLabPeer(t *testing.T, frrProfile, peerLine string) (*Server, *testutil.Netns, *frrBFD) {
	t.Helper()
	testutil.RequireRoot(t)
	node := testutil.NewNetns(t)
	router := testutil.NewNetns(t)
	testutil.Link(t, node, "eth0", "10.99.0.2/24", router, "eth0", "10.99.0.1/24")
	conf := "hostname r\nbfd\n profile p1\n" + frrProfile + " !\n " + peerLine + "\n  profile p1\n !\n!\n"
	f := startFRRBFD(t, router, conf)
	srv := NewServer(ServerOptions{NetnsPath: node.Path, Logger: testLogger(t)})
	t.Cleanup(func() { srv.Close() })
	return srv, router, f
}

func TestFRRSessionUpWithProfile(t *testing.T) {
	srv, _, f := bfdLab(t, "  receive-interval 300\n  transmit-interval 300\n")
	prof := Profile{Name: "fast", ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 250 * time.Millisecond, DetectMultiplier: 4, EchoInterval: 60 * time.Millisecond}
	changes := make(chan StateChange, 16)
	sess, err := srv.AddSession(SessionConfig{Peer: netip.MustParseAddr("10.99.0.1"), Profile: prof, OnStateChange: func(c StateChange) { changes <- c }})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if p.Status != "up" || p.RemoteReceiveInterval != 200 || p.RemoteTransmitInterval != 250 || p.RemoteEchoReceiveInterval != 60 || p.RemoteDetectMultiplier != 4 {
			return fmt.Errorf("FRR sees %+v", p)
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, 50*time.Millisecond, func() error {
		st := sess.Status()
		if st.State != StateUp || st.Polling || st.RemoteRequiredMinRx != 300*time.Millisecond || st.RemoteDesiredMinTx != 300*time.Millisecond {
			return fmt.Errorf("our status %+v", st)
		}
		return nil
	})
	st := sess.Status()
	if st.SourcePort < MinSourcePort || st.ControlPacketsIn == 0 || st.ControlPacketsOut == 0 || st.UpEvents != 1 || st.Dropped != 0 {
		t.Fatalf("status %+v", st)
	}
	if st.TxInterval != 300*time.Millisecond || st.DetectionTime != 900*time.Millisecond {
		t.Fatalf("tx interval %v detection time %v", st.TxInterval, st.DetectionTime)
	}
	sawUp := false
	for len(changes) > 0 {
		if c := <-changes; c.New == StateUp {
			sawUp = true
		}
	}
	if !sawUp {
		t.Fatal("no Up state change reported")
	}

	// Live timer change through a Poll sequence; the session stays Up.
	if err := sess.SetProfile(Profile{ReceiveInterval: 100 * time.Millisecond, TransmitInterval: 120 * time.Millisecond, DetectMultiplier: 5}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if p.Status != "up" || p.RemoteReceiveInterval != 100 || p.RemoteTransmitInterval != 120 || p.RemoteDetectMultiplier != 5 {
			return fmt.Errorf("FRR sees %+v", p)
		}
		return nil
	})
	if st := sess.Status(); st.DownEvents != 0 || st.State != StateUp {
		t.Fatalf("timer change disturbed the session: %+v", st)
	}

	// Close sends AdminDown: FRR goes down with the remote diagnostic.
	sess.Close()
	testutil.Eventually(t, 5*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if p.Status != "down" || p.RemoteDiagnostic != "administratively down" {
			return fmt.Errorf("FRR sees %+v", p)
		}
		return nil
	})
}

func TestFRRDetectsSilence(t *testing.T) {
	srv, router, f := bfdLab(t, "")
	sess, err := srv.AddSession(SessionConfig{Peer: netip.MustParseAddr("10.99.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		if st := sess.Status(); st.State != StateUp {
			return fmt.Errorf("state %s", st.State)
		}
		return nil
	})
	// Cut the link on FRR's side: both ends detect the silence.
	h := router.Handle(t)
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 50*time.Millisecond, func() error {
		st := sess.Status()
		if st.State != StateDown || st.Diag != DiagControlDetectionExpired || st.DownEvents != 1 {
			return fmt.Errorf("status %s diag %s down events %d", st.State, st.Diag, st.DownEvents)
		}
		return nil
	})
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if st := sess.Status(); st.State != StateUp || p.Status != "up" {
			return fmt.Errorf("ours %s, FRR %s", st.State, p.Status)
		}
		return nil
	})
}

func TestPassiveSessionWithFRR(t *testing.T) {
	srv, _, f := bfdLab(t, "")
	sess, err := srv.AddSession(SessionConfig{Peer: netip.MustParseAddr("10.99.0.1"), Profile: Profile{PassiveMode: true}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if st := sess.Status(); st.State != StateUp || p.Status != "up" {
			return fmt.Errorf("ours %s, FRR %s", st.State, p.Status)
		}
		return nil
	})
}

func TestReceivedTTLMustBe255(t *testing.T) {
	srv, router, _ := bfdLab(t, "")
	sess, err := srv.AddSession(SessionConfig{Peer: netip.MustParseAddr("10.99.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	// A well-formed Down packet from the peer's address, but with TTL 64.
	err = nsx.Do(router.Path, func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP("10.99.0.1")}, &net.UDPAddr{IP: net.ParseIP("10.99.0.2"), Port: PortSingleHop})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := ipv4.NewConn(c).SetTTL(64); err != nil {
			return err
		}
		p := ControlPacket{State: StateDown, DetectMult: 3, MyDiscriminator: 4242, DesiredMinTxInterval: 1000000, RequiredMinRxInterval: 1000000}
		_, err = c.Write(p.Marshal())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		st := sess.Status()
		if st.Dropped == 0 || !strings.Contains(st.LastDropReason, "TTL 64") {
			return fmt.Errorf("dropped %d, last reason %q", st.Dropped, st.LastDropReason)
		}
		return nil
	})
}

func TestAddSessionErrors(t *testing.T) {
	srv := NewServer(ServerOptions{})
	defer srv.Close()
	for _, c := range []struct {
		cfg  SessionConfig
		want string
	}{
		{SessionConfig{}, "needs a peer address"},
		{SessionConfig{Peer: netip.MustParseAddr("fe80::1%eth0")}, "zone"},
		{SessionConfig{Peer: netip.MustParseAddr("10.0.0.1"), Local: netip.MustParseAddr("fd00::1")}, "other address family"},
		{SessionConfig{Peer: netip.MustParseAddr("10.0.0.1"), Profile: Profile{Name: "x", DetectMultiplier: 1}}, `bfd profile "x": detectMultiplier`},
	} {
		_, err := srv.AddSession(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestFRRMultiHop(t *testing.T) {
	srv, _, f := bfdLabPeer(t, "  minimum-ttl 250\n", "peer 10.99.0.2 multihop local-address 10.99.0.1")
	sess, err := srv.AddSession(SessionConfig{Peer: netip.MustParseAddr("10.99.0.1"), Local: netip.MustParseAddr("10.99.0.2"), MultiHop: true,
		Profile: Profile{ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 200 * time.Millisecond, MinimumTTL: 250}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		p, err := f.peer("10.99.0.2")
		if err != nil {
			return err
		}
		if st := sess.Status(); st.State != StateUp || p.Status != "up" || p.RemoteReceiveInterval != 200 {
			return fmt.Errorf("ours %s, FRR %+v", st.State, p)
		}
		return nil
	})
}
