package bgp

import (
	"fmt"
	"time"
)

// Notification is a BGP NOTIFICATION message sent or received.
type Notification struct {
	Code    uint8
	Subcode uint8
	// Data is the message's data field (for Bad Peer AS: the AS received;
	// for Cease with shutdown communication: the text).
	Data []byte
	// Communication is the RFC 8203 shutdown communication, if any.
	Communication string
	Sent          bool // true: we sent it; false: the peer sent it
	Time          time.Time
}

// CodeName is the RFC 4271 name of the error code, e.g. "OPEN Message Error".
func (n Notification) CodeName() string { return NotificationCodeName(n.Code) }

// SubcodeName is the name of the subcode, e.g. "Bad Peer AS".
func (n Notification) SubcodeName() string { return NotificationSubcodeName(n.Code, n.Subcode) }

// String returns "2/2 OPEN Message Error / Bad Peer AS".
func (n Notification) String() string {
	s := fmt.Sprintf("%d/%d %s", n.Code, n.Subcode, NotificationName(n.Code, n.Subcode))
	if n.Communication != "" {
		s += fmt.Sprintf(" (%q)", n.Communication)
	}
	return s
}

var notificationCodes = map[uint8]string{
	1: "Message Header Error",
	2: "OPEN Message Error",
	3: "UPDATE Message Error",
	4: "Hold Timer Expired",
	5: "Finite State Machine Error",
	6: "Cease",
	7: "ROUTE-REFRESH Message Error",
}

// Subcode names from RFC 4271 §4.5, RFC 4486 (Cease), RFC 5492, RFC 6608
// (FSM), RFC 7313 (ROUTE-REFRESH), RFC 8203 and RFC 8538 (Hard Reset), and
// RFC 9234 (Role Mismatch), as IANA lists them.
var notificationSubcodes = map[uint8]map[uint8]string{
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
		5:  "Authentication Failure",
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
		7:  "AS Routing Loop",
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

// NotificationCodeName is the name of an error code, or "Unknown Error
// Code N".
func NotificationCodeName(code uint8) string {
	if s, ok := notificationCodes[code]; ok {
		return s
	}
	return fmt.Sprintf("Unknown Error Code %d", code)
}

// NotificationSubcodeName is the name of a subcode within a code. Subcode 0
// is "Unspecific"; unknown ones are "Unknown Subcode N".
func NotificationSubcodeName(code, subcode uint8) string {
	if subcode == 0 {
		return "Unspecific"
	}
	if s, ok := notificationSubcodes[code][subcode]; ok {
		return s
	}
	return fmt.Sprintf("Unknown Subcode %d", subcode)
}

// NotificationName is "Code / Subcode", e.g. "Cease / Peer De-configured";
// for subcode 0 only the code's name, e.g. "Hold Timer Expired".
func NotificationName(code, subcode uint8) string {
	if subcode == 0 {
		return NotificationCodeName(code)
	}
	return NotificationCodeName(code) + " / " + NotificationSubcodeName(code, subcode)
}
