package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/onp-lab/onp/metallb/bfd"
)

// DynamicASN selects the peer's ASN from what it sends in its OPEN instead
// of a configured PeerASN (MetalLB's BGPPeer.spec.dynamicASN).
type DynamicASN string

// DynamicASN values.
const (
	DynamicASNNone     DynamicASN = ""
	DynamicASNInternal DynamicASN = "internal" // the peer must use MyASN
	DynamicASNExternal DynamicASN = "external" // the peer must not use MyASN
)

// Defaults applied by SessionParameters.withDefaults.
const (
	DefaultPeerPort    = 179
	DefaultHoldTime    = 90 * time.Second
	DefaultConnectTime = time.Second
	// MaxPasswordLen is the kernel's TCP_MD5SIG_MAXKEYLEN.
	MaxPasswordLen = 80
)

// SessionParameters describe one BGP session, as MetalLB's BGPPeer does
// after its config layer has validated and defaulted it.
type SessionParameters struct {
	// Name identifies the session in logs, events, status and metrics
	// (the BGPPeer's name). Required; unique within a Manager.
	Name string
	// PeerAddress is the router's address (no zone).
	PeerAddress netip.Addr
	// PeerPort is the router's TCP port; 0 means 179.
	PeerPort uint16
	// SourceAddress, when valid, is the local address to connect from. It
	// must exist on a local interface.
	SourceAddress netip.Addr
	// MyASN is the local AS (required).
	MyASN uint32
	// PeerASN is the router's AS; set exactly one of PeerASN and DynamicASN.
	PeerASN uint32
	// DynamicASN accepts any peer AS of the given kind.
	DynamicASN DynamicASN
	// RouterID, when valid, must be IPv4. Otherwise: SourceAddress if IPv4,
	// else the local address the kernel would use to reach the peer if
	// IPv4, else an IPv4 address on the same interface, else a hash of
	// Name (MetalLB native's order).
	RouterID netip.Addr
	// HoldTime; 0 means 90 s. Otherwise at least 3 s, whole seconds. gobgp
	// cannot run without a hold timer, so "no hold time" is not available.
	HoldTime time.Duration
	// KeepaliveTime; 0 means HoldTime/3. At most HoldTime, whole seconds.
	KeepaliveTime time.Duration
	// ConnectTime is the retry interval between dials; 0 means 1 s.
	ConnectTime time.Duration
	// Password enables TCP MD5 signatures (RFC 2385).
	Password string
	// EBGPMultiHop lifts the TTL 1 that eBGP sessions otherwise use.
	// Invalid for iBGP.
	EBGPMultiHop bool
	// BFD, when set, runs a BFD session to the peer with this profile.
	BFD *bfd.Profile
}

// PeerString is the peer as "ip:port", the label MetalLB's metrics use.
func (p SessionParameters) PeerString() string {
	port := p.PeerPort
	if port == 0 {
		port = DefaultPeerPort
	}
	return netip.AddrPortFrom(p.PeerAddress, port).String()
}

// IBGP reports whether the session is internal: the configured PeerASN
// equals MyASN, or DynamicASN is "internal".
func (p SessionParameters) IBGP() bool {
	if p.DynamicASN != DynamicASNNone {
		return p.DynamicASN == DynamicASNInternal
	}
	return p.PeerASN == p.MyASN
}

// withDefaults fills in the defaults listed on the fields.
func (p SessionParameters) withDefaults() SessionParameters {
	if p.PeerPort == 0 {
		p.PeerPort = DefaultPeerPort
	}
	if p.HoldTime == 0 {
		p.HoldTime = DefaultHoldTime
	}
	if p.KeepaliveTime == 0 {
		p.KeepaliveTime = p.HoldTime / 3
	}
	if p.ConnectTime == 0 {
		p.ConnectTime = DefaultConnectTime
	}
	p.PeerAddress = p.PeerAddress.Unmap()
	if p.SourceAddress.IsValid() {
		p.SourceAddress = p.SourceAddress.Unmap()
	}
	if p.RouterID.IsValid() {
		p.RouterID = p.RouterID.Unmap()
	}
	return p
}

// Validate reports every problem with the parameters, each naming the
// session and the field, with what to do.
func (p SessionParameters) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("bgp session %q: %s: %s", p.Name, field, fmt.Sprintf(format, a...)))
	}
	if p.Name == "" {
		bad("name", "empty: give the session a name (the BGPPeer's)")
	}
	switch {
	case !p.PeerAddress.IsValid():
		bad("peerAddress", "missing: set the router's IP address")
	case p.PeerAddress.Zone() != "":
		bad("peerAddress", "%s has a zone, which MetalLB rejects: use a global address", p.PeerAddress)
	}
	if p.SourceAddress.IsValid() && p.PeerAddress.IsValid() && p.SourceAddress.Unmap().Is4() != p.PeerAddress.Unmap().Is4() {
		bad("sourceAddress", "%s is not of the peer address's family (%s)", p.SourceAddress, p.PeerAddress)
	}
	if p.MyASN == 0 {
		bad("myASN", "missing local ASN")
	}
	switch {
	case p.PeerASN == 0 && p.DynamicASN == DynamicASNNone:
		bad("peerASN", "missing peer ASN and dynamicASN: set one of them")
	case p.PeerASN != 0 && p.DynamicASN != DynamicASNNone:
		bad("peerASN", "both peerASN and dynamicASN are set: keep one")
	case p.DynamicASN != DynamicASNNone && p.DynamicASN != DynamicASNInternal && p.DynamicASN != DynamicASNExternal:
		bad("dynamicASN", "%q is neither %q nor %q", p.DynamicASN, DynamicASNInternal, DynamicASNExternal)
	}
	if p.RouterID.IsValid() && !p.RouterID.Unmap().Is4() {
		bad("routerID", "%s is not an IPv4 address: BGP identifiers are 32-bit", p.RouterID)
	}
	d := p.withDefaults()
	if p.HoldTime != 0 {
		if p.HoldTime < 3*time.Second {
			bad("holdTime", "%v is below 3s: use 3s or more", p.HoldTime)
		}
		if p.HoldTime%time.Second != 0 {
			bad("holdTime", "%v is not whole seconds", p.HoldTime)
		}
	}
	if p.KeepaliveTime != 0 {
		if p.KeepaliveTime%time.Second != 0 {
			bad("keepaliveTime", "%v is not whole seconds", p.KeepaliveTime)
		}
		if p.KeepaliveTime > d.HoldTime {
			bad("keepaliveTime", "%v is longer than the hold time %v", p.KeepaliveTime, d.HoldTime)
		}
	}
	if p.HoldTime != 0 && p.KeepaliveTime == 0 && d.KeepaliveTime%time.Second != 0 {
		bad("holdTime", "%v gives a keepalive of %v (hold/3), not whole seconds: use a multiple of 3s or set keepaliveTime", p.HoldTime, d.KeepaliveTime)
	}
	if p.ConnectTime != 0 && (p.ConnectTime < time.Second || p.ConnectTime > 65535*time.Second || p.ConnectTime%time.Second != 0) {
		bad("connectTime", "%v is out of range: use whole seconds from 1s to 65535s", p.ConnectTime)
	}
	if len(p.Password) > MaxPasswordLen {
		bad("password", "%d bytes is longer than the kernel's TCP MD5 key limit of %d", len(p.Password), MaxPasswordLen)
	}
	if p.EBGPMultiHop && (p.PeerASN != 0 || p.DynamicASN != DynamicASNNone) && p.IBGP() {
		bad("ebgpMultiHop", "invalid ebgp-multihop parameter set for an ibgp peer")
	}
	if p.BFD != nil {
		if err := p.BFD.Validate(); err != nil {
			bad("bfdProfile", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// sameSession reports whether a and b need the same BGP session; they may
// still differ in their BFD profile.
func sameSession(a, b SessionParameters) bool {
	a.BFD, b.BFD = nil, nil
	return a == b
}

// sameBFD reports whether a and b ask for the same BFD profile.
func sameBFD(a, b *bfd.Profile) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
