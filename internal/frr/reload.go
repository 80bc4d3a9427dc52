package frr

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Config is an FRR configuration split into FRR's hierarchical contexts:
// the global context (Keys empty), top-level contexts such as
// "router bgp 64512", "bfd" or "route-map RM permit 10", and their
// sub-contexts ("address-family ipv4 unicast" inside router bgp, "peer X"
// and "profile P" inside bfd). Lines are whitespace-normalized.
type Config struct {
	Contexts []*Context
	index    map[string]*Context
}

// Context is one configuration context and its lines, in file order.
type Context struct {
	Keys  []string
	Lines []string
	set   map[string]bool
}

func ctxID(keys []string) string { return strings.Join(keys, "\x00") }

func (c *Config) get(keys []string) *Context { return c.index[ctxID(keys)] }

func (c *Config) ensure(keys []string) *Context {
	id := ctxID(keys)
	if x := c.index[id]; x != nil {
		return x
	}
	x := &Context{Keys: append([]string(nil), keys...), set: map[string]bool{}}
	c.index[id] = x
	c.Contexts = append(c.Contexts, x)
	return x
}

func (x *Context) add(line string) {
	if x.set[line] {
		return
	}
	x.set[line] = true
	x.Lines = append(x.Lines, line)
}

// Has reports whether the context holds the (normalized) line.
func (x *Context) Has(line string) bool { return x.set[normalize(line)] }

// Context returns the context with the given keys, or nil.
func (c *Config) Context(keys ...string) *Context {
	n := make([]string, len(keys))
	for i, k := range keys {
		n[i] = normalize(k)
	}
	return c.get(n)
}

// normalize collapses runs of whitespace and trims the line.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// unmanaged global lines are never added or removed by Plan: they reflect
// how the instance was started (version, defaults profile, integrated
// config), kernel state owned by the namespace (forwarding sysctls), or
// the host name, which every vtysh process re-reads from uname(2) so that
// `show running-config` never reflects a configured one.
func unmanaged(line string) bool {
	switch {
	case strings.HasPrefix(line, "frr version"),
		strings.HasPrefix(line, "frr defaults"),
		line == "service integrated-vtysh-config",
		strings.HasPrefix(line, "hostname "),
		line == "ip forwarding", line == "no ip forwarding",
		line == "ipv6 forwarding", line == "no ipv6 forwarding",
		strings.HasPrefix(line, "log "),
		line == "Building configuration...", line == "Current configuration:":
		return true
	}
	return false
}

func isTopContext(line string) bool {
	if line == "bfd" || line == "segment-routing" || line == "control-plane" {
		return true
	}
	for _, p := range []string{"router ", "route-map ", "interface ", "vrf ", "line ", "key chain ", "pbr-map ", "nexthop-group ", "mpls ldp", "rpki"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// isSubContext reports whether line opens a sub-context when the context
// stack is stack.
func isSubContext(stack []string, line string) bool {
	if len(stack) == 0 {
		return false
	}
	switch top := stack[0]; {
	case strings.HasPrefix(top, "router bgp"):
		return len(stack) <= 2 && strings.HasPrefix(line, "address-family ")
	case top == "bfd":
		// Inside "peer X", "profile P" is a line, not a context.
		return len(stack) == 1 && (strings.HasPrefix(line, "peer ") || strings.HasPrefix(line, "profile "))
	}
	return false
}

// ParseConfig splits configuration text (FRR's running config or a file
// in its syntax) into contexts. It never fails: unknown lines are kept in
// the context they appear in.
func ParseConfig(text string) *Config {
	c := &Config{index: map[string]*Context{}}
	c.ensure(nil)
	var stack []string
	for _, raw := range strings.Split(text, "\n") {
		raw = strings.TrimRight(raw, "\r")
		l := normalize(raw)
		if l == "" || strings.HasPrefix(l, "!") || strings.HasPrefix(l, "#") {
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		switch l {
		case "end":
			stack = nil
			continue
		case "exit-address-family", "exit-vrf", "exit-vni":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		case "exit", "quit":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if indent == 0 && len(stack) > 0 && !isSubContext(stack, l) {
			stack = nil
		}
		if len(stack) == 0 {
			if unmanaged(l) {
				continue
			}
			if isTopContext(l) {
				stack = []string{l}
				c.ensure(stack)
				continue
			}
			c.ensure(nil).add(l)
			continue
		}
		if isSubContext(stack, l) {
			stack = []string{stack[0], l}
			c.ensure(stack)
			continue
		}
		c.ensure(stack).add(l)
	}
	return c
}

// Text renders the configuration back in FRR's layout.
func (c *Config) Text() string {
	var b strings.Builder
	for _, x := range c.Contexts {
		ind := strings.Repeat(" ", len(x.Keys))
		if len(x.Keys) > 0 {
			b.WriteString(strings.Repeat(" ", len(x.Keys)-1) + x.Keys[len(x.Keys)-1] + "\n")
		}
		for _, l := range x.Lines {
			b.WriteString(ind + l + "\n")
		}
		if len(x.Keys) > 0 {
			b.WriteString(strings.Repeat(" ", len(x.Keys)-1) + exitFor(x.Keys[len(x.Keys)-1]) + "\n")
		}
	}
	return b.String()
}

func exitFor(key string) string {
	if strings.HasPrefix(key, "address-family ") {
		return "exit-address-family"
	}
	return "exit"
}

// bfdDefaults are the values FRR 8.4 does not print for a bfd peer or
// profile; a target that spells them out (as VyOS's template does) is
// normalized so that an unchanged configuration plans no commands.
var bfdDefaults = map[string]bool{
	"detect-multiplier 3":          true,
	"receive-interval 300":         true,
	"transmit-interval 300":        true,
	"echo receive-interval 50":     true,
	"echo transmit-interval 50":    true,
	"echo-interval 50":             true,
	"no shutdown":                  true,
	"no echo-mode":                 true,
	"no passive-mode":              true,
	"minimum-ttl 254":              true,
	"echo transmit-interval 50 ms": true,
}

// wellKnownCommunities are the names FRR prints for reserved values.
var wellKnownCommunities = map[string]string{
	"65535:0":     "graceful-shutdown",
	"65535:1":     "accept-own",
	"65535:2":     "route-filter-translated-v4",
	"65535:3":     "route-filter-v4",
	"65535:4":     "route-filter-translated-v6",
	"65535:5":     "route-filter-v6",
	"65535:6":     "llgr-stale",
	"65535:7":     "no-llgr",
	"65535:8":     "accept-own-nexthop",
	"65535:666":   "blackhole",
	"65535:65281": "no-export",
	"65535:65282": "no-advertise",
	"65535:65283": "local-AS",
	"65535:65284": "no-peer",
	"local-as":    "local-AS",
}

// normalizeTarget rewrites lines FRR accepts in one form and shows in
// another, and drops lines FRR accepts but never shows, so that an
// unchanged configuration plans no commands.
func normalizeTarget(c *Config) {
	for _, x := range c.Contexts {
		if len(x.Keys) == 2 && x.Keys[0] == "bfd" {
			x.filter(func(l string) bool { return !bfdDefaults[l] })
		}
		x.rewrite(func(l string) string {
			f := strings.Fields(l)
			switch {
			case len(f) > 2 && f[0] == "set" && f[1] == "community":
				for i := 2; i < len(f); i++ {
					if n, ok := wellKnownCommunities[f[i]]; ok {
						f[i] = n
					}
				}
				return strings.Join(f, " ")
			case len(f) == 5 && f[0] == "no" && f[1] == "neighbor" && f[3] == "send-community" && f[4] == "standard":
				// FRR 8.4 prints the standard community flag without its name.
				return strings.Join(f[:4], " ")
			}
			return l
		})
	}
}

func (x *Context) rewrite(fn func(string) string) {
	out := make([]string, 0, len(x.Lines))
	x.set = map[string]bool{}
	for _, l := range x.Lines {
		l = fn(l)
		if !x.set[l] {
			x.set[l] = true
			out = append(out, l)
		}
	}
	x.Lines = out
}

// inheritedActivation drops "neighbor M activate" from an address family
// when M is a member of a peer-group that is active there: FRR shows the
// group's activation only.
func inheritedActivation(c *Config) {
	for _, top := range c.Contexts {
		if len(top.Keys) != 1 || !strings.HasPrefix(top.Keys[0], "router bgp") {
			continue
		}
		member := map[string]string{}
		for _, l := range top.Lines {
			f := strings.Fields(l)
			if len(f) == 4 && f[0] == "neighbor" && f[2] == "peer-group" {
				member[f[1]] = f[3]
			}
		}
		for _, af := range c.Contexts {
			if len(af.Keys) != 2 || af.Keys[0] != top.Keys[0] {
				continue
			}
			af.filter(func(l string) bool {
				f := strings.Fields(l)
				if len(f) == 3 && f[0] == "neighbor" && f[2] == "activate" {
					if g, ok := member[f[1]]; ok && af.set["neighbor "+g+" activate"] {
						return false
					}
				}
				return true
			})
		}
	}
}

func (x *Context) filter(keep func(string) bool) {
	var out []string
	for _, l := range x.Lines {
		if keep(l) {
			out = append(out, l)
		} else {
			delete(x.set, l)
		}
	}
	x.Lines = out
}

// explicitActivation rewrites IPv4 unicast activation into explicit form.
// With "bgp default ipv4-unicast" on (FRR's traditional default) every
// neighbor and peer-group is active in IPv4 unicast unless the config says
// "no neighbor X activate", and FRR prints nothing for active ones; with it
// off, active ones are printed as "neighbor X activate". Rewriting both
// sides to "neighbor X activate for every active one" makes the diff
// independent of the default, including when the default itself changes.
func explicitActivation(c *Config) {
	for _, top := range c.Contexts {
		if len(top.Keys) != 1 || !strings.HasPrefix(top.Keys[0], "router bgp") {
			continue
		}
		if top.set["no bgp default ipv4-unicast"] {
			continue
		}
		af := c.ensure([]string{top.Keys[0], "address-family ipv4 unicast"})
		inactive := map[string]bool{}
		af.filter(func(l string) bool {
			f := strings.Fields(l)
			if len(f) == 4 && f[0] == "no" && f[1] == "neighbor" && f[3] == "activate" {
				inactive[f[2]] = true
				return false
			}
			return true
		})
		for _, l := range top.Lines {
			f := strings.Fields(l)
			if len(f) < 3 || f[0] != "neighbor" {
				continue
			}
			identity := f[2] == "remote-as" || f[2] == "peer-group" || f[2] == "interface"
			if identity && !inactive[f[1]] {
				af.add("neighbor " + f[1] + " activate")
			}
		}
	}
}

// Plan returns the vtysh commands that turn the running configuration into
// the target one: "configure terminal", then removals ("no ..."), then
// additions, each inside its context. It returns nil when nothing differs.
// Lines FRR keeps for itself (version, defaults profile, forwarding, log,
// hostname) are left alone.
func Plan(running, target string) []string {
	return planConfigs(ParseConfig(running), ParseConfig(target))
}

type block struct {
	path []string
	cmds []string
}

func planConfigs(r, t *Config) []string {
	normalizeTarget(t)
	explicitActivation(r)
	explicitActivation(t)
	inheritedActivation(r)
	inheritedActivation(t)
	var dels, adds []block

	// Neighbor bookkeeping per router bgp present in both.
	removed := map[string]map[string]bool{}   // router key -> neighbor -> removed entirely
	recreated := map[string]map[string]bool{} // router key -> neighbor -> removed and re-added
	groupsOf := map[string]map[string]bool{}  // router key -> recreated/removed groups
	for _, rx := range r.Contexts {
		if len(rx.Keys) != 1 || !strings.HasPrefix(rx.Keys[0], "router bgp") {
			continue
		}
		tx := t.get(rx.Keys)
		if tx == nil {
			continue
		}
		rm, rc, groups, cmds := planNeighbors(rx, tx)
		removed[rx.Keys[0]], recreated[rx.Keys[0]], groupsOf[rx.Keys[0]] = rm, rc, groups
		if len(cmds) > 0 {
			dels = append(dels, block{path: rx.Keys, cmds: cmds})
		}
	}

	gone := func(keys []string) bool {
		for i := 1; i <= len(keys); i++ {
			if t.get(keys[:i]) == nil {
				return true
			}
		}
		return false
	}

	// Removals, walking the running config backwards so that inner
	// contexts are emptied before outer ones.
	var whole []block
	for i := len(r.Contexts) - 1; i >= 0; i-- {
		rx := r.Contexts[i]
		if gone(rx.Keys) {
			// Remove whole contexts at the outermost level that is gone.
			if len(rx.Keys) > 0 && t.get(rx.Keys[:len(rx.Keys)-1]) == nil && len(rx.Keys) > 1 {
				continue // an outer context is removed as a whole
			}
			key := rx.Keys[len(rx.Keys)-1]
			switch {
			case strings.HasPrefix(key, "address-family "), strings.HasPrefix(key, "interface "):
				// Cannot be removed; empty it instead.
				var cmds []string
				for j := len(rx.Lines) - 1; j >= 0; j-- {
					if skipNeighborLine(rx.Lines[j], removed[rx.Keys[0]], recreated[rx.Keys[0]]) {
						continue
					}
					cmds = append(cmds, negate(rx.Lines[j]))
				}
				if len(cmds) > 0 {
					dels = append(dels, block{path: rx.Keys, cmds: cmds})
				}
			default:
				whole = append(whole, block{path: rx.Keys[:len(rx.Keys)-1], cmds: []string{"no " + key}})
			}
			continue
		}
		tx := t.get(rx.Keys)
		var cmds []string
		for j := len(rx.Lines) - 1; j >= 0; j-- {
			l := rx.Lines[j]
			if tx.set[l] {
				continue
			}
			if len(rx.Keys) > 0 && strings.HasPrefix(rx.Keys[0], "router bgp") && skipNeighborLine(l, removed[rx.Keys[0]], recreated[rx.Keys[0]]) {
				continue
			}
			if k := settingKey(l); k != "" && hasSettingKey(tx, k) {
				continue // the addition overrides it in place
			}
			cmds = append(cmds, negate(l))
		}
		if len(cmds) > 0 {
			dels = append(dels, block{path: rx.Keys, cmds: cmds})
		}
	}
	dels = append(dels, whole...)

	// Additions in target order.
	for _, tx := range t.Contexts {
		rx := r.get(tx.Keys)
		var forced map[string]bool
		var groups map[string]bool
		if len(tx.Keys) > 0 && strings.HasPrefix(tx.Keys[0], "router bgp") {
			forced = recreated[tx.Keys[0]]
			groups = groupsOf[tx.Keys[0]]
		}
		var cmds []string
		for _, l := range tx.Lines {
			if rx != nil && rx.set[l] && !mentionsAny(l, forced) && !listensOn(l, groups) {
				continue
			}
			cmds = append(cmds, l)
		}
		isAF := len(tx.Keys) > 0 && strings.HasPrefix(tx.Keys[len(tx.Keys)-1], "address-family ")
		if len(cmds) > 0 || (rx == nil && len(tx.Keys) > 0 && !isAF) {
			adds = append(adds, block{path: tx.Keys, cmds: cmds})
		}
	}

	if len(dels) == 0 && len(adds) == 0 {
		return nil
	}
	return serialize(append(dels, adds...))
}

// planNeighbors compares the neighbors of one router bgp context and
// decides which must be deleted ("no neighbor X"): those gone from the
// target, and those whose identity changes in a way FRR cannot apply in
// place (remote-as removed, peer-group membership changed, group-ness
// changed), which are then re-added with all their target lines.
func planNeighbors(rx, tx *Context) (removed, recreated, groups map[string]bool, cmds []string) {
	type ident struct {
		group    bool
		member   string
		remoteAS string
		iface    bool
		exists   bool
	}
	scan := func(x *Context) map[string]*ident {
		m := map[string]*ident{}
		get := func(n string) *ident {
			if m[n] == nil {
				m[n] = &ident{}
			}
			return m[n]
		}
		for _, l := range x.Lines {
			f := strings.Fields(l)
			if len(f) < 3 || f[0] != "neighbor" {
				continue
			}
			switch {
			case f[2] == "peer-group" && len(f) == 3:
				get(f[1]).group, get(f[1]).exists = true, true
			case f[2] == "peer-group" && len(f) == 4:
				get(f[1]).member, get(f[1]).exists = f[3], true
			case f[2] == "remote-as" && len(f) >= 4:
				get(f[1]).remoteAS, get(f[1]).exists = f[3], true
			case f[2] == "interface":
				get(f[1]).iface, get(f[1]).exists = true, true
			}
		}
		return m
	}
	rn, tn := scan(rx), scan(tx)
	removed, recreated, groups = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for name, ri := range rn {
		ti := tn[name]
		switch {
		case ti == nil || !ti.exists:
			removed[name] = true
		case ri.group != ti.group, ri.member != ti.member, ri.iface != ti.iface,
			ri.remoteAS != "" && ti.remoteAS == "" && !ti.group:
			recreated[name] = true
		case ri.group && ri.remoteAS != "" && ti.remoteAS == "":
			recreated[name] = true
		}
	}
	// Members of a group that goes away or is re-created go with it.
	for name, ri := range rn {
		if ri.member != "" && (removed[ri.member] || recreated[ri.member]) && !removed[name] {
			recreated[name] = true
		}
	}
	for name := range recreated {
		if tn[name] == nil || !tn[name].exists {
			delete(recreated, name)
			removed[name] = true
		}
	}
	// Plain neighbors first, then groups, in running-config order.
	var plain, grp []string
	seen := map[string]bool{}
	for _, l := range rx.Lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "neighbor" || seen[f[1]] {
			continue
		}
		n := f[1]
		if !removed[n] && !recreated[n] {
			continue
		}
		seen[n] = true
		if rn[n].group {
			groups[n] = true
			grp = append(grp, "no neighbor "+n+" peer-group")
		} else {
			plain = append(plain, "no neighbor "+n)
		}
	}
	return removed, recreated, groups, append(plain, grp...)
}

// skipNeighborLine reports whether a line belongs to a neighbor that is
// deleted as a whole.
func skipNeighborLine(l string, removed, recreated map[string]bool) bool {
	f := strings.Fields(l)
	if len(f) > 0 && f[0] == "no" {
		f = f[1:]
	}
	if len(f) < 2 || f[0] != "neighbor" {
		return false
	}
	return removed[f[1]] || recreated[f[1]]
}

func mentionsAny(l string, names map[string]bool) bool {
	if len(names) == 0 {
		return false
	}
	return skipNeighborLine(l, names, nil)
}

// listensOn reports whether l is a "bgp listen range P peer-group G" line
// for a group in groups (deleting a group deletes its listen ranges).
func listensOn(l string, groups map[string]bool) bool {
	f := strings.Fields(l)
	return len(f) == 6 && f[0] == "bgp" && f[1] == "listen" && f[2] == "range" && groups[f[5]]
}

// negate returns the command that removes a configuration line.
func negate(l string) string {
	if strings.HasPrefix(l, "no ") {
		return strings.TrimPrefix(l, "no ")
	}
	f := strings.Fields(l)
	// route-map set/match clauses: FRR's "no" forms take the clause name
	// alone, and some reject the full value list ("additive", "none").
	if len(f) >= 2 && f[0] == "set" {
		switch f[1] {
		case "community", "large-community", "local-preference", "metric", "weight", "origin", "tag":
			return "no set " + f[1]
		case "as-path":
			if len(f) >= 3 {
				return "no set as-path " + f[2]
			}
		}
	}
	if len(f) >= 2 && f[0] == "description" {
		return "no description"
	}
	// bfdd has no "no" form for its timers: they go back to the defaults
	// (which also lets a peer's profile apply again).
	switch {
	case len(f) == 2 && f[0] == "detect-multiplier":
		return "detect-multiplier 3"
	case len(f) == 2 && (f[0] == "receive-interval" || f[0] == "transmit-interval"):
		return f[0] + " 300"
	case len(f) == 3 && f[0] == "echo" && (f[1] == "receive-interval" || f[1] == "transmit-interval"):
		return "echo " + f[1] + " 50"
	case len(f) == 2 && f[0] == "echo-interval":
		return "echo-interval 50"
	}
	return "no " + l
}

// settingKey identifies single-valued settings: a target line with the
// same key replaces the running one in place, so the running line is not
// removed first (which for "neighbor X remote-as" would delete the peer).
func settingKey(l string) string {
	f := strings.Fields(l)
	n := len(f)
	if n == 0 {
		return ""
	}
	join := func(k int) string { return strings.Join(f[:k], " ") }
	switch f[0] {
	case "neighbor":
		if n < 4 {
			return ""
		}
		switch f[2] {
		case "remote-as", "password", "description", "ebgp-multihop", "ttl-security", "update-source",
			"port", "local-as", "advertisement-interval", "maximum-prefix", "allowas-in", "weight":
			return join(3)
		case "timers":
			if f[3] == "connect" {
				return join(4)
			}
			return join(3)
		case "bfd":
			if f[3] == "profile" {
				return join(4)
			}
		case "route-map", "prefix-list", "filter-list", "distribute-list":
			if n == 5 {
				return join(3) + " " + f[4]
			}
		}
	case "bgp":
		if n < 3 {
			return ""
		}
		switch f[1] {
		case "router-id", "cluster-id", "tcp-keepalive":
			return join(2)
		case "default":
			if f[2] == "local-preference" {
				return join(3)
			}
		case "graceful-restart":
			if f[2] == "stalepath-time" || f[2] == "restart-time" {
				return join(3)
			}
		case "confederation":
			if f[2] == "identifier" {
				return join(3)
			}
		case "listen":
			if f[2] == "limit" {
				return join(3)
			}
		}
	case "timers":
		if n >= 2 && f[1] == "bgp" {
			return "timers bgp"
		}
	case "maximum-paths":
		if n >= 2 && f[1] == "ibgp" {
			return "maximum-paths ibgp"
		}
		return "maximum-paths"
	case "set":
		if n >= 2 {
			if f[1] == "as-path" && n >= 3 {
				return join(3)
			}
			return join(2)
		}
	case "match":
		if n >= 4 {
			return join(4)
		}
	case "description":
		return "description"
	case "detect-multiplier", "receive-interval", "transmit-interval", "minimum-ttl", "profile":
		return f[0]
	case "echo":
		if n >= 2 {
			return join(2)
		}
	case "ip", "ipv6":
		if n >= 5 && f[1] == "prefix-list" && f[3] == "seq" {
			return join(5)
		}
	}
	return ""
}

func hasSettingKey(x *Context, key string) bool {
	for _, l := range x.Lines {
		if settingKey(l) == key {
			return true
		}
	}
	return false
}

// serialize turns blocks into one vtysh command list, entering and leaving
// contexts only where consecutive blocks differ.
func serialize(blocks []block) []string {
	cmds := []string{"configure terminal"}
	var cur []string
	for _, b := range blocks {
		common := 0
		for common < len(cur) && common < len(b.path) && cur[common] == b.path[common] {
			common++
		}
		// A block whose commands delete a sub-context of the current path
		// must run from its parent; common prefix handles that.
		for i := len(cur) - 1; i >= common; i-- {
			cmds = append(cmds, exitFor(cur[i]))
		}
		cmds = append(cmds, b.path[common:]...)
		cmds = append(cmds, b.cmds...)
		cur = b.path
	}
	for i := len(cur) - 1; i >= 0; i-- {
		cmds = append(cmds, exitFor(cur[i]))
	}
	return cmds
}

// ApplyResult describes what Apply sent.
type ApplyResult struct {
	// Commands is the vtysh command list (empty when nothing changed).
	Commands []string
	// Duration is the wall time of the whole apply.
	Duration time.Duration
}

// ApplyError is returned when FRR rejected part of a change. The change was
// rolled back: RolledBack tells whether the rollback itself succeeded.
type ApplyError struct {
	Commands    []string
	Err         error // the vtysh failure
	RolledBack  bool
	RollbackErr error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("frr: apply rejected: %v", e.Err)
	if e.RolledBack {
		return msg + " (the running configuration was restored)"
	}
	return msg + fmt.Sprintf(" (restoring the previous configuration also failed: %v; compare `show running-config` with the intended configuration)", e.RollbackErr)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply makes the running configuration equal to target without
// restarting a daemon: it reads the running configuration (straight from
// each daemon's vty socket, which is much faster than starting vtysh),
// plans the difference (see Plan) and sends it through one vtysh call,
// which routes every command to the daemons that own it. If FRR rejects
// a command, the changes already made are undone the same way and an
// *ApplyError is returned, so a failed Apply leaves the instance as it was.
// Concurrent Applys on one instance are serialized.
func (in *Instance) Apply(ctx context.Context, target string) (*ApplyResult, error) {
	in.applyMu.Lock()
	defer in.applyMu.Unlock()
	start := time.Now()
	before, err := in.runningConfigDirect(ctx)
	if err != nil {
		return nil, fmt.Errorf("frr: read running config before apply: %w", err)
	}
	cmds := Plan(before, target)
	res := &ApplyResult{Commands: cmds}
	if len(cmds) == 0 {
		res.Duration = time.Since(start)
		return res, nil
	}
	in.log.Debug("frr apply", "commands", len(cmds))
	if _, err := in.Vtysh(ctx, cmds...); err != nil {
		aerr := &ApplyError{Commands: cmds, Err: err}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		aerr.RollbackErr = in.restore(rctx, before)
		aerr.RolledBack = aerr.RollbackErr == nil
		return nil, aerr
	}
	res.Duration = time.Since(start)
	return res, nil
}

func (in *Instance) restore(ctx context.Context, before string) error {
	now, err := in.runningConfigDirect(ctx)
	if err != nil {
		return err
	}
	back := Plan(now, before)
	if len(back) == 0 {
		return nil
	}
	_, err = in.Vtysh(ctx, back...)
	return err
}
