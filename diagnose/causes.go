package diagnose

import "slices"

// Cause IDs. They are stable: checks (type diagnosis, cause: ID),
// exercises and scripts name them.
const (
	CauseHealthy = "healthy"

	// OPEN parameters (rule of thumb: Idle).
	CauseASMismatch      = "as-mismatch"
	CauseRouterIDClash   = "router-id-clash"
	CauseHoldTime        = "hold-time"
	CauseAFINotActivated = "afi-not-activated"
	CauseAdminShutdown   = "admin-shutdown"

	// Addressing and neighbors.
	CauseWrongPeerAddress     = "wrong-peer-address"
	CauseWrongNeighborAddress = "wrong-neighbor-address"
	CauseNoNeighbor           = "no-neighbor"
	CauseEBGPMultiHop         = "ebgp-multihop"

	// TCP (rule of thumb: Connect or Active).
	CauseTCPDropped  = "tcp-179-dropped"
	CauseTCPRejected = "tcp-179-rejected"
	CauseMD5Mismatch = "md5-mismatch"
	CauseMD5OneSide  = "md5-one-side"

	// BFD (the BGP session is up; its fast failure detection is not).
	CauseBFDOneSide = "bfd-one-side"
	CauseBFDDropped = "bfd-dropped"
	CauseBFDDown    = "bfd-down"

	// The speaker's configuration and the services.
	CauseSelectorExcludes = "selector-excludes"
	CauseNoAdvertisement  = "no-advertisement"
	CauseNoEndpoints      = "no-endpoints"
	CauseReturnPath       = "return-path"

	// Less specific causes, found when nothing above explains a problem.
	CauseSpeakerDown     = "speaker-not-running"
	CauseRouterDown      = "router-not-answering"
	CauseNoMetalLB       = "no-metallb"
	CauseConfigInvalid   = "config-invalid"
	CauseNoBGPPeer       = "no-bgp-peer"
	CauseUnreachable     = "peer-unreachable"
	CauseNotification    = "notification"
	CauseSessionDown     = "session-down"
	CauseRouteNotHeard   = "route-not-received"
	CauseServiceNotReach = "service-unreachable"
)

// CauseInfo describes a cause.
type CauseInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Thumb is the FSM state the expert's rule of thumb associates with
	// this kind of fault: "Idle" (the OPEN parameters disagree, a
	// NOTIFICATION says which), "Connect" (packets do not leave the
	// speaker's side), "Active" (the TCP handshake does not complete),
	// "Established" (the session is up; UPDATEs carry the routes), or ""
	// when the fault is not about the session.
	Thumb string `json:"thumb,omitempty"`
}

var causes = []CauseInfo{
	{CauseHealthy, "healthy", "Established"},
	{CauseASMismatch, "AS mismatch", "Idle"},
	{CauseRouterIDClash, "router-id clash", "Idle"},
	{CauseHoldTime, "hold time unacceptable", "Idle"},
	{CauseAFINotActivated, "IPv4 unicast not activated on the router", "Established"},
	{CauseAdminShutdown, "neighbor administratively shut down", "Idle"},
	{CauseWrongPeerAddress, "wrong peer address on the speaker", "Active"},
	{CauseWrongNeighborAddress, "wrong neighbor address on the router", "Active"},
	{CauseNoNeighbor, "the router has no neighbor for the speaker", "Active"},
	{CauseEBGPMultiHop, "eBGP peer more than one hop away without ebgpMultiHop", "Active"},
	{CauseTCPDropped, "TCP port 179 dropped by a firewall", "Connect"},
	{CauseTCPRejected, "TCP port 179 rejected by a firewall", "Active"},
	{CauseMD5Mismatch, "TCP MD5 password mismatch", "Active"},
	{CauseMD5OneSide, "TCP MD5 password on one side only", "Active"},
	{CauseBFDOneSide, "BFD configured on one side only", ""},
	{CauseBFDDropped, "BFD packets (UDP 3784) dropped by a firewall", ""},
	{CauseBFDDown, "BFD session down", ""},
	{CauseSelectorExcludes, "a peer or node selector excludes the session", ""},
	{CauseNoAdvertisement, "no BGPAdvertisement for the pool", "Established"},
	{CauseNoEndpoints, "Service without endpoints", ""},
	{CauseReturnPath, "return path broken", ""},
	{CauseSpeakerDown, "the speaker does not answer", ""},
	{CauseRouterDown, "the router does not answer", ""},
	{CauseNoMetalLB, "no MetalLB resource", ""},
	{CauseConfigInvalid, "MetalLB configuration invalid", ""},
	{CauseNoBGPPeer, "no BGPPeer for the router", ""},
	{CauseUnreachable, "the peer does not answer at all", "Connect"},
	{CauseNotification, "NOTIFICATION", "Idle"},
	{CauseSessionDown, "session not Established", ""},
	{CauseRouteNotHeard, "route not received by the router", "Established"},
	{CauseServiceNotReach, "service unreachable", ""},
}

// Causes lists every cause the rules can name, "healthy" first.
func Causes() []CauseInfo { return slices.Clone(causes) }

// Cause returns the description of a cause ID, and false for an unknown ID.
func Cause(id string) (CauseInfo, bool) {
	for _, c := range causes {
		if c.ID == id {
			return c, true
		}
	}
	return CauseInfo{}, false
}

func title(id string) string {
	if c, ok := Cause(id); ok {
		return c.Title
	}
	return id
}
