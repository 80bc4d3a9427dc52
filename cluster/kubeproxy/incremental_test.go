package kubeproxy

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/testutil"
)

// syncServices programs the ports of some services only (nil: the service
// is gone), as Reconcile does for the services that changed.
func (p *Proxy) syncServices(want map[string][]Port) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.syncLocked(want, false)
}

var elementsRE = regexp.MustCompile(`(?s)elements = \{(.*?)\}`)

// normalized is a table's listing as a sorted set of lines, elements one
// per line, so that two tables with the same content compare equal
// whatever order their chains and elements were created in.
func normalized(listing string) []string {
	listing = elementsRE.ReplaceAllStringFunc(listing, func(m string) string {
		inner := elementsRE.FindStringSubmatch(m)[1]
		var out []string
		for _, e := range strings.Split(inner, ",") {
			out = append(out, "element "+strings.Join(strings.Fields(e), " "))
		}
		return strings.Join(out, "\n")
	})
	var lines []string
	for _, l := range strings.Split(listing, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// Services programmed one change at a time end up as the same table as
// all of them programmed at once by a fresh proxy.
func TestSyncServicesIncrementally(t *testing.T) {
	testutil.RequireBinary(t, "nft", "nftables")
	ns := testutil.NewNetns(t)
	sub := netip.MustParsePrefix("10.128.0.0/23")
	p := &Proxy{NodeNetns: ns.Path, Node: "sno4", PodSubnet: sub}
	t.Cleanup(func() { p.Close() })
	ep := func(ip string, local bool) Endpoint {
		return Endpoint{IP: netip.MustParseAddr(ip), Port: 8080, Local: local}
	}
	port := func(svc string, n int, lb string, local bool, eps ...Endpoint) Port {
		pt := Port{ID: fmt.Sprintf("demo/%s/tcp/%d", svc, 80+n), Proto: "TCP", ClusterIP: netip.MustParseAddr(fmt.Sprintf("172.30.0.%d", 10+n)),
			Port: uint16(80 + n), NodePort: uint16(30000 + n), Local: local, Endpoints: eps}
		if lb != "" {
			pt.External = []netip.Addr{netip.MustParseAddr(lb)}
		}
		return pt
	}
	final := map[string][]Port{}
	steps := []map[string][]Port{
		{"demo/a": {port("a", 1, "10.0.0.10", false, ep("10.128.0.2", true))}},
		{"demo/b": {port("b", 2, "10.0.0.11", true, ep("10.128.0.3", true), ep("10.128.0.4", false))}},
		{"demo/c": {port("c", 3, "", false)}},
		// a gets a second endpoint, b loses its local one, c gets an LB IP.
		{
			"demo/a": {port("a", 1, "10.0.0.10", false, ep("10.128.0.2", true), ep("10.128.0.5", false))},
			"demo/b": {port("b", 2, "10.0.0.11", true, ep("10.128.0.4", false))},
		},
		{"demo/c": {port("c", 3, "10.0.0.12", false, ep("10.128.0.6", true))}},
		{"demo/b": nil},
		{"demo/d": {port("d", 4, "10.0.0.11", false, ep("10.128.0.7", true)), port("d", 5, "10.0.0.11", false, ep("10.128.0.7", true))}},
	}
	for i, st := range steps {
		if err := p.syncServices(st); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for k, v := range st {
			if v == nil {
				delete(final, k)
			} else {
				final[k] = v
			}
		}
	}
	got := normalized(ns.Exec(t, "nft", "list", "table", "ip", DefaultTable))
	t.Logf("%d lines; elements: %d", len(got), len(slices.DeleteFunc(slices.Clone(got), func(l string) bool { return !strings.HasPrefix(l, "element ") })))
	n := p.Updates()
	// Nothing to do for what is programmed already.
	if err := p.syncServices(map[string][]Port{"demo/a": final["demo/a"]}); err != nil || p.Updates() != n {
		t.Fatalf("unchanged service reprogrammed (err %v)", err)
	}
	var all []Port
	for _, ps := range final {
		all = append(all, ps...)
	}
	fresh := &Proxy{NodeNetns: ns.Path, Node: "sno4", PodSubnet: sub}
	t.Cleanup(func() { fresh.Close() })
	if err := fresh.Sync(all); err != nil {
		t.Fatal(err)
	}
	want := normalized(ns.Exec(t, "nft", "list", "table", "ip", DefaultTable))
	if !slices.Equal(got, want) {
		t.Fatalf("incremental table:\n%s\n\nfresh table:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A complete sync of the incremental proxy changes nothing either.
	n = p.Updates()
	if err := p.Sync(all); err != nil || p.Updates() != n {
		t.Fatalf("complete sync after the steps reprogrammed (err %v)", err)
	}
}
