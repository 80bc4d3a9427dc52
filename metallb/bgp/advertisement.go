package bgp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Advertisement is one prefix with its BGP attributes.
type Advertisement struct {
	// Prefix to advertise; host bits must be zero.
	Prefix netip.Prefix
	// LocalPref is sent to iBGP peers only, and only when non-zero, so the
	// router applies its default (100) otherwise, as MetalLB's FRR mode does.
	LocalPref uint32
	// Communities are standard communities (RFC 1997).
	Communities []Community
	// LargeCommunities are large communities (RFC 8092).
	LargeCommunities []LargeCommunity
}

// Community is a standard BGP community, written "A:B" (two 16-bit values).
type Community uint32

// NewCommunity returns the community asn:value.
func NewCommunity(asn, value uint16) Community { return Community(uint32(asn)<<16 | uint32(value)) }

// String returns "A:B".
func (c Community) String() string { return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff) }

// LargeCommunity is a large BGP community, written "large:A:B:C".
type LargeCommunity struct {
	GlobalAdmin, LocalData1, LocalData2 uint32
}

// String returns "large:A:B:C", MetalLB's notation.
func (c LargeCommunity) String() string {
	return fmt.Sprintf("large:%d:%d:%d", c.GlobalAdmin, c.LocalData1, c.LocalData2)
}

func compareLarge(a, b LargeCommunity) int {
	if c := cmp.Compare(a.GlobalAdmin, b.GlobalAdmin); c != 0 {
		return c
	}
	if c := cmp.Compare(a.LocalData1, b.LocalData1); c != 0 {
		return c
	}
	return cmp.Compare(a.LocalData2, b.LocalData2)
}

// ParseCommunity parses MetalLB's community notation: "A:B" with 16-bit
// values gives a standard community, "large:A:B:C" with 32-bit values a
// large one. Exactly one of the results is meaningful, as isLarge says.
func ParseCommunity(s string) (c Community, l LargeCommunity, isLarge bool, err error) {
	if rest, ok := strings.CutPrefix(s, "large:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return 0, l, true, fmt.Errorf("invalid large community %q: want large:A:B:C", s)
		}
		var v [3]uint32
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return 0, l, true, fmt.Errorf("invalid large community %q: %q is not a 32-bit number", s, p)
			}
			v[i] = uint32(n)
		}
		return 0, LargeCommunity{v[0], v[1], v[2]}, true, nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(b, ":") {
		return 0, l, false, fmt.Errorf("invalid community %q: want A:B or large:A:B:C", s)
	}
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, l, false, fmt.Errorf("invalid community %q: both parts must be 16-bit numbers", s)
	}
	return NewCommunity(uint16(x), uint16(y)), l, false, nil
}

// mergeAdvertisements turns the caller's list into one entry per prefix, as
// MetalLB's native Set does: duplicate prefixes are merged, their
// communities and large communities unioned and sorted. Of differing
// LocalPrefs the highest wins (MetalLB's config validation rejects such
// conflicts for one peer, so this only matters for unchecked input).
func mergeAdvertisements(advs []Advertisement, family4 bool, session string) (map[netip.Prefix]Advertisement, error) {
	out := make(map[netip.Prefix]Advertisement, len(advs))
	for _, a := range advs {
		if !a.Prefix.IsValid() {
			return nil, fmt.Errorf("bgp session %q: advertisement with an invalid prefix", session)
		}
		p := netip.PrefixFrom(a.Prefix.Addr().Unmap(), a.Prefix.Bits())
		if a.Prefix.Addr().Is4In6() {
			p = netip.PrefixFrom(a.Prefix.Addr().Unmap(), a.Prefix.Bits()-96)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("bgp session %q: prefix %s has host bits set: advertise %s", session, a.Prefix, p.Masked())
		}
		if p.Addr().Is4() != family4 {
			fam := "IPv6"
			if family4 {
				fam = "IPv4"
			}
			return nil, fmt.Errorf("bgp session %q: prefix %s cannot be advertised over this %s session (carrying the other family is not supported)", session, p, fam)
		}
		a.Prefix = p
		prev, dup := out[p]
		if dup {
			a.Communities = append(slices.Clone(prev.Communities), a.Communities...)
			a.LargeCommunities = append(slices.Clone(prev.LargeCommunities), a.LargeCommunities...)
			a.LocalPref = max(a.LocalPref, prev.LocalPref)
		} else {
			a.Communities = slices.Clone(a.Communities)
			a.LargeCommunities = slices.Clone(a.LargeCommunities)
		}
		slices.Sort(a.Communities)
		a.Communities = slices.Compact(a.Communities)
		slices.SortFunc(a.LargeCommunities, compareLarge)
		a.LargeCommunities = slices.Compact(a.LargeCommunities)
		out[p] = a
	}
	return out, nil
}

// equalAdvertisement compares two merged (sorted) advertisements.
func equalAdvertisement(a, b Advertisement) bool {
	return a.Prefix == b.Prefix && a.LocalPref == b.LocalPref &&
		slices.Equal(a.Communities, b.Communities) && slices.Equal(a.LargeCommunities, b.LargeCommunities)
}
