package frr

import (
	"context"
	"encoding/json"
	"strings"
)

// BGPSummary is `show bgp summary json`: one entry per address family that
// has peers, keyed by FRR's names ("ipv4Unicast", "ipv6Unicast", ...).
type BGPSummary map[string]BGPAFSummary

// BGPAFSummary is one address family of `show bgp summary json`.
type BGPAFSummary struct {
	RouterID       string                    `json:"routerId"`
	AS             uint32                    `json:"as"`
	VRFID          int                       `json:"vrfId"`
	VRFName        string                    `json:"vrfName"`
	TableVersion   int                       `json:"tableVersion"`
	RIBCount       int                       `json:"ribCount"`
	PeerCount      int                       `json:"peerCount"`
	Peers          map[string]BGPSummaryPeer `json:"peers"`
	FailedPeers    int                       `json:"failedPeers"`
	DisplayedPeers int                       `json:"displayedPeers"`
	TotalPeers     int                       `json:"totalPeers"`
	DynamicPeers   int                       `json:"dynamicPeers"`
}

// BGPSummaryPeer is one peer line of the summary.
type BGPSummaryPeer struct {
	Hostname               string `json:"hostname"`
	RemoteAS               uint32 `json:"remoteAs"`
	LocalAS                uint32 `json:"localAs"`
	Version                int    `json:"version"`
	MsgRcvd                int    `json:"msgRcvd"`
	MsgSent                int    `json:"msgSent"`
	TableVersion           int    `json:"tableVersion"`
	OutQ                   int    `json:"outq"`
	InQ                    int    `json:"inq"`
	PeerUptime             string `json:"peerUptime"`
	PeerUptimeMsec         int64  `json:"peerUptimeMsec"`
	PfxRcd                 int    `json:"pfxRcd"`
	PfxSnt                 int    `json:"pfxSnt"`
	State                  string `json:"state"`
	PeerState              string `json:"peerState"`
	ConnectionsEstablished int    `json:"connectionsEstablished"`
	ConnectionsDropped     int    `json:"connectionsDropped"`
	Description            string `json:"desc"`
	IDType                 string `json:"idType"`
}

// BGPNeighbor is one entry of `show bgp neighbors json`.
type BGPNeighbor struct {
	RemoteAS                       uint32           `json:"remoteAs"`
	LocalAS                        uint32           `json:"localAs"`
	NbrInternalLink                bool             `json:"nbrInternalLink"`
	NbrExternalLink                bool             `json:"nbrExternalLink"`
	Hostname                       string           `json:"hostname"`
	PeerGroup                      string           `json:"peerGroup"`
	Description                    string           `json:"nbrDesc"`
	BGPVersion                     int              `json:"bgpVersion"`
	RemoteRouterID                 string           `json:"remoteRouterId"`
	LocalRouterID                  string           `json:"localRouterId"`
	BGPState                       string           `json:"bgpState"`
	BGPTimerUpMsec                 int64            `json:"bgpTimerUpMsec"`
	BGPTimerUpString               string           `json:"bgpTimerUpString"`
	BGPTimerHoldTimeMsecs          int64            `json:"bgpTimerHoldTimeMsecs"`
	BGPTimerKeepAliveIntervalMsecs int64            `json:"bgpTimerKeepAliveIntervalMsecs"`
	ConfiguredHoldTimeMsecs        int64            `json:"bgpTimerConfiguredHoldTimeMsecs"`
	ConfiguredKeepAliveMsecs       int64            `json:"bgpTimerConfiguredKeepAliveIntervalMsecs"`
	ConnectionsEstablished         int              `json:"connectionsEstablished"`
	ConnectionsDropped             int              `json:"connectionsDropped"`
	LastResetTimerMsecs            int64            `json:"lastResetTimerMsecs"`
	LastResetDueTo                 string           `json:"lastResetDueTo"`
	LastResetCode                  int              `json:"lastResetCode"`
	LastNotificationReason         string           `json:"lastNotificationReason"`
	LastErrorCodeSubcode           string           `json:"lastErrorCodeSubcode"`
	HostLocal                      string           `json:"hostLocal"`
	PortLocal                      int              `json:"portLocal"`
	HostForeign                    string           `json:"hostForeign"`
	PortForeign                    int              `json:"portForeign"`
	Nexthop                        string           `json:"nexthop"`
	ConnectRetryTimer              int              `json:"connectRetryTimer"`
	PeerBFDInfo                    *BGPPeerBFDInfo  `json:"peerBfdInfo"`
	AddressFamilyInfo              map[string]any   `json:"addressFamilyInfo"`
	MessageStats                   *BGPMessageStats `json:"messageStats"`
}

// BGPPeerBFDInfo is the peerBfdInfo object of a neighbor.
type BGPPeerBFDInfo struct {
	Type             string `json:"type"`
	DetectMultiplier int    `json:"detectMultiplier"`
	RxMinInterval    int    `json:"rxMinInterval"`
	TxMinInterval    int    `json:"txMinInterval"`
	Status           string `json:"status"`
	LastUpdate       string `json:"lastUpdate"`
}

// BGPMessageStats counts messages exchanged with a neighbor.
type BGPMessageStats struct {
	OpensSent         int `json:"opensSent"`
	OpensRecv         int `json:"opensRecv"`
	NotificationsSent int `json:"notificationsSent"`
	NotificationsRecv int `json:"notificationsRecv"`
	UpdatesSent       int `json:"updatesSent"`
	UpdatesRecv       int `json:"updatesRecv"`
	KeepalivesSent    int `json:"keepalivesSent"`
	KeepalivesRecv    int `json:"keepalivesRecv"`
	TotalSent         int `json:"totalSent"`
	TotalRecv         int `json:"totalRecv"`
}

// Route is one path of `show ip route json` for a prefix.
type Route struct {
	Prefix    string    `json:"prefix"`
	PrefixLen int       `json:"prefixLen"`
	Protocol  string    `json:"protocol"`
	VRFName   string    `json:"vrfName"`
	Selected  bool      `json:"selected"`
	DestSel   bool      `json:"destSelected"`
	Distance  int       `json:"distance"`
	Metric    int       `json:"metric"`
	Installed bool      `json:"installed"`
	Table     int       `json:"table"`
	Uptime    string    `json:"uptime"`
	Nexthops  []Nexthop `json:"nexthops"`
}

// Nexthop is one next hop of a route.
type Nexthop struct {
	IP             string `json:"ip"`
	AFI            string `json:"afi"`
	InterfaceName  string `json:"interfaceName"`
	InterfaceIndex int    `json:"interfaceIndex"`
	DirectlyConn   bool   `json:"directlyConnected"`
	Active         bool   `json:"active"`
	FIB            bool   `json:"fib"`
	Blackhole      bool   `json:"blackhole"`
	Unreachable    bool   `json:"unreachable"`
	Weight         int    `json:"weight"`
}

// BFDPeer is one entry of `show bfd peers json`.
type BFDPeer struct {
	Multihop                bool   `json:"multihop"`
	Peer                    string `json:"peer"`
	Local                   string `json:"local"`
	VRF                     string `json:"vrf"`
	Interface               string `json:"interface"`
	ID                      uint32 `json:"id"`
	RemoteID                uint32 `json:"remote-id"`
	PassiveMode             bool   `json:"passive-mode"`
	Status                  string `json:"status"`
	Uptime                  int64  `json:"uptime"`
	Downtime                int64  `json:"downtime"`
	Diagnostic              string `json:"diagnostic"`
	RemoteDiagnostic        string `json:"remote-diagnostic"`
	ReceiveInterval         int    `json:"receive-interval"`
	TransmitInterval        int    `json:"transmit-interval"`
	EchoReceiveInterval     int    `json:"echo-receive-interval"`
	EchoTransmitInterval    int    `json:"echo-transmit-interval"`
	DetectMultiplier        int    `json:"detect-multiplier"`
	RemoteReceiveInterval   int    `json:"remote-receive-interval"`
	RemoteTransmitInterval  int    `json:"remote-transmit-interval"`
	RemoteDetectMultiplier  int    `json:"remote-detect-multiplier"`
	RemoteEchoReceiveInterv int    `json:"remote-echo-receive-interval"`
}

// BGPSummary returns `show bgp summary json`. An instance without BGP
// returns an empty summary.
func (in *Instance) BGPSummary(ctx context.Context) (BGPSummary, error) {
	var raw map[string]json.RawMessage
	if err := in.ShowJSON(ctx, "show bgp summary json", &raw); err != nil {
		return nil, err
	}
	out := BGPSummary{}
	for k, v := range raw {
		var af BGPAFSummary
		if err := json.Unmarshal(v, &af); err != nil {
			// Non-object members (FRR adds a few scalars in some versions).
			continue
		}
		out[k] = af
	}
	return out, nil
}

// BGPNeighbors returns `show bgp neighbors json` keyed by neighbor address
// (or peer-group member name).
func (in *Instance) BGPNeighbors(ctx context.Context) (map[string]BGPNeighbor, error) {
	var raw map[string]json.RawMessage
	if err := in.ShowJSON(ctx, "show bgp neighbors json", &raw); err != nil {
		return nil, err
	}
	out := map[string]BGPNeighbor{}
	for k, v := range raw {
		var n BGPNeighbor
		if err := json.Unmarshal(v, &n); err != nil {
			continue
		}
		out[k] = n
	}
	return out, nil
}

// Routes returns `show ip route json` (IPv4), or `show ip route PROTOCOL
// json` when a protocol ("bgp", "static", "connected", ...) is given.
func (in *Instance) Routes(ctx context.Context, protocol string) (map[string][]Route, error) {
	cmd := "show ip route json"
	if protocol != "" {
		cmd = "show ip route " + strings.TrimSpace(protocol) + " json"
	}
	out := map[string][]Route{}
	if err := in.ShowJSON(ctx, cmd, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// BFDPeers returns `show bfd peers json`.
func (in *Instance) BFDPeers(ctx context.Context) ([]BFDPeer, error) {
	var out []BFDPeer
	if err := in.ShowJSON(ctx, "show bfd peers json", &out); err != nil {
		return nil, err
	}
	return out, nil
}
