package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAddresses parses one IPAddressPool address entry: a CIDR
// ("192.168.10.0/24", host bits are cleared) or a range "start-end" (spaces
// around either address are trimmed; start ≤ end; both of one family),
// which becomes the shortest list of prefixes covering it exactly.
func ParseAddresses(s string) ([]netip.Prefix, error) {
	if !strings.Contains(s, "-") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("invalid CIDR %q: IPv4-mapped IPv6 addresses are not supported, write the IPv4 prefix", s)
		}
		return []netip.Prefix{p.Masked()}, nil
	}
	first, last, _ := strings.Cut(s, "-")
	start, err := parseRangeAddr(first)
	if err != nil {
		return nil, fmt.Errorf("invalid IP range %q: invalid start IP %q", s, first)
	}
	end, err := parseRangeAddr(last)
	if err != nil {
		return nil, fmt.Errorf("invalid IP range %q: invalid end IP %q", s, last)
	}
	if start.Is4() != end.Is4() {
		return nil, fmt.Errorf("invalid IP range %q: start IP %q and end IP %q are of different families", s, start, end)
	}
	if start.Compare(end) > 0 {
		return nil, fmt.Errorf("invalid IP range %q: start IP %q is after the end IP %q", s, start, end)
	}
	return RangeToPrefixes(start, end), nil
}

func parseRangeAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("zones and IPv4-mapped addresses are not allowed")
	}
	return a, nil
}

// RangeToPrefixes returns the shortest list of prefixes, in address order,
// that covers start..end inclusive. start and end must be of one family and
// start ≤ end.
func RangeToPrefixes(start, end netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	bits := start.BitLen()
	for cur := start; cur.IsValid() && cur.Compare(end) <= 0; {
		// The largest aligned block starting at cur that ends at or before end.
		var p netip.Prefix
		for l := 0; l <= bits; l++ {
			q := netip.PrefixFrom(cur, l).Masked()
			if q.Addr() == cur && LastAddr(q).Compare(end) <= 0 {
				p = q
				break
			}
		}
		out = append(out, p)
		cur = LastAddr(p).Next()
	}
	return out
}

// LastAddr returns the highest address of a prefix.
func LastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	host := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		if host >= 8 {
			b[i] = 0xff
			host -= 8
			continue
		}
		b[i] |= byte(1<<host - 1)
		host = 0
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// AddrBuggy reports whether an IPv4 address ends in .0 or .255, which some
// old consumer firmwares drop (IPAddressPool avoidBuggyIPs).
func AddrBuggy(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[3] == 0 || b[3] == 255
}
