// Package trace captures and decodes what BGP speakers and BFD sessions put
// on the wire: it opens AF_PACKET sockets on a lab's bridges (or a node's
// interfaces) with a kernel filter for BGP, BFD and optionally ARP, reassembles
// the TCP streams of BGP connections, decodes every BGP message with gobgp's
// packet package and every BFD control packet with its own decoder, and turns
// them into Events: one per BGP message, BFD packet, TCP connection event
// (SYN, SYN-ACK, FIN, RST, retransmission) or ARP request/reply. It reads and
// writes pcap files that tshark and Wireshark read.
//
// The package never prints: events go to a callback, text comes from
// Event.Text, and JSON from encoding/json on Event.
package trace

import (
	"net/netip"
	"time"
)

// Kind says what an Event is about.
type Kind string

// Event kinds.
const (
	KindBGP Kind = "bgp" // one BGP message (Event.BGP)
	KindTCP Kind = "tcp" // a TCP connection event on a BGP port (Event.TCP)
	KindBFD Kind = "bfd" // one BFD packet (Event.BFD)
	KindARP Kind = "arp" // an ARP request or reply (Event.ARP)
)

// Event is one decoded thing seen on the wire. It is the stable output of
// the package: `onp trace -o json` prints it and `onp diagnose` reads it.
type Event struct {
	// Time is the kernel's receive timestamp of the frame (for a BGP message:
	// of the frame that completed it).
	Time time.Time `json:"time"`
	// Interface is where the frame was captured (a bridge such as sno0, a
	// node interface, or empty for a file).
	Interface string `json:"interface,omitempty"`
	// Frame is the 1-based number of the frame in the capture.
	Frame int  `json:"frame"`
	Kind  Kind `json:"kind"`
	// Src and Dst are the IP endpoints (zero for ARP).
	Src netip.AddrPort `json:"src,omitzero"`
	Dst netip.AddrPort `json:"dst,omitzero"`
	// TTL is the IPv4 TTL or IPv6 hop limit of the packet.
	TTL uint8 `json:"ttl,omitempty"`

	BGP *BGPMessage `json:"bgp,omitempty"`
	TCP *TCPEvent   `json:"tcp,omitempty"`
	BFD *BFDPacket  `json:"bfd,omitempty"`
	ARP *ARPPacket  `json:"arp,omitempty"`

	// Note says what could not be decoded or how the stream was joined,
	// e.g. "resynchronised on a BGP marker after 12 bytes".
	Note string `json:"note,omitempty"`
}

// TCPEvent is a connection event on a BGP port.
type TCPEvent struct {
	// Event is SYN, SYN-ACK, FIN, RST or retransmission.
	Event string `json:"event"`
	// Flags are the TCP flags of the segment, e.g. "FA" (FIN+ACK).
	Flags string `json:"flags"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack,omitempty"`
	// Len is the segment's payload length.
	Len int `json:"len,omitempty"`
	// Retransmission marks a SYN, SYN-ACK or FIN that was seen before.
	Retransmission bool `json:"retransmission,omitempty"`
	// MD5 is set when the segment carries a TCP MD5 signature (RFC 2385),
	// AO when it carries a TCP-AO option (RFC 5925): a SYN with one and a
	// reply without (or an unanswered SYN) points at a password on one side
	// only or a password mismatch.
	MD5 bool `json:"md5,omitempty"`
	AO  bool `json:"ao,omitempty"`
}

// TCP event names.
const (
	TCPSyn            = "SYN"
	TCPSynAck         = "SYN-ACK"
	TCPFin            = "FIN"
	TCPRst            = "RST"
	TCPRetransmission = "retransmission"
)

// BGPMessage is a decoded BGP message.
type BGPMessage struct {
	// Type is OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH or
	// TYPE(n) for an unknown type.
	Type     string `json:"type"`
	TypeCode uint8  `json:"typeCode"`
	// Length is the message length from the header, header included.
	Length int `json:"length"`

	Open         *BGPOpen         `json:"open,omitempty"`
	Update       *BGPUpdate       `json:"update,omitempty"`
	Notification *BGPNotification `json:"notification,omitempty"`
	RouteRefresh *BGPRouteRefresh `json:"routeRefresh,omitempty"`

	// Error says why the message could not be decoded completely; whatever
	// was decoded before the problem is still filled in.
	Error string `json:"error,omitempty"`
}

// BGPOpen is an OPEN message.
type BGPOpen struct {
	Version uint8 `json:"version"`
	// MyAS is the 2-octet "My Autonomous System" field (23456, AS_TRANS,
	// for 4-octet ASes).
	MyAS uint16 `json:"myAS"`
	// AS4 is the value of the 4-octet AS capability (0 if absent).
	AS4      uint32 `json:"as4,omitempty"`
	HoldTime uint16 `json:"holdTime"`
	// RouterID is the BGP Identifier.
	RouterID     netip.Addr   `json:"routerID"`
	Capabilities []Capability `json:"capabilities,omitempty"`
}

// AS returns the speaker's AS: the 4-octet capability's value if present,
// else My AS.
func (o *BGPOpen) AS() uint32 {
	if o.AS4 != 0 {
		return o.AS4
	}
	return uint32(o.MyAS)
}

// Capability is one capability of an OPEN.
type Capability struct {
	Code uint8 `json:"code"`
	// Name is e.g. multiprotocol, route-refresh, 4-octet-as.
	Name string `json:"name"`
	// Value is the decoded value, e.g. "ipv4-unicast", "64512",
	// "ipv4-unicast receive/send", or hex for unknown capabilities.
	Value string `json:"value,omitempty"`
}

// BGPUpdate is an UPDATE message. The common attributes have fields of
// their own; every attribute is also listed in Attributes in wire order.
type BGPUpdate struct {
	Withdrawn []string `json:"withdrawn,omitempty"`
	NLRI      []string `json:"nlri,omitempty"`
	// EndOfRIB is set (to the address family, e.g. "ipv4-unicast") when the
	// UPDATE is an End-of-RIB marker (RFC 4724).
	EndOfRIB string `json:"endOfRIB,omitempty"`

	Origin           string   `json:"origin,omitempty"`
	ASPath           string   `json:"asPath,omitempty"`
	NextHop          string   `json:"nextHop,omitempty"`
	MED              *uint32  `json:"med,omitempty"`
	LocalPref        *uint32  `json:"localPref,omitempty"`
	Communities      []string `json:"communities,omitempty"`
	LargeCommunities []string `json:"largeCommunities,omitempty"`
	ExtCommunities   []string `json:"extCommunities,omitempty"`
	MPReach          *MPNLRI  `json:"mpReach,omitempty"`
	MPUnreach        *MPNLRI  `json:"mpUnreach,omitempty"`

	Attributes []PathAttribute `json:"attributes,omitempty"`
}

// MPNLRI is the content of MP_REACH_NLRI or MP_UNREACH_NLRI.
type MPNLRI struct {
	Family           string   `json:"family"`
	NextHop          string   `json:"nextHop,omitempty"`
	LinkLocalNextHop string   `json:"linkLocalNextHop,omitempty"`
	Prefixes         []string `json:"prefixes,omitempty"`
}

// PathAttribute is one path attribute of an UPDATE.
type PathAttribute struct {
	Code  uint8  `json:"code"`
	Name  string `json:"name"`
	Flags uint8  `json:"flags"`
	// Value is the attribute's value as text.
	Value string `json:"value"`
}

// BGPNotification is a NOTIFICATION message.
type BGPNotification struct {
	Code        uint8  `json:"code"`
	Subcode     uint8  `json:"subcode"`
	CodeName    string `json:"codeName"`
	SubcodeName string `json:"subcodeName"`
	// Data is the raw data field in hex.
	Data string `json:"data,omitempty"`
	// Detail is the data decoded where it means something, e.g.
	// "peer AS 64513", "hold time 1s", `shutdown communication "maintenance"`.
	Detail string `json:"detail,omitempty"`
	// PeerAS is the AS of a Bad Peer AS NOTIFICATION (the AS the sender
	// received in the OPEN).
	PeerAS uint32 `json:"peerAS,omitempty"`
	// HoldTime is the hold time carried by an Unacceptable Hold Time
	// NOTIFICATION, when the sender included it.
	HoldTime *uint16 `json:"holdTime,omitempty"`
	// Communication is the shutdown communication (RFC 8203/9003) of an
	// Administrative Shutdown or Reset.
	Communication string `json:"communication,omitempty"`
}

// BGPRouteRefresh is a ROUTE-REFRESH message (RFC 2918, 7313).
type BGPRouteRefresh struct {
	Family string `json:"family"`
	// Subtype is 0 (normal), 1 (BoRR) or 2 (EoRR).
	Subtype uint8 `json:"subtype,omitempty"`
}

// BFDPacket is a BFD control packet (RFC 5880 §4.1) or an echo packet.
type BFDPacket struct {
	// Echo is set for packets to or from UDP 3785; only Length is then
	// meaningful.
	Echo bool `json:"echo,omitempty"`
	// Multihop is set for packets to UDP 4784 (RFC 5883).
	Multihop bool `json:"multihop,omitempty"`

	Version  uint8  `json:"version"`
	Diag     uint8  `json:"diag"`
	DiagName string `json:"diagName"`
	State    string `json:"state"`

	Poll                    bool `json:"poll,omitempty"`
	Final                   bool `json:"final,omitempty"`
	ControlPlaneIndependent bool `json:"controlPlaneIndependent,omitempty"`
	AuthPresent             bool `json:"authPresent,omitempty"`
	Demand                  bool `json:"demand,omitempty"`
	Multipoint              bool `json:"multipoint,omitempty"`

	DetectMult uint8 `json:"detectMult"`
	// Length is the length field of the packet.
	Length uint8  `json:"length"`
	MyDisc uint32 `json:"myDiscriminator"`
	// YourDisc is 0 until the sender has heard from its peer.
	YourDisc uint32 `json:"yourDiscriminator"`
	// Intervals in microseconds, as on the wire.
	DesiredMinTxUs      uint32 `json:"desiredMinTxUs"`
	RequiredMinRxUs     uint32 `json:"requiredMinRxUs"`
	RequiredMinEchoRxUs uint32 `json:"requiredMinEchoRxUs"`

	// AuthType and AuthName describe the authentication section when A is set.
	AuthType uint8  `json:"authType,omitempty"`
	AuthName string `json:"authName,omitempty"`

	// Error names what is wrong with the packet (too short, bad version,
	// a receive check of RFC 5880 §6.8.6 that fails); fields before the
	// problem are filled in.
	Error string `json:"error,omitempty"`
}

// DesiredMinTx returns the Desired Min TX Interval.
func (b *BFDPacket) DesiredMinTx() time.Duration {
	return time.Duration(b.DesiredMinTxUs) * time.Microsecond
}

// RequiredMinRx returns the Required Min RX Interval.
func (b *BFDPacket) RequiredMinRx() time.Duration {
	return time.Duration(b.RequiredMinRxUs) * time.Microsecond
}

// RequiredMinEchoRx returns the Required Min Echo RX Interval.
func (b *BFDPacket) RequiredMinEchoRx() time.Duration {
	return time.Duration(b.RequiredMinEchoRxUs) * time.Microsecond
}

// ARPPacket is an ARP request (who-has) or reply (is-at).
type ARPPacket struct {
	// Op is who-has, is-at, or op(n).
	Op        string     `json:"op"`
	SenderMAC string     `json:"senderMAC"`
	SenderIP  netip.Addr `json:"senderIP"`
	TargetMAC string     `json:"targetMAC"`
	TargetIP  netip.Addr `json:"targetIP"`
}
