package kubeproxy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/testutil"
)

func TestSyncProgramsAndUpdatesIncrementally(t *testing.T) {
	testutil.RequireBinary(t, "nft", "nftables")
	ns := testutil.NewNetns(t)
	p := &Proxy{NodeNetns: ns.Path, Node: "sno4", PodSubnet: netip.MustParsePrefix("10.128.0.0/23")}
	t.Cleanup(func() { p.Close() })
	ep := func(ip string) Endpoint { return Endpoint{IP: netip.MustParseAddr(ip), Port: 8080, Local: true} }
	port := Port{ID: "onp-metallb/echoserver/tcp/8080", Proto: "TCP", ClusterIP: netip.MustParseAddr("172.30.1.2"), Port: 8080, NodePort: 31000,
		External: []netip.Addr{netip.MustParseAddr("10.0.0.10")}, Endpoints: []Endpoint{ep("10.128.0.2"), ep("10.128.0.3")}}
	if err := p.Sync([]Port{port}); err != nil {
		t.Fatal(err)
	}
	out := ns.Exec(t, "nft", "list", "table", "ip", DefaultTable)
	for _, want := range []string{
		"172.30.1.2 . tcp . 8080 : goto service-",
		"10.0.0.10 . tcp . 8080 : goto external-",
		"tcp . 31000 : goto external-",
		"dnat to 10.128.0.2:8080",
		"dnat to 10.128.0.3:8080",
		"numgen random mod 2",
		"masquerade fully-random",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, out)
		}
	}
	// Same input: nothing programmed.
	n := p.Updates()
	if err := p.Sync([]Port{port}); err != nil {
		t.Fatal(err)
	}
	if p.Updates() != n {
		t.Fatal("unchanged services reprogrammed the table")
	}
	// No endpoints: reject entries instead.
	port.Endpoints = nil
	if err := p.Sync([]Port{port}); err != nil {
		t.Fatal(err)
	}
	out = ns.Exec(t, "nft", "list", "table", "ip", DefaultTable)
	if strings.Contains(out, "dnat to") || !strings.Contains(out, "10.0.0.10 . tcp . 8080 : goto reject-chain") {
		t.Fatalf("no endpoints:\n%s", out)
	}
	// Gone: nothing left but the base.
	if err := p.Sync(nil); err != nil {
		t.Fatal(err)
	}
	out = ns.Exec(t, "nft", "list", "table", "ip", DefaultTable)
	if strings.Contains(out, "10.0.0.10") || strings.Contains(out, "onp-metallb/echoserver") {
		t.Fatalf("leftovers:\n%s", out)
	}
	// A restarted proxy recreates the table.
	p.Close()
	p2 := &Proxy{NodeNetns: ns.Path, Node: "sno4", PodSubnet: netip.MustParsePrefix("10.128.0.0/23")}
	t.Cleanup(func() { p2.Close() })
	if err := p2.Sync([]Port{port}); err != nil {
		t.Fatal(err)
	}
}
