package scenarios

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/onp-lab/onp/scenarios/spec"
)

// buildTargets turns a validated check into its targets. An error means the
// check cannot run at all.
func buildTargets(c *spec.Check, env Env) ([]target, error) {
	lab := env.Context()
	var out []target
	switch c.Type {
	case spec.BGPSession, spec.NoFlap:
		for _, node := range c.TargetNodes() {
			n := lab.Node(node)
			for _, peer := range c.TargetPeers() {
				if peer == node {
					continue
				}
				addrs, label := peerAddrs(lab, peer)
				t := target{label: node + " → " + label}
				switch {
				case c.Type == spec.NoFlap:
					t.attempt, t.watch = noFlap(env, node, addrs), c.WindowOrDefault()
				case n.Kind == "sno":
					t.attempt = sessionOnSpeaker(env, node, addrs, c.ExpectedState())
				default:
					t.attempt = sessionOnRouter(env, node, addrs, c.ExpectedState())
				}
				out = append(out, t)
			}
		}
	case spec.BGPRoute:
		exp, err := newRouteExpectation(c, lab)
		if err != nil {
			return nil, err
		}
		for _, node := range c.TargetNodes() {
			out = append(out, target{label: node + ": " + c.Prefix, attempt: bgpRoute(env, node, exp)})
		}
	case spec.FIBRoute:
		exp, err := newRouteExpectation(c, lab)
		if err != nil {
			return nil, err
		}
		for _, node := range c.TargetNodes() {
			out = append(out, target{label: node + ": " + c.Prefix, attempt: fibRoute(env, node, exp)})
		}
	case spec.HTTP:
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, err
		}
		host, err := resolveHost(lab, u.Hostname())
		if err != nil {
			return nil, err
		}
		if u.Port() != "" {
			u.Host = net.JoinHostPort(host, u.Port())
		} else if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		} else {
			u.Host = host
		}
		var client []netip.Addr
		clientText := ""
		if c.ClientAddress != "" {
			hs := resolveHosts(lab, []string{c.ClientAddress})
			client, clientText = hs[0].addrs, hs[0].text
		}
		for _, node := range c.TargetNodes() {
			h := &httpCheck{env: env, node: node, url: u.String(), status: c.ExpectedStatus(), bodyContains: c.BodyContains, client: client, clientText: clientText}
			out = append(out, target{label: node + ": GET " + c.URL, attempt: h.attempt})
		}
	case spec.TCP:
		h, port, err := net.SplitHostPort(c.To)
		if err != nil {
			return nil, err
		}
		host, err := resolveHost(lab, h)
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort(host, port)
		for _, node := range c.TargetNodes() {
			out = append(out, target{label: node + " → " + c.To, attempt: tcpConnect(env, node, addr, c.ExpectedState())})
		}
	case spec.Ping:
		host, err := resolveHost(lab, c.To)
		if err != nil {
			return nil, err
		}
		dst, err := netip.ParseAddr(host)
		if err != nil {
			return nil, err
		}
		for _, node := range c.TargetNodes() {
			out = append(out, target{label: node + " → " + c.To, attempt: ping(env, node, dst, c.ExpectReachable())})
		}
	case spec.ServiceIP:
		ns, name, _ := strings.Cut(c.Service, "/")
		label := c.Service
		if c.Node != "" {
			label = c.Node + ": " + c.Service
		}
		out = append(out, target{label: label, attempt: serviceIP(env, c.Node, ns, name, c.IP)})
	case spec.Diagnosis:
		return diagnosisTargets(c, env)
	default:
		return nil, fmt.Errorf("unknown check type %q", c.Type)
	}
	return out, nil
}

// peerAddrs resolves a peer (address or node name) and labels it
// "sno4 (192.168.126.2)" or "192.168.126.2 (sno4)".
func peerAddrs(lab *spec.Context, peer string) ([]netip.Addr, string) {
	addrs, node, _ := lab.Resolve(peer)
	switch {
	case node == "":
		return addrs, peer
	case node == peer && len(addrs) == 1:
		return addrs, fmt.Sprintf("%s (%s)", peer, addrs[0])
	case node == peer:
		return addrs, peer
	default:
		return addrs, fmt.Sprintf("%s (%s)", peer, node)
	}
}

// resolveHost turns a node name into its first address; addresses pass
// through.
func resolveHost(lab *spec.Context, h string) (string, error) {
	if _, err := netip.ParseAddr(h); err == nil {
		return h, nil
	}
	addrs, _, ok := lab.Resolve(h)
	if !ok || len(addrs) == 0 {
		return "", fmt.Errorf("%q is neither an address nor a node with an address (%s)", h, lab.NodeNames())
	}
	return addrs[0].String(), nil
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// describeAddr writes an address with the node that owns it.
func describeAddr(lab *spec.Context, a netip.Addr) string {
	if n := lab.NodeByAddr(a); n != "" {
		return fmt.Sprintf("%s (%s)", a, n)
	}
	return a.String()
}

// hostSet is an expected next hop: the addresses it may be.
type hostSet struct {
	text  string
	addrs []netip.Addr
}

func resolveHosts(lab *spec.Context, hosts []string) []hostSet {
	out := make([]hostSet, 0, len(hosts))
	for _, h := range hosts {
		addrs, node, _ := lab.Resolve(h)
		text := h
		if node != "" && node != h {
			text = fmt.Sprintf("%s (%s)", h, node)
		} else if node == h {
			text = fmt.Sprintf("%s (%s)", joinAddrs(addrs), node)
		}
		out = append(out, hostSet{text: text, addrs: addrs})
	}
	return out
}

// matchHosts reports whether got is exactly the expected set: every
// expected host is among got, and every address in got is expected.
func matchHosts(want []hostSet, got []netip.Addr) bool {
	for _, w := range want {
		if !slices.ContainsFunc(got, func(a netip.Addr) bool { return slices.Contains(w.addrs, a) }) {
			return false
		}
	}
	for _, a := range got {
		if !slices.ContainsFunc(want, func(w hostSet) bool { return slices.Contains(w.addrs, a) }) {
			return false
		}
	}
	return true
}

func hostsText(hs []hostSet) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.text
	}
	return strings.Join(s, ", ")
}

// mismatch collects what differs between what a check expects and what it
// saw, attribute by attribute.
type mismatch struct {
	want, got []string
}

func (m *mismatch) add(attr, want, got string) {
	m.want = append(m.want, attr+" "+want)
	m.got = append(m.got, attr+" "+got)
}

func (m *mismatch) empty() bool { return len(m.want) == 0 }
