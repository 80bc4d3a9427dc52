package bgp

import (
	"fmt"
	"time"

	"github.com/onp-lab/onp/internal/bgpnames"
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

// NotificationCodeName is the name of an error code, or "Unknown Error
// Code N".
func NotificationCodeName(code uint8) string { return bgpnames.Code(code) }

// NotificationSubcodeName is the name of a subcode within a code.
func NotificationSubcodeName(code, subcode uint8) string { return bgpnames.Subcode(code, subcode) }

// NotificationName is "Code / Subcode", e.g. "Cease / Peer De-configured";
// for subcode 0 only the code's name, e.g. "Hold Timer Expired".
func NotificationName(code, subcode uint8) string { return bgpnames.Name(code, subcode) }
