package vyos

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ifaceError is an interface change that failed during a commit.
type ifaceError struct {
	issue Issue
	err   error
}

func (e *ifaceError) Error() string { return e.issue.Message }

// ifaceState is the interface part of a configuration for one interface.
type ifaceState struct {
	path      string // "interfaces ethernet eth0"
	addresses []netip.Prefix
	desc      string
	disabled  bool
	mtu       int
	loopback  bool
}

func ifaceStates(c *Config) map[string]*ifaceState {
	out := map[string]*ifaceState{}
	for _, typ := range []string{"ethernet", "loopback"} {
		for _, e := range c.root.entries("interfaces", typ) {
			st := &ifaceState{path: "interfaces " + typ + " " + e.name, desc: e.value("description"),
				disabled: e.has("disable"), loopback: typ == "loopback"}
			for _, a := range e.list("address") {
				if p, err := netip.ParsePrefix(a); err == nil {
					st.addresses = append(st.addresses, p)
				}
			}
			if m := e.value("mtu"); m != "" {
				st.mtu, _ = strconv.Atoi(m)
			}
			out[e.name] = st
		}
	}
	return out
}

// applyInterfaces moves the interfaces from the old configuration's state
// to the new one's with netlink. It returns an undo function (always
// non-nil) that reverts what was done, in reverse order.
func (r *Router) applyInterfaces(old, cur *Config) (func(), error) {
	var undos []func()
	undo := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	before, after := ifaceStates(old), ifaceStates(cur)
	names := map[string]bool{}
	for n := range before {
		names[n] = true
	}
	for n := range after {
		names[n] = true
	}
	for name := range names {
		b, a := before[name], after[name]
		path := ""
		if a != nil {
			path = a.path
		} else {
			path = b.path
		}
		fail := func(err error) (func(), error) {
			return undo, &ifaceError{issue: Issue{Path: path, Header: path,
				Message: fmt.Sprintf("Failed to configure interface %q: %v", name, err)}, err: err}
		}
		link, err := r.nl.LinkByName(name)
		if err != nil {
			if a == nil {
				continue // gone from both the config and the system
			}
			return undo, &ifaceError{issue: Issue{Path: path, Header: path, Message: fmt.Sprintf("Interface %q does not exist!", name)}, err: err}
		}
		attrs := link.Attrs()
		// Addresses: add the new ones, remove the ones only the old
		// configuration had.
		have := map[netip.Prefix]bool{}
		if list, err := r.nl.AddrList(link, netlink.FAMILY_ALL); err == nil {
			for _, x := range list {
				if ip, ok := netip.AddrFromSlice(x.IP); ok {
					ones, _ := x.Mask.Size()
					have[netip.PrefixFrom(ip.Unmap(), ones)] = true
				}
			}
		}
		want := map[netip.Prefix]bool{}
		if a != nil {
			for _, p := range a.addresses {
				want[p] = true
				if have[p] {
					continue
				}
				if err := r.nl.AddrAdd(link, nlAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
					return fail(fmt.Errorf("add address %s: %w", p, err))
				}
				p := p
				undos = append(undos, func() { r.nl.AddrDel(link, nlAddr(p)) })
			}
		}
		if b != nil {
			for _, p := range b.addresses {
				if want[p] || !have[p] {
					continue
				}
				if err := r.nl.AddrDel(link, nlAddr(p)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
					return fail(fmt.Errorf("remove address %s: %w", p, err))
				}
				p := p
				undos = append(undos, func() { r.nl.AddrAdd(link, nlAddr(p)) })
			}
		}
		// Description is the interface alias.
		desc := ""
		if a != nil {
			desc = a.desc
		}
		if (a != nil || b != nil && b.desc != "") && attrs.Alias != desc {
			oldAlias := attrs.Alias
			if err := r.nl.LinkSetAlias(link, desc); err != nil {
				return fail(fmt.Errorf("set description: %w", err))
			}
			undos = append(undos, func() { r.nl.LinkSetAlias(link, oldAlias) })
		}
		// MTU.
		if a != nil && a.mtu != 0 && attrs.MTU != a.mtu {
			oldMTU := attrs.MTU
			if err := r.nl.LinkSetMTU(link, a.mtu); err != nil {
				return fail(fmt.Errorf("set mtu %d: %w", a.mtu, err))
			}
			undos = append(undos, func() { r.nl.LinkSetMTU(link, oldMTU) })
		}
		// Admin state: configured interfaces are up unless disabled; an
		// ethernet interface removed from the configuration goes down.
		up := attrs.Flags&net.FlagUp != 0
		wantUp := up
		switch {
		case a != nil:
			wantUp = !a.disabled
		case b != nil && !b.loopback:
			wantUp = false
		}
		if a != nil && a.loopback {
			wantUp = true
		}
		if wantUp != up {
			set, reset := r.nl.LinkSetUp, r.nl.LinkSetDown
			if !wantUp {
				set, reset = reset, set
			}
			if err := set(link); err != nil {
				return fail(fmt.Errorf("set link state: %w", err))
			}
			undos = append(undos, func() { reset(link) })
		}
	}
	return undo, nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	ip := net.IP(p.Addr().AsSlice())
	bits := p.Addr().BitLen()
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(p.Bits(), bits)}}
}
