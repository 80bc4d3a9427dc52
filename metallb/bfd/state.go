package bfd

import "fmt"

// State is a BFD session state (RFC 5880 §4.1).
type State uint8

// Session states.
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

// String returns the RFC name of the state ("AdminDown", "Down", "Init", "Up").
func (s State) String() string {
	switch s {
	case StateAdminDown:
		return "AdminDown"
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag is a BFD diagnostic code (RFC 5880 §4.1): why the local system last
// changed state.
type Diag uint8

// Diagnostic codes.
const (
	DiagNone                       Diag = 0
	DiagControlDetectionExpired    Diag = 1
	DiagEchoFailed                 Diag = 2
	DiagNeighborSignaledDown       Diag = 3
	DiagForwardingPlaneReset       Diag = 4
	DiagPathDown                   Diag = 5
	DiagConcatenatedPathDown       Diag = 6
	DiagAdministrativelyDown       Diag = 7
	DiagReverseConcatenatedPathDwn Diag = 8
)

var diagNames = [...]string{
	"No Diagnostic",
	"Control Detection Time Expired",
	"Echo Function Failed",
	"Neighbor Signaled Session Down",
	"Forwarding Plane Reset",
	"Path Down",
	"Concatenated Path Down",
	"Administratively Down",
	"Reverse Concatenated Path Down",
}

// String returns the RFC 5880 name of the diagnostic.
func (d Diag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return fmt.Sprintf("Reserved Diagnostic %d", uint8(d))
}
