package trace

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
)

var updateSeeds = flag.Bool("update", false, "rewrite the seed captures under testdata from the live tests")

// wire is a throwaway lab: a fabric namespace with bridge br0 and two
// nodes, router (192.168.126.3) and speaker (192.168.126.2), plugged into it.
type wire struct {
	fabric, router, speaker *testutil.Netns
}

func newWire(t *testing.T) *wire {
	t.Helper()
	testutil.RequireRoot(t)
	w := &wire{fabric: testutil.NewNetns(t), router: testutil.NewNetns(t), speaker: testutil.NewNetns(t)}
	testutil.Link(t, w.router, "eth0", "192.168.126.3/24", w.fabric, "r-eth0", "")
	testutil.Link(t, w.speaker, "eth0", "192.168.126.2/24", w.fabric, "s-eth0", "")
	h := w.fabric.Handle(t)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := h.LinkAdd(br); err != nil {
		t.Fatalf("bridge: %v", err)
	}
	for _, port := range []string{"r-eth0", "s-eth0"} {
		l, err := h.LinkByName(port)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMaster(l, br); err != nil {
			t.Fatalf("enslave %s: %v", port, err)
		}
	}
	if err := h.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	return w
}

// recorder runs Live in the background and keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []Event
	cancel context.CancelFunc
	done   chan struct{}
	sum    Summary
	err    error
}

func (w *wire) trace(t *testing.T, opts Options) *recorder {
	t.Helper()
	opts.Sources = []Source{{Netns: w.fabric.Path, Interface: "br0", Promisc: true}}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancel: cancel, done: make(chan struct{})}
	ready := make(chan struct{})
	opts.Ready = func() { close(ready) }
	go func() {
		defer close(r.done)
		r.sum, r.err = Live(ctx, opts, func(e Event) error {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
			return nil
		})
	}()
	select {
	case <-ready:
	case <-r.done:
		t.Fatalf("live capture: %v", r.err)
	}
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *recorder) stop() {
	r.cancel()
	<-r.done
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// find returns the first event matching fn.
func (r *recorder) find(fn func(*Event) bool) (*Event, error) {
	for _, e := range r.snapshot() {
		if fn(&e) {
			return &e, nil
		}
	}
	return nil, errors.New("no such event yet")
}

func (r *recorder) wait(t *testing.T, what string, timeout time.Duration, fn func(*Event) bool) *Event {
	t.Helper()
	var ev *Event
	testutil.Eventually(t, timeout, 50*time.Millisecond, func() error {
		e, err := r.find(fn)
		if err != nil {
			return fmt.Errorf("%s: %w (have %d events)", what, err, len(r.snapshot()))
		}
		ev = e
		return nil
	})
	t.Logf("%s: %s", what, ev.Text())
	return ev
}

func startFRR(t *testing.T, ns *testutil.Netns, config string) *frr.Instance {
	t.Helper()
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	dir, err := os.MkdirTemp("", "onptr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := frr.Start(ctx, frr.Options{Dir: dir, NetnsPath: ns.Path})
	if err != nil {
		t.Fatalf("start frr: %v", err)
	}
	t.Cleanup(func() { in.Stop(context.Background()) })
	if _, err := in.Apply(ctx, config); err != nil {
		t.Fatalf("apply frr config: %v", err)
	}
	return in
}

const routerConfig = `router bgp 64512
 bgp router-id 192.168.126.3
 no bgp ebgp-requires-policy
 timers bgp 1 3
 neighbor 192.168.126.2 remote-as %d
 neighbor 192.168.126.2 timers connect 1
 address-family ipv4 unicast
  neighbor 192.168.126.2 activate
 exit-address-family
exit
`

const gobgpConfig = `[global.config]
  as = 64512
  router-id = "192.168.126.2"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.126.3"
    peer-as = 64512
  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
    connect-retry = 1
`

func isBGP(typ string, src string) func(*Event) bool {
	return func(e *Event) bool {
		return e.Kind == KindBGP && e.BGP.Type == typ && (src == "" || e.Src.Addr().String() == src)
	}
}

// TestLiveFRRGoBGP traces a real FRR ↔ gobgpd session on a bridge and
// checks it message by message, then reads the written pcap back with
// onp's reader and with tshark.
func TestLiveFRRGoBGP(t *testing.T) {
	testutil.RequireBinary(t, "gobgpd", "gobgpd")
	w := newWire(t)
	pcapPath := filepath.Join(t.TempDir(), "session.pcap")
	pf, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	rec := w.trace(t, Options{Pcap: pf, ARP: true})

	router := startFRR(t, w.router, fmt.Sprintf(routerConfig, 64512))
	conf := filepath.Join(t.TempDir(), "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(gobgpConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var gobgpLog bytes.Buffer
	gobgpd := w.speaker.Command("gobgpd", "-f", conf, "-p", "--api-hosts", "127.0.0.1:50051", "--pprof-disable")
	gobgpd.Stdout, gobgpd.Stderr = &gobgpLog, &gobgpLog
	if err := gobgpd.Start(); err != nil {
		t.Fatal(err)
	}
	gobgpdDone := make(chan error, 1)
	go func() { gobgpdDone <- gobgpd.Wait() }()
	t.Cleanup(func() {
		gobgpd.Process.Kill()
		<-gobgpdDone
		if t.Failed() {
			t.Logf("gobgpd log:\n%s", gobgpLog.String())
		}
	})

	// OPEN both ways and KEEPALIVEs.
	ro := rec.wait(t, "router OPEN", 20*time.Second, isBGP("OPEN", "192.168.126.3"))
	so := rec.wait(t, "speaker OPEN", 20*time.Second, isBGP("OPEN", "192.168.126.2"))
	for _, c := range []struct {
		e  *Event
		id string
	}{{ro, "192.168.126.3"}, {so, "192.168.126.2"}} {
		o := c.e.BGP.Open
		if o.Version != 4 || o.AS() != 64512 || o.AS4 != 64512 || o.RouterID.String() != c.id || o.HoldTime != 3 {
			t.Errorf("OPEN from %s: %+v", c.id, o)
		}
		names := map[string]bool{}
		for _, cp := range o.Capabilities {
			names[cp.Name+"="+cp.Value] = true
		}
		if !names["multiprotocol=ipv4-unicast"] || !names["4-octet-as=64512"] || !names["route-refresh="] {
			t.Errorf("OPEN from %s capabilities: %+v", c.id, o.Capabilities)
		}
	}
	rec.wait(t, "router KEEPALIVE", 10*time.Second, isBGP("KEEPALIVE", "192.168.126.3"))
	rec.wait(t, "speaker KEEPALIVE", 10*time.Second, isBGP("KEEPALIVE", "192.168.126.2"))

	// An UPDATE with communities and local-pref from the speaker.
	add := w.speaker.Command("gobgp", "-u", "127.0.0.1", "global", "rib", "add", "203.0.113.10/32",
		"-a", "ipv4", "origin", "incomplete", "local-pref", "100", "med", "20",
		"community", "no-advertise,64512:100", "large-community", "64512:1:2")
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		out, err := add.Output()
		add = w.speaker.Command(add.Args[0], add.Args[1:]...)
		if err != nil {
			return fmt.Errorf("gobgp rib add: %v %s", err, out)
		}
		return nil
	})
	upd := rec.wait(t, "UPDATE", 10*time.Second, func(e *Event) bool {
		return isBGP("UPDATE", "192.168.126.2")(e) && len(e.BGP.Update.NLRI) > 0
	}).BGP.Update
	if upd.LocalPref == nil || *upd.LocalPref != 100 || upd.MED == nil || *upd.MED != 20 || upd.Origin != "INCOMPLETE" ||
		!slices.Equal(upd.Communities, []string{"NO_ADVERTISE", "64512:100"}) || !slices.Equal(upd.LargeCommunities, []string{"64512:1:2"}) ||
		upd.NextHop != "192.168.126.2" || !slices.Equal(upd.NLRI, []string{"203.0.113.10/32"}) {
		t.Errorf("UPDATE: %+v", upd)
	}

	// Wrong remote-as on the router: Cease/Other Configuration Change, then
	// OPEN Message Error/Bad Peer AS carrying the AS the router received.
	if _, err := router.Apply(context.Background(), fmt.Sprintf(routerConfig, 64513)); err != nil {
		t.Fatal(err)
	}
	bad := rec.wait(t, "Bad Peer AS", 30*time.Second, func(e *Event) bool {
		return isBGP("NOTIFICATION", "192.168.126.3")(e) && e.BGP.Notification.Code == 2 && e.BGP.Notification.Subcode == 2
	})
	if n := bad.BGP.Notification; n.PeerAS != 64512 || n.SubcodeName != "Bad Peer AS" || !strings.HasSuffix(bad.Text(), "BGP NOTIFICATION OPEN Message Error (2) / Bad Peer AS (2) — peer AS 64512") {
		t.Errorf("Bad Peer AS: %s", bad.Text())
	}
	rec.wait(t, "TCP SYN", time.Second, func(e *Event) bool { return e.Kind == KindTCP && e.TCP.Event == TCPSyn })

	rec.stop()
	if rec.err != nil {
		t.Fatalf("live: %v", rec.err)
	}
	pf.Close()
	live := rec.snapshot()
	t.Logf("live summary: %s", rec.sum)
	for _, e := range live {
		if e.Kind == KindBGP && (e.BGP.Error != "" || strings.Contains(e.Note, "missing")) {
			t.Errorf("decode problem: %s", e.Text())
		}
	}

	// The written file decodes to the same BGP messages.
	f, err := os.Open(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var read []Event
	sum, err := Read(f, Options{ARP: true}, func(e Event) error { read = append(read, e); return nil })
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !slices.Equal(bgpTypes(read), bgpTypes(live)) {
		t.Errorf("read back %v\nlive      %v", bgpTypes(read), bgpTypes(live))
	}

	// tshark's BGP dissector agrees on every message type and count.
	compareTshark(t, pcapPath, sum)

	if *updateSeeds {
		writeSeed(t, pcapPath, "testdata/frr-gobgp.pcap", 60)
	}
}

// compareTshark checks that tshark finds the same BGP messages by type.
func compareTshark(t *testing.T, path string, sum Summary) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not installed (apt-get install -y tshark): skipping the dissector comparison")
		return
	}
	out, err := exec.Command(tshark, "-r", path, "-Y", "bgp", "-T", "fields", "-e", "bgp.type").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	names := map[string]string{"1": "OPEN", "2": "UPDATE", "3": "NOTIFICATION", "4": "KEEPALIVE", "5": "ROUTE-REFRESH"}
	got := map[string]int{}
	for _, line := range strings.Fields(string(out)) {
		for _, ty := range strings.Split(line, ",") {
			got[names[ty]]++
		}
	}
	var a, b []string
	for k, v := range got {
		a = append(a, fmt.Sprintf("%s=%d", k, v))
	}
	for k, v := range sum.BGP {
		b = append(b, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(a)
	sort.Strings(b)
	if !slices.Equal(a, b) {
		t.Errorf("tshark counts %v, onp counts %v", a, b)
	} else {
		t.Logf("tshark agrees: %v", a)
	}
}

// writeSeed keeps the first n frames of a capture as a fuzz seed.
func writeSeed(t *testing.T, from, to string, n int) {
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	pw, err := NewPcapWriter(&buf, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p, err := rd.Next()
		if err != nil {
			break
		}
		pw.WritePacket(p)
	}
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

const bfdConfig = `bfd
 peer %s local-address %s interface eth0
  receive-interval %d
  transmit-interval %d
  detect-multiplier %d
 exit
exit
`

// TestLiveBFD traces two FRR bfdd instances bringing a session Up and
// checks that the packets carry each side's configured intervals.
func TestLiveBFD(t *testing.T) {
	w := newWire(t)
	pcapPath := filepath.Join(t.TempDir(), "bfd.pcap")
	pf, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	rec := w.trace(t, Options{Pcap: pf})
	startFRR(t, w.router, fmt.Sprintf(bfdConfig, "192.168.126.2", "192.168.126.3", 200, 150, 4))
	startFRR(t, w.speaker, fmt.Sprintf(bfdConfig, "192.168.126.3", "192.168.126.2", 300, 250, 3))

	isBFD := func(src, state string) func(*Event) bool {
		return func(e *Event) bool {
			return e.Kind == KindBFD && e.Src.Addr().String() == src && e.BFD.State == state && !e.BFD.Poll && !e.BFD.Final
		}
	}
	down := rec.wait(t, "router Down", 20*time.Second, isBFD("192.168.126.3", "Down"))
	if down.BFD.DesiredMinTxUs != 1000000 {
		t.Errorf("Down packet tx %v, want the 1s slow rate: %s", down.BFD.DesiredMinTx(), down.Text())
	}
	r := rec.wait(t, "router Up at configured rate", 20*time.Second, func(e *Event) bool {
		return isBFD("192.168.126.3", "Up")(e) && e.BFD.DesiredMinTxUs == 150000
	})
	s := rec.wait(t, "speaker Up at configured rate", 20*time.Second, func(e *Event) bool {
		return isBFD("192.168.126.2", "Up")(e) && e.BFD.DesiredMinTxUs == 250000
	})
	for _, c := range []struct {
		e        *Event
		tx, rx   uint32
		mult     uint8
		peerDisc uint32
	}{{r, 150000, 200000, 4, s.BFD.MyDisc}, {s, 250000, 300000, 3, r.BFD.MyDisc}} {
		b := c.e.BFD
		if b.Version != 1 || b.DesiredMinTxUs != c.tx || b.RequiredMinRxUs != c.rx || b.DetectMult != c.mult ||
			b.YourDisc != c.peerDisc || b.Error != "" || c.e.TTL != 255 || c.e.Dst.Port() != BFDControlPort || c.e.Src.Port() < 49152 {
			t.Errorf("BFD packet: %s (%+v)", c.e.Text(), b)
		}
	}
	rec.stop()
	if rec.sum.BFD == 0 || rec.err != nil {
		t.Errorf("summary %s, err %v", rec.sum, rec.err)
	}
	if *updateSeeds {
		pf.Close()
		writeSeed(t, pcapPath, "testdata/frr-bfd.pcap", 30)
	}
}

// blockBGP drops TCP port 179 in both directions inside ns (input and
// output chains), as reference 7c does with nftables.
func blockBGP(t *testing.T, ns *testutil.Netns) {
	t.Helper()
	fd, err := netns.GetFromPath(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(fd)))
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "onptest_block179"})
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookInput, nftables.ChainHookOutput} {
		ch := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("h%d", *hook), Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter})
		for _, off := range []uint32{0, 2} { // source port, destination port
			c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(BGPPort)},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("nftables flush: %v", err)
	}
}

// TestLiveHoldTimerBlackhole blocks TCP 179 on the speaker after the
// session is up: the router's KEEPALIVEs go unacknowledged and show up as
// retransmissions (decoded once, not as new messages), the router's Hold
// Timer Expired NOTIFICATION stays stuck behind them, and the router's new
// SYNs go unanswered.
func TestLiveHoldTimerBlackhole(t *testing.T) {
	testutil.RequireBinary(t, "gobgpd", "gobgpd")
	w := newWire(t)
	rec := w.trace(t, Options{})
	startFRR(t, w.router, fmt.Sprintf(routerConfig, 64512))
	conf := filepath.Join(t.TempDir(), "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(gobgpConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	gobgpd := w.speaker.Command("gobgpd", "-f", conf, "-p", "--api-hosts", "127.0.0.1:50051", "--pprof-disable")
	if err := gobgpd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gobgpd.Wait() }()
	t.Cleanup(func() { gobgpd.Process.Kill(); <-done })

	rec.wait(t, "router KEEPALIVE", 20*time.Second, isBGP("KEEPALIVE", "192.168.126.3"))
	blockBGP(t, w.speaker)
	blocked := len(rec.snapshot())
	after := func(fn func(*Event) bool) func(*Event) bool {
		return func(e *Event) bool { return e.Frame > rec.snapshot()[blocked-1].Frame && fn(e) }
	}
	rec.wait(t, "retransmitted KEEPALIVE", 15*time.Second, after(func(e *Event) bool {
		return e.Kind == KindTCP && e.TCP.Event == TCPRetransmission && e.Src.Addr().String() == "192.168.126.3" && e.TCP.Len == 19
	}))
	syn := rec.wait(t, "router SYN after the block", 20*time.Second, after(func(e *Event) bool {
		return e.Kind == KindTCP && e.TCP.Event == TCPSyn && e.Src.Addr().String() == "192.168.126.3"
	}))
	rec.stop()
	for _, e := range rec.snapshot()[blocked:] {
		t.Logf("after block: %s", e.Text())
		if e.Kind == KindTCP && e.TCP.Event == TCPSynAck && e.Dst == syn.Src {
			t.Errorf("SYN answered through the block: %s", e.Text())
		}
	}
	for _, e := range rec.snapshot()[blocked:] {
		if e.Kind == KindBGP && e.Src.Addr().String() == "192.168.126.3" && e.BGP.Type == "NOTIFICATION" {
			t.Errorf("a NOTIFICATION from the router made it onto the wire: %s", e.Text())
		}
	}
}

// TestLiveMD5OneSide configures a TCP MD5 password on the router only: its
// SYNs carry the MD5 option, the speaker's do not, and no OPEN is ever
// exchanged.
func TestLiveMD5OneSide(t *testing.T) {
	testutil.RequireBinary(t, "gobgpd", "gobgpd")
	w := newWire(t)
	rec := w.trace(t, Options{})
	cfg := strings.Replace(fmt.Sprintf(routerConfig, 64512), " neighbor 192.168.126.2 timers connect 1\n",
		" neighbor 192.168.126.2 timers connect 1\n neighbor 192.168.126.2 password onp-secret\n", 1)
	startFRR(t, w.router, cfg)
	conf := filepath.Join(t.TempDir(), "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(gobgpConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	gobgpd := w.speaker.Command("gobgpd", "-f", conf, "-p", "--api-hosts", "127.0.0.1:50051", "--pprof-disable")
	if err := gobgpd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gobgpd.Wait() }()
	t.Cleanup(func() { gobgpd.Process.Kill(); <-done })

	isSyn := func(src string, md5 bool) func(*Event) bool {
		return func(e *Event) bool {
			return e.Kind == KindTCP && e.TCP.Event == TCPSyn && e.Src.Addr().String() == src && e.TCP.MD5 == md5
		}
	}
	rec.wait(t, "router SYN with MD5", 20*time.Second, isSyn("192.168.126.3", true))
	rec.wait(t, "speaker SYN without MD5", 20*time.Second, isSyn("192.168.126.2", false))
	rec.stop()
	for _, e := range rec.snapshot() {
		if e.Kind == KindBGP {
			t.Errorf("BGP got through a one-sided MD5 password: %s", e.Text())
		}
	}
}

// TestLiveEndsWhenNamespaceGoes removes the fabric namespace under a
// running trace: Live must end with an error saying so.
func TestLiveEndsWhenNamespaceGoes(t *testing.T) {
	w := newWire(t)
	rec := w.trace(t, Options{})
	if err := nsx.Delete(w.fabric.Name); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Live still running 10s after its namespace was removed")
	}
	if rec.err == nil || !strings.Contains(rec.err.Error(), "was removed") {
		t.Errorf("err = %v", rec.err)
	}
}
