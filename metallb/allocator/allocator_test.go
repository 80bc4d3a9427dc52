package allocator

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/config"
)

func mustConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("test input does not decode: %v", err)
	}
	objs := make([]api.Object, len(docs))
	for i, d := range docs {
		objs[i] = d.Object
	}
	cfg, err := config.For(config.ResourcesFrom("", objs))
	if err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	return cfg
}

func pool(name, spec string) string {
	return fmt.Sprintf("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: %s, namespace: metallb-system}\nspec: %s\n---\n", name, spec)
}

// svcOpt changes a test service.
type svcOpt func(*api.Service)

func ann(k, v string) svcOpt {
	return func(s *api.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}
func ports(ps ...int32) svcOpt {
	return func(s *api.Service) {
		s.Spec.Ports = nil
		for _, p := range ps {
			s.Spec.Ports = append(s.Spec.Ports, api.ServicePort{Port: p})
		}
	}
}
func families(policy string, fams ...string) svcOpt {
	return func(s *api.Service) { s.Spec.IPFamilyPolicy, s.Spec.IPFamilies = &policy, fams }
}
func status(ips ...string) svcOpt {
	return func(s *api.Service) {
		s.Status.LoadBalancer.Ingress = nil
		for _, ip := range ips {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, api.LoadBalancerIngress{IP: ip})
		}
	}
}
func labels(kv ...string) svcOpt {
	return func(s *api.Service) {
		s.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}
func local(selector string) svcOpt {
	return func(s *api.Service) {
		s.Spec.ExternalTrafficPolicy = api.ServiceExternalTrafficLocal
		s.Spec.Selector = map[string]string{"app": selector}
	}
}

func service(ns, name string, opts ...svcOpt) *api.Service {
	s := &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns},
		Spec:       api.ServiceSpec{Type: api.ServiceTypeLoadBalancer, Ports: []api.ServicePort{{Port: 8080, Protocol: "TCP"}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ipsString(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func TestSeedLabEchoserverGetsFirstAddress(t *testing.T) {
	var objs []api.Object
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile("../api/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := api.Decode(f, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			objs = append(objs, d.Object)
		}
	}
	cfg, err := config.For(config.ResourcesFrom("", objs))
	if err != nil {
		t.Fatal(err)
	}
	var svc *api.Service
	for _, o := range objs {
		if s, ok := o.(*api.Service); ok {
			svc = s
		}
	}
	a := New(cfg, Options{})
	res, err := a.Converge(svc)
	if err != nil {
		t.Fatal(err)
	}
	if ipsString(res.IPs) != "10.0.0.10" || res.Pool != "onp-bgp-pool" || !res.Changed || res.Key != "onp-metallb/echoserver" {
		t.Errorf("result %+v", res)
	}
	if len(res.Events) != 1 || res.Events[0].Reason != ReasonIPAllocated || res.Events[0].Message != `Assigned IP ["10.0.0.10"]` {
		t.Errorf("events %+v", res.Events)
	}
	if in := res.Ingress(); len(in) != 1 || in[0].IP != "10.0.0.10" {
		t.Errorf("ingress %+v", in)
	}
}

// step is one Converge call in a scenario, with the expected addresses or
// error message.
type step struct {
	svc     *api.Service
	want    string
	wantErr string
}

func TestConverge(t *testing.T) {
	seed := pool("p", "{addresses: [10.0.0.10-10.0.0.20]}")
	cases := []struct {
		name  string
		pools string
		steps []step
	}{
		{"first free address in order", seed, []step{
			{svc: service("n", "a"), want: "10.0.0.10"},
			{svc: service("n", "b"), want: "10.0.0.11"},
			{svc: service("n", "c"), want: "10.0.0.12"},
		}},
		{"prefixes walked in the order written", pool("p", "{addresses: [10.0.1.0/31, 10.0.0.0/31]}"), []step{
			{svc: service("n", "a"), want: "10.0.1.0"}, {svc: service("n", "b"), want: "10.0.1.1"}, {svc: service("n", "c"), want: "10.0.0.0"},
		}},
		{"exhausted pool", pool("p", "{addresses: [10.0.0.10/31]}"), []step{
			{svc: service("n", "a"), want: "10.0.0.10"},
			{svc: service("n", "b"), want: "10.0.0.11"},
			{svc: service("n", "c"), wantErr: `Failed to allocate IP for "n/c": no available IPs`},
		}},
		{"avoidBuggyIPs", pool("p", "{addresses: [10.0.0.254-10.0.1.1], avoidBuggyIPs: true}"), []step{
			{svc: service("n", "a"), want: "10.0.0.254"},
			{svc: service("n", "b"), want: "10.0.1.1"},
			{svc: service("n", "c"), wantErr: `Failed to allocate IP for "n/c": no available IPs`},
			{svc: service("n", "d", ann("metallb.io/loadBalancerIPs", "10.0.1.0")), wantErr: `Failed to allocate IP for "n/d": ["10.0.1.0"] is not allowed in config: no IPAddressPool holds it`},
		}},
		{"requested address", seed, []step{
			{svc: service("n", "a", ann("metallb.io/loadBalancerIPs", "10.0.0.15")), want: "10.0.0.15"},
			{svc: service("n", "b", ann("metallb.universe.tf/loadBalancerIPs", "10.0.0.16")), want: "10.0.0.16"},
			{svc: service("n", "c", func(s *api.Service) { s.Spec.LoadBalancerIP = "10.0.0.17" }), want: "10.0.0.17"},
			{svc: service("n", "d"), want: "10.0.0.10"},
			{svc: service("n", "e", ann("metallb.io/loadBalancerIPs", "10.9.9.9")), wantErr: `Failed to allocate IP for "n/e": ["10.9.9.9"] is not allowed in config: no IPAddressPool holds it`},
			{svc: service("n", "f", ann("metallb.io/loadBalancerIPs", "10.0.0.15")), wantErr: `Failed to allocate IP for "n/f": can't change sharing key for "n/f", address also in use by n/a: existing service does not allow sharing`},
			{svc: service("n", "g", ann("metallb.io/loadBalancerIPs", "10.0.0.18"), func(s *api.Service) { s.Spec.LoadBalancerIP = "10.0.0.18" }),
				wantErr: `Failed to allocate IP for "n/g": service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP`},
			{svc: service("n", "h", ann("metallb.io/loadBalancerIPs", "ten")), wantErr: `Failed to allocate IP for "n/h": invalid metallb.io/loadBalancerIPs: "ten"`},
			{svc: service("n", "i", func(s *api.Service) { s.Spec.LoadBalancerIP = "x" }), wantErr: `Failed to allocate IP for "n/i": invalid spec.loadBalancerIP "x"`},
		}},
		{"requested pool", seed + pool("manual", "{addresses: [10.1.0.0/30], autoAssign: false}"), []step{
			{svc: service("n", "a", ann("metallb.io/address-pool", "manual")), want: "10.1.0.0"},
			{svc: service("n", "b", ann("metallb.universe.tf/address-pool", "manual")), want: "10.1.0.1"},
			{svc: service("n", "c"), want: "10.0.0.10"},
			{svc: service("n", "d", ann("metallb.io/address-pool", "nope")), wantErr: `Failed to allocate IP for "n/d": unknown pool "nope"`},
			{svc: service("n", "e", ann("metallb.io/address-pool", "manual"), ann("metallb.io/loadBalancerIPs", "10.0.0.12")),
				wantErr: `Failed to allocate IP for "n/e": requested loadBalancer IP(s) ["10.0.0.12"] is not compatible with requested address pool manual`},
			{svc: service("n", "f", ann("metallb.io/address-pool", "manual"), ann("metallb.io/loadBalancerIPs", "10.1.0.3")), want: "10.1.0.3"},
		}},
		{"autoAssign false pools are not used unasked", pool("manual", "{addresses: [10.1.0.0/30], autoAssign: false}"), []step{
			{svc: service("n", "a"), wantErr: `Failed to allocate IP for "n/a": no available IPs`},
		}},
		{"serviceAllocation priority and namespaces", seed +
			pool("low", "{addresses: [10.2.0.0/30], serviceAllocation: {priority: 2, namespaces: [team]}}") +
			pool("high", "{addresses: [10.3.0.0/31], serviceAllocation: {priority: 1, namespaces: [team]}}") +
			pool("last", "{addresses: [10.4.0.0/31], serviceAllocation: {namespaces: [team]}}"), []step{
			{svc: service("team", "a"), want: "10.3.0.0"},
			{svc: service("team", "b"), want: "10.3.0.1"},
			{svc: service("team", "c"), want: "10.2.0.0"},
			{svc: service("other", "d"), want: "10.0.0.10"},
			{svc: service("other", "e", ann("metallb.io/loadBalancerIPs", "10.2.0.3")), wantErr: `Failed to allocate IP for "other/e": pool low not compatible for ip assignment`},
			{svc: service("team", "f", ann("metallb.io/loadBalancerIPs", "10.2.0.3")), want: "10.2.0.3"},
		}},
		{"pinned pool falls back to general pools when full", seed + pool("team", "{addresses: [10.2.0.0/32], serviceAllocation: {namespaces: [team]}}"), []step{
			{svc: service("team", "a"), want: "10.2.0.0"},
			{svc: service("team", "b"), want: "10.0.0.10"},
		}},
		{"serviceAllocation service selectors", seed + pool("web", "{addresses: [10.5.0.0/30], serviceAllocation: {serviceSelectors: [{matchLabels: {tier: web}}]}}"), []step{
			{svc: service("n", "a", labels("tier", "web")), want: "10.5.0.0"},
			{svc: service("n", "b", labels("tier", "db")), want: "10.0.0.10"},
		}},
		{"serviceAllocation without constraints takes every service first", seed + pool("all", "{addresses: [10.6.0.0/32], serviceAllocation: {priority: 3}}"), []step{
			{svc: service("n", "a"), want: "10.6.0.0"},
			{svc: service("m", "b"), want: "10.0.0.10"},
		}},
		{"sharing with the same key and distinct ports", seed, []step{
			{svc: service("n", "http", ann("metallb.io/allow-shared-ip", "k"), ports(80)), want: "10.0.0.10"},
			{svc: service("n", "https", ann("metallb.io/allow-shared-ip", "k"), ports(443)), want: "10.0.0.10"},
			{svc: service("n", "again", ann("metallb.io/allow-shared-ip", "k"), ports(80)), want: "10.0.0.11"},
			{svc: service("n", "other-key", ann("metallb.universe.tf/allow-shared-ip", "j"), ports(8443)), want: "10.0.0.12"},
			{svc: service("n", "asked", ann("metallb.io/allow-shared-ip", "k"), ann("metallb.io/loadBalancerIPs", "10.0.0.10"), ports(443)),
				wantErr: `Failed to allocate IP for "n/asked": port TCP/443 is already in use on "10.0.0.10"`},
			{svc: service("n", "asked-other-key", ann("metallb.io/allow-shared-ip", "x"), ann("metallb.io/loadBalancerIPs", "10.0.0.10"), ports(9)),
				wantErr: `Failed to allocate IP for "n/asked-other-key": can't change sharing key for "n/asked-other-key", address also in use by n/http,n/https: sharing key "x" does not match existing sharing key "k"`},
		}},
		{"sharing needs the same backend with ETP Local", seed, []step{
			{svc: service("n", "a", ann("metallb.io/allow-shared-ip", "k"), ports(80), local("x")), want: "10.0.0.10"},
			{svc: service("n", "b", ann("metallb.io/allow-shared-ip", "k"), ports(81), local("y")), want: "10.0.0.11"},
			{svc: service("n", "c", ann("metallb.io/allow-shared-ip", "k"), ports(82), local("x")), want: "10.0.0.10"},
			{svc: service("n", "d", ann("metallb.io/allow-shared-ip", "k"), ports(83), local("y"), ann("metallb.io/loadBalancerIPs", "10.0.0.10")),
				wantErr: `Failed to allocate IP for "n/d": can't change sharing key for "n/d", address also in use by n/a,n/c: backend key "app=y" does not match existing sharing key "app=x"`},
		}},
		{"UDP and TCP on one port share", seed, []step{
			{svc: service("n", "tcp", ann("metallb.io/allow-shared-ip", "dns"), func(s *api.Service) { s.Spec.Ports = []api.ServicePort{{Port: 53, Protocol: "TCP"}} }), want: "10.0.0.10"},
			{svc: service("n", "udp", ann("metallb.io/allow-shared-ip", "dns"), func(s *api.Service) { s.Spec.Ports = []api.ServicePort{{Port: 53, Protocol: "UDP"}} }), want: "10.0.0.10"},
		}},
		{"IP families", pool("v4", "{addresses: [10.0.0.0/31]}") + pool("v6", `{addresses: ["fc00::/127"]}`) + pool("z-dual", `{addresses: [10.9.0.0/32, "fd00::/128"]}`), []step{
			{svc: service("n", "v4"), want: "10.0.0.0"},
			{svc: service("n", "v6", families("SingleStack", "IPv6")), want: "fc00::"},
			{svc: service("n", "v6-by-cluster-ip", func(s *api.Service) { s.Spec.ClusterIP = "fd12::1" }), want: "fc00::1"},
			{svc: service("n", "require", families("RequireDualStack", "IPv4", "IPv6")), want: "10.9.0.0,fd00::"},
			{svc: service("n", "require-more", families("RequireDualStack", "IPv6", "IPv4")), wantErr: `Failed to allocate IP for "n/require-more": no available IPs`},
			{svc: service("n", "prefer", families("PreferDualStack", "IPv4", "IPv6")), want: "10.0.0.1"},
			{svc: service("n", "v6-wants-v4", families("SingleStack", "IPv6"), ann("metallb.io/loadBalancerIPs", "10.0.0.1")),
				wantErr: `Failed to allocate IP for "n/v6-wants-v4": requested loadBalancer IP(s) ["10.0.0.1"] does not match the ipFamily of the service`},
			{svc: service("n", "two-v4", ann("metallb.io/loadBalancerIPs", "10.0.0.0,10.0.0.1")),
				wantErr: `Failed to allocate IP for "n/two-v4": invalid metallb.io/loadBalancerIPs: ["10.0.0.0" "10.0.0.1"] are of the same address family (give at most one IPv4 and one IPv6 address)`},
			{svc: service("n", "single-with-require", families("RequireDualStack", "IPv4")),
				wantErr: `Service requires dual stack but not enough clusterips []`},
		}},
		{"dual-stack request by annotation", pool("dual", `{addresses: [10.9.0.0/30, "fd00::/126"]}`), []step{
			{svc: service("n", "a", families("RequireDualStack", "IPv4", "IPv6"), ann("metallb.io/loadBalancerIPs", "fd00::2, 10.9.0.2")), want: "fd00::2,10.9.0.2"},
		}},
		{"PreferDualStack adds the missing family to an existing address", pool("dual", `{addresses: [10.9.0.0/30, "fd00::/126"]}`), []step{
			{svc: service("n", "a", families("PreferDualStack", "IPv4", "IPv6"), status("10.9.0.3")), want: "10.9.0.3,fd00::"},
		}},
		{"not a load balancer", seed, []step{
			{svc: service("n", "a", func(s *api.Service) { s.Spec.Type = "ClusterIP" }), want: ""},
			{svc: service("n", "b"), want: "10.0.0.10"},
		}},
		{"other loadBalancerClass", seed, []step{
			{svc: service("n", "a", func(s *api.Service) { c := "other"; s.Spec.LoadBalancerClass = &c }), want: ""},
		}},
		{"no pools", "", []step{
			{svc: service("n", "a"), wantErr: `Failed to allocate IP for "n/a": no IPAddressPool is configured`},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cfg *config.Config
			if tc.pools != "" {
				cfg = mustConfig(t, tc.pools)
			}
			a := New(cfg, Options{})
			for _, st := range tc.steps {
				res, err := a.Converge(st.svc)
				switch {
				case st.wantErr != "":
					if err == nil || err.Error() != st.wantErr {
						t.Fatalf("%s: got %v (%s), want error %q", ServiceKey(st.svc), err, ipsString(res.IPs), st.wantErr)
					}
					var e *Error
					if !errors.As(err, &e) || e.Key != ServiceKey(st.svc) || e.Reason == "" {
						t.Errorf("%s: error %#v", ServiceKey(st.svc), err)
					}
					if a.IPs(ServiceKey(st.svc)) != nil {
						t.Errorf("%s: failed service still holds %v", ServiceKey(st.svc), a.IPs(ServiceKey(st.svc)))
					}
				case err != nil:
					t.Fatalf("%s: %v", ServiceKey(st.svc), err)
				case ipsString(res.IPs) != st.want:
					t.Fatalf("%s: got %s from %q, want %s", ServiceKey(st.svc), ipsString(res.IPs), res.Pool, st.want)
				}
			}
		})
	}
}

func TestReleaseOnDelete(t *testing.T) {
	a := New(mustConfig(t, pool("p", "{addresses: [10.0.0.10/31]}")), Options{})
	for _, n := range []string{"a", "b"} {
		if _, err := a.Converge(service("n", n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Converge(service("n", "c")); err == nil {
		t.Fatal("pool should be exhausted")
	}
	a.Release("n/a")
	res, err := a.Converge(service("n", "c"))
	if err != nil || ipsString(res.IPs) != "10.0.0.10" {
		t.Fatalf("after release: %v %v", res.IPs, err)
	}
	// A service that stops being a LoadBalancer gives its address back.
	res, err = a.Converge(service("n", "b", func(s *api.Service) { s.Spec.Type = "NodePort" }, status("10.0.0.11")))
	if err != nil || res.Ignored != IgnoredNotLoadBalancer || !res.Changed || a.IPs("n/b") != nil {
		t.Fatalf("NodePort: %+v %v", res, err)
	}
}

func TestConvergeKeepsAndMovesAssignments(t *testing.T) {
	cfg := mustConfig(t, pool("p", "{addresses: [10.0.0.10-10.0.0.20]}")+pool("q", "{addresses: [10.1.0.0/30], autoAssign: false}"))
	a := New(cfg, Options{})
	// The status address is kept even though it is not the first free one.
	res, err := a.Converge(service("n", "a", status("10.0.0.15")))
	if err != nil || ipsString(res.IPs) != "10.0.0.15" || res.Changed || len(res.Events) != 0 {
		t.Fatalf("keep: %+v %v", res, err)
	}
	// A different requested address moves the service.
	res, err = a.Converge(service("n", "a", status("10.0.0.15"), ann("metallb.io/loadBalancerIPs", "10.0.0.16")))
	if err != nil || ipsString(res.IPs) != "10.0.0.16" || !res.Changed || res.Events[0].Reason != ReasonClearAssignment {
		t.Fatalf("requested IP: %+v %v", res, err)
	}
	// A different requested pool moves it too.
	res, err = a.Converge(service("n", "a", status("10.0.0.16"), ann("metallb.io/address-pool", "q")))
	if err != nil || ipsString(res.IPs) != "10.1.0.0" || res.Pool != "q" {
		t.Fatalf("requested pool: %+v %v", res, err)
	}
	// A status address outside every pool is replaced.
	res, err = a.Converge(service("n", "b", status("192.0.2.1")))
	if err != nil || ipsString(res.IPs) != "10.0.0.10" || res.Events[0].Message != `current IP for "n/b" not allowed by config, will attempt for new IP assignment: ["192.0.2.1"] is not allowed in config: no IPAddressPool holds it` {
		t.Fatalf("stale status: %+v %v", res, err)
	}
}

func TestSetConfig(t *testing.T) {
	a := New(mustConfig(t, pool("p", "{addresses: [10.0.0.10-10.0.0.20]}")), Options{})
	for _, n := range []string{"a", "b", "c"} {
		if _, err := a.Converge(service("n", n)); err != nil {
			t.Fatal(err)
		}
	}
	released := a.SetConfig(mustConfig(t, pool("renamed", "{addresses: [10.0.0.11-10.0.0.20]}")))
	if fmt.Sprint(released) != "[n/a]" || a.Pool("n/b") != "renamed" || a.IPs("n/a") != nil {
		t.Fatalf("released %v, pool of b %q", released, a.Pool("n/b"))
	}
	c := a.Counters("renamed")
	if c.AssignedIPv4 != 2 || c.AvailableIPv4 != 8 || c.AssignedIPv6 != 0 || c.AvailableIPv6 != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestCounters(t *testing.T) {
	a := New(mustConfig(t, pool("p", `{addresses: [10.0.0.0/23, "fc00::/64", 10.1.0.0-10.1.0.2], avoidBuggyIPs: true}`)), Options{})
	if _, err := a.Converge(service("n", "a")); err != nil {
		t.Fatal(err)
	}
	c := a.Counters("p")
	// /23 = 512 - 4 buggy; 10.1.0.0/31 minus .0 and 10.1.0.2/32 → 2.
	if c.AssignedIPv4 != 1 || c.AvailableIPv4 != 508+2-1 || c.AvailableIPv6 != math.MaxInt64 {
		t.Errorf("counters %+v", c)
	}
	if got := a.Counters("nope"); got != (PoolCounters{}) {
		t.Errorf("unknown pool counters %+v", got)
	}
}

// TestPropertyNoDuplicates runs random creations and deletions and checks
// after every step that no address is held twice unless sharing allows it,
// that every address comes from its pool, and that restoring the statuses
// into a fresh allocator reproduces every assignment.
func TestPropertyNoDuplicates(t *testing.T) {
	cfg := mustConfig(t, pool("a", "{addresses: [10.0.0.0/29], avoidBuggyIPs: true}")+
		pool("b", `{addresses: [10.0.1.10-10.0.1.14, "fc00::/125"]}`)+
		pool("pinned", "{addresses: [10.0.2.0/30], serviceAllocation: {priority: 1, namespaces: [ns1]}}")+
		pool("manual", "{addresses: [10.0.3.0/30], autoAssign: false}"))
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		a := New(cfg, Options{})
		live := map[string]*api.Service{}
		for i := 0; i < 300; i++ {
			if len(live) > 0 && rng.IntN(3) == 0 {
				keys := sortedKeys(live)
				k := keys[rng.IntN(len(keys))]
				a.Release(k)
				delete(live, k)
				continue
			}
			s := randomService(rng, i)
			res, err := a.Converge(s)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Msg, "no available IPs") && !strings.Contains(e.Msg, "is not allowed") &&
					!strings.Contains(e.Msg, "already in use") && !strings.Contains(e.Msg, "can't change sharing key") && !strings.Contains(e.Msg, "not compatible") {
					t.Fatalf("seed %d: unexpected error %v", seed, err)
				}
				continue
			}
			status(ipStrings(res.IPs)...)(s)
			live[ServiceKey(s)] = s
			checkInvariants(t, cfg, a, live)
		}
		// Restore into a fresh allocator, in reverse order, with new services
		// mixed in: the restored ones keep their addresses.
		fresh := New(cfg, Options{})
		var all []*api.Service
		for _, k := range sortedKeys(live) {
			all = append(all, live[k])
		}
		slices.Reverse(all)
		all = append([]*api.Service{service("ns0", "zz-new")}, all...)
		for _, o := range fresh.ConvergeAll(all) {
			s, ok := live[o.Key]
			if !ok {
				continue
			}
			had := statusIPs(s)
			kept := o.Err == nil && len(o.IPs) >= len(had) && ipsString(o.IPs[:len(had)]) == ipsString(had)
			// A PreferDualStack service that got one family may get the other
			// one now that an address of it is free; nothing else changes.
			grew := len(o.IPs) > len(had) && FamilyPolicy(s) == api.IPFamilyPolicyPreferDualStack
			if !kept || (o.Changed && !grew) {
				t.Fatalf("seed %d: %s restored as %s (%v, changed %v), had %s", seed, o.Key, ipsString(o.IPs), o.Err, o.Changed, ipsString(had))
			}
		}
	}
}

func ipStrings(ips []netip.Addr) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

func randomService(rng *rand.Rand, i int) *api.Service {
	ns := fmt.Sprintf("ns%d", rng.IntN(3))
	var opts []svcOpt
	switch rng.IntN(4) {
	case 0:
		opts = append(opts, ann("metallb.io/allow-shared-ip", "k1"))
	case 1:
		opts = append(opts, ann("metallb.io/allow-shared-ip", "k2"))
	}
	opts = append(opts, ports(int32(80+rng.IntN(3))))
	switch rng.IntN(10) {
	case 0:
		opts = append(opts, families("SingleStack", "IPv6"))
	case 1:
		opts = append(opts, families("PreferDualStack", "IPv4", "IPv6"))
	case 2:
		opts = append(opts, ann("metallb.io/address-pool", "manual"))
	case 3:
		opts = append(opts, ann("metallb.io/loadBalancerIPs", fmt.Sprintf("10.0.1.%d", 10+rng.IntN(5))))
	case 4:
		opts = append(opts, local(fmt.Sprintf("app%d", rng.IntN(2))))
	}
	return service(ns, fmt.Sprintf("s%d", i), opts...)
}

func checkInvariants(t *testing.T, cfg *config.Config, a *Allocator, live map[string]*api.Service) {
	t.Helper()
	byIP := map[netip.Addr][]*api.Service{}
	for k, s := range live {
		ips := a.IPs(k)
		if ipsString(ips) != ipsString(statusIPs(s)) {
			t.Fatalf("%s: allocator has %v, status %v", k, ips, statusIPs(s))
		}
		p := cfg.Pool(a.Pool(k))
		for _, ip := range ips {
			if p == nil || !p.Usable(ip) {
				t.Fatalf("%s: %v not usable in pool %q", k, ip, a.Pool(k))
			}
			byIP[ip] = append(byIP[ip], s)
		}
	}
	for ip, users := range byIP {
		for i, x := range users {
			for _, y := range users[i+1:] {
				if SharingKey(x) == "" || SharingKey(x) != SharingKey(y) || BackendKey(x) != BackendKey(y) {
					t.Fatalf("%v held by %s and %s without a common sharing key", ip, ServiceKey(x), ServiceKey(y))
				}
				for _, p := range Ports(x) {
					if slices.Contains(Ports(y), p) {
						t.Fatalf("%v: %s and %s both use %s", ip, ServiceKey(x), ServiceKey(y), p)
					}
				}
			}
		}
	}
}

// TestConvergeAllDeterministic checks that the same services give the same
// addresses whatever the input order, by creation time.
func TestConvergeAllDeterministic(t *testing.T) {
	cfg := mustConfig(t, pool("p", "{addresses: [10.0.0.10-10.0.0.20]}"))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var svcs []*api.Service
	for i := 0; i < 8; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		svcs = append(svcs, service("n", fmt.Sprintf("s%d", 7-i), func(s *api.Service) { s.CreationTimestamp = &at }))
	}
	var first string
	for round := 0; round < 5; round++ {
		order := slices.Clone(svcs)
		rand.New(rand.NewPCG(uint64(round), 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var got []string
		for _, o := range New(cfg, Options{}).ConvergeAll(order) {
			got = append(got, o.Key+"="+ipsString(o.IPs))
		}
		s := strings.Join(got, " ")
		if round == 0 {
			first = s
			// s7 was created first and gets the first address.
			if !strings.Contains(s, "n/s7=10.0.0.10") || !strings.Contains(s, "n/s0=10.0.0.17") {
				t.Fatalf("creation order not followed: %s", s)
			}
		} else if s != first {
			t.Fatalf("round %d: %s\nfirst: %s", round, s, first)
		}
	}
	// Services missing from the set are released.
	a := New(cfg, Options{})
	a.ConvergeAll(svcs)
	a.ConvergeAll(svcs[:2])
	if len(a.Assignments()) != 2 {
		t.Errorf("assignments after removal: %v", a.Assignments())
	}
}

func TestServiceHelpers(t *testing.T) {
	s := service("n", "a", ann("metallb.universe.tf/allow-shared-ip", "old"), local("x"), func(s *api.Service) {
		s.Spec.Ports = []api.ServicePort{{Port: 53, Protocol: "UDP"}, {Port: 80}}
	})
	if SharingKey(s) != "old" || BackendKey(s) != "app=x" || fmt.Sprint(Ports(s)) != "[UDP/53 TCP/80]" {
		t.Errorf("helpers: %q %q %v", SharingKey(s), BackendKey(s), Ports(s))
	}
	for _, tc := range []struct {
		opt  svcOpt
		want Family
	}{
		{func(*api.Service) {}, IPv4},
		{families("SingleStack", "IPv6"), IPv6},
		{families("PreferDualStack"), DualStack},
		{families("SingleStack", "IPv6", "IPv4"), IPv6},
		{func(s *api.Service) { s.Spec.ClusterIPs = []string{"10.96.0.1", "fd00::1"} }, DualStack},
		{func(s *api.Service) { s.Spec.ClusterIP = "None" }, IPv4},
	} {
		if f, err := ServiceFamily(service("n", "x", tc.opt)); err != nil || f != tc.want {
			t.Errorf("family %v %v, want %v", f, err, tc.want)
		}
	}
}
