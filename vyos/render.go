package vyos

import (
	"fmt"
	"strings"
)

// Render turns a configuration into the FRR configuration VyOS generates
// for it: routing policy (prefix-lists, route-maps), static routes, bfdd
// and bgpd, in the shape of VyOS's templates (1.4's, with the 1.3
// differences where the dialect says). It is a pure function of the tree;
// it does not validate (see Verify).
//
// Two deliberate departures, neither of which changes what FRR ends up
// with: values VyOS's template joins with double blanks are single-spaced,
// and "no bgp network import-check" is omitted when "parameters
// network-import-check" asks for the opposite (VyOS renders both lines; the
// later one wins in FRR).
func Render(c *Config) string {
	var b strings.Builder
	w := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		// Collapse the gaps optional words leave, keep the indentation.
		ind := len(line) - len(strings.TrimLeft(line, " "))
		b.WriteString(line[:ind] + strings.Join(strings.Fields(line), " ") + "\n")
	}
	root := c.root
	renderPolicy(w, root.get("policy"), c.dialect)
	renderStatic(w, root.get("protocols", "static"))
	renderBFD(w, root.get("protocols", "bfd"))
	if c.dialect == V14 {
		if bgp := root.get("protocols", "bgp"); bgp != nil {
			renderBGP(w, c.dialect, bgp.value("system-as"), bgp)
		}
	} else {
		for _, e := range root.entries("protocols", "bgp") {
			renderBGP(w, c.dialect, e.name, e)
		}
	}
	return b.String()
}

type writer func(format string, a ...any)

func opt(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

func optv(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func renderPolicy(w writer, p *Node, d Dialect) {
	if p == nil {
		return
	}
	for _, fam := range []struct{ node, cmd string }{{"prefix-list", "ip"}, {"prefix-list6", "ipv6"}} {
		for _, pl := range p.entries(fam.node) {
			if desc := pl.value("description"); desc != "" {
				w("%s prefix-list %s description %s", fam.cmd, pl.name, desc)
			}
			for _, r := range pl.entries("rule") {
				if !r.has("prefix") {
					continue
				}
				w("%s prefix-list %s seq %s %s %s %s %s", fam.cmd, pl.name, r.name, r.value("action"), r.value("prefix"),
					optv("ge ", r.value("ge")), optv("le ", r.value("le")))
			}
		}
	}
	for _, rm := range p.entries("route-map") {
		for _, r := range rm.entries("rule") {
			w("route-map %s %s %s", rm.name, r.value("action"), r.name)
			if v := r.value("call"); v != "" {
				w(" call %s", v)
			}
			if v := r.value("continue"); v != "" {
				w(" on-match goto %s", v)
			}
			if v := r.value("description"); v != "" {
				w(" description %s", v)
			}
			m := r.get("match")
			if v := m.value("as-path"); v != "" {
				w(" match as-path %s", v)
			}
			if v := m.value("interface"); v != "" {
				w(" match interface %s", v)
			}
			if v := m.value("ip", "address", "prefix-list"); v != "" {
				w(" match ip address prefix-list %s", v)
			}
			if v := m.value("ipv6", "address", "prefix-list"); v != "" {
				w(" match ipv6 address prefix-list %s", v)
			}
			if v := m.value("metric"); v != "" {
				w(" match metric %s", v)
			}
			if v := m.value("origin"); v != "" {
				w(" match origin %s", v)
			}
			s := r.get("set")
			if d == V14 {
				if v := s.value("as-path", "prepend"); v != "" {
					w(" set as-path prepend %s", v)
				}
				if v := s.list("community", "replace"); len(v) > 0 {
					w(" set community %s", strings.Join(v, " "))
				}
				if v := s.list("community", "add"); len(v) > 0 {
					w(" set community %s additive", strings.Join(v, " "))
				}
				if s.has("community", "none") {
					w(" set community none")
				}
			} else {
				if v := s.value("as-path-prepend"); v != "" {
					w(" set as-path prepend %s", v)
				}
				if v := s.value("community"); v != "" {
					w(" set community %s", v)
				}
			}
			if v := s.value("local-preference"); v != "" {
				w(" set local-preference %s", v)
			}
			if v := s.value("metric"); v != "" {
				w(" set metric %s", v)
			}
			if v := s.value("weight"); v != "" {
				w(" set weight %s", v)
			}
			w("exit")
			w("!")
		}
	}
}

func renderStatic(w writer, s *Node) {
	if s == nil {
		return
	}
	for _, fam := range []struct{ node, cmd string }{{"route", "ip"}, {"route6", "ipv6"}} {
		for _, r := range s.entries(fam.node) {
			if bh := r.get("blackhole"); bh != nil {
				w("%s route %s blackhole %s", fam.cmd, r.name, bh.value("distance"))
			}
			for _, i := range r.entries("interface") {
				if !i.has("disable") {
					w("%s route %s %s %s", fam.cmd, r.name, i.name, i.value("distance"))
				}
			}
			for _, nh := range r.entries("next-hop") {
				if !nh.has("disable") {
					w("%s route %s %s %s %s", fam.cmd, r.name, nh.name, nh.value("interface"), nh.value("distance"))
				}
			}
		}
	}
	w("!")
}

func bfdBody(w writer, n *Node, peer bool) {
	iv := n.get("interval")
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	w("  detect-multiplier %s", def(iv.value("multiplier"), "3"))
	w("  receive-interval %s", def(iv.value("receive"), "300"))
	w("  transmit-interval %s", def(iv.value("transmit"), "300"))
	if e := iv.value("echo-interval"); e != "" {
		w("  echo receive-interval %s", e)
		w("  echo transmit-interval %s", e)
	}
	if n.has("echo-mode") {
		w("  echo-mode")
	}
	if v := n.value("minimum-ttl"); v != "" {
		w("  minimum-ttl %s", v)
	}
	if n.has("passive") {
		w("  passive-mode")
	}
	if peer {
		if v := n.value("profile"); v != "" {
			w("  profile %s", v)
		}
	}
	if n.has("shutdown") {
		w("  shutdown")
	} else {
		w("  no shutdown")
	}
	w(" exit")
	w(" !")
}

func renderBFD(w writer, b *Node) {
	if b == nil || len(b.entries("peer")) == 0 && len(b.entries("profile")) == 0 {
		return
	}
	w("bfd")
	for _, p := range b.entries("profile") {
		w(" profile %s", p.name)
		bfdBody(w, p, false)
	}
	for _, p := range b.entries("peer") {
		w(" peer %s %s %s %s", p.name, opt(p.has("multihop"), "multihop"),
			optv("local-address ", p.value("source", "address")), optv("interface ", p.value("source", "interface")))
		bfdBody(w, p, true)
	}
	w("exit")
	w("!")
}

var afiNames = []struct{ node, frr string }{
	{"ipv4-unicast", "ipv4 unicast"},
	{"ipv6-unicast", "ipv6 unicast"},
}

func renderPeer(w writer, d Dialect, name string, n *Node, group bool) {
	ra := n.value("remote-as")
	if group {
		w(" neighbor %s peer-group", name)
		if ra != "" {
			w(" neighbor %s remote-as %s", name, ra)
		}
	} else if d == V13 {
		if pg := n.value("peer-group"); pg != "" {
			w(" neighbor %s peer-group %s", name, pg)
		}
		if ra != "" {
			w(" neighbor %s remote-as %s", name, ra)
		}
	} else {
		if ra != "" {
			w(" neighbor %s remote-as %s", name, ra)
		}
		if pg := n.value("peer-group"); pg != "" {
			w(" neighbor %s peer-group %s", name, pg)
		}
	}
	if v := n.value("advertisement-interval"); v != "" {
		w(" neighbor %s advertisement-interval %s", name, v)
	}
	if bfd := n.get("bfd"); bfd != nil {
		w(" neighbor %s bfd", name)
		if bfd.has("check-control-plane-failure") {
			w(" neighbor %s bfd check-control-plane-failure", name)
		}
		if v := bfd.value("profile"); v != "" {
			w(" neighbor %s bfd profile %s", name, v)
		}
	}
	if n.has("capability", "dynamic") {
		w(" neighbor %s capability dynamic", name)
	}
	if n.has("capability", "extended-nexthop") {
		w(" neighbor %s capability extended-nexthop", name)
	}
	if v := n.value("description"); v != "" {
		w(" neighbor %s description %s", name, v)
	}
	if n.has("disable-capability-negotiation") {
		w(" neighbor %s dont-capability-negotiate", name)
	}
	if n.has("disable-connected-check") {
		w(" neighbor %s disable-connected-check", name)
	}
	if v := n.value("ebgp-multihop"); v != "" {
		w(" neighbor %s ebgp-multihop %s", name, v)
	}
	for _, la := range n.entries("local-as") {
		np := la.get("no-prepend")
		w(" neighbor %s local-as %s %s %s", name, la.name, opt(np != nil, "no-prepend"), opt(np != nil && np.has("replace-as"), "replace-as"))
	}
	if n.has("override-capability") {
		w(" neighbor %s override-capability", name)
	}
	if n.has("passive") {
		w(" neighbor %s passive", name)
	}
	if v := n.value("password"); v != "" {
		w(" neighbor %s password %s", name, v)
	}
	if v := n.value("port"); v != "" {
		w(" neighbor %s port %s", name, v)
	}
	if n.has("shutdown") {
		w(" neighbor %s shutdown", name)
	}
	if n.has("solo") {
		w(" neighbor %s solo", name)
	}
	if n.has("strict-capability-match") {
		w(" neighbor %s strict-capability-match", name)
	}
	if v := n.value("ttl-security", "hops"); v != "" {
		w(" neighbor %s ttl-security hops %s", name, v)
	}
	if v := n.value("timers", "connect"); v != "" {
		w(" neighbor %s timers connect %s", name, v)
	}
	if k, h := n.value("timers", "keepalive"), n.value("timers", "holdtime"); k != "" && h != "" {
		w(" neighbor %s timers %s %s", name, k, h)
	}
	if v := n.value("update-source"); v != "" {
		w(" neighbor %s update-source %s", name, v)
	}
	w(" !")
	for _, af := range afiNames {
		a := n.get("address-family", af.node)
		if a == nil {
			continue
		}
		w(" address-family %s", af.frr)
		if a.has("addpath-tx-all") {
			w("  neighbor %s addpath-tx-all-paths", name)
		}
		if a.has("addpath-tx-per-as") {
			w("  neighbor %s addpath-tx-bestpath-per-AS", name)
		}
		if ai := a.get("allowas-in"); ai != nil {
			w("  neighbor %s allowas-in %s", name, ai.value("number"))
		}
		if a.has("as-override") {
			w("  neighbor %s as-override", name)
		}
		if rp := a.get("remove-private-as"); rp != nil {
			w("  neighbor %s remove-private-AS %s", name, opt(rp.has("all"), "all"))
		}
		if a.has("route-reflector-client") {
			w("  neighbor %s route-reflector-client", name)
		}
		if v := a.value("weight"); v != "" {
			w("  neighbor %s weight %s", name, v)
		}
		if do := a.get("default-originate"); do != nil {
			w("  neighbor %s default-originate %s", name, optv("route-map ", do.value("route-map")))
		}
		if v := a.value("maximum-prefix"); v != "" {
			w("  neighbor %s maximum-prefix %s", name, v)
		}
		if nh := a.get("nexthop-self"); nh != nil {
			w("  neighbor %s next-hop-self %s", name, opt(nh.has("force"), "force"))
		}
		if a.has("route-server-client") {
			w("  neighbor %s route-server-client", name)
		}
		if v := a.value("route-map", "export"); v != "" {
			w("  neighbor %s route-map %s out", name, v)
		}
		if v := a.value("route-map", "import"); v != "" {
			w("  neighbor %s route-map %s in", name, v)
		}
		if v := a.value("prefix-list", "export"); v != "" {
			w("  neighbor %s prefix-list %s out", name, v)
		}
		if v := a.value("prefix-list", "import"); v != "" {
			w("  neighbor %s prefix-list %s in", name, v)
		}
		if a.has("soft-reconfiguration", "inbound") {
			w("  neighbor %s soft-reconfiguration inbound", name)
		}
		if a.has("disable-send-community", "extended") {
			w("  no neighbor %s send-community extended", name)
		}
		if a.has("disable-send-community", "standard") {
			w("  no neighbor %s send-community standard", name)
		}
		w("  neighbor %s activate", name)
		w(" exit-address-family")
		w(" !")
	}
}

func renderBGP(w writer, d Dialect, asn string, n *Node) {
	params := n.get("parameters")
	w("router bgp %s", asn)
	if params.has("ebgp-requires-policy") {
		w(" bgp ebgp-requires-policy")
	} else {
		w(" no bgp ebgp-requires-policy")
	}
	if d == V14 || params.has("default", "no-ipv4-unicast") {
		w(" no bgp default ipv4-unicast")
	}
	if !params.has("network-import-check") {
		w(" no bgp network import-check")
	}
	for _, af := range afiNames {
		a := n.get("address-family", af.node)
		if a == nil {
			continue
		}
		w(" !")
		w(" address-family %s", af.frr)
		for _, ag := range a.entries("aggregate-address") {
			w("  aggregate-address %s %s %s %s", ag.name, opt(ag.has("as-set"), "as-set"),
				opt(ag.has("summary-only"), "summary-only"), optv("route-map ", ag.value("route-map")))
		}
		if v := a.value("maximum-paths", "ebgp"); v != "" {
			w("  maximum-paths %s", v)
		}
		if v := a.value("maximum-paths", "ibgp"); v != "" {
			w("  maximum-paths ibgp %s", v)
		}
		if r := a.get("redistribute"); r != nil {
			for _, p := range r.children {
				w("  redistribute %s %s %s", p.name, optv("metric ", p.value("metric")), optv("route-map ", p.value("route-map")))
			}
		}
		for _, nw := range a.entries("network") {
			w("  network %s %s %s", nw.name, optv("route-map ", nw.value("route-map")), opt(nw.has("backdoor"), "backdoor"))
		}
		w(" exit-address-family")
		w(" !")
	}
	w(" !")
	for _, pg := range n.entries("peer-group") {
		renderPeer(w, d, pg.name, pg, true)
	}
	w(" !")
	for _, nb := range n.entries("neighbor") {
		renderPeer(w, d, nb.name, nb, false)
	}
	w(" !")
	if v := n.value("listen", "limit"); v != "" {
		w(" bgp listen limit %s", v)
	}
	for _, r := range n.entries("listen", "range") {
		if pg := r.value("peer-group"); pg != "" {
			w(" bgp listen range %s peer-group %s", r.name, pg)
		}
	}
	if params.has("always-compare-med") {
		w(" bgp always-compare-med")
	}
	for _, v := range params.list("bestpath", "as-path") {
		w(" bgp bestpath as-path %s", v)
	}
	if params.has("bestpath", "compare-routerid") {
		w(" bgp bestpath compare-routerid")
	}
	if v := params.list("bestpath", "med"); len(v) > 0 {
		w(" bgp bestpath med %s", strings.Join(v, " "))
	}
	if v := params.value("cluster-id"); v != "" {
		w(" bgp cluster-id %s", v)
	}
	if v := params.value("confederation", "identifier"); v != "" {
		w(" bgp confederation identifier %s", v)
	}
	if v := params.list("confederation", "peers"); len(v) > 0 {
		w(" bgp confederation peers %s", strings.Join(v, " "))
	}
	if v := params.value("default", "local-pref"); v != "" {
		w(" bgp default local-preference %s", v)
	}
	if params.has("deterministic-med") {
		w(" bgp deterministic-med")
	}
	if gr := params.get("graceful-restart"); gr != nil {
		w(" bgp graceful-restart %s", optv("stalepath-time ", gr.value("stalepath-time")))
	}
	if params.has("graceful-shutdown") {
		w(" bgp graceful-shutdown")
	}
	if params.has("log-neighbor-changes") {
		w(" bgp log-neighbor-changes")
	}
	if v := params.value("minimum-holdtime"); v != "" {
		w(" bgp minimum-holdtime %s", v)
	}
	if params.has("network-import-check") {
		w(" bgp network import-check")
	}
	if params.has("no-client-to-client-reflection") {
		w(" no bgp client-to-client reflection")
	}
	if params.has("no-fast-external-failover") {
		w(" no bgp fast-external-failover")
	}
	if v := params.value("router-id"); v != "" {
		w(" bgp router-id %s", v)
	}
	if params.has("shutdown") {
		w(" bgp shutdown")
	}
	if tk := params.get("tcp-keepalive"); tk != nil && tk.value("idle") != "" && tk.value("interval") != "" && tk.value("probes") != "" {
		w(" bgp tcp-keepalive %s %s %s", tk.value("idle"), tk.value("interval"), tk.value("probes"))
	}
	if k, h := n.value("timers", "keepalive"), n.value("timers", "holdtime"); k != "" && h != "" {
		w(" timers bgp %s %s", k, h)
	}
	w("exit")
	w("!")
}
