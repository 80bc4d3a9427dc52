package vyos

import "sort"

// kind is what a schema node is, in VyOS's template terms.
type kind uint8

const (
	kNode  kind = iota // typeless node with children ("protocols", "parameters")
	kTag               // tag node: named entries ("neighbor 192.0.2.1")
	kLeaf              // single-value leaf ("remote-as 100")
	kMulti             // multi-value leaf ("address ..." several times)
	kFlag              // valueless leaf ("passive")
)

// spec is one node of the configuration schema.
type spec struct {
	name     string
	kind     kind
	help     string
	typ      *valueType // value of a leaf, or name of a tag entry
	def      string     // default value of a leaf (created on set in 1.3)
	children []*spec    // of a node, or of every entry of a tag node
	byName   map[string]*spec
	// limit caps the number of entries of a tag node (VyOS "tag:1").
	limit int
	// commitPath marks the node whose subtree is one VyOS commit script
	// ("protocols bgp"); its path is printed in commit errors.
	commitPath bool
}

func (s *spec) child(name string) *spec {
	if s == nil || s.byName == nil {
		return nil
	}
	return s.byName[name]
}

// childNames returns the names of the children, sorted.
func (s *spec) childNames() []string {
	var out []string
	for _, c := range s.children {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out
}

func (s *spec) isLeaf() bool { return s.kind == kLeaf || s.kind == kMulti || s.kind == kFlag }

func mk(k kind, name, help string, typ *valueType, kids []*spec) *spec {
	s := &spec{name: name, kind: k, help: help, typ: typ, children: kids}
	if len(kids) > 0 {
		s.byName = map[string]*spec{}
		for _, c := range kids {
			s.byName[c.name] = c
		}
	}
	return s
}

func node(name, help string, kids ...*spec) *spec { return mk(kNode, name, help, nil, kids) }
func tag(name, help string, t *valueType, kids ...*spec) *spec {
	return mk(kTag, name, help, t, kids)
}
func leaf(name, help string, t *valueType) *spec  { return mk(kLeaf, name, help, t, nil) }
func multi(name, help string, t *valueType) *spec { return mk(kMulti, name, help, t, nil) }
func flag(name, help string) *spec                { return mk(kFlag, name, help, nil, nil) }

func withDefault(s *spec, def string) *spec { s.def = def; return s }
func commit(s *spec) *spec                  { s.commitPath = true; return s }

// schemaFor returns the configuration schema of a dialect.
func schemaFor(d Dialect) *spec {
	if d == V14 {
		return schema14
	}
	return schema13
}

var (
	schema13 = buildSchema(V13)
	schema14 = buildSchema(V14)
)

func buildSchema(d Dialect) *spec {
	var bgp *spec
	if d == V14 {
		kids := append(bgpChildren(d), leaf("system-as", "Autonomous System Number (ASN)", tASN))
		bgp = commit(node("bgp", "Border Gateway Protocol (BGP)", kids...))
	} else {
		bgp = commit(tag("bgp", "Border Gateway Protocol (BGP) parameters", tASN, bgpChildren(d)...))
		bgp.limit = 1
	}
	port := leaf("port", "Port for SSH service", tPort)
	if d == V14 {
		port = multi("port", "Port for SSH service", tPort)
	}
	if d == V13 {
		port = withDefault(port, "22")
	}
	return node("", "",
		node("interfaces", "Network interfaces",
			commit(tag("ethernet", "Ethernet Interface", tEthName,
				multi("address", "IP address", tIfAddress),
				leaf("description", "Description", tText),
				flag("disable", "Administratively disable interface"),
				leaf("hw-id", "Associate Ethernet Interface with given Media Access Control (MAC) address",
					regexType(`([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}`, "macaddr", "Hardware (MAC) address", "")),
				leaf("mtu", "Maximum Transmission Unit (MTU)", numRange(68, 16000, "Maximum Transmission Unit in byte")),
			)),
			commit(tag("loopback", "Loopback interface", literal("Loopback interface", "lo"),
				multi("address", "IP address", tIPHost),
				leaf("description", "Description", tText),
			)),
		),
		node("policy", "Routing policy",
			commit(tag("prefix-list", "IP prefix-list filter", tPolicyPL, prefixListChildren(tIPv4Net)...)),
			commit(tag("prefix-list6", "IPv6 prefix-list filter", tPolicyPL6, prefixListChildren(tIPv6Net)...)),
			commit(tag("route-map", "IP route-map", tPolicyRM,
				leaf("description", "Description", tText),
				tag("rule", "Rule for this route-map", numRange(1, 65535, "Route-map rule number"),
					leaf("action", "Action to take on entries matching this rule", tAction),
					leaf("call", "Call another route-map on match", tPolicyRM),
					leaf("continue", "Jump to a different rule in this route-map on a match", numRange(1, 65535, "Rule number")),
					leaf("description", "Description", tText),
					node("match", "Route parameters to match",
						leaf("as-path", "BGP as-path-list to match", tName),
						leaf("interface", "First hop interface of a route to match", tIfName),
						node("ip", "IP prefix parameters to match",
							node("address", "IP address of route to match",
								leaf("prefix-list", "IP prefix-list to match", tPolicyPL))),
						node("ipv6", "IPv6 prefix parameters to match",
							node("address", "IPv6 address of route to match",
								leaf("prefix-list", "IPv6 prefix-list to match", tPolicyPL6))),
						leaf("metric", "Metric of route to match", numRange(1, 65535, "Route metric")),
						leaf("origin", "BGP origin code to match", literal("BGP origin code", "egp", "igp", "incomplete")),
					),
					routeMapSet(d),
				),
			)),
		),
		node("protocols", "Routing protocols",
			bgp,
			commit(node("bfd", "Bidirectional Forwarding Detection (BFD)",
				tag("peer", "Configures BFD peer to listen and talk to", tIP, bfdCommon(true)...),
				tag("profile", "BFD profile name", tName, bfdCommon(false)...),
			)),
			commit(node("static", "Static Route Parameters",
				tag("route", "Static IPv4 route", tIPv4Net, staticRoute(tIPv4)...),
				tag("route6", "Static IPv6 route", tIPv6Net, staticRoute(tIPv6)...),
			)),
		),
		node("service", "System services",
			commit(node("ssh", "Secure SHell (SSH) protocol",
				multi("listen-address", "Local addresses SSH service should listen on", tIP),
				port,
				flag("disable-password-authentication", "Disable password-based authentication"),
			)),
		),
		node("system", "System parameters",
			commit(leaf("host-name", "System host name (default: vyos)", tHostName)),
		),
	)
}

func prefixListChildren(p *valueType) []*spec {
	return []*spec{
		leaf("description", "Description", tText),
		tag("rule", "Rule for this prefix-list", numRange(1, 65535, "Prefix-list rule number"),
			leaf("action", "Action to take on entries matching this rule", tAction),
			leaf("description", "Description", tText),
			leaf("ge", "Prefix length to match a netmask greater than or equal to it", numRange(0, 128, "Netmask greater than length")),
			leaf("le", "Prefix length to match a netmask less than or equal to it", numRange(0, 128, "Netmask less than length")),
			leaf("prefix", "Prefix to match", p),
		),
	}
}

func routeMapSet(d Dialect) *spec {
	if d == V14 {
		tComm := regexType(`([0-9]+:[0-9]+)|local-as|no-advertise|no-export|internet|graceful-shutdown|accept-own|blackhole|no-llgr|llgr-stale|no-peer`,
			"<AS:VAL>", "Community number in AA:NN format", "")
		return node("set", "Route parameters",
			node("as-path", "Transform BGP AS_PATH attribute",
				leaf("prepend", "Prepend the given space-separated list of ASNs to the AS_PATH", tASPath)),
			node("community", "BGP community attribute",
				multi("add", "Add communities to a prefix", tComm),
				multi("replace", "Replace communities in a prefix", tComm),
				flag("none", "Completely remove communities attribute from a prefix")),
			leaf("local-preference", "BGP local preference attribute", numRange(0, 4294967295, "Local preference value")),
			leaf("metric", "Destination routing protocol metric", numRange(0, 4294967295, "Metric value")),
			leaf("weight", "BGP weight attribute", numRange(0, 4294967295, "BGP weight")),
		)
	}
	return node("set", "Route parameters",
		leaf("as-path-prepend", "Prepend string for a Border Gateway Protocol (BGP) AS-path attribute", tASPath),
		leaf("community", "Border Gateway Protocl (BGP) community attribute", tCommunity),
		leaf("local-preference", "Border Gateway Protocol (BGP) local preference attribute", numRange(0, 4294967295, "Local preference value")),
		leaf("metric", "Destination routing protocol metric", numRange(0, 4294967295, "Metric value")),
		leaf("weight", "Border Gateway Protocol (BGP) weight attribute", numRange(0, 4294967295, "BGP weight")),
	)
}

func bfdCommon(peer bool) []*spec {
	kids := []*spec{
		flag("echo-mode", "Enables the echo transmission mode"),
		node("interval", "Configure timer intervals",
			leaf("echo-interval", "Echo receive transmission interval", numRange(10, 60000, "The minimal echo receive transmission interval that this system is capable of handling")),
			leaf("multiplier", "Multiplier to determine packet loss", numRange(2, 255, "Remote transmission interval will be multiplied by this value")),
			leaf("receive", "Minimum interval of receiving control packets", numRange(10, 60000, "Interval in milliseconds")),
			leaf("transmit", "Minimum interval of transmitting control packets", numRange(10, 60000, "Interval in milliseconds")),
		),
		leaf("minimum-ttl", "Expect packets with at least this TTL", numRange(1, 254, "Expected minimum incoming TTL (for multihop sessions only)")),
		flag("passive", "Do not attempt to start sessions"),
		flag("shutdown", "Disable this peer"),
	}
	if peer {
		kids = append(kids,
			flag("multihop", "Allow this BFD peer to not be directly connected"),
			leaf("profile", "Use settings from BFD profile", tName),
			node("source", "Bind listener to specified interface/address, mandatory for IPv6",
				leaf("address", "Local address to bind our peer listener to", tIP),
				leaf("interface", "Local interface to bind our peer listener to", tIfName),
			),
		)
	}
	return kids
}

func staticRoute(nh *valueType) []*spec {
	dist := func() *spec {
		return leaf("distance", "Distance for this route", numRange(1, 255, "Distance for this route"))
	}
	return []*spec{
		node("blackhole", "Silently discard pkts when matched", dist()),
		leaf("description", "Description", tText),
		tag("interface", "Next-hop interface", tIfName, flag("disable", "Disable instance"), dist()),
		tag("next-hop", "Next-hop router", nh,
			flag("disable", "Disable instance"),
			dist(),
			leaf("interface", "Gateway interface name", tIfName),
		),
	}
}

// bgpPeerOptions are the options shared by neighbors and peer-groups.
func bgpPeerOptions(d Dialect, group bool) []*spec {
	afi := func(name, help string, plist *valueType) *spec {
		return node(name, help,
			flag("addpath-tx-all", "Use addpath to advertise all paths to a neighbor"),
			flag("addpath-tx-per-as", "Use addpath to advertise the bestpath per each neighboring AS"),
			node("allowas-in", "Accept route that contains the local-as in the as-path",
				leaf("number", "Number of occurrences of AS number", numRange(1, 10, "Number of times AS is allowed in path"))),
			flag("as-override", "Override ASN in outbound updates to configured neighbor local-as"),
			node("default-originate", "Originate default route to this peer",
				leaf("route-map", "Specify route-map name to use", tPolicyRM)),
			node("disable-send-community", "Disable sending community attributes to this peer",
				flag("extended", "Disable sending extended community attributes to this peer"),
				flag("standard", "Disable sending standard community attributes to this peer")),
			leaf("maximum-prefix", "Maximum number of prefixes to accept from this peer", numRange(1, 4294967295, "Prefix limit")),
			node("nexthop-self", "Disable the next hop calculation for this peer",
				flag("force", "Set the next hop to self for reflected routes")),
			node("prefix-list", "IPv4-Prefix-list to filter route updates to/from this peer",
				leaf("export", "IPv4-Prefix-list to filter outgoing route updates to this peer", plist),
				leaf("import", "IPv4-Prefix-list to filter incoming route updates from this peer", plist)),
			node("remove-private-as", "Remove private AS numbers from AS path in outbound route updates",
				flag("all", "Remove private AS numbers to all AS numbers in outbound route updates")),
			node("route-map", "Route-map to filter route updates to/from this peer",
				leaf("export", "Route-map to filter outgoing route updates", tPolicyRM),
				leaf("import", "Route-map to filter incoming route updates", tPolicyRM)),
			flag("route-reflector-client", "Peer is a route reflector client"),
			flag("route-server-client", "Peer is a route server client"),
			node("soft-reconfiguration", "Soft reconfiguration for peer",
				flag("inbound", "Enable inbound soft reconfiguration")),
			leaf("weight", "Default weight for routes from this peer", numRange(1, 65535, "Default weight")),
		)
	}
	kids := []*spec{
		node("address-family", "Address-family parameters",
			afi("ipv4-unicast", "IPv4 BGP neighbor parameters", tPolicyPL),
			afi("ipv6-unicast", "IPv6 BGP neighbor parameters", tPolicyPL6),
		),
		node("bfd", "Enable Bidirectional Forwarding Detection (BFD) support",
			flag("check-control-plane-failure", "Allow to write CBIT independence in BFD outgoing packets and read both C-BIT value of BFD and lookup BGP peer status"),
			leaf("profile", "Use settings from BFD profile", tName),
		),
		node("capability", "Advertise capabilities to this peer",
			flag("dynamic", "Advertise dynamic capability to this neighbor"),
			flag("extended-nexthop", "Advertise extended-nexthop capability to this neighbor"),
		),
		leaf("description", "Description", tText),
		flag("disable-capability-negotiation", "Disable capability negotiation with this neighbor"),
		flag("disable-connected-check", "Disable check to see if eBGP peer address is a connected route"),
		leaf("ebgp-multihop", "Allow this EBGP neighbor to not be on a directly connected network", numRange(1, 255, "Number of hops")),
		tag("local-as", "Specify alternate ASN for this BGP process", tASN,
			node("no-prepend", "Disable prepending local-as from/to updates for eBGP peers",
				flag("replace-as", "Prepend only local-as from/to updates for eBGP peers"))),
		flag("override-capability", "Ignore capability negotiation with specified neighbor"),
		flag("passive", "Do not initiate a session with this neighbor"),
		leaf("password", "BGP MD5 password", tAny),
		leaf("remote-as", "Neighbor BGP AS number", tRemoteAS),
		flag("shutdown", "Administratively shut down neighbor"),
		flag("solo", "Individual ebgp neighbor"),
		flag("strict-capability-match", "Enable strict capability negotiation"),
		node("timers", "Neighbor timers",
			leaf("connect", "BGP connect timer for this neighbor", numRange(1, 65535, "Connect timer in seconds")),
			leaf("holdtime", "BGP hold timer for this neighbor", anyOf(literal("Hold timer disabled", "0"), numRange(3, 65535, "Hold timer in seconds"))),
			leaf("keepalive", "BGP keepalive interval for this neighbor", numRange(1, 65535, "Keepalive interval in seconds")),
		),
		node("ttl-security", "Ttl security mechanism",
			leaf("hops", "Number of the maximum number of hops to the BGP peer", numRange(1, 254, "Number of hops"))),
		leaf("update-source", "Source IP of routing updates", tSource),
		leaf("advertisement-interval", "Minimum interval for sending routing updates", numRange(0, 600, "Advertisement interval in seconds")),
		leaf("port", "Neighbor BGP port", tPort),
	}
	if !group {
		kids = append(kids, leaf("peer-group", "Peer group for this peer", tName))
	}
	return kids
}

func bgpChildren(d Dialect) []*spec {
	afi := func(name, help string, net *valueType, v6 bool) *spec {
		redis := []*spec{
			node("connected", "Redistribute connected routes into BGP",
				leaf("metric", "Metric for redistributed routes", numRange(0, 4294967295, "Metric for redistributed routes")),
				leaf("route-map", "Specify route-map name to use", tPolicyRM)),
			node("kernel", "Redistribute kernel routes into BGP",
				leaf("metric", "Metric for redistributed routes", numRange(0, 4294967295, "Metric for redistributed routes")),
				leaf("route-map", "Specify route-map name to use", tPolicyRM)),
			node("static", "Redistribute static routes into BGP",
				leaf("metric", "Metric for redistributed routes", numRange(0, 4294967295, "Metric for redistributed routes")),
				leaf("route-map", "Specify route-map name to use", tPolicyRM)),
		}
		return node(name, help,
			tag("aggregate-address", "BGP aggregate network", net,
				flag("as-set", "Generate AS-set path information for this aggregate address"),
				leaf("route-map", "Specify route-map name to use", tPolicyRM),
				flag("summary-only", "Announce the aggregate summary network only")),
			node("maximum-paths", "Forward packets over multiple paths",
				leaf("ebgp", "eBGP maximum paths", numRange(1, 256, "Number of paths to consider")),
				leaf("ibgp", "iBGP maximum paths", numRange(1, 256, "Number of paths to consider"))),
			tag("network", "Import BGP network/prefix into unicast RIB", net,
				flag("backdoor", "Network as a backdoor route"),
				leaf("route-map", "Specify route-map name to use", tPolicyRM)),
			node("redistribute", "Redistribute routes from other protocols into BGP", redis...),
		)
	}
	params := []*spec{
		flag("always-compare-med", "Always compare MEDs from different neighbors"),
		node("bestpath", "Default bestpath selection mechanism",
			multi("as-path", "AS-path attribute comparison parameters", literal("AS-path comparison", "confed", "ignore", "multipath-relax")),
			flag("compare-routerid", "Compare the router-id for identical EBGP paths"),
			multi("med", "MED attribute comparison parameters", literal("MED comparison", "confed", "missing-as-worst")),
		),
		leaf("cluster-id", "Route-reflector cluster-id", tIPv4),
		node("confederation", "AS confederation parameters",
			leaf("identifier", "Confederation AS identifier", tASN),
			multi("peers", "Peer ASs in the BGP confederation", tASN)),
		node("default", "BGP defaults",
			leaf("local-pref", "Default local preference", numRange(0, 4294967295, "Local preference")),
		),
		flag("deterministic-med", "Compare MEDs between different peers in the same AS"),
		flag("ebgp-requires-policy", "Require in and out policy for eBGP peers (RFC8212)"),
		node("graceful-restart", "Graceful restart capability parameters",
			leaf("stalepath-time", "Maximum time to hold onto restarting neighbors stale paths", numRange(1, 4095, "Hold time in seconds"))),
		flag("graceful-shutdown", "Graceful shutdown"),
		flag("log-neighbor-changes", "Log neighbor up/down changes and reset reason"),
		leaf("minimum-holdtime", "BGP minimum holdtime", numRange(1, 65535, "Minimum holdtime in seconds")),
		flag("network-import-check", "Enable IGP route check for network statements"),
		flag("no-client-to-client-reflection", "Disable client to client route reflection"),
		flag("no-fast-external-failover", "Disable immediate session reset on peer link down event"),
		leaf("router-id", "Override default router identifier", tIPv4),
		flag("shutdown", "Administrative shutdown of the BGP instance"),
		node("tcp-keepalive", "TCP keepalive parameters",
			leaf("idle", "TCP keepalive idle time", numRange(1, 65535, "Idle time in seconds")),
			leaf("interval", "TCP keepalive interval", numRange(1, 65535, "Interval in seconds")),
			leaf("probes", "TCP keepalive maximum probes", numRange(1, 30, "Maximum probes"))),
	}
	if d == V13 {
		params[4] = node("default", "BGP defaults",
			leaf("local-pref", "Default local preference", numRange(0, 4294967295, "Local preference")),
			flag("no-ipv4-unicast", "Deactivate IPv4 unicast for a peer by default"))
	}
	return []*spec{
		node("address-family", "BGP address-family parameters",
			afi("ipv4-unicast", "IPv4 BGP settings", tIPv4Net, false),
			afi("ipv6-unicast", "IPv6 BGP settings", tIPv6Net, true),
		),
		node("listen", "Listen for and accept BGP dynamic neighbors from range",
			leaf("limit", "Maximum number of dynamic neighbors that can be created", numRange(1, 5000, "BGP neighbor limit")),
			tag("range", "BGP dynamic neighbors listen range", tIPNet,
				leaf("peer-group", "Peer group for this peer", tName))),
		tag("neighbor", "BGP neighbor", tPeerName, bgpPeerOptions(d, false)...),
		node("parameters", "BGP parameters", params...),
		tag("peer-group", "Name of peer-group", tName, bgpPeerOptions(d, true)...),
		node("timers", "BGP protocol timers",
			leaf("holdtime", "Hold timer", anyOf(literal("Hold timer disabled", "0"), numRange(4, 65535, "Hold timer in seconds"))),
			leaf("keepalive", "BGP keepalive interval for this neighbor", numRange(1, 65535, "Keepalive interval in seconds"))),
	}
}
