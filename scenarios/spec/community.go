package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// Community is a standard BGP community (RFC 1997) as a 32-bit value.
type Community uint32

func (c Community) String() string { return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff) }

// Name returns the well-known name of the community, or "".
func (c Community) Name() string {
	for _, w := range wellKnown {
		if w.value == c {
			return w.names[0]
		}
	}
	return ""
}

// wellKnown lists the well-known communities with the spellings FRR uses in
// `show bgp` text and JSON and the ones users write (RFC 1997, 7999, 8326,
// 8642, draft-ietf-idr-long-lived-gr).
var wellKnown = []struct {
	value Community
	names []string
}{
	{0xFFFF0000, []string{"graceful-shutdown", "gshut", "gracefulShutdown"}},
	{0xFFFF0001, []string{"accept-own", "acceptOwn"}},
	{0xFFFF0002, []string{"route-filter-translated-v4", "routeFilterTranslatedV4"}},
	{0xFFFF0003, []string{"route-filter-v4", "routeFilterV4"}},
	{0xFFFF0004, []string{"route-filter-translated-v6", "routeFilterTranslatedV6"}},
	{0xFFFF0005, []string{"route-filter-v6", "routeFilterV6"}},
	{0xFFFF0006, []string{"llgr-stale", "llgrStale"}},
	{0xFFFF0007, []string{"no-llgr", "noLlgr"}},
	{0xFFFF0008, []string{"accept-own-nexthop", "acceptOwnNexthop", "acceptownNexthop"}},
	{0xFFFF029A, []string{"blackhole"}},
	{0xFFFFFF01, []string{"no-export", "noExport"}},
	{0xFFFFFF02, []string{"no-advertise", "noAdvertise"}},
	{0xFFFFFF03, []string{"local-as", "local-AS", "localAs", "no-export-subconfed", "noExportSubconfed"}},
	{0xFFFFFF04, []string{"no-peer", "noPeer"}},
	{0x00000000, []string{"internet"}},
}

// ParseCommunity parses "ASN:VALUE" (two 16-bit numbers), a 32-bit number,
// or a well-known name (no-export, no-advertise, local-as, no-peer,
// blackhole, graceful-shutdown, ..., in FRR's spellings too).
func ParseCommunity(s string) (Community, error) {
	t := strings.TrimSpace(s)
	for _, w := range wellKnown {
		for _, n := range w.names {
			if strings.EqualFold(t, n) {
				return w.value, nil
			}
		}
	}
	if a, b, ok := strings.Cut(t, ":"); ok {
		hi, err1 := strconv.ParseUint(a, 10, 16)
		lo, err2 := strconv.ParseUint(b, 10, 16)
		if err1 == nil && err2 == nil {
			return Community(hi<<16 | lo), nil
		}
	} else if v, err := strconv.ParseUint(t, 10, 32); err == nil {
		return Community(v), nil
	}
	return 0, fmt.Errorf("invalid community %q: want ASN:VALUE with two numbers up to 65535 (e.g. 65535:65282) or a well-known name such as no-advertise", s)
}

// LargeCommunity is a large BGP community (RFC 8092).
type LargeCommunity [3]uint32

func (c LargeCommunity) String() string { return fmt.Sprintf("%d:%d:%d", c[0], c[1], c[2]) }

// ParseLargeCommunity parses "GLOBAL:LOCAL1:LOCAL2" (three 32-bit numbers).
func ParseLargeCommunity(s string) (LargeCommunity, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	var c LargeCommunity
	if len(parts) != 3 {
		return c, fmt.Errorf("invalid large community %q: want GLOBAL:LOCAL1:LOCAL2, three numbers up to 4294967295 (e.g. 64512:1:100)", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return c, fmt.Errorf("invalid large community %q: want GLOBAL:LOCAL1:LOCAL2, three numbers up to 4294967295 (e.g. 64512:1:100)", s)
		}
		c[i] = uint32(v)
	}
	return c, nil
}

// ParseASPath parses an AS path written as ASNs separated by spaces; the
// empty string is the empty path.
func ParseASPath(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid AS path %q: want AS numbers separated by spaces, e.g. \"65002 65001\", or \"\" for the empty path", s)
		}
		out = append(out, uint32(v))
	}
	return out, nil
}
