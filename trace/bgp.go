package trace

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// BGP header facts (RFC 4271 §4.1, RFC 8654).
const (
	bgpHeaderLen = 19
	// bgpMaxLen is the largest length a header may carry (extended
	// messages, RFC 8654).
	bgpMaxLen = 65535
)

// DecodeBGP decodes one complete BGP message (header included). It never
// fails: whatever gobgp's packet package can decode is converted, and Error
// says what went wrong. Routes in UPDATEs are decoded without ADD-PATH path
// identifiers; the stream decoder enables them when both OPENs negotiated
// ADD-PATH.
func DecodeBGP(msg []byte) *BGPMessage { return decodeBGP(msg, nil) }

func decodeBGP(msg []byte, addPath map[bgp.RouteFamily]bgp.BGPAddPathMode) (out *BGPMessage) {
	out = &BGPMessage{}
	defer func() {
		// gobgp's value types render themselves; a malformed one that
		// panics while doing so loses its details, not the message.
		if r := recover(); r != nil {
			out.Open, out.Update, out.RouteRefresh = nil, nil, nil
			out.Error = joinErr(out.Error, fmt.Sprintf("malformed message (%v)", r))
		}
	}()
	if len(msg) < bgpHeaderLen {
		out.Type = "TRUNCATED"
		out.Error = fmt.Sprintf("BGP message truncated: %d of at least %d header bytes", len(msg), bgpHeaderLen)
		return out
	}
	out.TypeCode = msg[18]
	out.Type = BGPTypeName(out.TypeCode)
	out.Length = int(binary.BigEndian.Uint16(msg[16:18]))
	if !isMarker(msg[:16]) {
		out.Error = "BGP header without the all-ones marker"
	}
	if out.Length < bgpHeaderLen || out.Length > len(msg) {
		out.Error = joinErr(out.Error, fmt.Sprintf("length field %d, have %d bytes", out.Length, len(msg)))
		return out
	}
	body := msg[bgpHeaderLen:out.Length]
	switch out.TypeCode {
	case BGPOpenType, BGPUpdateType, BGPRouteRefreshType:
	case BGPNotificationType:
		// Decoded here, not by gobgp: its data interpretation is ours.
		out.Notification = decodeNotification(body)
		if len(body) < 2 {
			out.Error = joinErr(out.Error, fmt.Sprintf("NOTIFICATION body %d bytes, want at least 2", len(body)))
		}
		return out
	case BGPKeepaliveType:
		if len(body) != 0 {
			out.Error = joinErr(out.Error, fmt.Sprintf("KEEPALIVE with %d bytes of body", len(body)))
		}
		return out
	default:
		out.Error = joinErr(out.Error, fmt.Sprintf("unknown message type %d", out.TypeCode))
		return out
	}
	var opts []*bgp.MarshallingOption
	if len(addPath) > 0 {
		opts = append(opts, &bgp.MarshallingOption{AddPath: addPath})
	}
	hdr := &bgp.BGPHeader{Marker: msg[:16], Len: uint16(out.Length), Type: out.TypeCode}
	m, err := parseBody(hdr, body, opts)
	if err != nil {
		out.Error = joinErr(out.Error, describeGoBGPError(err))
	}
	if m == nil || m.Body == nil {
		return out
	}
	switch b := m.Body.(type) {
	case *bgp.BGPOpen:
		out.Open = convertOpen(b)
	case *bgp.BGPUpdate:
		out.Update = convertUpdate(b)
	case *bgp.BGPRouteRefresh:
		out.RouteRefresh = &BGPRouteRefresh{Family: familyName(b.AFI, b.SAFI), Subtype: b.Demarcation}
	}
	return out
}

// parseBody runs gobgp's decoder; a panic inside it (malformed input it
// does not guard against) becomes an error.
func parseBody(h *bgp.BGPHeader, body []byte, opts []*bgp.MarshallingOption) (m *bgp.BGPMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("malformed message (decoder panic: %v)", r)
		}
	}()
	// gobgp keeps slices of its input: decode a copy so later stream
	// buffer reuse cannot change decoded values.
	return bgp.ParseBGPBody(h, append([]byte(nil), body...), opts...)
}

func describeGoBGPError(err error) string {
	if me, ok := err.(*bgp.MessageError); ok {
		return fmt.Sprintf("%s (%s / %s)", me.Message, NotificationCodeName(me.TypeCode), NotificationSubcodeName(me.TypeCode, me.SubTypeCode))
	}
	return err.Error()
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

func isMarker(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return len(b) == 16
}

func familyName(afi uint16, safi uint8) string {
	rf := bgp.AfiSafiToRouteFamily(afi, safi)
	if n, ok := bgp.AddressFamilyNameMap[rf]; ok {
		return n
	}
	return fmt.Sprintf("afi-%d-safi-%d", afi, safi)
}

func familyString(rf bgp.RouteFamily) string {
	afi, safi := bgp.RouteFamilyToAfiSafi(rf)
	return familyName(afi, safi)
}

func ipString(ip net.IP) string {
	if a, ok := netip.AddrFromSlice(ip); ok {
		return a.Unmap().String()
	}
	return ""
}

func convertOpen(b *bgp.BGPOpen) *BGPOpen {
	o := &BGPOpen{Version: b.Version, MyAS: b.MyAS, HoldTime: b.HoldTime}
	if a, ok := netip.AddrFromSlice(b.ID.To4()); ok {
		o.RouterID = a
	}
	for _, p := range b.OptParams {
		oc, ok := p.(*bgp.OptionParameterCapability)
		if !ok {
			if u, ok := p.(*bgp.OptionParameterUnknown); ok {
				o.Capabilities = append(o.Capabilities, Capability{Code: 0, Name: fmt.Sprintf("optional-parameter-%d", u.ParamType), Value: hex.EncodeToString(u.Value)})
			}
			continue
		}
		for _, c := range oc.Capability {
			cap := convertCapability(c)
			if v, ok := c.(*bgp.CapFourOctetASNumber); ok {
				o.AS4 = v.CapValue
			}
			o.Capabilities = append(o.Capabilities, cap)
		}
	}
	return o
}

func convertCapability(c bgp.ParameterCapabilityInterface) Capability {
	code := uint8(c.Code())
	cp := Capability{Code: code, Name: CapabilityName(code)}
	switch v := c.(type) {
	case *bgp.CapMultiProtocol:
		cp.Value = familyString(v.CapValue)
	case *bgp.CapFourOctetASNumber:
		cp.Value = strconv.FormatUint(uint64(v.CapValue), 10)
	case *bgp.CapAddPath:
		var parts []string
		for _, t := range v.Tuples {
			parts = append(parts, familyString(t.RouteFamily)+" "+t.Mode.String())
		}
		cp.Value = strings.Join(parts, ", ")
	case *bgp.CapGracefulRestart:
		parts := []string{fmt.Sprintf("restart-time %ds", v.Time)}
		if v.Flags&0x08 != 0 {
			parts = append(parts, "restarting")
		}
		if v.Flags&0x04 != 0 {
			parts = append(parts, "notification")
		}
		for _, t := range v.Tuples {
			s := familyName(t.AFI, t.SAFI)
			if t.Flags&0x80 != 0 {
				s += " forwarding"
			}
			parts = append(parts, s)
		}
		cp.Value = strings.Join(parts, ", ")
	case *bgp.CapLongLivedGracefulRestart:
		var parts []string
		for _, t := range v.Tuples {
			parts = append(parts, fmt.Sprintf("%s stale-time %ds", familyName(t.AFI, t.SAFI), t.RestartTime))
		}
		cp.Value = strings.Join(parts, ", ")
	case *bgp.CapExtendedNexthop:
		var parts []string
		for _, t := range v.Tuples {
			parts = append(parts, fmt.Sprintf("%s via %s", familyName(t.NLRIAFI, uint8(t.NLRISAFI)), afiName(t.NexthopAFI)))
		}
		cp.Value = strings.Join(parts, ", ")
	case *bgp.CapFQDN:
		// Decoded from the raw value: gobgp's decoder runs the domain name
		// on into the capabilities that follow.
		cp.Value = fqdnValue(v.CapValue)
	case *bgp.CapSoftwareVersion:
		cp.Value = lengthPrefixed(v.CapValue)
	case *bgp.CapUnknown:
		cp.Value = capabilityValue(code, v.CapValue)
	}
	return cp
}

// lengthPrefixed returns the text after a one-byte length, bounded by b.
func lengthPrefixed(b []byte) string {
	if len(b) < 1 {
		return ""
	}
	l := min(int(b[0]), len(b)-1)
	return printable(string(b[1 : 1+l]))
}

// fqdnValue decodes the FQDN capability: host name and domain name, each
// with a one-byte length.
func fqdnValue(b []byte) string {
	if len(b) < 1 {
		return ""
	}
	host := lengthPrefixed(b)
	rest := b[1+min(int(b[0]), len(b)-1):]
	if dom := lengthPrefixed(rest); dom != "" {
		return host + "." + dom
	}
	return host
}

// capabilityValue decodes capabilities gobgp does not know.
func capabilityValue(code uint8, b []byte) string {
	switch code {
	case 9: // BGP role (RFC 9234)
		if len(b) == 1 {
			roles := []string{"provider", "rs", "rs-client", "customer", "peer"}
			if int(b[0]) < len(roles) {
				return roles[b[0]]
			}
			return fmt.Sprintf("role-%d", b[0])
		}
	case 6: // extended message: no value
		if len(b) == 0 {
			return ""
		}
	}
	return hex.EncodeToString(b)
}

func afiName(afi uint16) string {
	switch afi {
	case 1:
		return "ipv4"
	case 2:
		return "ipv6"
	}
	return fmt.Sprintf("afi-%d", afi)
}

// printable keeps text from the wire safe for one output line.
func printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.QuoteToASCII(s)
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func prefixStrings(ps []*bgp.IPAddrPrefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func addrPrefixStrings(ps []bgp.AddrPrefixInterface) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p == nil {
			continue
		}
		out = append(out, p.String())
	}
	return out
}

func convertUpdate(b *bgp.BGPUpdate) *BGPUpdate {
	u := &BGPUpdate{Withdrawn: prefixStrings(b.WithdrawnRoutes), NLRI: prefixStrings(b.NLRI)}
	if len(u.Withdrawn) == 0 {
		u.Withdrawn = nil
	}
	if len(u.NLRI) == 0 {
		u.NLRI = nil
	}
	if eor, rf := b.IsEndOfRib(); eor {
		u.EndOfRIB = familyString(rf)
	}
	for _, a := range b.PathAttributes {
		if a == nil {
			continue
		}
		pa := PathAttribute{Code: uint8(a.GetType()), Name: AttributeName(uint8(a.GetType())), Flags: uint8(a.GetFlags())}
		switch v := a.(type) {
		case *bgp.PathAttributeOrigin:
			switch v.Value {
			case 0:
				pa.Value = "IGP"
			case 1:
				pa.Value = "EGP"
			case 2:
				pa.Value = "INCOMPLETE"
			default:
				pa.Value = fmt.Sprintf("invalid (%d)", v.Value)
			}
			u.Origin = pa.Value
		case *bgp.PathAttributeAsPath:
			pa.Value = bgp.AsPathString(v)
			u.ASPath = pa.Value
			if pa.Value == "" {
				pa.Value = "empty"
				u.ASPath = ""
			}
		case *bgp.PathAttributeNextHop:
			pa.Value = ipString(v.Value)
			u.NextHop = pa.Value
		case *bgp.PathAttributeMultiExitDisc:
			val := v.Value
			u.MED = &val
			pa.Value = strconv.FormatUint(uint64(val), 10)
		case *bgp.PathAttributeLocalPref:
			val := v.Value
			u.LocalPref = &val
			pa.Value = strconv.FormatUint(uint64(val), 10)
		case *bgp.PathAttributeCommunities:
			for _, c := range v.Value {
				u.Communities = append(u.Communities, CommunityString(c))
			}
			pa.Value = strings.Join(u.Communities, " ")
		case *bgp.PathAttributeLargeCommunities:
			for _, c := range v.Values {
				if c != nil {
					u.LargeCommunities = append(u.LargeCommunities, c.String())
				}
			}
			pa.Value = strings.Join(u.LargeCommunities, " ")
		case *bgp.PathAttributeExtendedCommunities:
			for _, c := range v.Value {
				if c != nil {
					u.ExtCommunities = append(u.ExtCommunities, c.String())
				}
			}
			pa.Value = strings.Join(u.ExtCommunities, " ")
		case *bgp.PathAttributeMpReachNLRI:
			mp := &MPNLRI{Family: familyName(v.AFI, v.SAFI), NextHop: ipString(v.Nexthop), LinkLocalNextHop: ipString(v.LinkLocalNexthop), Prefixes: addrPrefixStrings(v.Value)}
			u.MPReach = mp
			pa.Value = mp.Family + " next-hop " + mp.NextHop
			if mp.LinkLocalNextHop != "" {
				pa.Value += " " + mp.LinkLocalNextHop
			}
			if len(mp.Prefixes) > 0 {
				pa.Value += " " + strings.Join(mp.Prefixes, " ")
			}
		case *bgp.PathAttributeMpUnreachNLRI:
			mp := &MPNLRI{Family: familyName(v.AFI, v.SAFI), Prefixes: addrPrefixStrings(v.Value)}
			u.MPUnreach = mp
			pa.Value = mp.Family
			if len(mp.Prefixes) > 0 {
				pa.Value += " " + strings.Join(mp.Prefixes, " ")
			}
		case *bgp.PathAttributeAtomicAggregate:
			pa.Value = "set"
		case *bgp.PathAttributeAggregator:
			pa.Value = fmt.Sprintf("AS %d %s", v.Value.AS, ipString(v.Value.Address))
		case *bgp.PathAttributeOriginatorId:
			pa.Value = ipString(v.Value)
		case *bgp.PathAttributeClusterList:
			var ids []string
			for _, ip := range v.Value {
				ids = append(ids, ipString(ip))
			}
			pa.Value = strings.Join(ids, " ")
		case *bgp.PathAttributeUnknown:
			pa.Value = hex.EncodeToString(v.Value)
		default:
			pa.Value = strings.TrimSuffix(strings.TrimPrefix(a.String(), "{"), "}")
		}
		u.Attributes = append(u.Attributes, pa)
	}
	return u
}

// decodeNotification decodes a NOTIFICATION body and interprets its data
// where the RFCs give it a meaning.
func decodeNotification(body []byte) *BGPNotification {
	n := &BGPNotification{}
	if len(body) >= 1 {
		n.Code = body[0]
	}
	if len(body) >= 2 {
		n.Subcode = body[1]
	}
	n.CodeName = NotificationCodeName(n.Code)
	n.SubcodeName = NotificationSubcodeName(n.Code, n.Subcode)
	if len(body) <= 2 {
		return n
	}
	data := body[2:]
	n.Data = hex.EncodeToString(data)
	switch {
	case n.Code == 1 && n.Subcode == 2 && len(data) == 2: // Bad Message Length
		n.Detail = fmt.Sprintf("length %d", binary.BigEndian.Uint16(data))
	case n.Code == 1 && n.Subcode == 3 && len(data) == 1: // Bad Message Type
		n.Detail = "type " + BGPTypeName(data[0])
	case n.Code == 2 && n.Subcode == 1 && len(data) == 2: // Unsupported Version Number
		n.Detail = fmt.Sprintf("largest supported version %d", binary.BigEndian.Uint16(data))
	case n.Code == 2 && n.Subcode == 2 && (len(data) == 2 || len(data) == 4): // Bad Peer AS
		if len(data) == 2 {
			n.PeerAS = uint32(binary.BigEndian.Uint16(data))
		} else {
			n.PeerAS = binary.BigEndian.Uint32(data)
		}
		n.Detail = fmt.Sprintf("peer AS %d", n.PeerAS)
	case n.Code == 2 && n.Subcode == 3 && len(data) == 4: // Bad BGP Identifier
		n.Detail = "identifier " + netip.AddrFrom4([4]byte(data)).String()
	case n.Code == 2 && n.Subcode == 6 && len(data) == 2: // Unacceptable Hold Time
		h := binary.BigEndian.Uint16(data)
		n.HoldTime = &h
		n.Detail = fmt.Sprintf("hold time %ds", h)
	case n.Code == 2 && n.Subcode == 7: // Unsupported Capability
		var caps []string
		for d := data; len(d) >= 2; {
			l := int(d[1])
			caps = append(caps, CapabilityName(d[0]))
			if len(d) < 2+l {
				break
			}
			d = d[2+l:]
		}
		n.Detail = "capabilities " + strings.Join(caps, ", ")
	case n.Code == 2 && n.Subcode == 4 && len(data) >= 1:
		n.Detail = fmt.Sprintf("optional parameter %d", data[0])
	case n.Code == 3 && n.Subcode == 3 && len(data) == 1: // Missing Well-known Attribute
		n.Detail = "missing " + AttributeName(data[0])
	case n.Code == 3 && len(data) >= 2 && (n.Subcode == 2 || n.Subcode == 4 || n.Subcode == 5 || n.Subcode == 6 || n.Subcode == 8 || n.Subcode == 9):
		n.Detail = "attribute " + AttributeName(data[1])
	case n.Code == 6 && n.Subcode == 1 && len(data) == 7: // Maximum Number of Prefixes Reached
		n.Detail = fmt.Sprintf("%s limit %d", familyName(binary.BigEndian.Uint16(data), data[2]), binary.BigEndian.Uint32(data[3:]))
	case n.Code == 6 && (n.Subcode == 2 || n.Subcode == 4): // Shutdown Communication
		l := int(data[0])
		if l > 0 && 1+l <= len(data) {
			n.Communication = printable(string(data[1 : 1+l]))
			n.Detail = fmt.Sprintf("shutdown communication %q", n.Communication)
		}
	case n.Code == 6 && n.Subcode == 9 && len(data) >= 2: // Hard Reset carries the original code/subcode
		n.Detail = fmt.Sprintf("hard reset for %s (%d) / %s (%d)", NotificationCodeName(data[0]), data[0], NotificationSubcodeName(data[0], data[1]), data[1])
	}
	return n
}
