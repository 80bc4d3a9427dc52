// Package diagnose explains why a lab's BGP sessions (MetalLB-compatible
// speaker ↔ router) or the service traffic behind them do not work, with
// the evidence that proves it.
//
// It has two halves:
//
//   - Gather reads a running lab into an Evidence value: both ends of every
//     session (the speaker's status report with its FSM history and
//     NOTIFICATIONs; FRR's neighbor JSON and running configuration from
//     vyos and frr routers), the cluster objects the speaker acts on
//     (BGPPeers, BGPAdvertisements, Services and their endpoints), every
//     node's addresses, routes, ARP entries, nftables rules and TCP-MD5
//     counters, ARP/ping/TCP-connect probes between the ends in both
//     directions, HTTP probes from client nodes to the service addresses,
//     and a short packet capture on the lab's bridges (package trace).
//   - Diagnose applies pure rules to an Evidence value and returns a
//     Report: the cause (a stable ID such as "as-mismatch"), the fix, the
//     evidence lines that prove it, and what the expert's rule of thumb
//     (Idle → OPEN parameters; Connect → packets do not leave the speaker;
//     Active → the TCP handshake does not complete) would have pointed at,
//     and whether this lab's implementations (gobgp in the speaker, FRR in
//     the routers) behave as the rule of thumb expects.
//
// Run does both. Sessions and Watch read both ends of every session for
// `onp bgp` (one row per end, pairs adjacent) and follow their state
// transitions.
//
// The package never prints; cmd/onp renders reports.
package diagnose
