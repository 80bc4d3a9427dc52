package bgp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/bfd"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

type frrBFDPeer struct {
	Peer                      string `json:"peer"`
	Status                    string `json:"status"`
	Diagnostic                string `json:"diagnostic"`
	RemoteReceiveInterval     int    `json:"remote-receive-interval"`
	RemoteTransmitInterval    int    `json:"remote-transmit-interval"`
	RemoteEchoReceiveInterval int    `json:"remote-echo-receive-interval"`
	RemoteDetectMultiplier    int    `json:"remote-detect-multiplier"`
}

func (f *frrRouter) bfdPeer(addr netip.Addr) (frrBFDPeer, error) {
	out, err := f.vtysh("show bfd peers json")
	if err != nil {
		return frrBFDPeer{}, err
	}
	var peers []frrBFDPeer
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return frrBFDPeer{}, fmt.Errorf("decode %q: %w", out, err)
	}
	for _, p := range peers {
		if p.Peer == addr.String() {
			return p, nil
		}
	}
	return frrBFDPeer{}, fmt.Errorf("no BFD peer %s in %s", addr, out)
}

// dropOutgoingUDP drops this namespace's UDP packets to dst:dport with
// nftables until the returned function is called (or the test ends).
func dropOutgoingUDP(t *testing.T, dst netip.Addr, dport uint16) (restore func()) {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "onptest_drop_bfd"})
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter})
	d := dst.As4()
	c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: d[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(dport)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		t.Fatalf("nftables flush: %v", err)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		c.DelTable(tbl)
		if err := c.Flush(); err != nil {
			t.Errorf("remove nftables table: %v", err)
		}
	}
	t.Cleanup(restore)
	return restore
}

func TestFRRBFD(t *testing.T) {
	l := newLab(t)
	bfdd := "hostname r\nbfd\n profile p1\n  receive-interval 300\n  transmit-interval 300\n !\n!\n"
	f := startFRR(t, l.router, frrBGPConf(l, 64512, 64512, "bfd", "bfd profile p1"), bfdd)
	m, ev := newTestManager(t)
	prof := &bfd.Profile{Name: "fast", ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 250 * time.Millisecond, DetectMultiplier: 3, EchoInterval: 60 * time.Millisecond}
	s, err := m.NewSession(SessionParameters{Name: "bfd", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64512, BFD: prof})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("10.0.2.1/32")}); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 15*time.Second)
	testutil.Eventually(t, 15*time.Second, 100*time.Millisecond, func() error {
		p, err := f.bfdPeer(l.nodeIP)
		if err != nil {
			return err
		}
		if p.Status != "up" || p.RemoteReceiveInterval != 200 || p.RemoteTransmitInterval != 250 || p.RemoteEchoReceiveInterval != 60 || p.RemoteDetectMultiplier != 3 {
			return fmt.Errorf("FRR BFD peer %+v", p)
		}
		n, err := f.neighbor(l.nodeIP)
		if err != nil {
			return err
		}
		if n.PeerBfdInfo == nil || n.PeerBfdInfo.Status != "Up" {
			return fmt.Errorf("FRR neighbor BFD info %+v", n.PeerBfdInfo)
		}
		return nil
	})
	n0 := f.waitEstablished(t, l.nodeIP, time.Second)
	st := s.Status()
	if st.BFD == nil || st.BFD.State != bfd.StateUp || st.BFD.RemoteRequiredMinRx != 300*time.Millisecond {
		t.Fatalf("our BFD status %+v", st.BFD)
	}

	// New advertisements and a BFD-only profile change: neither touches the
	// BGP session (MetalLB PR #2454's flapping case).
	for i := 2; i < 6; i++ {
		advs := []Advertisement{}
		for j := 1; j <= i; j++ {
			advs = append(advs, Advertisement{Prefix: netip.MustParsePrefix(fmt.Sprintf("10.0.2.%d/32", j))})
		}
		if err := s.Set(advs...); err != nil {
			t.Fatal(err)
		}
	}
	p := s.Parameters()
	p.BFD = &bfd.Profile{Name: "faster", ReceiveInterval: 150 * time.Millisecond, TransmitInterval: 150 * time.Millisecond, DetectMultiplier: 4}
	if err := s.Update(p); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		bp, err := f.bfdPeer(l.nodeIP)
		if err != nil {
			return err
		}
		if bp.Status != "up" || bp.RemoteReceiveInterval != 150 || bp.RemoteTransmitInterval != 150 || bp.RemoteDetectMultiplier != 4 {
			return fmt.Errorf("FRR BFD peer %+v", bp)
		}
		if _, err := f.route("10.0.2.5/32"); err != nil {
			return err
		}
		return nil
	})
	n1, err := f.neighbor(l.nodeIP)
	if err != nil {
		t.Fatal(err)
	}
	if n1.ConnectionsDropped != n0.ConnectionsDropped || n1.BgpState != "Established" {
		t.Fatalf("BGP flapped: before %+v after %+v", n0, n1)
	}
	if st := s.Status(); st.BFD.DownEvents != 0 {
		t.Fatalf("BFD went down during the changes: %+v", st.BFD)
	}

	// The speaker's BFD goes silent: FRR's BFD times out and FRR tears the
	// BGP session down; our side hears FRR's Down and disables the peer.
	restore := dropOutgoingUDP(t, l.routerIP, bfd.PortSingleHop)
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		n, err := f.neighbor(l.nodeIP)
		if err != nil {
			return err
		}
		if n.BgpState == "Established" || n.ConnectionsDropped == n0.ConnectionsDropped {
			return fmt.Errorf("FRR neighbor still %s, dropped %d", n.BgpState, n.ConnectionsDropped)
		}
		return nil
	})
	down := waitState(t, s, StateIdle, 10*time.Second)
	// Our BFD still hears FRR (only our packets are dropped), so it sits in
	// Init or Down, never Up.
	if !down.AdminDown || !strings.Contains(down.LastError, "BFD") || down.BFD.State == bfd.StateUp || down.BFD.DownEvents != 1 {
		t.Fatalf("after BFD loss: admin down %v, last error %q, BFD %s", down.AdminDown, down.LastError, down.BFD.State)
	}
	if _, ok := ev.find(func(e Event) bool { return e.Type == EventBFDStateChange && e.BFD.New == bfd.StateDown }); !ok {
		t.Fatal("no BFD down event")
	}
	bp, _ := f.bfdPeer(l.nodeIP)
	t.Logf("FRR after BFD loss: BFD %+v", bp)

	// BFD back: the peer is enabled and BGP comes up again.
	restore()
	waitState(t, s, StateEstablished, 20*time.Second)
	f.waitEstablished(t, l.nodeIP, 5*time.Second)
	if st := s.Status(); st.AdminDown || st.BFD.State != bfd.StateUp {
		t.Fatalf("after recovery: %+v", st)
	}
}

func TestUpdateRecreatesOnlyThatSession(t *testing.T) {
	la, lb := newLab(t), newLab(t)
	fa := startFRR(t, la.router, frrBGPConf(la, 64512, 64512), "")
	fb := startFRR(t, lb.router, frrBGPConf(lb, 64512, 64512), "")
	m, _ := newTestManager(t)
	sa, err := m.NewSession(SessionParameters{Name: "a", PeerAddress: la.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := m.NewSession(SessionParameters{Name: "b", PeerAddress: lb.routerIP, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	adv := Advertisement{Prefix: netip.MustParsePrefix("10.0.3.1/32")}
	for _, s := range []*Session{sa, sb} {
		if err := s.Set(adv); err != nil {
			t.Fatal(err)
		}
		waitState(t, s, StateEstablished, 15*time.Second)
	}
	fa.waitEstablished(t, la.nodeIP, 5*time.Second)
	nb0 := fb.waitEstablished(t, lb.nodeIP, 5*time.Second)

	// The same parameters again: nothing happens.
	if err := sa.Update(sa.Parameters()); err != nil {
		t.Fatal(err)
	}
	p := sa.Parameters()
	p.HoldTime = 30 * time.Second
	if err := sa.Update(p); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		n, err := fa.neighbor(la.nodeIP)
		if err != nil {
			return err
		}
		if n.ConnectionsEstablished < 2 || n.BgpState != "Established" {
			return fmt.Errorf("router a: %+v", n)
		}
		if st := sa.Status(); st.State != StateEstablished || st.NegotiatedHoldTime != 30*time.Second {
			return fmt.Errorf("session a: %s hold %v", st.State, st.NegotiatedHoldTime)
		}
		paths, err := fa.route("10.0.3.1/32")
		if err != nil || len(paths) != 1 {
			return fmt.Errorf("router a lost the route: %v %v", paths, err)
		}
		return nil
	})
	nb1, err := fb.neighbor(lb.nodeIP)
	if err != nil {
		t.Fatal(err)
	}
	if nb1.ConnectionsDropped != nb0.ConnectionsDropped || nb1.ConnectionsEstablished != nb0.ConnectionsEstablished {
		t.Fatalf("session b was disturbed: before %+v after %+v", nb0, nb1)
	}
	// Counters continue across the re-creation.
	if st := sa.Status(); st.Sent.Open != 2 || st.EstablishedCount != 2 {
		t.Fatalf("session a counters after re-creation: opens sent %d, established %d", st.Sent.Open, st.EstablishedCount)
	}
}

func TestSourceAddressMustExist(t *testing.T) {
	l := newLab(t)
	src := l.nodeIP.Next() // .3, not on the host yet
	conf := strings.ReplaceAll(frrBGPConf(l, 64512, 64512), l.nodeIP.String(), src.String())
	f := startFRR(t, l.router, conf, "")
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "src", PeerAddress: l.routerIP, SourceAddress: src, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("10.0.4.1/32")}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 50*time.Millisecond, func() error {
		st := s.Status()
		if want := fmt.Sprintf("address %q doesn't exist on this host", src); !strings.Contains(st.LastError, want) || st.State != StateIdle {
			return fmt.Errorf("state %s, last error %q", st.State, st.LastError)
		}
		return nil
	})
	l.addNodeAddr(src.String() + "/24")
	waitState(t, s, StateEstablished, 15*time.Second)
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		paths, err := f.route("10.0.4.1/32")
		if err != nil || len(paths) != 1 {
			return fmt.Errorf("%v %v", paths, err)
		}
		if paths[0].Nexthops[0].IP != src.String() {
			return fmt.Errorf("next hop %s, want the source address %s", paths[0].Nexthops[0].IP, src)
		}
		return nil
	})
	if st := s.Status(); st.RouterID != src.String() {
		t.Fatalf("router ID %s, want the source address", st.RouterID)
	}
}

func TestDynamicASN(t *testing.T) {
	l := newLab(t)
	startFRR(t, l.router, frrBGPConf(l, 64513, 64512), "")
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "dyn", PeerAddress: l.routerIP, MyASN: 64512, DynamicASN: DynamicASNExternal})
	if err != nil {
		t.Fatal(err)
	}
	st := waitState(t, s, StateEstablished, 15*time.Second)
	if st.PeerASN != 64513 || st.IBGP {
		t.Fatalf("learned peer AS %d, ibgp %v", st.PeerASN, st.IBGP)
	}
	p := s.Parameters()
	p.DynamicASN = DynamicASNInternal
	if err := s.Update(p); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, 100*time.Millisecond, func() error {
		st := s.Status()
		if !strings.Contains(st.LastError, "peer AS 64513 does not match dynamicASN internal") {
			return fmt.Errorf("state %s, last error %q", st.State, st.LastError)
		}
		if st.State == StateEstablished {
			return fmt.Errorf("still established")
		}
		return nil
	})
}

func TestEBGPTTL(t *testing.T) {
	testutil.RequireBinary(t, "nft", "nftables")
	l := newLab(t)
	// GTSM on the router: it accepts only TTL 255. Single-hop eBGP sends
	// TTL 1 (FRR's rule), so it cannot connect; with ebgpMultiHop it sends
	// TTL 255 and can. What is asserted is what leaves the node, counted
	// by nftables: FRR sets the minimum TTL on an accepted socket after
	// accept(), so an OPEN already queued can get through once and the
	// session state alone proves nothing.
	f := startFRR(t, l.router, frrBGPConf(l, 64513, 64512, "ttl-security hops 1"), "")
	ttl := countTTL(t, l.routerIP)
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "ttl", PeerAddress: l.routerIP, MyASN: 64512, PeerASN: 64513})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		if c := ttl(); c["ttl1"] == 0 {
			return fmt.Errorf("SYNs to %s:179 by TTL: %v", l.routerIP, c)
		}
		return nil
	})
	if c := ttl(); c["ttl255"]+c["other"] > 0 {
		t.Fatalf("eBGP without ebgpMultiHop sent SYNs with a TTL other than 1: %v", c)
	}
	p := s.Parameters()
	p.EBGPMultiHop = true
	if err := s.Update(p); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, StateEstablished, 15*time.Second)
	f.waitEstablished(t, l.nodeIP, 5*time.Second)
	if c := ttl(); c["ttl255"] == 0 || c["other"] > 0 {
		t.Fatalf("with ebgpMultiHop: SYNs by TTL %v, want TTL 255", c)
	}
}

// countTTL counts, with nftables in this (the node's) namespace, the
// TCP SYNs sent to dst port 179 by IP TTL: "ttl1", "ttl255" and "other".
func countTTL(t *testing.T, dst netip.Addr) func() map[string]int {
	t.Helper()
	table := "onptest_ttl_" + strings.ReplaceAll(dst.String(), ".", "_")
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	nft("add", "table", "ip", table)
	t.Cleanup(func() { exec.Command("nft", "delete", "table", "ip", table).Run() })
	nft("add", "chain", "ip", table, "out", "{ type filter hook output priority 0; }")
	// SYNs only: every connection attempt starts with one, sent with the
	// socket's TTL; RSTs and the ACKs of a connection in TIME_WAIT come
	// from the kernel with its default TTL, whatever the socket had.
	match := []string{"ip", "daddr", dst.String(), "tcp", "dport", "179", "tcp", "flags", "&", "(syn|ack)", "==", "syn"}
	nft(append(append([]string{"add", "rule", "ip", table, "out"}, match...), "ip", "ttl", "1", "counter", "comment", "ttl1")...)
	nft(append(append([]string{"add", "rule", "ip", table, "out"}, match...), "ip", "ttl", "255", "counter", "comment", "ttl255")...)
	nft(append(append([]string{"add", "rule", "ip", table, "out"}, match...), "ip", "ttl", "!=", "{ 1, 255 }", "counter", "comment", "other")...)
	re := regexp.MustCompile(`counter packets (\d+) bytes \d+ comment "(\w+)"`)
	return func() map[string]int {
		c := map[string]int{}
		for _, m := range re.FindAllStringSubmatch(nft("list", "table", "ip", table), -1) {
			n, _ := strconv.Atoi(m[1])
			c[m[2]] = n
		}
		return c
	}
}

func TestFRRIPv6(t *testing.T) {
	l := newLab(t)
	n := strings.Split(l.nodeIP.String(), ".")[2]
	node6 := netip.MustParseAddr("fd00:126:" + n + "::2")
	router6 := netip.MustParseAddr("fd00:126:" + n + "::1")
	for _, x := range []struct {
		h    *netlink.Handle
		link string
		addr netip.Addr
	}{{l.node.Handle(t), l.ifName, node6}, {l.router.Handle(t), "eth0", router6}} {
		lk, err := x.h.LinkByName(x.link)
		if err != nil {
			t.Fatal(err)
		}
		a := &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(x.addr, 64)), Flags: unix.IFA_F_NODAD}
		a.IPNet.IP = x.addr.AsSlice()
		if err := x.h.AddrAdd(lk, a); err != nil {
			t.Fatalf("add %s: %v", x.addr, err)
		}
	}
	conf := fmt.Sprintf("hostname r\n!\nrouter bgp 64512\n bgp router-id %s\n neighbor %s remote-as 64512\n neighbor %s timers connect 1\n address-family ipv6 unicast\n  neighbor %s activate\n exit-address-family\n!\n",
		l.routerIP, node6, node6, node6)
	f := startFRR(t, l.router, conf, "")
	m, _ := newTestManager(t)
	s, err := m.NewSession(SessionParameters{Name: "v6", PeerAddress: router6, MyASN: 64512, PeerASN: 64512})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("fd00:10::1/128"), Communities: []Community{NewCommunity(64512, 6)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Advertisement{Prefix: netip.MustParsePrefix("10.0.0.1/32")}); err == nil {
		t.Fatal("an IPv4 prefix was accepted on an IPv6 session")
	}
	st := waitState(t, s, StateEstablished, 20*time.Second)
	if st.RouterID != l.nodeIP.String() {
		t.Errorf("router ID %s, want the IPv4 address on the same interface (%s)", st.RouterID, l.nodeIP)
	}
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		var r struct {
			Paths []frrPath `json:"paths"`
		}
		if err := f.json("show bgp ipv6 unicast fd00:10::1/128 json", &r); err != nil {
			return err
		}
		if len(r.Paths) != 1 {
			return fmt.Errorf("paths %+v", r.Paths)
		}
		p := r.Paths[0]
		if len(p.Nexthops) == 0 || p.Nexthops[0].IP != node6.String() || p.Origin != "IGP" || p.Community == nil || p.Community.String != "64512:6" {
			return fmt.Errorf("path %+v", p)
		}
		return nil
	})
}
