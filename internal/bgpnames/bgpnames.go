// Package bgpnames names BGP NOTIFICATION error codes and subcodes (RFC 4271
// §4.5, RFC 4486, 5492, 6608, 7313, 8203, 8538, 9234, as IANA lists them).
// The speaker's status and the packet decoder use the same names, so a
// NOTIFICATION reads the same in `onp bgp`, `onp trace` and `onp diagnose`.
package bgpnames

import "fmt"

var codes = map[uint8]string{
	1: "Message Header Error",
	2: "OPEN Message Error",
	3: "UPDATE Message Error",
	4: "Hold Timer Expired",
	5: "Finite State Machine Error",
	6: "Cease",
	7: "ROUTE-REFRESH Message Error",
}

var subcodes = map[uint8]map[uint8]string{
	1: {
		1: "Connection Not Synchronized",
		2: "Bad Message Length",
		3: "Bad Message Type",
	},
	2: {
		1:  "Unsupported Version Number",
		2:  "Bad Peer AS",
		3:  "Bad BGP Identifier",
		4:  "Unsupported Optional Parameter",
		5:  "Authentication Failure (deprecated)",
		6:  "Unacceptable Hold Time",
		7:  "Unsupported Capability",
		8:  "Deprecated (8)",
		9:  "Deprecated (9)",
		10: "Deprecated (10)",
		11: "Role Mismatch",
	},
	3: {
		1:  "Malformed Attribute List",
		2:  "Unrecognized Well-known Attribute",
		3:  "Missing Well-known Attribute",
		4:  "Attribute Flags Error",
		5:  "Attribute Length Error",
		6:  "Invalid ORIGIN Attribute",
		7:  "AS Routing Loop (deprecated)",
		8:  "Invalid NEXT_HOP Attribute",
		9:  "Optional Attribute Error",
		10: "Invalid Network Field",
		11: "Malformed AS_PATH",
	},
	5: {
		1: "Receive Unexpected Message in OpenSent State",
		2: "Receive Unexpected Message in OpenConfirm State",
		3: "Receive Unexpected Message in Established State",
	},
	6: {
		1:  "Maximum Number of Prefixes Reached",
		2:  "Administrative Shutdown",
		3:  "Peer De-configured",
		4:  "Administrative Reset",
		5:  "Connection Rejected",
		6:  "Other Configuration Change",
		7:  "Connection Collision Resolution",
		8:  "Out of Resources",
		9:  "Hard Reset",
		10: "BFD Down",
	},
	7: {
		1: "Invalid Message Length",
	},
}

// Code names an error code, or "Unknown Error Code N".
func Code(code uint8) string {
	if s, ok := codes[code]; ok {
		return s
	}
	return fmt.Sprintf("Unknown Error Code %d", code)
}

// Subcode names a subcode within its code. Subcode 0 is "Unspecific"
// ("Unspecified Error" for the FSM error code, RFC 6608); unknown ones are
// "Unknown Subcode N".
func Subcode(code, subcode uint8) string {
	if subcode == 0 {
		if code == 5 {
			return "Unspecified Error"
		}
		return "Unspecific"
	}
	if s, ok := subcodes[code][subcode]; ok {
		return s
	}
	return fmt.Sprintf("Unknown Subcode %d", subcode)
}

// Name is "Code / Subcode", e.g. "Cease / Peer De-configured"; for subcode
// 0 only the code's name, e.g. "Hold Timer Expired".
func Name(code, subcode uint8) string {
	if subcode == 0 {
		return Code(code)
	}
	return Code(code) + " / " + Subcode(code, subcode)
}
