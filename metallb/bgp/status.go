package bgp

import (
	"fmt"
	"time"

	"github.com/onp-lab/onp/metallb/bfd"
)

// FSMState is a BGP finite state machine state (RFC 4271 §8.2.2).
type FSMState uint8

// FSM states. StateUnknown is used before the backend reported anything.
// gobgp never reports StateConnect (see the package documentation).
const (
	StateUnknown FSMState = iota
	StateIdle
	StateConnect
	StateActive
	StateOpenSent
	StateOpenConfirm
	StateEstablished
)

var stateNames = [...]string{"Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

// String returns the state's name as FRR prints it ("Established").
func (s FSMState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("FSMState(%d)", uint8(s))
}

// Transition is one FSM state change of a session.
type Transition struct {
	Time     time.Time
	From, To FSMState
	// Reason is why gobgp left From, when it says (e.g. "notification
	// received: 6/2 Cease / Administrative Shutdown", "hold timer expired").
	Reason string
}

// MessageCount counts BGP messages in one direction.
type MessageCount struct {
	Open, Update, Keepalive, Notification, RouteRefresh, Total uint64
}

func (c MessageCount) add(o MessageCount) MessageCount {
	return MessageCount{c.Open + o.Open, c.Update + o.Update, c.Keepalive + o.Keepalive,
		c.Notification + o.Notification, c.RouteRefresh + o.RouteRefresh, c.Total + o.Total}
}

// Status is a snapshot of one session.
type Status struct {
	Name    string
	Peer    string // "ip:port"
	MyASN   uint32
	PeerASN uint32 // configured, or learned from the OPEN with DynamicASN
	IBGP    bool

	// State is the current FSM state; Since when it was entered.
	State FSMState
	Since time.Time
	// AdminDown is set while the peer is disabled because BFD went down.
	AdminDown bool
	// Uptime is how long the session has been Established (zero if not);
	// Downtime how long it has been down since it was last Established
	// (zero if never Established, or if up).
	Uptime   time.Duration
	Downtime time.Duration
	// EstablishedCount counts how often the session reached Established
	// since it was created; Flaps counts drops after less than 30 s.
	EstablishedCount uint64

	// History holds the last transitions, oldest first.
	History []Transition

	LastError     string
	LastErrorTime time.Time

	LastNotificationSent     *Notification
	LastNotificationReceived *Notification

	Sent, Received MessageCount

	// PrefixesDesired is how many prefixes Set asked for; PrefixesAdvertised
	// how many the router currently has from this session (zero when the
	// session is not Established).
	PrefixesDesired    int
	PrefixesAdvertised int

	// Negotiated timers (zero until Established).
	NegotiatedHoldTime time.Duration
	KeepaliveInterval  time.Duration

	RouterID       string // ours
	RemoteRouterID string // the router's BGP identifier
	LocalAddress   string // our end of the TCP connection, "ip:port"

	// BFD is the BFD session's status, nil without a BFD profile.
	BFD *bfd.Status
}

// EventType names session events with MetalLB's event names.
type EventType string

// Event types.
const (
	EventSessionUp        EventType = "sessionUp"
	EventSessionDown      EventType = "sessionDown"
	EventPeerNotification EventType = "peerNotification"
	EventStateChange      EventType = "stateChange"
	EventBFDStateChange   EventType = "bfdStateChange"
)

// Event is delivered to Options.OnEvent, in order per session.
type Event struct {
	Type    EventType
	Session string // SessionParameters.Name
	Peer    string // "ip:port"
	Time    time.Time
	// From and To are set for stateChange, sessionUp and sessionDown.
	From, To FSMState
	// Reason is set for sessionDown and stateChange when known.
	Reason string
	// Notification is set for peerNotification (sent or received).
	Notification *Notification
	// BFD is set for bfdStateChange.
	BFD *bfd.StateChange
}
