package diagnose

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
)

// gatherNet reads a node's interfaces, routes, ARP table, nftables rules
// and TCP-MD5 counters inside its namespace.
func gatherNet(node, nsPath string) NetInfo {
	ni := NetInfo{Node: node}
	var (
		h     *netlink.Handle
		nft   *nftables.Conn
		stats []byte
	)
	err := nsx.Do(nsPath, func() error {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return err
		}
		if nft, err = nftables.New(nftables.AsLasting()); err != nil {
			return err
		}
		stats, _ = os.ReadFile("/proc/thread-self/net/netstat")
		return nil
	})
	if err != nil {
		if h != nil {
			h.Close()
		}
		ni.Error = fmt.Sprintf("node %s: %v", node, err)
		return ni
	}
	defer h.Close()
	defer nft.CloseLasting()
	names := map[int]string{}
	if links, err := h.LinkList(); err == nil {
		for _, l := range links {
			a := l.Attrs()
			names[a.Index] = a.Name
			li := LinkInfo{Name: a.Name, Up: a.Flags&unix.IFF_UP != 0 && a.OperState != netlink.OperDown}
			if addrs, err := h.AddrList(l, netlink.FAMILY_V4); err == nil {
				for _, ad := range addrs {
					li.Addrs = append(li.Addrs, ad.IPNet.String())
				}
			}
			ni.Interfaces = append(ni.Interfaces, li)
		}
	} else {
		ni.Error = fmt.Sprintf("node %s: list links: %v", node, err)
	}
	if rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE); err == nil {
		for _, r := range rs {
			ki := KernelInfo{Dst: "default", Dev: names[r.LinkIndex], Protocol: r.Protocol.String()}
			if r.Dst != nil {
				ki.Dst = r.Dst.String()
			}
			if r.Gw != nil {
				ki.Gateway = r.Gw.String()
			}
			ni.Routes = append(ni.Routes, ki)
		}
	}
	if ns, err := h.NeighList(0, netlink.FAMILY_V4); err == nil {
		for _, n := range ns {
			e := NeighInfo{IP: n.IP.String(), State: neighState(n.State), Dev: names[n.LinkIndex]}
			if len(n.HardwareAddr) > 0 {
				e.MAC = n.HardwareAddr.String()
			}
			ni.Neighbors = append(ni.Neighbors, e)
		}
		sort.Slice(ni.Neighbors, func(i, j int) bool { return ni.Neighbors[i].IP < ni.Neighbors[j].IP })
	}
	fw, total, err := readFirewall(nft)
	ni.Firewall, ni.FirewallRules = fw, total
	if err != nil && ni.Error == "" {
		ni.Error = fmt.Sprintf("node %s: %v", node, err)
	}
	ni.MD5 = md5Counters(stats)
	return ni
}

func neighState(s int) string {
	switch {
	case s&netlink.NUD_REACHABLE != 0:
		return "REACHABLE"
	case s&netlink.NUD_STALE != 0:
		return "STALE"
	case s&netlink.NUD_DELAY != 0:
		return "DELAY"
	case s&netlink.NUD_PROBE != 0:
		return "PROBE"
	case s&netlink.NUD_FAILED != 0:
		return "FAILED"
	case s&netlink.NUD_INCOMPLETE != 0:
		return "INCOMPLETE"
	case s&netlink.NUD_PERMANENT != 0:
		return "PERMANENT"
	case s&netlink.NUD_NOARP != 0:
		return "NOARP"
	}
	return "NONE"
}

// md5Counters picks the TCP-MD5 counters out of /proc/net/netstat.
func md5Counters(b []byte) map[string]uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	var header []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if header == nil {
			header = f
			continue
		}
		out := map[string]uint64{}
		for i := 1; i < len(f) && i < len(header); i++ {
			if strings.HasPrefix(header[i], "TCPMD5") {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				out[header[i]] = v
			}
		}
		return out
	}
	return nil
}

// routeTo returns the kernel route a node would use to reach dst: the
// longest matching prefix of its main table ("" when none).
func (ni *NetInfo) routeTo(dst string) (KernelInfo, bool) {
	a, err := netip.ParseAddr(dst)
	if err != nil {
		return KernelInfo{}, false
	}
	best, bestLen := KernelInfo{}, -1
	for _, r := range ni.Routes {
		p := netip.MustParsePrefix("0.0.0.0/0")
		if r.Dst != "default" {
			q, err := netip.ParsePrefix(r.Dst)
			if err != nil {
				continue
			}
			p = q
		}
		if p.Contains(a) && p.Bits() > bestLen {
			best, bestLen = r, p.Bits()
		}
	}
	return best, bestLen >= 0
}

// neigh returns the ARP entry for ip.
func (ni *NetInfo) neigh(ip string) *NeighInfo {
	for i := range ni.Neighbors {
		if ni.Neighbors[i].IP == ip {
			return &ni.Neighbors[i]
		}
	}
	return nil
}

func (r KernelInfo) String() string {
	s := r.Dst
	if r.Gateway != "" {
		s += " via " + r.Gateway
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Protocol != "" && r.Protocol != "boot" {
		s += " proto " + r.Protocol
	}
	return s
}
