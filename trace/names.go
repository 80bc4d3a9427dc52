package trace

import (
	"fmt"

	"github.com/onp-lab/onp/internal/bgpnames"
)

// BGP message types (RFC 4271 §4.1, RFC 2918).
const (
	BGPOpenType         = 1
	BGPUpdateType       = 2
	BGPNotificationType = 3
	BGPKeepaliveType    = 4
	BGPRouteRefreshType = 5
)

// BGPTypeName returns the name of a BGP message type: OPEN, UPDATE,
// NOTIFICATION, KEEPALIVE, ROUTE-REFRESH, or "TYPE(n)".
func BGPTypeName(t uint8) string {
	switch t {
	case BGPOpenType:
		return "OPEN"
	case BGPUpdateType:
		return "UPDATE"
	case BGPNotificationType:
		return "NOTIFICATION"
	case BGPKeepaliveType:
		return "KEEPALIVE"
	case BGPRouteRefreshType:
		return "ROUTE-REFRESH"
	}
	return fmt.Sprintf("TYPE(%d)", t)
}

// NotificationCodeName names a NOTIFICATION error code.
func NotificationCodeName(code uint8) string { return bgpnames.Code(code) }

// NotificationSubcodeName names a NOTIFICATION error subcode within its code.
func NotificationSubcodeName(code, subcode uint8) string { return bgpnames.Subcode(code, subcode) }

// capabilityNames are BGP capability codes (IANA "Capability Codes").
var capabilityNames = map[uint8]string{
	1:   "multiprotocol",
	2:   "route-refresh",
	3:   "outbound-route-filtering",
	5:   "extended-nexthop",
	6:   "extended-message",
	7:   "bgpsec",
	8:   "multiple-labels",
	9:   "role",
	64:  "graceful-restart",
	65:  "4-octet-as",
	67:  "dynamic-capability",
	68:  "multisession",
	69:  "add-path",
	70:  "enhanced-route-refresh",
	71:  "long-lived-graceful-restart",
	72:  "routing-policy-distribution",
	73:  "fqdn",
	74:  "bfd-strict",
	75:  "software-version",
	76:  "paths-limit",
	128: "route-refresh-cisco",
	129: "graceful-restart-cisco",
	130: "orf-cisco",
	131: "multisession-cisco",
}

// CapabilityName names a BGP capability code.
func CapabilityName(code uint8) string {
	if n, ok := capabilityNames[code]; ok {
		return n
	}
	return fmt.Sprintf("capability-%d", code)
}

// attributeNames are path attribute type codes (IANA "BGP Path Attributes").
var attributeNames = map[uint8]string{
	1:   "ORIGIN",
	2:   "AS_PATH",
	3:   "NEXT_HOP",
	4:   "MULTI_EXIT_DISC",
	5:   "LOCAL_PREF",
	6:   "ATOMIC_AGGREGATE",
	7:   "AGGREGATOR",
	8:   "COMMUNITIES",
	9:   "ORIGINATOR_ID",
	10:  "CLUSTER_LIST",
	14:  "MP_REACH_NLRI",
	15:  "MP_UNREACH_NLRI",
	16:  "EXTENDED_COMMUNITIES",
	17:  "AS4_PATH",
	18:  "AS4_AGGREGATOR",
	22:  "PMSI_TUNNEL",
	23:  "TUNNEL_ENCAPSULATION",
	25:  "IPV6_EXTENDED_COMMUNITIES",
	26:  "AIGP",
	29:  "BGP-LS",
	32:  "LARGE_COMMUNITIES",
	33:  "BGPsec_PATH",
	35:  "OTC",
	40:  "PREFIX_SID",
	128: "ATTR_SET",
}

// AttributeName names a path attribute type code.
func AttributeName(code uint8) string {
	if n, ok := attributeNames[code]; ok {
		return n
	}
	return fmt.Sprintf("ATTR_%d", code)
}

// wellKnownCommunities are the well-known communities (RFC 1997, 3765,
// 7999, 8326, IANA "BGP Well-known Communities").
var wellKnownCommunities = map[uint32]string{
	0xffff0000: "GRACEFUL_SHUTDOWN",
	0xffff0001: "ACCEPT_OWN",
	0xffff0002: "ROUTE_FILTER_TRANSLATED_v4",
	0xffff0003: "ROUTE_FILTER_v4",
	0xffff0004: "ROUTE_FILTER_TRANSLATED_v6",
	0xffff0005: "ROUTE_FILTER_v6",
	0xffff0006: "LLGR_STALE",
	0xffff0007: "NO_LLGR",
	0xffff0008: "ACCEPT_OWN_NEXTHOP",
	0xffff029a: "BLACKHOLE",
	0xffffff01: "NO_EXPORT",
	0xffffff02: "NO_ADVERTISE",
	0xffffff03: "NO_EXPORT_SUBCONFED",
	0xffffff04: "NOPEER",
}

// CommunityString formats a standard community: its well-known name
// (NO_ADVERTISE) or ASN:VALUE.
func CommunityString(c uint32) string {
	if n, ok := wellKnownCommunities[c]; ok {
		return n
	}
	return fmt.Sprintf("%d:%d", c>>16, c&0xffff)
}

// BFD diagnostic codes (RFC 5880 §4.1, RFC 6428).
var bfdDiagNames = map[uint8]string{
	0: "No Diagnostic",
	1: "Control Detection Time Expired",
	2: "Echo Function Failed",
	3: "Neighbor Signaled Session Down",
	4: "Forwarding Plane Reset",
	5: "Path Down",
	6: "Concatenated Path Down",
	7: "Administratively Down",
	8: "Reverse Concatenated Path Down",
	9: "Mis-Connectivity Defect",
}

// BFDDiagName names a BFD diagnostic code.
func BFDDiagName(d uint8) string {
	if n, ok := bfdDiagNames[d]; ok {
		return n
	}
	return fmt.Sprintf("Reserved Diagnostic %d", d)
}

// BFDStateName names a BFD session state (RFC 5880 §4.1).
func BFDStateName(s uint8) string {
	switch s {
	case 0:
		return "AdminDown"
	case 1:
		return "Down"
	case 2:
		return "Init"
	case 3:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", s)
}

// BFD authentication types (RFC 5880 §4.1).
var bfdAuthNames = map[uint8]string{
	0: "Reserved",
	1: "Simple Password",
	2: "Keyed MD5",
	3: "Meticulous Keyed MD5",
	4: "Keyed SHA1",
	5: "Meticulous Keyed SHA1",
}

// BFDAuthName names a BFD authentication type.
func BFDAuthName(t uint8) string {
	if n, ok := bfdAuthNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Auth Type %d", t)
}
