package config

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestParseAddresses(t *testing.T) {
	cases := []struct{ in, want string }{
		{"10.0.0.0/24", "[10.0.0.0/24]"},
		{"10.0.0.77/24", "[10.0.0.0/24]"},
		{" 10.0.0.0/30 ", "[10.0.0.0/30]"},
		{"10.0.0.10-10.0.0.20", "[10.0.0.10/31 10.0.0.12/30 10.0.0.16/30 10.0.0.20/32]"},
		{"10.0.0.10 - 10.0.0.20", "[10.0.0.10/31 10.0.0.12/30 10.0.0.16/30 10.0.0.20/32]"},
		{"10.0.0.0-10.0.0.255", "[10.0.0.0/24]"},
		{"0.0.0.0-255.255.255.255", "[0.0.0.0/0]"},
		{"255.255.255.254-255.255.255.255", "[255.255.255.254/31]"},
		{"10.0.0.5-10.0.0.5", "[10.0.0.5/32]"},
		{"fc00::/120", "[fc00::/120]"},
		{"fc00::1-fc00::6", "[fc00::1/128 fc00::2/127 fc00::4/127 fc00::6/128]"},
		{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "[::/0]"},
	}
	for _, tc := range cases {
		got, err := ParseAddresses(tc.in)
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("ParseAddresses(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	bad := map[string]string{
		"10.0.0.0":                   `invalid CIDR "10.0.0.0"`,
		"10.0.0.0/33":                `invalid CIDR "10.0.0.0/33"`,
		"::ffff:10.0.0.0/120":        `invalid CIDR "::ffff:10.0.0.0/120": IPv4-mapped IPv6 addresses are not supported, write the IPv4 prefix`,
		"a-b":                        `invalid IP range "a-b": invalid start IP "a"`,
		"10.0.0.1-":                  `invalid IP range "10.0.0.1-": invalid end IP ""`,
		"10.0.0.1-10.0.0.2-10.0.0.3": `invalid IP range "10.0.0.1-10.0.0.2-10.0.0.3": invalid end IP "10.0.0.2-10.0.0.3"`,
		"fe80::1%eth0-fe80::2":       `invalid IP range "fe80::1%eth0-fe80::2": invalid start IP "fe80::1%eth0"`,
		"10.0.0.9-10.0.0.1":          `invalid IP range "10.0.0.9-10.0.0.1": start IP "10.0.0.9" is after the end IP "10.0.0.1"`,
	}
	for in, want := range bad {
		if _, err := ParseAddresses(in); err == nil || err.Error() != want {
			t.Errorf("ParseAddresses(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/24": "10.0.0.255", "10.0.0.5/32": "10.0.0.5", "0.0.0.0/0": "255.255.255.255",
		"10.0.0.0/23": "10.0.1.255", "fc00::/127": "fc00::1", "fc00::/64": "fc00::ffff:ffff:ffff:ffff",
	} {
		if got := LastAddr(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("LastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseCommunity(t *testing.T) {
	good := []struct {
		in    string
		large bool
		value uint32
		parts [3]uint32
	}{
		{"65535:65282", false, 0xffffff02, [3]uint32{}},
		{"0:0", false, 0, [3]uint32{}},
		{"64512:100", false, 64512<<16 | 100, [3]uint32{}},
		{"large:64512:1:2", true, 0, [3]uint32{64512, 1, 2}},
		{"large:4294967295:4294967295:4294967295", true, 0, [3]uint32{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}},
	}
	for _, tc := range good {
		c, err := ParseCommunity(tc.in)
		if err != nil {
			t.Errorf("ParseCommunity(%q): %v", tc.in, err)
			continue
		}
		g, l1, l2 := c.Large()
		if c.IsLarge() != tc.large || c.Value() != tc.value || [3]uint32{g, l1, l2} != tc.parts || c.String() != tc.in {
			t.Errorf("ParseCommunity(%q) = %+v (%s)", tc.in, c, c)
		}
	}
	for in, want := range map[string]error{
		"65536:1": ErrInvalidCommunityValue, "-1:1": ErrInvalidCommunityValue, "a:b": ErrInvalidCommunityValue,
		"large:1:2": ErrInvalidCommunityFormat, "foo:1:2:3": ErrInvalidCommunityValue, "large:1:2:x": ErrInvalidCommunityValue,
		"no-export": ErrInvalidCommunityFormat, "": ErrInvalidCommunityFormat, "1:2:3:4:5": ErrInvalidCommunityFormat,
	} {
		if _, err := ParseCommunity(in); !errors.Is(err, want) {
			t.Errorf("ParseCommunity(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestCommunityOrder(t *testing.T) {
	cs := []Community{LargeCommunity(1, 0, 0), StandardCommunity(0, 2), StandardCommunity(0, 1), LargeCommunity(0, 0, 0), StandardCommunity(0, 1)}
	// A standard community counts as the large community value:0:0, so 0:1
	// (value 1) sits with large:1:0:0, before it.
	if got := fmt.Sprint(sortCommunities(cs)); got != "[large:0:0:0 0:1 large:1:0:0 0:2]" {
		t.Errorf("sorted = %s", got)
	}
}

func FuzzParseAddresses(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "10.0.0.10-10.0.0.20", "fc00::1 - fc00::ff", "1.2.3.4-1.2.3.4", "::-::1", "x-y", "10.0.0.0/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseAddresses(s)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatalf("%q: no prefixes and no error", s)
		}
		for i, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("%q: prefix %v is not a valid masked prefix", s, p)
			}
			if i > 0 {
				prev := ps[i-1]
				if next := LastAddr(prev).Next(); next != p.Addr() {
					t.Fatalf("%q: prefixes %v and %v are not contiguous", s, prev, p)
				}
			}
		}
	})
}

func FuzzParseCommunity(f *testing.F) {
	for _, s := range []string{"65535:65282", "large:1:2:3", "no-export", "1:2:3", "large:4294967295:0:0", "65536:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommunity(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCommunityValue) && !errors.Is(err, ErrInvalidCommunityFormat) {
				t.Fatalf("%q: error %v wraps neither sentinel", s, err)
			}
			return
		}
		again, err := ParseCommunity(c.String())
		if err != nil || again != c {
			t.Fatalf("%q: round trip through %q gives %v, %v", s, c.String(), again, err)
		}
	})
}
