// Package vyos is onp's model of the VyOS command line: a configuration
// tree with VyOS's schema (tag nodes, multi-valued and valueless leaves,
// value validation) for the 1.3 and 1.4 syntaxes, the parser for set and
// delete lines, config.boot reading and writing, the renderer that turns a
// committed tree into FRR configuration the way VyOS's templates do, the
// commit engine (Router) that validates, renders and applies it to a real
// FRR and to the interfaces, and the CLI (Shell) that an SSH server drives.
//
// Output strings (errors, prompts, warnings) follow VyOS's own so that
// automation written for a real VyOS box works unchanged.
package vyos

import "fmt"

// Dialect is the VyOS CLI syntax a router speaks.
type Dialect string

const (
	// V13 is VyOS 1.3 (equuleus): the BGP AS is a tag node,
	// "set protocols bgp 64512 neighbor ...", and IPv4 unicast is active for
	// every neighbor unless "parameters default no-ipv4-unicast" is set.
	V13 Dialect = "1.3"
	// V14 is VyOS 1.4 (sagitta): "set protocols bgp system-as 64512",
	// "set protocols bgp neighbor ...", and FRR always gets "no bgp default
	// ipv4-unicast", so neighbors need an address-family.
	V14 Dialect = "1.4"
)

// ParseDialect accepts "1.3", "1.4" (and longer versions such as "1.3.8");
// empty means 1.3.
func ParseDialect(s string) (Dialect, error) {
	switch {
	case s == "", s == "1.3" || len(s) > 4 && s[:4] == "1.3.":
		return V13, nil
	case s == "1.4" || len(s) > 4 && s[:4] == "1.4.":
		return V14, nil
	}
	return "", fmt.Errorf("vyos: unknown dialect %q: use \"1.3\" or \"1.4\"", s)
}

// Release is the VyOS release a dialect presents itself as.
func (d Dialect) Release() string {
	if d == V14 {
		return "1.4.0"
	}
	return "1.3.8"
}

// Train is the release train name of the dialect.
func (d Dialect) Train() string {
	if d == V14 {
		return "sagitta"
	}
	return "equuleus"
}

// componentVersions is the vyos-config-version footer string of config.boot.
func (d Dialect) componentVersions() string {
	if d == V14 {
		return "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@1:dhcp-relay@2:dhcp-server@8:dhcpv6-server@1:dns-dynamic@4:dns-forwarding@4:firewall@15:flow-accounting@1:https@6:ids@1:interfaces@32:ipoe-server@3:ipsec@13:isis@3:l2tp@8:lldp@2:mdns@1:monitoring@1:nat@7:nat66@3:ntp@3:openconnect@3:ospf@2:pim@1:policy@8:pppoe-server@8:pptp@4:qos@2:quagga@11:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2"
	}
	return "broadcast-relay@1:cluster@1:config-management@1:conntrack@3:conntrack-sync@2:dhcp-relay@2:dhcp-server@6:dhcpv6-server@1:dns-forwarding@3:firewall@5:https@3:interfaces@22:ipoe-server@1:ipsec@5:isis@1:l2tp@3:lldp@1:mdns@1:nat@5:ntp@1:pppoe-server@5:pptp@2:qos@1:quagga@8:rpki@1:salt@1:snmp@2:ssh@2:sstp@3:system@21:vrrp@2:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2:zone-policy@1"
}

// bootFooter is the trailer VyOS writes at the end of config.boot.
func (d Dialect) bootFooter() string {
	return "// Warning: Do not remove the following line.\n" +
		"// vyos-config-version: \"" + d.componentVersions() + "\"\n" +
		"// Release version: " + d.Release() + "\n"
}

// versionText is the output of "show version".
func (d Dialect) versionText(hostname string) string {
	return fmt.Sprintf(`Version:          VyOS %s
Release train:    %s

Built by:         onp (VyOS-compatible appliance on FRR)
Built on:         Mon 01 Jan 2024 00:00 UTC
Build UUID:       5b0f7c1e-4f2a-4d7e-9c3b-6f1d2a8e0c11
Build commit ID:  0000000000000

Architecture:     x86_64
Boot via:         installed image
System type:      network namespace

Hardware vendor:  onp
Hardware model:   VyOS-compatible appliance
Hardware S/N:     %s
Hardware UUID:    Unknown

Copyright:        VyOS maintainers and contributors
`, d.Release(), d.Train(), hostname)
}
