package speaker

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of StatusReport's JSON. Within one version
// fields are only ever added, never renamed, removed or given another
// meaning; readers ignore fields they do not know.
const SchemaVersion = 1

// Speaker states (StatusReport.State).
const (
	// StateConnecting: the cluster API does not answer (yet).
	StateConnecting = "connecting"
	// StateSyncing: connected, reading the cluster's objects.
	StateSyncing = "syncing"
	// StateWaiting: no MetalLB resource, the node is not selected by it,
	// the Node object is missing, or no valid configuration was ever seen.
	// The speaker holds no sessions; Message says which.
	StateWaiting = "waiting"
	// StateRunning: sessions follow the configuration.
	StateRunning = "running"
	// StateStopped: Run has returned.
	StateStopped = "stopped"
)

// Configuration states (ConfigStatus.State).
const (
	// ConfigUnknown: not evaluated yet (no MetalLB resource, or syncing).
	ConfigUnknown = "unknown"
	// ConfigValid: the current objects form a valid configuration.
	ConfigValid = "valid"
	// ConfigInvalid: the current objects do not; the last valid
	// configuration (if any, ConfigStatus.Stale) stays in effect, as
	// MetalLB's speaker keeps it.
	ConfigInvalid = "invalid"
)

// StatusReport is what the speaker's status endpoint serves (GET /status on
// Options.StatusSocket) and what Status returns: the sessions with their
// whole BGP state, and the speaker's view of the configuration — the
// MetalLB resource, config validity, pools, every BGPPeer with whether this
// node runs a session for it and why not, and every LoadBalancer service
// with the announce decision and MetalLB's reason.
type StatusReport struct {
	SchemaVersion int       `json:"schemaVersion"`
	Node          string    `json:"node"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"startedAt"`
	// Time is when the report was made.
	Time time.Time `json:"time"`
	// State is one of the State constants; Message says in one sentence
	// what the speaker is doing or waiting for ("waiting for a MetalLB
	// resource in metallb-system").
	State   string `json:"state"`
	Message string `json:"message"`

	Cluster ClusterStatus `json:"cluster"`
	MetalLB MetalLBStatus `json:"metallb"`
	Config  ConfigStatus  `json:"config"`

	// Pools of the configuration in effect, sorted by name.
	Pools []PoolStatus `json:"pools"`
	// Peers lists every BGPPeer of the configuration in effect, sorted by
	// name, with whether this node runs a session for it.
	Peers []PeerStatus `json:"peers"`
	// Sessions are the BGP sessions this speaker runs, sorted by name
	// (the BGPPeer's name).
	Sessions []SessionStatus `json:"sessions"`
	// Services lists every LoadBalancer service, sorted by namespace and
	// name, with this node's announce decision.
	Services []ServiceStatus `json:"services"`
	// Events are the speaker's most recent events, oldest first
	// (peerAdded, peerRemoved, sessionUp, sessionDown, peerNotification,
	// serviceAnnounced, serviceWithdrawn, configLoaded, configInvalid, ...).
	Events []EventRecord `json:"events"`
}

// ClusterStatus is the speaker's connection to the node's cluster API.
type ClusterStatus struct {
	Socket    string `json:"socket,omitempty"`
	Connected bool   `json:"connected"`
	// LastError is the last failure talking to the API, kept after
	// recovery; LastErrorTime says when.
	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`
}

// MetalLBStatus is what the speaker knows about the MetalLB resource, whose
// presence starts it.
type MetalLBStatus struct {
	Namespace string `json:"namespace"`
	Present   bool   `json:"present"`
	// Name of the MetalLB resource in effect (the oldest if several).
	Name string `json:"name,omitempty"`
	// NodeSelected is false when the resource's spec.nodeSelector does not
	// match this node (the operator would run no speaker here).
	NodeSelected bool `json:"nodeSelected"`
	// LoadBalancerClass is the class of services handled ("" = services
	// without a class).
	LoadBalancerClass string `json:"loadBalancerClass,omitempty"`
}

// ConfigStatus is the validity of the MetalLB configuration.
type ConfigStatus struct {
	// State is one of ConfigUnknown, ConfigValid, ConfigInvalid.
	State string `json:"state"`
	// Error is the whole validation error of the current objects.
	Error string `json:"error,omitempty"`
	// Errors are its parts, each naming the object and field.
	Errors []ConfigError `json:"errors,omitempty"`
	// Transient is true when every error is one MetalLB treats as
	// transient (a reference to a BFDProfile, password Secret or Community
	// alias not created yet): it resolves itself once the object exists.
	Transient bool `json:"transient,omitempty"`
	// Stale is true while an older valid configuration stays in effect
	// because the current one is invalid (metallb_k8s_client_config_stale_bool).
	Stale bool `json:"stale,omitempty"`
	// Since is when the configuration reached this state; LastValid when
	// the configuration in effect was loaded.
	Since     *time.Time `json:"since,omitempty"`
	LastValid *time.Time `json:"lastValid,omitempty"`
	// Warnings of the configuration in effect (layer 2 advertisements,
	// deprecated fields, references to objects that do not exist yet).
	Warnings []string `json:"warnings,omitempty"`
}

// ConfigError is one validation problem.
type ConfigError struct {
	// Object is "BGPPeer metallb-system/onp-bgp-peer".
	Object string `json:"object"`
	// Field is the field path, "spec.peerASN"; empty for the whole object.
	Field     string `json:"field,omitempty"`
	Message   string `json:"message"`
	Transient bool   `json:"transient,omitempty"`
}

// PoolStatus is one IPAddressPool of the configuration in effect.
type PoolStatus struct {
	Name          string   `json:"name"`
	Addresses     []string `json:"addresses"`
	AutoAssign    bool     `json:"autoAssign"`
	AvoidBuggyIPs bool     `json:"avoidBuggyIPs,omitempty"`
	// Advertisements names the BGPAdvertisements that cover the pool; none
	// means the pool's addresses are assigned but never announced.
	Advertisements []string `json:"advertisements"`
	// L2Advertised is true when an L2Advertisement selects the pool (not
	// announced by this speaker).
	L2Advertised bool `json:"l2Advertised,omitempty"`
}

// Peer reasons (PeerStatus.Reason). The first is MetalLB's; the others
// are this speaker's limits.
const (
	ReasonFilteredByNodeSelector = "filteredByNodeSelector"
	// ReasonUnsupported: the peer needs a feature this speaker lacks
	// (unnumbered BGP over an interface, a VRF).
	ReasonUnsupported = "unsupported"
	// ReasonInvalidParameters: the session layer refused the parameters.
	ReasonInvalidParameters = "invalidParameters"
	// ReasonSessionFailed: the session layer could not create the session
	// (Message has its error); the speaker retries with backoff.
	ReasonSessionFailed = "sessionFailed"
)

// PeerStatus is one BGPPeer and whether this node runs a session for it.
type PeerStatus struct {
	Name       string `json:"name"`
	Address    string `json:"address,omitempty"`
	Port       uint16 `json:"port,omitempty"`
	Interface  string `json:"interface,omitempty"`
	MyASN      uint32 `json:"myASN"`
	PeerASN    uint32 `json:"peerASN,omitempty"`
	DynamicASN string `json:"dynamicASN,omitempty"`
	// Session is true when this node runs a session for the peer (see
	// StatusReport.Sessions, same name).
	Session bool `json:"session"`
	// Reason and Message say why there is no session.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Warnings are settings this speaker accepts but cannot honour
	// exactly (gracefulRestart, holdTime 0, dualStackAddressFamily).
	Warnings []string `json:"warnings,omitempty"`
}

// SessionStatus is one BGP session: its configuration and its state as the
// session layer (gobgp) reports it.
type SessionStatus struct {
	// Name is the BGPPeer's name.
	Name string `json:"name"`
	// Peer is "ip:port", the label of MetalLB's metrics.
	Peer        string `json:"peer"`
	PeerAddress string `json:"peerAddress"`
	PeerPort    uint16 `json:"peerPort"`
	// LocalAddress is our end of the TCP connection, "ip:port", while
	// connected.
	LocalAddress string `json:"localAddress,omitempty"`
	// SourceAddress is the configured source address, if any.
	SourceAddress string `json:"sourceAddress,omitempty"`
	MyASN         uint32 `json:"myASN"`
	// PeerASN is configured, or learned from the OPEN with DynamicASN.
	PeerASN    uint32 `json:"peerASN"`
	DynamicASN string `json:"dynamicASN,omitempty"`
	IBGP       bool   `json:"ibgp"`
	// RouterID is ours, RemoteRouterID the router's BGP identifier.
	RouterID       string `json:"routerID,omitempty"`
	RemoteRouterID string `json:"remoteRouterID,omitempty"`

	// State is the FSM state as FRR names it ("Idle", "Active",
	// "OpenSent", "OpenConfirm", "Established"; gobgp never reports
	// "Connect"); Since is when it was entered.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// AdminDown is set while the session is held down because BFD went
	// down.
	AdminDown bool `json:"adminDown,omitempty"`
	// Uptime: how long Established (zero otherwise). Downtime: how long
	// down since it was last Established (zero if up or never up).
	Uptime   Duration `json:"uptime,omitzero"`
	Downtime Duration `json:"downtime,omitzero"`
	// EstablishedCount counts how often the session reached Established
	// since the speaker created it.
	EstablishedCount uint64 `json:"establishedCount"`
	// Transitions are the last FSM state changes, oldest first.
	Transitions []Transition `json:"transitions"`

	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`

	LastNotificationSent     *Notification `json:"lastNotificationSent,omitempty"`
	LastNotificationReceived *Notification `json:"lastNotificationReceived,omitempty"`

	Sent     MessageCounts `json:"sent"`
	Received MessageCounts `json:"received"`

	// Configured timers (after MetalLB's defaults and derivations).
	HoldTime      Duration `json:"holdTime"`
	KeepaliveTime Duration `json:"keepaliveTime"`
	ConnectTime   Duration `json:"connectTime"`
	// Negotiated timers, while Established.
	NegotiatedHoldTime Duration `json:"negotiatedHoldTime,omitzero"`
	KeepaliveInterval  Duration `json:"keepaliveInterval,omitzero"`

	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`
	// Password is true when TCP MD5 is configured (the password itself is
	// never reported); PasswordSecret names its Secret, if any.
	Password       bool   `json:"password,omitempty"`
	PasswordSecret string `json:"passwordSecret,omitempty"`

	// PrefixesDesired is how many prefixes the session should carry
	// (len(Routes)); PrefixesAdvertised how many the router currently has
	// from it (zero unless Established).
	PrefixesDesired    int `json:"prefixesDesired"`
	PrefixesAdvertised int `json:"prefixesAdvertised"`
	// Routes is the session's desired set, sorted by prefix.
	Routes []RouteStatus `json:"routes"`

	// BFD is the BFD session, nil without a BFD profile.
	BFD *BFDStatus `json:"bfd,omitempty"`
}

// Transition is one FSM state change.
type Transition struct {
	Time time.Time `json:"time"`
	From string    `json:"from"`
	To   string    `json:"to"`
	// Reason is why the session left From, when known ("hold timer
	// expired", "notification received: 6/2 Cease / Administrative
	// Shutdown").
	Reason string `json:"reason,omitempty"`
}

// Notification is a BGP NOTIFICATION message sent or received.
type Notification struct {
	// Direction is "sent" or "received".
	Direction   string `json:"direction"`
	Code        uint8  `json:"code"`
	Subcode     uint8  `json:"subcode"`
	CodeName    string `json:"codeName"`
	SubcodeName string `json:"subcodeName"`
	// Name is "OPEN Message Error / Bad Peer AS".
	Name string `json:"name"`
	// Data is the data field in hex.
	Data string `json:"data,omitempty"`
	// Communication is the RFC 8203 shutdown communication.
	Communication string    `json:"communication,omitempty"`
	Time          time.Time `json:"time"`
}

// String is "received 2/2 OPEN Message Error / Bad Peer AS".
func (n *Notification) String() string {
	s := fmt.Sprintf("%s %d/%d %s", n.Direction, n.Code, n.Subcode, n.Name)
	if n.Communication != "" {
		s += fmt.Sprintf(" (%q)", n.Communication)
	}
	return s
}

// MessageCounts counts BGP messages in one direction.
type MessageCounts struct {
	Open         uint64 `json:"open"`
	Update       uint64 `json:"update"`
	Keepalive    uint64 `json:"keepalive"`
	Notification uint64 `json:"notification"`
	RouteRefresh uint64 `json:"routeRefresh"`
	Total        uint64 `json:"total"`
}

// RouteStatus is one prefix of a session's desired set.
type RouteStatus struct {
	Prefix string `json:"prefix"`
	// Communities, standard ("65535:65282") and large ("large:1:2:3"),
	// sorted.
	Communities []string `json:"communities,omitempty"`
	// LocalPref is the advertisements' localPref; it is sent on iBGP only,
	// and only when not 0 (the router then applies its default, 100).
	LocalPref uint32 `json:"localPref,omitempty"`
	// Services are the services ("namespace/name") behind the prefix.
	Services []string `json:"services"`
	// Advertisements are the BGPAdvertisements behind the prefix.
	Advertisements []string `json:"advertisements"`
}

// BFDStatus is a session's BFD state.
type BFDStatus struct {
	Profile     string `json:"profile"`
	State       string `json:"state"`
	Diag        string `json:"diag"`
	RemoteState string `json:"remoteState"`
	RemoteDiag  string `json:"remoteDiag"`
	MultiHop    bool   `json:"multiHop,omitempty"`
	SourcePort  uint16 `json:"sourcePort,omitempty"`

	LocalDiscriminator  uint32 `json:"localDiscriminator"`
	RemoteDiscriminator uint32 `json:"remoteDiscriminator"`

	// The profile, with defaults applied.
	ReceiveInterval  Duration `json:"receiveInterval"`
	TransmitInterval Duration `json:"transmitInterval"`
	DetectMultiplier uint8    `json:"detectMultiplier"`
	EchoInterval     Duration `json:"echoInterval"`
	EchoMode         bool     `json:"echoMode,omitempty"`
	PassiveMode      bool     `json:"passiveMode,omitempty"`
	MinimumTTL       uint8    `json:"minimumTTL,omitempty"`

	// What the peer advertised last.
	RemoteReceiveInterval     Duration `json:"remoteReceiveInterval,omitzero"`
	RemoteTransmitInterval    Duration `json:"remoteTransmitInterval,omitzero"`
	RemoteEchoReceiveInterval Duration `json:"remoteEchoReceiveInterval,omitzero"`
	RemoteDetectMultiplier    uint8    `json:"remoteDetectMultiplier,omitempty"`

	TxInterval    Duration `json:"txInterval,omitzero"`
	DetectionTime Duration `json:"detectionTime,omitzero"`

	ControlPacketsIn  uint64    `json:"controlPacketsIn"`
	ControlPacketsOut uint64    `json:"controlPacketsOut"`
	UpEvents          uint64    `json:"upEvents"`
	DownEvents        uint64    `json:"downEvents"`
	Dropped           uint64    `json:"dropped,omitempty"`
	LastDropReason    string    `json:"lastDropReason,omitempty"`
	LastChange        time.Time `json:"lastChange"`
}

// Service reasons that are this speaker's, in addition to MetalLB's
// (config.Reason* and the ones below).
const (
	// ReasonNoIPAllocated: the service has no ingress IP yet (MetalLB's).
	ReasonNoIPAllocated = "noIPAllocated"
	// ReasonIPNotAllowed: the ingress IP is in no pool of the
	// configuration (MetalLB's).
	ReasonIPNotAllowed = "ipNotAllowed"
	// ReasonServiceDeleted and ReasonNotLoadBalancer are logged when an
	// announced service goes away or changes type (MetalLB's).
	ReasonServiceDeleted  = "serviceDeleted"
	ReasonNotLoadBalancer = "notLoadBalancer"
	// ReasonLoadBalancerClass: the service's spec.loadBalancerClass is not
	// the one this speaker handles (MetalLB ignores such services
	// silently; onp says so).
	ReasonLoadBalancerClass = "differentLoadBalancerClass"
	// ReasonNoConfig: there is no valid configuration to decide with.
	ReasonNoConfig = "noConfig"
)

// ServiceStatus is one LoadBalancer service and this node's decision.
type ServiceStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// IPs are the ingress IPs from the service's status.
	IPs []string `json:"ips"`
	// Pool holds the IPs ("" when none does).
	Pool                  string `json:"pool,omitempty"`
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	// Announced is true when this node announces the service; otherwise
	// Reason is MetalLB's reason (noLocalEndpoints, notOwner, ...) and
	// Message explains it.
	Announced bool   `json:"announced"`
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message,omitempty"`
	// Advertisements names the BGPAdvertisements that apply.
	Advertisements []string `json:"advertisements,omitempty"`
	// Peers are the BGPPeers the service is advertised to from this node,
	// as MetalLB's ServiceBGPStatus lists them (whether or not the
	// sessions are up).
	Peers []string `json:"peers,omitempty"`
	// Prefixes are the announced prefixes (IPs masked to the
	// aggregation lengths).
	Prefixes []string `json:"prefixes,omitempty"`
	// Since is when this node's decision (announced, reason) last changed.
	Since time.Time `json:"since"`
}

// Key is "namespace/name".
func (s *ServiceStatus) Key() string { return s.Namespace + "/" + s.Name }

// EventRecord is one speaker event, with MetalLB's event names and fields.
type EventRecord struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	Peer    string    `json:"peer,omitempty"`
	Service string    `json:"service,omitempty"`
	IP      string    `json:"ip,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
}

// Session returns the session named name (the BGPPeer's name), or whose
// peer is the address ("192.168.126.3") or "address:port"; nil if none.
func (r *StatusReport) Session(nameOrAddr string) *SessionStatus {
	for i := range r.Sessions {
		if r.Sessions[i].Name == nameOrAddr {
			return &r.Sessions[i]
		}
	}
	for i := range r.Sessions {
		s := &r.Sessions[i]
		if s.Peer == nameOrAddr || sameAddr(s.PeerAddress, nameOrAddr) {
			return s
		}
	}
	return nil
}

func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

// Peer returns the BGPPeer named name, or nil.
func (r *StatusReport) Peer(name string) *PeerStatus {
	for i := range r.Peers {
		if r.Peers[i].Name == name {
			return &r.Peers[i]
		}
	}
	return nil
}

// Service returns the service namespace/name, or nil.
func (r *StatusReport) Service(namespace, name string) *ServiceStatus {
	for i := range r.Services {
		if r.Services[i].Namespace == namespace && r.Services[i].Name == name {
			return &r.Services[i]
		}
	}
	return nil
}

// Duration is a time.Duration that JSON renders as Go's duration string
// ("1m30s", "300ms"). It also reads a number of nanoseconds.
type Duration struct{ time.Duration }

// D wraps a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// IsZero reports whether the duration is zero (for omitzero).
func (d Duration) IsZero() bool { return d.Duration == 0 }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(d.Duration.String())), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		d.Duration = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", str, err)
		}
		d.Duration = v
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s: want a string like \"1m30s\" or nanoseconds", s)
	}
	d.Duration = time.Duration(n)
	return nil
}
