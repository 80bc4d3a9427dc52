// Package bgp is the speaker's session layer: one BGP session per peer,
// each with a declarative set of advertisements, shaped like MetalLB's
// internal/bgp (SessionParameters, Advertisement, Session.Set, Close).
//
// The BGP implementation is gobgp/v3 embedded as a library, wrapped behind
// the unexported backend interface (backend.go); only gobgp.go and
// logadapter.go import gobgp, so moving to gobgp v4 touches those two files.
// Each session gets its own BgpServer with no listener (ListenPort -1): the
// speaker always dials, as MetalLB's native and FRR modes do, and a session
// can have its own router ID and local ASN.
//
// Behaviour that follows MetalLB (FRR modes, where they differ from native):
//
//   - ConnectTime defaults to 1 s (gobgp's own default is 120 s); gobgp waits
//     1–2 s before the first dial and ConnectTime..2×ConnectTime between
//     dials, and stays Idle 5 s after a session drops.
//   - eBGP without EBGPMultiHop sends with TTL 1 (FRR semantics); with it,
//     TTL 255. iBGP uses the system default TTL.
//   - LOCAL_PREF goes only to iBGP peers and only when non-zero, so the
//     router applies its default (100) otherwise, as FRR mode does.
//   - The next hop is the session's local address; ORIGIN is IGP; AS_PATH
//     is empty on iBGP and [myASN] on eBGP.
//   - SourceAddress must exist on a local interface; until it does the
//     session stays Idle with LastError saying so (MetalLB native's
//     "address ... doesn't exist on this host").
//   - TCP MD5 (RFC 2385) through the kernel's TCP_MD5SIG.
//   - Changing advertisements never touches the TCP session; changing
//     session parameters re-creates only that session's BgpServer; changing
//     only the BFD profile updates the BFD session in place.
//
// FSM states: gobgp goes Idle → Active → OpenSent → OpenConfirm →
// Established and never reports Connect (its dialer runs inside Active), so
// StateConnect never appears in a Status even though it is defined.
//
// NOTIFICATIONs: gobgp's event API carries no NOTIFICATION details, and
// gobgp does not even log a NOTIFICATION that arrives before Established
// (the peer rejecting our OPEN: Bad Peer AS, Bad BGP Identifier, ...): it
// counts it and reports "invalid-msg". Two sources fill the gap: the slog
// adapter given to gobgp (logadapter.go) reads gobgp's "received
// notification" / "sent notification" records, which carry the decoded
// code, subcode and data, and a passive sniffer (sniff.go) reads the peer's
// small TCP segments from a packet socket with a BPF filter and decodes
// NOTIFICATIONs from the wire (it needs CAP_NET_RAW; without it, early
// NOTIFICATIONs are only counted). Duplicates from the two are merged. The
// adapter never exits or panics: gobgp's Fatal and Panic become Error
// records.
//
// DynamicASN: gobgp accepts any AS when none is configured, so the kind
// (internal/external) is checked once the session is Established; a
// mismatching session is reset with Cease / Administrative Reset carrying
// the reason, and gobgp retries after its 30 s reset hold time. Paths may
// reach such a peer for that moment. gobgp also cannot tell before the OPEN
// that a dynamic session is eBGP, so it dials with the system's default TTL
// rather than FRR's TTL 1.
//
// BFD (package metallb/bfd) runs per session when a profile is set. RFC
// 5882: when BFD goes from Up to Down for any reason but the peer
// signalling AdminDown, the BGP peer is disabled (gobgp sends Cease /
// Administrative Shutdown if it still can); when BFD comes Up again it is
// enabled. A BFD session that never came Up holds nothing down, as in FRR.
//
// Status, events (sessionUp, sessionDown, peerNotification — MetalLB's
// event names) and Prometheus text with MetalLB's metric names come from
// Manager.
package bgp
