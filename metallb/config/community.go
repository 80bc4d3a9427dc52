package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors a community string can have. An ErrInvalidCommunityFormat string
// may still be the name of a Community alias.
var (
	ErrInvalidCommunityValue  = errors.New("invalid community value")
	ErrInvalidCommunityFormat = errors.New("invalid community format")
)

// Community is a BGP community: standard (RFC 1997, "65535:65282") or large
// (RFC 8092, "large:64512:1:2").
type Community struct {
	large bool
	v     [3]uint32
}

// StandardCommunity returns the standard community asn:value.
func StandardCommunity(asn, value uint16) Community {
	return Community{v: [3]uint32{uint32(asn)<<16 | uint32(value)}}
}

// LargeCommunity returns the large community global:local1:local2.
func LargeCommunity(global, local1, local2 uint32) Community {
	return Community{large: true, v: [3]uint32{global, local1, local2}}
}

// ParseCommunity parses "A:B" (two 16-bit numbers) or "large:A:B:C" (three
// 32-bit numbers), as MetalLB does.
func ParseCommunity(s string) (Community, error) {
	fs := strings.Split(s, ":")
	switch len(fs) {
	case 2:
		var f [2]uint16
		for i := range f {
			n, err := strconv.ParseUint(fs[i], 10, 16)
			if err != nil {
				return Community{}, fmt.Errorf("%w: invalid section %q of community %q: must be a number from 0 to 65535", ErrInvalidCommunityValue, fs[i], s)
			}
			f[i] = uint16(n)
		}
		return StandardCommunity(f[0], f[1]), nil
	case 4:
		if fs[0] != "large" {
			return Community{}, fmt.Errorf("%w: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got %q instead", ErrInvalidCommunityValue, s)
		}
		var f [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(fs[i+1], 10, 32)
			if err != nil {
				return Community{}, fmt.Errorf("%w: invalid section %q of community %q: must be a number from 0 to 4294967295", ErrInvalidCommunityValue, fs[i+1], s)
			}
			f[i] = uint32(n)
		}
		return LargeCommunity(f[0], f[1], f[2]), nil
	}
	return Community{}, fmt.Errorf("%w: %s", ErrInvalidCommunityFormat, s)
}

// IsLarge reports whether c is a large community.
func (c Community) IsLarge() bool { return c.large }

// Value returns a standard community as the 32-bit value sent on the wire
// (ASN<<16 | value); 0 for a large community.
func (c Community) Value() uint32 {
	if c.large {
		return 0
	}
	return c.v[0]
}

// Large returns a large community's three parts; zeros for a standard one.
func (c Community) Large() (global, local1, local2 uint32) {
	if !c.large {
		return 0, 0, 0
	}
	return c.v[0], c.v[1], c.v[2]
}

// String renders the community the way it is written in a
// BGPAdvertisement: "65535:65282" or "large:64512:1:2".
func (c Community) String() string {
	if c.large {
		return fmt.Sprintf("large:%d:%d:%d", c.v[0], c.v[1], c.v[2])
	}
	return fmt.Sprintf("%d:%d", c.v[0]>>16, c.v[0]&0xffff)
}

// Compare orders communities as MetalLB does: a standard community counts
// as the large community value:0:0; at equal values standard sorts first.
func (c Community) Compare(d Community) int {
	for i := range c.v {
		if c.v[i] != d.v[i] {
			if c.v[i] < d.v[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case c.large == d.large:
		return 0
	case !c.large:
		return -1
	}
	return 1
}
