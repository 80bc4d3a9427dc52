package vyos

import (
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strings"
)

// valueType validates the value of a leaf or the name of a tag node entry
// and describes it for completion help.
type valueType struct {
	// check returns "" for a valid value, else the validator's message;
	// silent means "invalid, nothing to print" (VyOS's regex constraints
	// print nothing of their own).
	check func(string) string
	// errMsg, when set, replaces check's message (VyOS's
	// constraintErrorMessage).
	errMsg string
	// help lists "format: description" pairs shown by completion.
	help [][2]string
	// complete lists literal values offered by completion.
	complete []string
}

// silent is the check result for an invalid value without a message.
const silent = "\x00"

// validate reports whether v is valid and, if not, what VyOS prints before
// "Value validation failed" (possibly nothing).
func (t *valueType) validate(v string) (bool, string) {
	if t == nil || t.check == nil {
		return true, ""
	}
	msg := t.check(v)
	if msg == "" {
		return true, ""
	}
	if t.errMsg != "" {
		return false, t.errMsg
	}
	if msg == silent {
		return false, ""
	}
	return false, msg
}

func anyOf(types ...*valueType) *valueType {
	out := &valueType{}
	for _, t := range types {
		out.help = append(out.help, t.help...)
		out.complete = append(out.complete, t.complete...)
	}
	out.check = func(v string) string {
		var msgs []string
		for _, t := range types {
			ok, m := t.validate(v)
			if ok {
				return ""
			}
			if m != "" && !contains(msgs, m) {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) == 0 {
			return silent
		}
		return strings.Join(msgs, "\n")
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func numRange(lo, hi uint64, desc string) *valueType {
	return &valueType{
		check: func(v string) string { return checkNumber(v, lo, hi) },
		help:  [][2]string{{fmt.Sprintf("u32:%d-%d", lo, hi), desc}},
	}
}

// checkNumber mirrors VyOS's numeric validator.
func checkNumber(v string, lo, hi uint64) string {
	n, ok := new(big.Int).SetString(v, 10)
	if !ok || strings.HasPrefix(v, "+") {
		return fmt.Sprintf("'%s' is not a valid integer number", v)
	}
	if n.Cmp(new(big.Int).SetUint64(lo)) < 0 || n.Cmp(new(big.Int).SetUint64(hi)) > 0 {
		return "Number is not in any of allowed ranges"
	}
	return ""
}

func literal(desc string, words ...string) *valueType {
	return &valueType{
		check: func(v string) string {
			if contains(words, v) {
				return ""
			}
			return silent
		},
		help: func() [][2]string {
			var h [][2]string
			for _, w := range words {
				h = append(h, [2]string{w, desc})
			}
			return h
		}(),
		complete: words,
	}
}

func regexType(re, format, desc, errMsg string) *valueType {
	r := regexp.MustCompile("^(?:" + re + ")$")
	return &valueType{
		check: func(v string) string {
			if r.MatchString(v) {
				return ""
			}
			return silent
		},
		errMsg: errMsg,
		help:   [][2]string{{format, desc}},
	}
}

var (
	tASN = &valueType{
		check:  func(v string) string { return checkNumber(v, 1, 4294967294) },
		errMsg: "Invalid AS number",
		help:   [][2]string{{"u32:1-4294967294", "Autonomous System Number"}},
	}
	tRemoteAS = &valueType{
		check: func(v string) string {
			if v == "internal" || v == "external" {
				return ""
			}
			return checkNumber(v, 1, 4294967294)
		},
		errMsg: "Invalid AS number",
		help: [][2]string{
			{"u32:1-4294967294", "Neighbor AS number"},
			{"external", "Any AS different from the local AS"},
			{"internal", "Neighbor AS number"},
		},
		complete: []string{"external", "internal"},
	}
	tIPv4 = &valueType{
		check: func(v string) string {
			if a, err := netip.ParseAddr(v); err == nil && a.Is4() {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IPv4 address", v)
		},
		help: [][2]string{{"ipv4", "IPv4 address"}},
	}
	tIPv6 = &valueType{
		check: func(v string) string {
			if a, err := netip.ParseAddr(v); err == nil && a.Is6() && !a.Is4In6() {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IPv6 address", v)
		},
		help: [][2]string{{"ipv6", "IPv6 address"}},
	}
	tIP = &valueType{
		check: func(v string) string {
			if _, err := netip.ParseAddr(v); err == nil && !strings.Contains(v, "%") {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IP address", v)
		},
		help: [][2]string{{"ipv4", "IPv4 address"}, {"ipv6", "IPv6 address"}},
	}
	tIPv4Net = &valueType{
		check: func(v string) string {
			if p, err := netip.ParsePrefix(v); err == nil && p.Addr().Is4() && p.Masked() == p {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IPv4 prefix", v)
		},
		help: [][2]string{{"ipv4net", "IPv4 prefix"}},
	}
	tIPv6Net = &valueType{
		check: func(v string) string {
			if p, err := netip.ParsePrefix(v); err == nil && p.Addr().Is6() && p.Masked() == p {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IPv6 prefix", v)
		},
		help: [][2]string{{"ipv6net", "IPv6 prefix"}},
	}
	tIPNet = &valueType{
		check: func(v string) string {
			if p, err := netip.ParsePrefix(v); err == nil && p.Masked() == p {
				return ""
			}
			return fmt.Sprintf("Error: %s is not a valid IP prefix", v)
		},
		help: [][2]string{{"ipv4net", "IPv4 prefix"}, {"ipv6net", "IPv6 prefix"}},
	}
	// tIPHost is an interface address: a host address with its prefix
	// length (not the network address itself, except for /31, /32, /127,
	// /128).
	tIPHost = &valueType{
		check: func(v string) string {
			p, err := netip.ParsePrefix(v)
			if err == nil {
				bits := p.Addr().BitLen()
				if p.Bits() >= bits-1 || p.Masked().Addr() != p.Addr() {
					return ""
				}
			}
			return fmt.Sprintf("Error: %s is not a valid IP host", v)
		},
		help: [][2]string{{"ipv4net", "IPv4 address and prefix length"}, {"ipv6net", "IPv6 address and prefix length"}},
	}
	tIfAddress = anyOf(tIPHost, literal("Dynamic Host Configuration Protocol", "dhcp", "dhcpv6"))
	tIfName    = regexType(`(lo|dum[0-9]+|(eth|lan|bond|br|veth|peth|wg|vtun|tun|lo)[0-9]+(\.[0-9]+)?)`, "txt", "Interface name", "")
	tEthName   = regexType(`((eth|lan)[0-9]+|(eno|ens|enp|enx).+)`, "ethN", "Ethernet interface name", "")
	tHostName  = regexType(`[A-Za-z0-9][-.A-Za-z0-9]*[A-Za-z0-9]|[A-Za-z0-9]`, "txt", "Host name", "")
	tText      = regexType(`.{0,255}`, "txt", "Description", "Description too long (limit 255 characters)")
	tAny       = &valueType{help: [][2]string{{"txt", "Text"}}}
	tPolicyRM  = regexType(`[-_a-zA-Z0-9.]+`, "txt", "Name of route-map", "Name of route-map can only contain alpha-numeric letters, hyphen and underscores")
	tPolicyPL  = regexType(`[-_a-zA-Z0-9.]+`, "txt", "Name of IPv4 prefix-list", "Name of prefix-list can only contain alpha-numeric letters, hyphen and underscores")
	tPolicyPL6 = regexType(`[-_a-zA-Z0-9.]+`, "txt", "Name of IPv6 prefix-list", "Name of prefix-list6 can only contain alpha-numeric letters, hyphen and underscores")
	tName      = regexType(`[-_a-zA-Z0-9.]+`, "txt", "Name", "")
	tPeerName  = anyOf(tIP, tIfName)
	tSource    = anyOf(tIP, tIfName)
	tPort      = &valueType{
		check:  func(v string) string { return checkNumber(v, 1, 65535) },
		errMsg: "Port number must be in range 1 to 65535",
		help:   [][2]string{{"u32:1-65535", "Numeric IP port"}},
	}
	tAction    = literal("Action", "permit", "deny")
	tCommunity = regexType(`(([0-9]+:[0-9]+)|local-as|no-advertise|no-export|internet|graceful-shutdown|accept-own|blackhole|no-llgr|llgr-stale|no-peer|route-filter-v4|route-filter-v6|route-filter-translated-v4|route-filter-translated-v6|additive|none)( (([0-9]+:[0-9]+)|local-as|no-advertise|no-export|internet|graceful-shutdown|accept-own|blackhole|no-llgr|llgr-stale|no-peer|additive|none))*`,
		"txt", "Community", "")
	tASPath = regexType(`[0-9]+( [0-9]+)*`, "txt", "AS numbers to prepend", "")
)
