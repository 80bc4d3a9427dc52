package trace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Filter keeps the events that concern some addresses. The zero Filter
// keeps everything.
type Filter struct {
	// Hosts keeps events with an endpoint among these addresses (a node's
	// addresses, for example). Empty keeps all.
	Hosts []netip.Addr `json:"hosts,omitempty"`
	// Peer keeps events with an endpoint at this address. Zero keeps all.
	Peer netip.Addr `json:"peer,omitzero"`
}

// matchAddrs reports whether a packet between a and b passes the filter.
func (f Filter) matchAddrs(a, b netip.Addr) bool {
	a, b = a.Unmap(), b.Unmap()
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, a) && !slices.Contains(f.Hosts, b) {
		return false
	}
	if f.Peer.IsValid() && f.Peer.Unmap() != a && f.Peer.Unmap() != b {
		return false
	}
	return true
}

// Match reports whether the event passes the filter.
func (f Filter) Match(e *Event) bool {
	if e.Kind == KindARP && e.ARP != nil {
		return f.matchAddrs(e.ARP.SenderIP, e.ARP.TargetIP)
	}
	return f.matchAddrs(e.Src.Addr(), e.Dst.Addr())
}

// matchFrame reports whether a captured frame passes the filter (frames
// that do not parse pass, so a pcap keeps what could not be decoded).
func (f Filter) matchFrame(p Packet) bool {
	if len(f.Hosts) == 0 && !f.Peer.IsValid() {
		return true
	}
	fr, err := parseFrame(p.LinkType, p.Data)
	if err != nil {
		return true
	}
	return f.matchAddrs(fr.src, fr.dst)
}

// Summary counts what a trace saw.
type Summary struct {
	// Packets counts frames captured or read (before the address filter).
	Packets int `json:"packets"`
	// Events counts events passed to the callback.
	Events int `json:"events"`
	// BGP counts BGP messages by type (OPEN, UPDATE, ...).
	BGP map[string]int `json:"bgp"`
	// TCP counts connection events by name (SYN, RST, retransmission, ...).
	TCP map[string]int `json:"tcp"`
	BFD int            `json:"bfd"`
	ARP int            `json:"arp"`
	// Dropped counts frames the kernel dropped because the capture fell
	// behind.
	Dropped uint64 `json:"dropped,omitempty"`
	// Duration is the time between the first and the last packet.
	Duration time.Duration `json:"duration"`

	first, last time.Time
}

func newSummary() Summary { return Summary{BGP: map[string]int{}, TCP: map[string]int{}} }

func (s *Summary) packet(t time.Time) {
	s.Packets++
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
	s.Duration = s.last.Sub(s.first)
}

// Add counts an event.
func (s *Summary) Add(e *Event) {
	if s.BGP == nil {
		s.BGP, s.TCP = map[string]int{}, map[string]int{}
	}
	s.Events++
	switch e.Kind {
	case KindBGP:
		s.BGP[e.BGP.Type]++
	case KindTCP:
		s.TCP[e.TCP.Event]++
	case KindBFD:
		s.BFD++
	case KindARP:
		s.ARP++
	}
}

// BGPMessages returns the number of BGP messages of all types.
func (s Summary) BGPMessages() int {
	n := 0
	for _, v := range s.BGP {
		n += v
	}
	return n
}

// String renders the summary as one line, e.g. "42 packets; 17 BGP
// messages (2 OPEN, 14 KEEPALIVE, 1 NOTIFICATION); 20 BFD packets".
func (s Summary) String() string {
	parts := []string{plural(s.Packets, "packet")}
	order := []string{"OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"}
	var types []string
	for _, t := range order {
		if n := s.BGP[t]; n > 0 {
			types = append(types, fmt.Sprintf("%d %s", n, t))
		}
	}
	var other []string
	for t, n := range s.BGP {
		if !slices.Contains(order, t) {
			other = append(other, fmt.Sprintf("%d %s", n, t))
		}
	}
	sort.Strings(other)
	types = append(types, other...)
	bgp := plural(s.BGPMessages(), "BGP message")
	if len(types) > 0 {
		bgp += " (" + strings.Join(types, ", ") + ")"
	}
	parts = append(parts, bgp, plural(s.BFD, "BFD packet"))
	if len(s.TCP) > 0 {
		var evs []string
		for _, t := range []string{TCPSyn, TCPSynAck, TCPFin, TCPRst, TCPRetransmission} {
			if n := s.TCP[t]; n > 0 {
				evs = append(evs, fmt.Sprintf("%d %s", n, t))
			}
		}
		parts = append(parts, "TCP "+strings.Join(evs, ", "))
	}
	if s.ARP > 0 {
		parts = append(parts, plural(s.ARP, "ARP packet"))
	}
	if s.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped by the kernel", s.Dropped))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Options configure Live and Read.
type Options struct {
	// Sources are the interfaces Live captures on.
	Sources []Source
	// Ports are TCP ports carrying BGP besides 179.
	Ports []uint16
	// ARP adds ARP requests and replies.
	ARP bool
	// Filter keeps only events (and, with Pcap, frames) about some
	// addresses.
	Filter Filter
	// Duration ends the trace after this long (Read: this long after the
	// first packet). Zero: no limit.
	Duration time.Duration
	// Count ends the trace after this many events. Zero: no limit.
	Count int
	// Packets ends the trace after this many captured frames. Zero: no
	// limit.
	Packets int
	// Pcap, if set, receives every captured frame that passes Filter as a
	// classic pcap file (Live only).
	Pcap io.Writer
	// Ready, if set, is called by Live once every source is open: packets
	// from then on are captured.
	Ready func()
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// errStop ends a trace whose limit was reached.
var errStop = errors.New("limit reached")

// pipeline is the part shared by Live and Read.
type pipeline struct {
	opts Options
	dec  *Decoder
	pw   *PcapWriter
	sum  Summary
	emit func(Event) error
	t0   time.Time
}

func newPipeline(opts Options, emit func(Event) error) *pipeline {
	return &pipeline{opts: opts, dec: NewDecoder(DecoderOptions{Ports: opts.Ports, ARP: opts.ARP}), sum: newSummary(), emit: emit}
}

func (p *pipeline) packet(pk Packet) error {
	if p.opts.Duration > 0 {
		if p.t0.IsZero() {
			p.t0 = pk.Time
		} else if pk.Time.Sub(p.t0) > p.opts.Duration {
			return errStop
		}
	}
	p.sum.packet(pk.Time)
	if p.pw != nil && p.opts.Filter.matchFrame(pk) {
		if err := p.pw.WritePacket(pk); err != nil {
			return err
		}
	}
	if err := p.events(p.dec.Decode(pk)); err != nil {
		return err
	}
	if p.opts.Packets > 0 && p.sum.Packets >= p.opts.Packets {
		return errStop
	}
	return nil
}

func (p *pipeline) events(evs []Event) error {
	for i := range evs {
		e := &evs[i]
		if !p.opts.Filter.Match(e) {
			continue
		}
		p.sum.Add(e)
		if err := p.emit(*e); err != nil {
			return err
		}
		if p.opts.Count > 0 && p.sum.Events >= p.opts.Count {
			return errStop
		}
	}
	return nil
}

// Read decodes a pcap or pcapng file and passes each event to emit. A file
// that ends inside a record is decoded up to there; the returned error then
// wraps ErrTruncated, together with the summary of what was read. An error
// from emit ends the trace and is returned.
func Read(r io.Reader, opts Options, emit func(Event) error) (Summary, error) {
	p := newPipeline(opts, emit)
	rd, err := NewReader(r)
	if err != nil {
		return p.sum, err
	}
	var readErr error
	for {
		pk, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if err := p.packet(pk); err != nil {
			if errors.Is(err, errStop) {
				return p.sum, nil
			}
			return p.sum, err
		}
	}
	if err := p.events(p.dec.Flush()); err != nil && !errors.Is(err, errStop) {
		return p.sum, err
	}
	return p.sum, readErr
}

// Live captures on every source until ctx ends, Duration passes, or Count
// events or Packets frames were seen, and passes each event to emit as it
// is decoded. All sources are opened before anything is read, so a wrong
// interface name fails at once. Ending by ctx is not an error.
func Live(ctx context.Context, opts Options, emit func(Event) error) (Summary, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := newPipeline(opts, emit)
	if len(opts.Sources) == 0 {
		return p.sum, errors.New("trace: no interface to capture on")
	}
	spec := FilterSpec{Ports: opts.Ports, ARP: opts.ARP}
	var caps []*Capture
	closeAll := func() {
		for _, c := range caps {
			c.Close()
		}
	}
	for _, s := range opts.Sources {
		c, err := OpenCapture(s, spec)
		if err != nil {
			closeAll()
			return p.sum, err
		}
		log.Debug("capturing", "interface", s.Interface, "netns", s.Netns, "promisc", s.Promisc)
		caps = append(caps, c)
	}
	if opts.Pcap != nil {
		pw, err := NewPcapWriter(opts.Pcap, LinkTypeEthernet, DefaultSnaplen)
		if err != nil {
			closeAll()
			return p.sum, err
		}
		p.pw = pw
	}

	type result struct {
		pk  Packet
		err error
	}
	ch := make(chan result, 256)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, c := range caps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				pk, err := c.Next()
				if errors.Is(err, ErrCaptureClosed) {
					return
				}
				select {
				case ch <- result{pk, err}:
				case <-stop:
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	finish := func() {
		for _, c := range caps {
			if st, err := c.Stats(); err == nil {
				p.sum.Dropped += st.Dropped
			}
		}
		close(stop)
		closeAll()
		wg.Wait()
	}

	if opts.Ready != nil {
		opts.Ready()
	}
	var timeout <-chan time.Time
	if opts.Duration > 0 {
		t := time.NewTimer(opts.Duration)
		defer t.Stop()
		timeout = t.C
	}
	// Live durations are wall-clock; the pipeline must not also cut by
	// packet time.
	p.opts.Duration = 0
	// An open packet socket keeps its namespace alive after the lab is
	// removed; notice the removal instead of tracing a dead bridge.
	var nsCheck <-chan time.Time
	for _, s := range opts.Sources {
		if s.Netns != "" {
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			nsCheck = tk.C
			break
		}
	}
	for {
		select {
		case <-nsCheck:
			for _, s := range opts.Sources {
				if s.Netns != "" && !namespaceMounted(s.Netns) {
					finish()
					return p.sum, fmt.Errorf("capture on %s: the namespace %s was removed (the lab went down)", s.Interface, s.Netns)
				}
			}
		case <-ctx.Done():
			finish()
			return p.sum, nil
		case <-timeout:
			finish()
			return p.sum, nil
		case r := <-ch:
			if r.err != nil {
				finish()
				return p.sum, r.err
			}
			if err := p.packet(r.pk); err != nil {
				finish()
				if errors.Is(err, errStop) {
					return p.sum, nil
				}
				return p.sum, err
			}
		}
	}
}
