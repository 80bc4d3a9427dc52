// Package bfd is a small implementation of asynchronous Bidirectional
// Forwarding Detection (RFC 5880) for IPv4 and IPv6 single hop (RFC 5881)
// and, for sessions that ask for it, multihop (RFC 5883) paths. It exists
// because gobgp/v3, which the speaker embeds, has no BFD, and MetalLB's
// BFDProfile must work against FRR's bfdd.
//
// What it does:
//
//   - control packets to UDP 3784 (multihop: 4784) from a source port in
//     49152–65535 that stays fixed for the life of a session, TTL/hop limit
//     255 and DSCP CS6 on transmit;
//   - received packets are checked as RFC 5880 §6.8.6 requires, and the
//     received TTL must be 255 for single hop (at least the profile's
//     minimum TTL for multihop), read through IP_RECVTTL/IPV6_RECVHOPLIMIT;
//   - random non-zero discriminators, the AdminDown/Down/Init/Up state
//     machine with diagnostics, the 1 s slow rate while a session is not Up,
//     jittered transmission (75–100 % of the interval, 75–90 % when the
//     detect multiplier is 1), detection time, Poll/Final sequences for
//     every timer change, passive mode, and a remote RequiredMinRx of 0
//     (no periodic transmission).
//
// What it leaves out: the echo function (RFC 5880 §6.4) is not transmitted
// by this implementation. A profile's echoInterval is still advertised as
// Required Min Echo RX Interval, as MetalLB's FRR mode does, so a peer that
// runs echo can loop its echo packets through this host's forwarding plane
// (which the kernel does when forwarding is enabled). Authentication and
// demand mode are not implemented; packets with the A or D bit set are
// dropped and counted. FRR implements no BFD authentication either.
//
// Encoding and decoding are pure functions (ParseControlPacket,
// ControlPacket.AppendTo); the state machine is a plain value driven by
// packets and clock readings (machine.go) so it can be tested without
// sockets; Server and Session add sockets and goroutines.
package bfd
