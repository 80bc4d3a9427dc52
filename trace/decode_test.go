package trace

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"golang.org/x/net/bpf"
)

func TestBGPText(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"open", openMsg(t, 64512, 90, "192.168.126.3"),
			"OPEN v4 AS 64512 hold 90s id 192.168.126.3 caps multiprotocol(ipv4-unicast) route-refresh 4-octet-as(64512) add-path(ipv4-unicast receive) fqdn(router.lab)"},
		{"open 4-octet", openMsg(t, 4200000001, 3, "10.0.0.1"),
			"OPEN v4 AS 4200000001 (My AS 23456) hold 3s id 10.0.0.1 caps multiprotocol(ipv4-unicast) route-refresh 4-octet-as(4200000001) add-path(ipv4-unicast receive) fqdn(router.lab)"},
		{"update", updateMsg(t),
			"UPDATE ORIGIN INCOMPLETE, AS_PATH 64512 4200000001, NEXT_HOP 192.168.126.2, MULTI_EXIT_DISC 10, LOCAL_PREF 150, COMMUNITIES NO_ADVERTISE 64512:100, LARGE_COMMUNITIES 64512:1:2, NLRI 203.0.113.10/32"},
		{"withdraw", withdrawMsg(t), "UPDATE withdrawn 203.0.113.10/32"},
		{"eor", serialize(t, bgp.NewEndOfRib(bgp.RF_IPv4_UC)), "UPDATE End-of-RIB ipv4-unicast"},
		{"eor v6", serialize(t, bgp.NewEndOfRib(bgp.RF_IPv6_UC)), "UPDATE End-of-RIB ipv6-unicast"},
		{"keepalive", keepaliveMsg(t), "KEEPALIVE"},
		{"route refresh", serialize(t, bgp.NewBGPRouteRefreshMessage(1, 0, 1)), "ROUTE-REFRESH ipv4-unicast"},
		{"bad peer as", notificationMsg(t, 2, 2, []byte{0xfc, 0x01}),
			"NOTIFICATION OPEN Message Error (2) / Bad Peer AS (2) — peer AS 64513"},
		{"hold time", notificationMsg(t, 2, 6, []byte{0, 1}),
			"NOTIFICATION OPEN Message Error (2) / Unacceptable Hold Time (6) — hold time 1s"},
		{"hold timer expired", notificationMsg(t, 4, 0, nil), "NOTIFICATION Hold Timer Expired (4) / Unspecific (0)"},
		{"deconfigured", notificationMsg(t, 6, 3, nil), "NOTIFICATION Cease (6) / Peer De-configured (3)"},
		{"shutdown", notificationMsg(t, 6, 2, append([]byte{11}, "maintenance"...)),
			`NOTIFICATION Cease (6) / Administrative Shutdown (2) — shutdown communication "maintenance"`},
		{"bad id", notificationMsg(t, 2, 3, []byte{10, 0, 0, 1}),
			"NOTIFICATION OPEN Message Error (2) / Bad BGP Identifier (3) — identifier 10.0.0.1"},
		{"unknown data", notificationMsg(t, 6, 6, []byte{1, 2}), "NOTIFICATION Cease (6) / Other Configuration Change (6) — data 0102"},
		{"unknown code", notificationMsg(t, 9, 9, nil), "NOTIFICATION Unknown Error Code 9 (9) / Unknown Subcode 9 (9)"},
		{"short", []byte{0xff, 0xff}, "TRUNCATED (BGP message truncated: 2 of at least 19 header bytes)"},
		{"unknown type", append(bytes.Repeat([]byte{0xff}, 16), 0, 19, 9), "TYPE(9) (unknown message type 9)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := DecodeBGP(c.msg)
			if got := m.summary(); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestBGPUpdateFields(t *testing.T) {
	m := DecodeBGP(updateMsg(t))
	u := m.Update
	if u == nil || m.Error != "" {
		t.Fatalf("decode: %+v", m)
	}
	if *u.LocalPref != 150 || *u.MED != 10 || u.NextHop != "192.168.126.2" || u.Origin != "INCOMPLETE" {
		t.Errorf("fields: %+v", u)
	}
	if strings.Join(u.Communities, ",") != "NO_ADVERTISE,64512:100" || strings.Join(u.LargeCommunities, ",") != "64512:1:2" {
		t.Errorf("communities: %v %v", u.Communities, u.LargeCommunities)
	}
	if strings.Join(u.NLRI, ",") != "203.0.113.10/32" {
		t.Errorf("nlri: %v", u.NLRI)
	}
}

func TestBGPMPReachIPv6(t *testing.T) {
	attrs := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0),
		bgp.NewPathAttributeAsPath(nil),
		bgp.NewPathAttributeMpReachNLRI("2001:db8::2", []bgp.AddrPrefixInterface{bgp.NewIPv6AddrPrefix(128, "2001:db8:100::10")}),
	}
	m := DecodeBGP(serialize(t, bgp.NewBGPUpdateMessage(nil, attrs, nil)))
	if m.Update == nil || m.Update.MPReach == nil {
		t.Fatalf("no MP_REACH: %+v", m)
	}
	mp := m.Update.MPReach
	if mp.Family != "ipv6-unicast" || mp.NextHop != "2001:db8::2" || strings.Join(mp.Prefixes, ",") != "2001:db8:100::10/128" {
		t.Errorf("mp reach: %+v", mp)
	}
	want := "UPDATE ORIGIN IGP, AS_PATH empty, MP_REACH_NLRI ipv6-unicast next-hop 2001:db8::2 2001:db8:100::10/128"
	if got := m.summary(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	un := DecodeBGP(serialize(t, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI([]bgp.AddrPrefixInterface{bgp.NewIPv6AddrPrefix(128, "2001:db8:100::10")})}, nil)))
	if un.Update.MPUnreach == nil || strings.Join(un.Update.MPUnreach.Prefixes, ",") != "2001:db8:100::10/128" {
		t.Errorf("mp unreach: %+v", un.Update)
	}
}

func TestBGPMalformedUpdateKeepsWhatDecodes(t *testing.T) {
	msg := updateMsg(t)
	// Corrupt the ORIGIN flags (first attribute: flags, type, len, value;
	// offset: header 19 + withdrawn length 2 + attributes length 2 = 23):
	// optional instead of well-known.
	msg[23] = 0x80
	m := DecodeBGP(msg)
	if m.Error == "" || m.Update == nil || len(m.Update.NLRI) != 1 {
		t.Fatalf("want an error and the NLRI: %+v %+v", m, m.Update)
	}
}

func TestAddPathNegotiated(t *testing.T) {
	// Router sends ADD-PATH send for ipv4-unicast, speaker receives: the
	// router's UPDATEs carry path identifiers.
	capsFor := func(mode bgp.BGPAddPathMode) []byte {
		caps := []bgp.ParameterCapabilityInterface{
			bgp.NewCapMultiProtocol(bgp.RF_IPv4_UC),
			bgp.NewCapAddPath([]*bgp.CapAddPathTuple{bgp.NewCapAddPathTuple(bgp.RF_IPv4_UC, mode)}),
		}
		return serialize(t, bgp.NewBGPOpenMessage(64512, 90, "10.0.0.1", []bgp.OptionParameterInterface{bgp.NewOptionParameterCapability(caps)}))
	}
	p := bgp.NewIPAddrPrefix(32, "203.0.113.10")
	p.SetPathLocalIdentifier(7)
	upd := bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeAsPath(nil), bgp.NewPathAttributeNextHop("192.168.126.3")}, []*bgp.IPAddrPrefix{p})
	ub, err := upd.Serialize(&bgp.MarshallingOption{AddPath: map[bgp.RouteFamily]bgp.BGPAddPathMode{bgp.RF_IPv4_UC: bgp.BGP_ADD_PATH_SEND}})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(DecoderOptions{})
	rs := isn
	evs := feed(d,
		tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, seq: rs, flags: tcpSYN}),
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 9, flags: tcpSYN | tcpACK}),
		dataFrame(rs+1, capsFor(bgp.BGP_ADD_PATH_SEND)),
		tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, seq: 10, flags: tcpACK, payload: capsFor(bgp.BGP_ADD_PATH_RECEIVE)}),
		dataFrame(rs+1+uint32(len(capsFor(0))), ub))
	last := evs[len(evs)-1]
	if last.Kind != KindBGP || last.BGP.Update == nil || last.BGP.Error != "" || len(last.BGP.Update.NLRI) != 1 {
		t.Fatalf("ADD-PATH UPDATE: %s", last.Text())
	}
}

func TestBFDDecode(t *testing.T) {
	pkt := func(b0, b1, mult, length byte, my, your, tx, rx, echo uint32) []byte {
		b := []byte{b0, b1, mult, length}
		for _, v := range []uint32{my, your, tx, rx, echo} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"frr down", pkt(0x20, 1<<6, 3, 24, 0x74baa267, 0, 1000000, 1000000, 50000),
			"BFD v1 Down diag No Diagnostic (0) mult 3 my 0x74baa267 your 0x00000000 tx 1000ms rx 1000ms echo 50ms"},
		{"up poll", pkt(0x20, 3<<6|0x20, 3, 24, 1, 2, 300000, 300000, 0),
			"BFD v1 Up diag No Diagnostic (0) flags P mult 3 my 0x00000001 your 0x00000002 tx 300ms rx 300ms echo 0ms"},
		{"down expired", pkt(0x21, 1<<6|0x10|0x08, 5, 24, 1, 2, 1500, 300000, 0),
			"BFD v1 Down diag Control Detection Time Expired (1) flags FC mult 5 my 0x00000001 your 0x00000002 tx 1.5ms rx 300ms echo 0ms"},
		{"init no your", pkt(0x20, 2<<6, 3, 24, 1, 0, 300000, 300000, 0),
			"BFD v1 Init diag No Diagnostic (0) mult 3 my 0x00000001 your 0x00000000 tx 300ms rx 300ms echo 0ms (Your Discriminator is 0 in state Init)"},
		{"version 0", pkt(0x00, 1<<6, 3, 24, 1, 0, 1, 1, 0),
			"BFD v0 Down diag No Diagnostic (0) mult 3 my 0x00000001 your 0x00000000 tx 0.001ms rx 0.001ms echo 0ms (BFD version 0, want 1)"},
		{"mult 0", pkt(0x20, 1<<6, 0, 24, 1, 0, 1000, 1000, 0),
			"BFD v1 Down diag No Diagnostic (0) mult 0 my 0x00000001 your 0x00000000 tx 1ms rx 1ms echo 0ms (detect multiplier is 0)"},
		{"auth md5", append(pkt(0x20, 1<<6|0x04, 3, 48, 1, 0, 1000, 1000, 0), make([]byte, 24)...),
			"BFD v1 Down diag No Diagnostic (0) flags A mult 3 my 0x00000001 your 0x00000000 tx 1ms rx 1ms echo 0ms auth Reserved"},
		{"short", []byte{0x20, 0x40, 3}, "BFD v1 Down diag No Diagnostic (0) mult 3 my 0x00000000 your 0x00000000 tx 0ms rx 0ms echo 0ms (BFD packet truncated: 3 of 24 bytes)"},
		{"length lies", pkt(0x20, 1<<6, 3, 48, 1, 0, 1000, 1000, 0),
			"BFD v1 Down diag No Diagnostic (0) mult 3 my 0x00000001 your 0x00000000 tx 1ms rx 1ms echo 0ms (length field 48 exceeds the 24-byte datagram)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DecodeBFD(c.b)
			if got := p.summary(); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	p := DecodeBFD(pkt(0x20, 3<<6, 3, 24, 1, 2, 300000, 200000, 50000))
	if p.DesiredMinTx().Milliseconds() != 300 || p.RequiredMinRx().Milliseconds() != 200 || p.RequiredMinEchoRx().Milliseconds() != 50 {
		t.Errorf("intervals: %v %v %v", p.DesiredMinTx(), p.RequiredMinRx(), p.RequiredMinEchoRx())
	}
}

func TestBFDAndARPEvents(t *testing.T) {
	ctl := []byte{0x20, 0x40, 3, 24, 0x74, 0xba, 0xa2, 0x67, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0x0f, 0x42, 0x40, 0, 0, 0xc3, 0x50}
	src := netip.MustParseAddrPort("192.168.126.3:49152")
	dst := netip.MustParseAddrPort("192.168.126.2:3784")
	mac1, _ := net.ParseMAC("02:00:00:00:00:01")
	d := NewDecoder(DecoderOptions{ARP: true})
	evs := feed(d,
		udpFrame(src, dst, 255, ctl),
		udpFrame(netip.MustParseAddrPort("[2001:db8::3]:49152"), netip.MustParseAddrPort("[2001:db8::2]:4784"), 254, ctl),
		arpFrame(1, mac1, netip.MustParseAddr("192.168.126.3"), make(net.HardwareAddr, 6), netip.MustParseAddr("192.168.126.99")),
		arpFrame(2, mac1, netip.MustParseAddr("192.168.126.3"), mac1, netip.MustParseAddr("192.168.126.2")),
		udpFrame(src, netip.MustParseAddrPort("192.168.126.2:53"), 64, []byte("dns")),
	)
	var lines []string
	for _, e := range evs {
		lines = append(lines, e.Text())
	}
	want := []string{
		"12:03:04.123456 192.168.126.3:49152 → 192.168.126.2:3784 BFD v1 Down diag No Diagnostic (0) mult 3 my 0x74baa267 your 0x00000000 tx 1000ms rx 1000ms echo 50ms ttl 255",
		"12:03:04.124456 [2001:db8::3]:49152 → [2001:db8::2]:4784 BFD multihop v1 Down diag No Diagnostic (0) mult 3 my 0x74baa267 your 0x00000000 tx 1000ms rx 1000ms echo 50ms ttl 254",
		"12:03:04.125456 ARP who-has 192.168.126.99 tell 192.168.126.3 (02:00:00:00:00:01)",
		"12:03:04.126456 ARP 192.168.126.3 is-at 02:00:00:00:00:01 (to 192.168.126.2)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if d.Undecoded != 1 {
		t.Errorf("undecoded = %d, want 1 (the DNS packet)", d.Undecoded)
	}
	if evs := feed(NewDecoder(DecoderOptions{}), arpFrame(1, mac1, netip.MustParseAddr("192.168.126.3"), mac1, netip.MustParseAddr("192.168.126.2"))); len(evs) != 0 {
		t.Errorf("ARP decoded without being asked for")
	}
}

func TestEventJSON(t *testing.T) {
	d := NewDecoder(DecoderOptions{})
	evs := feed(d, synFrame(), dataFrame(isn+1, notificationMsg(t, 2, 2, []byte{0xfc, 0x01})))
	b, err := json.Marshal(evs[1])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-03-01T12:03:04.124456Z","interface":"br0","frame":2,"kind":"bgp","src":"192.168.126.3:179","dst":"192.168.126.2:41234","ttl":1,"bgp":{"type":"NOTIFICATION","typeCode":3,"length":23,"notification":{"code":2,"subcode":2,"codeName":"OPEN Message Error","subcodeName":"Bad Peer AS","data":"fc01","detail":"peer AS 64513","peerAS":64513}}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.BGP.Notification.PeerAS != 64513 || back.Src != routerAP {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

func TestFilterProgram(t *testing.T) {
	prog, err := FilterSpec{Ports: []uint16{1790}, ARP: true}.Program()
	if err != nil {
		t.Fatal(err)
	}
	var ins []bpf.Instruction
	for _, r := range prog {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	v6a := netip.MustParseAddrPort("[2001:db8::2]:41234")
	v6b := netip.MustParseAddrPort("[2001:db8::3]:179")
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	other := netip.MustParseAddrPort("192.168.126.3:22")
	cases := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"bgp v4 to 179", tcpFrame(tcpSeg{src: speakerAP, dst: routerAP, flags: tcpSYN}), true},
		{"bgp v4 from 179", tcpFrame(tcpSeg{src: routerAP, dst: speakerAP, flags: tcpSYN}), true},
		{"bgp v4 peer port", tcpFrame(tcpSeg{src: speakerAP, dst: netip.MustParseAddrPort("192.168.126.3:1790"), flags: tcpSYN}), true},
		{"bgp v6", tcpFrame(tcpSeg{src: v6a, dst: v6b, flags: tcpSYN}), true},
		{"ssh", tcpFrame(tcpSeg{src: speakerAP, dst: other, flags: tcpSYN}), false},
		{"bfd v4", udpFrame(netip.MustParseAddrPort("192.168.126.3:49152"), netip.MustParseAddrPort("192.168.126.2:3784"), 255, make([]byte, 24)), true},
		{"bfd echo", udpFrame(netip.MustParseAddrPort("192.168.126.3:3785"), netip.MustParseAddrPort("192.168.126.2:3785"), 255, make([]byte, 24)), true},
		{"bfd multihop v6", udpFrame(netip.MustParseAddrPort("[2001:db8::3]:49152"), netip.MustParseAddrPort("[2001:db8::2]:4784"), 255, make([]byte, 24)), true},
		{"dns", udpFrame(netip.MustParseAddrPort("192.168.126.3:5353"), netip.MustParseAddrPort("192.168.126.2:53"), 64, make([]byte, 24)), false},
		{"arp", arpFrame(1, mac, netip.MustParseAddr("192.168.126.3"), mac, netip.MustParseAddr("192.168.126.2")), true},
	}
	for _, c := range cases {
		n, err := vm.Run(c.frame)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (n > 0) != c.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", c.name, n, c.keep)
		}
	}
	noARP, _ := FilterSpec{}.Program()
	ins = ins[:0]
	for _, r := range noARP {
		ins = append(ins, r.Disassemble())
	}
	vm, _ = bpf.NewVM(ins)
	if n, _ := vm.Run(cases[len(cases)-1].frame); n != 0 {
		t.Errorf("ARP kept without ARP in the spec")
	}
}
