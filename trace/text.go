package trace

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is the timestamp layout of Event.Text.
const TimeFormat = "15:04:05.000000"

// Text renders the event as one line, e.g.
//
//	12:03:04.123456 192.168.126.3:179 → 192.168.126.2:41234 BGP NOTIFICATION OPEN Message Error (2) / Bad Peer AS (2) — peer AS 64513
//
// The time is shown in the location of e.Time.
func (e *Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Time.Format(TimeFormat))
	b.WriteByte(' ')
	if e.Kind != KindARP {
		b.WriteString(e.Src.String())
		b.WriteString(" → ")
		b.WriteString(e.Dst.String())
		b.WriteByte(' ')
	}
	switch {
	case e.Kind == KindBGP && e.BGP != nil:
		b.WriteString("BGP ")
		b.WriteString(e.BGP.summary())
	case e.Kind == KindTCP && e.TCP != nil:
		b.WriteString("TCP ")
		b.WriteString(e.TCP.summary())
	case e.Kind == KindBFD && e.BFD != nil:
		b.WriteString(e.BFD.summary())
		if !e.BFD.Echo {
			fmt.Fprintf(&b, " ttl %d", e.TTL)
		}
	case e.Kind == KindARP && e.ARP != nil:
		b.WriteString("ARP ")
		b.WriteString(e.ARP.summary())
	default:
		b.WriteString(string(e.Kind))
	}
	if e.Note != "" {
		b.WriteString(" [")
		b.WriteString(e.Note)
		b.WriteByte(']')
	}
	return b.String()
}

func (t *TCPEvent) summary() string {
	s := t.Event
	switch t.Event {
	case TCPRetransmission:
		s = fmt.Sprintf("retransmission %d bytes seq %d", t.Len, t.Seq)
	default:
		if t.Retransmission {
			s += " (retransmission)"
		}
		s += " [" + t.Flags + "]"
		if t.Event == TCPSyn || t.Event == TCPSynAck {
			s += " seq " + strconv.FormatUint(uint64(t.Seq), 10)
		}
	}
	if t.MD5 {
		s += " md5"
	}
	if t.AO {
		s += " tcp-ao"
	}
	return s
}

func (m *BGPMessage) summary() string {
	var b strings.Builder
	b.WriteString(m.Type)
	switch {
	case m.Open != nil:
		o := m.Open
		fmt.Fprintf(&b, " v%d AS %d", o.Version, o.AS())
		if o.AS4 != 0 && o.AS4 != uint32(o.MyAS) {
			fmt.Fprintf(&b, " (My AS %d)", o.MyAS)
		}
		fmt.Fprintf(&b, " hold %ds id %s", o.HoldTime, o.RouterID)
		if len(o.Capabilities) > 0 {
			b.WriteString(" caps ")
			for i, c := range o.Capabilities {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(c.Name)
				if c.Value != "" {
					b.WriteString("(" + c.Value + ")")
				}
			}
		}
	case m.Update != nil:
		b.WriteByte(' ')
		b.WriteString(m.Update.summary())
	case m.Notification != nil:
		n := m.Notification
		fmt.Fprintf(&b, " %s (%d) / %s (%d)", n.CodeName, n.Code, n.SubcodeName, n.Subcode)
		switch {
		case n.Detail != "":
			b.WriteString(" — " + n.Detail)
		case n.Data != "":
			b.WriteString(" — data " + n.Data)
		}
	case m.RouteRefresh != nil:
		b.WriteString(" " + m.RouteRefresh.Family)
		switch m.RouteRefresh.Subtype {
		case 1:
			b.WriteString(" BoRR")
		case 2:
			b.WriteString(" EoRR")
		}
	}
	if m.Error != "" {
		b.WriteString(" (" + m.Error + ")")
	}
	return b.String()
}

func (u *BGPUpdate) summary() string {
	if u.EndOfRIB != "" {
		return "End-of-RIB " + u.EndOfRIB
	}
	var parts []string
	if len(u.Withdrawn) > 0 {
		parts = append(parts, "withdrawn "+strings.Join(u.Withdrawn, " "))
	}
	for _, a := range u.Attributes {
		v := a.Value
		if a.Code == 2 && v == "" {
			v = "empty"
		}
		parts = append(parts, a.Name+" "+v)
	}
	if len(u.NLRI) > 0 {
		parts = append(parts, "NLRI "+strings.Join(u.NLRI, " "))
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func (p *BFDPacket) summary() string {
	if p.Echo {
		return fmt.Sprintf("BFD echo %d bytes", p.Length)
	}
	var b strings.Builder
	b.WriteString("BFD")
	if p.Multihop {
		b.WriteString(" multihop")
	}
	fmt.Fprintf(&b, " v%d", p.Version)
	if p.State != "" {
		b.WriteString(" " + p.State)
	}
	fmt.Fprintf(&b, " diag %s (%d)", p.DiagName, p.Diag)
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{p.Poll, "P"}, {p.Final, "F"}, {p.ControlPlaneIndependent, "C"}, {p.AuthPresent, "A"}, {p.Demand, "D"}, {p.Multipoint, "M"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	if len(flags) > 0 {
		b.WriteString(" flags " + strings.Join(flags, ""))
	}
	fmt.Fprintf(&b, " mult %d my 0x%08x your 0x%08x tx %s rx %s echo %s",
		p.DetectMult, p.MyDisc, p.YourDisc, usString(p.DesiredMinTxUs), usString(p.RequiredMinRxUs), usString(p.RequiredMinEchoRxUs))
	if p.AuthPresent && p.AuthName != "" {
		b.WriteString(" auth " + p.AuthName)
	}
	if p.Error != "" {
		b.WriteString(" (" + p.Error + ")")
	}
	return b.String()
}

// usString renders microseconds as milliseconds ("300ms", "50ms", "1.5ms").
func usString(us uint32) string {
	if us%1000 == 0 {
		return strconv.FormatUint(uint64(us/1000), 10) + "ms"
	}
	return strconv.FormatFloat(float64(us)/1000, 'f', -1, 64) + "ms"
}

func (a *ARPPacket) summary() string {
	switch a.Op {
	case "who-has":
		return fmt.Sprintf("who-has %s tell %s (%s)", a.TargetIP, a.SenderIP, a.SenderMAC)
	case "is-at":
		return fmt.Sprintf("%s is-at %s (to %s)", a.SenderIP, a.SenderMAC, a.TargetIP)
	}
	return fmt.Sprintf("%s %s %s → %s", a.Op, a.SenderIP, a.SenderMAC, a.TargetIP)
}

func sortTimes(ts []time.Time) {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

func sortEvents(es []Event) {
	slices.SortStableFunc(es, func(a, b Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := a.Src.Compare(b.Src); c != 0 {
			return c
		}
		return a.Dst.Compare(b.Dst)
	})
}
