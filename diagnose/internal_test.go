package diagnose

import (
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func TestInterpretRule(t *testing.T) {
	port := func(off uint32, verdict expr.Any) *nftables.Rule {
		return &nftables.Rule{Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(179)},
			&expr.Counter{Packets: 3, Bytes: 180},
			verdict,
		}}
	}
	r := interpretRule(port(2, &expr.Verdict{Kind: expr.VerdictDrop}))
	if r.Port179 != "dport" || r.Verdict != "drop" || !r.TCP || r.Packets != 3 || r.Rule != "meta l4proto tcp th dport 179 counter packets 3 bytes 180 drop" {
		t.Errorf("drop: %+v", r)
	}
	r = interpretRule(port(0, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}))
	if r.Port179 != "sport" || r.Verdict != "reject" || r.Reject != "tcp reset" {
		t.Errorf("reject: %+v", r)
	}
	r = interpretRule(&nftables.Rule{Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 10}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	if r.Port179 != "" || r.Verdict != "accept" || r.Rule != "ip daddr 10.0.0.10 accept" {
		t.Errorf("accept: %+v", r)
	}
	// Unknown expressions are named, never a crash.
	r = interpretRule(&nftables.Rule{Exprs: []expr.Any{&expr.Limit{}, &expr.Cmp{Register: 5}}})
	if !strings.Contains(r.Rule, "<") {
		t.Errorf("unknown: %+v", r)
	}
}

func TestMD5Counters(t *testing.T) {
	m := md5Counters([]byte("TcpExt: SyncookiesSent TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure\nTcpExt: 0 16 2 6\nIpExt: InNoRoutes\nIpExt: 0\n"))
	if m["TCPMD5NotFound"] != 16 || m["TCPMD5Unexpected"] != 2 || m["TCPMD5Failure"] != 6 || len(m) != 3 {
		t.Errorf("%v", m)
	}
	if md5Counters([]byte("garbage")) != nil {
		t.Error("garbage")
	}
}

func TestParseBIRDProtocols(t *testing.T) {
	lines := strings.Split(`2002-Name       Proto      Table      State  Since         Info
1002-device1    Device     ---        up     10:00:00.000
1002-vyos       BGP        ---        up     10:00:01.000  Established
1006-  BGP state:          Established
     Neighbor address: 192.168.126.3
     Neighbor AS:      64512
     Local AS:         65004
     Neighbor ID:      192.168.126.3
     Channel ipv4
       Routes:         0 imported, 1 exported, 0 preferred
0000 `, "\n")
	nbs := parseBIRDProtocols(lines)
	nb, ok := nbs["192.168.126.3"]
	if !ok || len(nbs) != 1 || nb.BGPState != "Established" || nb.RemoteAS != 64512 || nb.LocalAS != 65004 || nb.PfxSnt != 1 || nb.PfxRcd != 0 {
		t.Errorf("%+v", nbs)
	}
}

func TestOddOneOut(t *testing.T) {
	for _, tc := range []struct {
		vals map[string]uint32
		want string
	}{
		{map[string]uint32{"my": 64512, "peer": 64512, "local": 64512, "remote": 64513}, "remote"},
		{map[string]uint32{"my": 64513, "peer": 64512, "local": 64512, "remote": 64512}, "my"},
		{map[string]uint32{"my": 64512, "peer": 64513, "local": 64512, "remote": 64513}, ""},
	} {
		if got := oddOneOut(tc.vals); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.vals, got, tc.want)
		}
	}
}
