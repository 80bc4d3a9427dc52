package spec

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onp-lab/onp/internal/yamlx"
)

// NodeInfo is what validation and the runner know about a node of the lab.
type NodeInfo struct {
	Name string
	Kind string
	// Addrs are the node's interface addresses, in interface order.
	Addrs []netip.Addr
	// Interfaces are the node's interface names (eth0, eth1, ...).
	Interfaces []string
}

// Context describes the lab checks run against. A nil Context skips the
// checks that need it (unknown nodes, node kinds).
type Context struct {
	Nodes []NodeInfo
}

// Node returns the named node, or nil.
func (c *Context) Node(name string) *NodeInfo {
	if c == nil {
		return nil
	}
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i]
		}
	}
	return nil
}

// NodeNames lists the nodes for error messages.
func (c *Context) NodeNames() string {
	if c == nil || len(c.Nodes) == 0 {
		return "the lab has no nodes"
	}
	ns := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ns[i] = n.Name
	}
	return "nodes: " + strings.Join(ns, ", ")
}

// Resolve turns an address or a node name into addresses: the address
// itself, or the node's interface addresses. ok is false when s is neither.
func (c *Context) Resolve(s string) (addrs []netip.Addr, node string, ok bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return []netip.Addr{a}, c.NodeByAddr(a), true
	}
	if n := c.Node(s); n != nil {
		return n.Addrs, n.Name, true
	}
	return nil, "", false
}

// NodeByAddr returns the name of the node that has address a, or "".
func (c *Context) NodeByAddr(a netip.Addr) string {
	if c == nil {
		return ""
	}
	for _, n := range c.Nodes {
		if slices.Contains(n.Addrs, a) {
			return n.Name
		}
	}
	return ""
}

// Validate checks a list of checks found at path base (e.g. "checks" or
// "steps[2].check") of the document doc and returns every problem with its
// position. doc may be nil.
func Validate(doc *yamlx.Doc, base string, checks []Check, ctx *Context) yamlx.ErrorList {
	if doc == nil {
		doc = &yamlx.Doc{}
	}
	var errs yamlx.ErrorList
	for i := range checks {
		errs = append(errs, ValidateCheck(doc, fmt.Sprintf("%s[%d]", base, i), &checks[i], ctx)...)
	}
	return errs
}

// fieldIndex maps YAML field names of Check to struct field indexes.
var fieldIndex = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(Check{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		m[name] = i
	}
	return m
}()

// AllFields lists every field name a check may have (of some type).
func AllFields() []string {
	var out []string
	for f := range fieldIndex {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

type checkValidator struct {
	doc  *yamlx.Doc
	path string
	c    *Check
	ctx  *Context
	errs yamlx.ErrorList
}

func (v *checkValidator) errorf(field, format string, args ...any) {
	p := v.path
	switch {
	case p == "":
		p = field
	case field != "":
		p += "." + field
	}
	v.errs = append(v.errs, v.doc.Errorf(p, format, args...))
}

// set reports whether a field was written in the file or has a value.
func (v *checkValidator) set(field string) bool {
	if _, ok := v.doc.Pos[v.path+"."+field]; ok && v.path != "" {
		return true
	}
	i, ok := fieldIndex[field]
	return ok && !reflect.ValueOf(v.c).Elem().Field(i).IsZero()
}

// ValidateCheck checks one check at path.
func ValidateCheck(doc *yamlx.Doc, path string, c *Check, ctx *Context) yamlx.ErrorList {
	if doc == nil {
		doc = &yamlx.Doc{}
	}
	v := &checkValidator{doc: doc, path: path, c: c, ctx: ctx}
	v.run()
	return v.errs
}

func (v *checkValidator) run() {
	c := v.c
	if c.Type == "" {
		v.errorf("type", "a check needs a type (check types: %s)", strings.Join(Types, ", "))
		return
	}
	if !slices.Contains(Types, c.Type) {
		v.errorf("type", "unknown check type %q%s (check types: %s)", c.Type, didYouMean(c.Type, Types), strings.Join(Types, ", "))
		return
	}
	allowed := Fields(c.Type)
	for _, f := range AllFields() {
		if v.set(f) && !slices.Contains(allowed, f) {
			if f == "wait" && c.Type == NoFlap {
				v.errorf(f, "a no-flap check watches for its window, it does not wait: use window (default %s)", DefaultWindow)
				continue
			}
			v.errorf(f, "field %q does not apply to %s %s check (its fields: %s)", f, article(c.Type), c.Type, strings.Join(allowed, ", "))
		}
	}
	if c.Wait != nil {
		v.duration("wait", c.Wait.D(), true)
	}
	if slices.Contains(allowed, "node") {
		v.nodes()
	}
	switch c.Type {
	case BGPSession, NoFlap, Diagnosis:
		v.peers()
		if c.Type == BGPSession && c.State != "" && !containsFold(BGPStates, c.State) {
			v.errorf("state", "unknown BGP state %q (states: %s)", c.State, strings.Join(BGPStates, ", "))
		}
		if c.Type == NoFlap && c.Window != nil {
			v.duration("window", c.Window.D(), false)
		}
		if c.Type == Diagnosis && c.Cause != "" && !slices.Contains(DiagnosisCauses, c.Cause) {
			v.errorf("cause", "unknown cause %q%s (causes: %s)", c.Cause, didYouMean(c.Cause, DiagnosisCauses), strings.Join(DiagnosisCauses, ", "))
		}
	case BGPRoute, FIBRoute:
		v.route()
	case HTTP:
		v.http()
	case TCP:
		if c.State != "" && !containsFold(TCPStates, c.State) {
			v.errorf("state", "unknown TCP state %q: use open (the connection is accepted), closed (refused) or filtered (no answer)", c.State)
		}
		v.to(true)
	case Ping:
		v.to(false)
	case ServiceIP:
		v.service()
	}
}

func (v *checkValidator) duration(field string, d time.Duration, zeroOK bool) {
	switch {
	case d < 0:
		v.errorf(field, "%s must not be negative", field)
	case d == 0 && !zeroOK:
		v.errorf(field, "%s must be longer than 0s", field)
	case d > MaxWait:
		v.errorf(field, "%s %s is longer than %s", field, d, MaxWait)
	}
}

func (v *checkValidator) nodes() {
	c := v.c
	if c.Node != "" && len(c.Nodes) > 0 {
		v.errorf("nodes", "give node or nodes, not both")
		return
	}
	if c.Node == "" && len(c.Nodes) == 0 {
		if c.Type == ServiceIP || c.Type == Diagnosis {
			return
		}
		v.errorf("", "%s %s check needs node (or nodes): %s", article(c.Type), c.Type, whereText(c.Type))
		return
	}
	seen := map[string]bool{}
	for i, n := range c.TargetNodes() {
		field := "node"
		if len(c.Nodes) > 0 {
			field = fmt.Sprintf("nodes[%d]", i)
		}
		if seen[n] {
			v.errorf(field, "node %q is listed twice", n)
			continue
		}
		seen[n] = true
		v.node(field, n)
	}
}

func whereText(typ string) string {
	switch typ {
	case BGPSession, NoFlap:
		return "the router or cluster node whose session is checked"
	case BGPRoute:
		return "the router whose BGP table is read"
	case FIBRoute:
		return "the node whose kernel routing table is read"
	case HTTP, TCP, Ping:
		return "the node the request starts from"
	}
	return "where the check runs"
}

// node checks a node name against the context, and its kind against the
// kinds the check type runs on.
func (v *checkValidator) node(field, name string) {
	if v.ctx == nil {
		return
	}
	n := v.ctx.Node(name)
	if n == nil {
		v.errorf(field, "unknown node %q (%s)", name, v.ctx.NodeNames())
		return
	}
	if kinds := nodeKinds[v.c.Type]; kinds != nil && !slices.Contains(kinds, n.Kind) {
		v.errorf(field, "node %q is %s; %s checks run on %s nodes", name, KindPhrase(n.Kind), v.c.Type, strings.Join(kinds, ", "))
	}
}

func (v *checkValidator) peers() {
	c := v.c
	if c.Peer != "" && len(c.Peers) > 0 {
		v.errorf("peers", "give peer or peers, not both")
		return
	}
	if c.Peer == "" && len(c.Peers) == 0 {
		if c.Type == Diagnosis {
			return
		}
		v.errorf("", "%s %s check needs peer (or peers): the neighbor's address or node name", article(c.Type), c.Type)
		return
	}
	peers := c.TargetPeers()
	for i, p := range peers {
		field := "peer"
		if len(c.Peers) > 0 {
			field = fmt.Sprintf("peers[%d]", i)
		}
		v.host(field, "peer", p)
	}
	// A node is not its own peer: with nodes [a, b] and peers [a, b] the
	// targets are a → b and b → a. A node left without a peer is a mistake.
	for _, n := range c.TargetNodes() {
		if len(peers) == 1 && peers[0] == n {
			field := "peer"
			if len(c.Peers) > 0 {
				field = "peers[0]"
			}
			v.errorf(field, "peer %q is the node the check runs on", n)
		}
	}
}

// host checks an address-or-node-name value.
func (v *checkValidator) host(field, what, s string) {
	if _, err := netip.ParseAddr(s); err == nil {
		return
	}
	if v.ctx == nil {
		if !nodeNameRE.MatchString(s) {
			v.errorf(field, "%s %q is neither an address nor a node name", what, s)
		}
		return
	}
	n := v.ctx.Node(s)
	if n == nil {
		v.errorf(field, "%s %q is neither an address nor a node of the lab (%s)", what, s, v.ctx.NodeNames())
		return
	}
	if len(n.Addrs) == 0 {
		v.errorf(field, "%s %q names node %s, which has no address: give an address", what, s, s)
	}
}

var nodeNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

func (v *checkValidator) route() {
	c := v.c
	if c.Prefix == "" {
		v.errorf("", "%s %s check needs a prefix, e.g. prefix: 10.0.0.10/32", article(c.Type), c.Type)
	} else if p, err := netip.ParsePrefix(c.Prefix); err != nil {
		v.errorf("prefix", "invalid prefix %q: want e.g. 10.0.0.10/32 or 2001:db8::/64", c.Prefix)
	} else if p.Masked() != p {
		v.errorf("prefix", "prefix %q has host bits set; did you mean %s?", c.Prefix, p.Masked())
	}
	if !c.ExpectPresent() {
		for _, f := range []string{"nexthops", "communities", "largeCommunities", "localPref", "origin", "asPath", "best", "interface"} {
			if v.set(f) {
				v.errorf(f, "%s cannot be checked on a route that must be absent (present: false)", f)
			}
		}
	}
	for i, nh := range c.Nexthops {
		v.host(fmt.Sprintf("nexthops[%d]", i), "next hop", nh)
	}
	for i, s := range c.Communities {
		if _, err := ParseCommunity(s); err != nil {
			v.errorf(fmt.Sprintf("communities[%d]", i), "%v", err)
		}
	}
	for i, s := range c.LargeCommunities {
		if _, err := ParseLargeCommunity(s); err != nil {
			v.errorf(fmt.Sprintf("largeCommunities[%d]", i), "%v", err)
		}
	}
	if c.Origin != "" && !containsFold(Origins, c.Origin) {
		v.errorf("origin", "unknown origin %q: use igp, egp or incomplete", c.Origin)
	}
	if c.ASPath != nil {
		if _, err := ParseASPath(*c.ASPath); err != nil {
			v.errorf("asPath", "%v", err)
		}
	}
	if c.Interface != "" && (len(c.Interface) > 15 || strings.ContainsAny(c.Interface, " /")) {
		v.errorf("interface", "invalid interface name %q", c.Interface)
	}
}

func (v *checkValidator) http() {
	c := v.c
	if c.URL == "" {
		v.errorf("", "an http check needs a url, e.g. url: http://10.0.0.10:8080/")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf("url", "invalid URL %q: want http://HOST[:PORT]/PATH, where HOST is an address or a node name", c.URL)
	} else {
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				v.errorf("url", "invalid port %q in URL %q", p, c.URL)
			}
		}
		v.host("url", "URL host", u.Hostname())
	}
	if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
		v.errorf("status", "invalid HTTP status %d: want 100 to 599", c.Status)
	}
	if c.ClientAddress != "" {
		v.host("clientAddress", "client address", c.ClientAddress)
	}
}

func (v *checkValidator) to(withPort bool) {
	c := v.c
	if c.To == "" {
		if withPort {
			v.errorf("", "a tcp check needs to: HOST:PORT, e.g. to: 10.0.0.10:8080 or to: vyos:179")
		} else {
			v.errorf("", "a ping check needs to: an address or a node name")
		}
		return
	}
	if !withPort {
		v.host("to", "destination", c.To)
		return
	}
	host, port, err := net.SplitHostPort(c.To)
	if err != nil {
		v.errorf("to", "invalid destination %q: want HOST:PORT (an address or node name, and a port), e.g. 10.0.0.10:8080", c.To)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.errorf("to", "invalid port %q: want 1 to 65535", port)
	}
	v.host("to", "destination", host)
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func (v *checkValidator) service() {
	c := v.c
	if c.Service == "" {
		v.errorf("", "a service-ip check needs service: NAMESPACE/NAME, e.g. service: onp-metallb/echoserver")
	} else if ns, name, ok := strings.Cut(c.Service, "/"); !ok || !dnsLabelRE.MatchString(ns) || !dnsLabelRE.MatchString(name) {
		v.errorf("service", "invalid service %q: want NAMESPACE/NAME, e.g. onp-metallb/echoserver", c.Service)
	}
	if c.IP != "" {
		if _, err := netip.ParseAddr(c.IP); err != nil {
			v.errorf("ip", "invalid address %q", c.IP)
		}
	}
}

// article is "an" before a type that is read with a vowel sound.
func article(typ string) string {
	if typ == HTTP {
		return "an"
	}
	return "a"
}

// KindPhrase is "a vyos node", "an frr node", "an sno node".
func KindPhrase(kind string) string {
	if strings.HasPrefix(kind, "frr") || strings.HasPrefix(kind, "sno") {
		return "an " + kind + " node"
	}
	return "a " + kind + " node"
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// didYouMean suggests the closest of candidates within two edits.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
