package frr

import (
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	cases := []struct {
		name            string
		running, target string
		want            []string
	}{
		{
			name:    "identical",
			running: "frr version 8.4.4\nhostname vm\nrouter bgp 1\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			target:  "router bgp 1\n  neighbor   192.0.2.1 remote-as 2\n!\n",
			want:    nil,
		},
		{
			name:    "change AS: remove the instance, then add the new one",
			running: "router bgp 1\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			target:  "router bgp 5\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			// With bgp default ipv4-unicast on, activation is spelled out
			// (harmless: the new neighbor is active anyway).
			want: []string{"configure terminal", "no router bgp 1",
				"router bgp 5", "neighbor 192.0.2.1 remote-as 2",
				"address-family ipv4 unicast", "neighbor 192.0.2.1 activate", "exit-address-family", "exit"},
		},
		{
			name:    "removing remote-as removes the neighbor",
			running: "router bgp 1\n neighbor 192.0.2.1 remote-as 2\n neighbor 192.0.2.1 passive\n address-family ipv4 unicast\n  neighbor 192.0.2.1 route-map RM in\n exit-address-family\nexit\n",
			target:  "router bgp 1\nexit\n",
			want:    []string{"configure terminal", "router bgp 1", "no neighbor 192.0.2.1", "exit"},
		},
		{
			name:    "remote-as change is applied in place",
			running: "router bgp 1\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			target:  "router bgp 1\n neighbor 192.0.2.1 remote-as 3\nexit\n",
			want:    []string{"configure terminal", "router bgp 1", "neighbor 192.0.2.1 remote-as 3", "exit"},
		},
		{
			name:    "joining a peer-group re-creates the neighbor with all its lines",
			running: "router bgp 1\n neighbor PG peer-group\n neighbor PG remote-as 2\n neighbor 192.0.2.1 remote-as 2\n neighbor 192.0.2.1 passive\nexit\n",
			target:  "router bgp 1\n neighbor PG peer-group\n neighbor PG remote-as 2\n neighbor 192.0.2.1 peer-group PG\n neighbor 192.0.2.1 passive\nexit\n",
			// The member inherits the group's (implicit) activation.
			want: []string{"configure terminal", "router bgp 1", "no neighbor 192.0.2.1",
				"neighbor 192.0.2.1 peer-group PG", "neighbor 192.0.2.1 passive", "exit"},
		},
		{
			name:    "address-family lines",
			running: "router bgp 1\n no bgp default ipv4-unicast\n neighbor 192.0.2.1 remote-as 2\n address-family ipv4 unicast\n  network 10.0.0.0/8\n  neighbor 192.0.2.1 activate\n  no neighbor 192.0.2.1 send-community extended\n exit-address-family\nexit\n",
			target:  "router bgp 1\n no bgp default ipv4-unicast\n neighbor 192.0.2.1 remote-as 2\n address-family ipv4 unicast\n  network 10.1.0.0/16\n  neighbor 192.0.2.1 activate\n exit-address-family\nexit\n",
			want: []string{"configure terminal", "router bgp 1", "address-family ipv4 unicast",
				"neighbor 192.0.2.1 send-community extended", "no network 10.0.0.0/8",
				"network 10.1.0.0/16", "exit-address-family", "exit"},
		},
		{
			name:    "implicit IPv4 activation (bgp default ipv4-unicast on) is not a change",
			running: "router bgp 1\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			target:  "router bgp 1\n neighbor 192.0.2.1 remote-as 2\n address-family ipv4 unicast\n  neighbor 192.0.2.1 activate\n exit-address-family\nexit\n",
			want:    nil,
		},
		{
			name:    "turning bgp default ipv4-unicast off keeps active neighbors active",
			running: "router bgp 1\n neighbor 192.0.2.1 remote-as 2\nexit\n",
			target:  "router bgp 1\n no bgp default ipv4-unicast\n neighbor 192.0.2.1 remote-as 2\n address-family ipv4 unicast\n  neighbor 192.0.2.1 activate\n exit-address-family\nexit\n",
			want:    []string{"configure terminal", "router bgp 1", "no bgp default ipv4-unicast", "exit"},
		},
		{
			name:    "route-map clause replaced in place, removed by name",
			running: "route-map RM permit 10\n set local-preference 100\n set community 65000:1 additive\nexit\n",
			target:  "route-map RM permit 10\n set local-preference 200\nexit\n",
			want:    []string{"configure terminal", "route-map RM permit 10", "no set community", "set local-preference 200", "exit"},
		},
		{
			name:    "bfd defaults spelled out by the template are not changes",
			running: "bfd\n peer 192.0.2.1\n exit\n !\nexit\n",
			target:  "bfd\n peer 192.0.2.1\n  detect-multiplier 3\n  receive-interval 300\n  transmit-interval 300\n  no shutdown\n exit\n !\nexit\n",
			want:    nil,
		},
		{
			name:    "bfd peer removed, profile line inside a peer is a line",
			running: "bfd\n profile fast\n exit\n peer 192.0.2.1\n  profile fast\n exit\n peer 192.0.2.2\n exit\nexit\n",
			target:  "bfd\n profile fast\n exit\n peer 192.0.2.1\n exit\nexit\n",
			want:    []string{"configure terminal", "bfd", "peer 192.0.2.1", "no profile fast", "exit", "no peer 192.0.2.2", "exit"},
		},
		{
			name:    "unmanaged lines are left alone",
			running: "frr version 8.4.4\nfrr defaults traditional\nhostname vm\nno ip forwarding\nservice integrated-vtysh-config\n",
			target:  "",
			want:    nil,
		},
		{
			name:    "static routes and prefix-lists",
			running: "ip route 10.0.0.0/8 192.0.2.1\nip prefix-list PL seq 10 permit 10.0.0.0/8\n",
			target:  "ip route 10.0.0.0/8 192.0.2.2\nip prefix-list PL seq 10 permit 10.1.0.0/16\n",
			want: []string{"configure terminal", "no ip route 10.0.0.0/8 192.0.2.1",
				"ip route 10.0.0.0/8 192.0.2.2", "ip prefix-list PL seq 10 permit 10.1.0.0/16"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Plan(c.running, c.target)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("Plan:\n  got  %q\n  want %q", got, c.want)
			}
		})
	}
}

func TestParseConfigContexts(t *testing.T) {
	c := ParseConfig("router bgp 1\n neighbor X peer-group\n address-family ipv6 unicast\n  neighbor X activate\n exit-address-family\n bgp router-id 1.2.3.4\nexit\nbfd\n peer 1.1.1.1\n  profile p\n exit\n profile p\n  passive-mode\n exit\nexit\nroute-map A permit 1\n set metric 5\nip route 1.0.0.0/8 blackhole\n")
	for _, want := range [][]string{
		{"router bgp 1"}, {"router bgp 1", "address-family ipv6 unicast"}, {"bfd"},
		{"bfd", "peer 1.1.1.1"}, {"bfd", "profile p"}, {"route-map A permit 1"},
	} {
		if c.Context(want...) == nil {
			t.Errorf("missing context %q", want)
		}
	}
	if !c.Context("router bgp 1").Has("bgp router-id 1.2.3.4") {
		t.Error("line after exit-address-family not back in router bgp")
	}
	if !c.Context("bfd", "peer 1.1.1.1").Has("profile p") {
		t.Error("profile inside peer should be a line")
	}
	if !c.Context().Has("ip route 1.0.0.0/8 blackhole") {
		t.Error("unindented line after a route-map entry should be global")
	}
}

func FuzzPlan(f *testing.F) {
	f.Add("router bgp 1\n neighbor a remote-as 1\nexit\n", "router bgp 2\n")
	f.Add("bfd\n peer x\n  exit\n exit\n", "exit\nexit\naddress-family ipv4\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		Plan(a, b)
		Plan(b, a)
	})
}
