package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
	"github.com/onp-lab/onp/trace"
)

// maxEvents bounds the capture events kept in the evidence.
const maxEvents = 600

// Gather reads a running lab into an Evidence value: it captures on the
// lab's bridges for Options.Capture and, meanwhile, reads both ends of every
// session, the cluster objects, every node's network state, and probes the
// ends and the services. What cannot be read is recorded in the evidence
// (Problems and the parts' Error fields), not returned as an error; an
// error means the lab itself could not be read.
func Gather(ctx context.Context, env Env, opts Options) (*Evidence, error) {
	start := time.Now()
	m, l := env.RunningLab()
	if l == nil || l.Topology == nil {
		return nil, errors.New("diagnose: no running lab")
	}
	log := opts.log()
	ev := &Evidence{Lab: l.Name, Time: start}
	ev.Nodes = labNodes(l.Topology)
	nsPaths := map[string]string{}
	for _, n := range ev.Nodes {
		h, err := m.Node(l, n.Name)
		if err != nil {
			ev.Problems = append(ev.Problems, fmt.Sprintf("node %s: %v", n.Name, err))
			continue
		}
		if ln, ok := h.(lab.LocalNode); ok {
			nsPaths[n.Name] = ln.NetnsPath()
		} else {
			ev.Problems = append(ev.Problems, fmt.Sprintf("node %s is not on this machine: its network state is not read", n.Name))
		}
	}

	// The capture runs for the whole gathering; probes start once it is
	// open so that their packets are in it.
	var (
		capWG    sync.WaitGroup
		capReady = make(chan struct{})
		readyOne sync.Once
	)
	if d := opts.capture(); d > 0 {
		ci := &CaptureInfo{Duration: Duration(d)}
		ev.Capture = ci
		srcs, err := trace.LabSources(l.Name, l.Topology, "", nil)
		if err != nil {
			ci.Error = err.Error()
			close(capReady)
		} else {
			for _, s := range srcs {
				ci.Interfaces = append(ci.Interfaces, s.Interface)
			}
			capWG.Add(1)
			go func() {
				defer capWG.Done()
				defer readyOne.Do(func() { close(capReady) })
				var mu sync.Mutex
				sum, err := trace.Live(ctx, trace.Options{
					Sources: srcs, ARP: true, Duration: d, Logger: log,
					Ready: func() { readyOne.Do(func() { close(capReady) }) },
				}, func(e trace.Event) error {
					mu.Lock()
					defer mu.Unlock()
					if len(ci.Events) < maxEvents {
						ci.Events = append(ci.Events, e)
					} else {
						ci.Truncated = true
					}
					return nil
				})
				ci.Summary = sum
				if err != nil {
					ci.Error = err.Error()
				}
			}()
		}
	} else {
		close(capReady)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range ev.Nodes {
		switch {
		case n.Kind == "sno":
			wg.Add(1)
			go func() {
				defer wg.Done()
				si := gatherSpeaker(ctx, l, n.Name)
				mu.Lock()
				ev.Speakers = append(ev.Speakers, si)
				mu.Unlock()
			}()
		case isRouterKind(n.Kind):
			wg.Add(1)
			go func() {
				defer wg.Done()
				ri := gatherRouter(ctx, env, l, n, nsPaths[n.Name], true)
				mu.Lock()
				ev.Routers = append(ev.Routers, ri)
				mu.Unlock()
			}()
		}
		if p := nsPaths[n.Name]; p != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ni := gatherNet(n.Name, p)
				mu.Lock()
				ev.Net = append(ev.Net, ni)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sort.Slice(ev.Speakers, func(i, j int) bool { return ev.Speakers[i].Node < ev.Speakers[j].Node })
	sort.Slice(ev.Routers, func(i, j int) bool { return ev.Routers[i].Node < ev.Routers[j].Node })
	sort.Slice(ev.Net, func(i, j int) bool { return ev.Net[i].Node < ev.Net[j].Node })

	select {
	case <-capReady:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	targets := probeTargets(ev, nsPaths, opts.Peer)
	var pwg sync.WaitGroup
	for _, t := range targets {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			ps := runProbes(ctx, env, t)
			mu.Lock()
			ev.Probes = append(ev.Probes, ps...)
			mu.Unlock()
		}()
	}
	for _, hp := range dataPathTargets(ev) {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r := httpProbe(ctx, env, hp.From, hp.Service, hp.ip, hp.port)
			mu.Lock()
			ev.DataPath = append(ev.DataPath, r)
			mu.Unlock()
		}()
	}
	pwg.Wait()
	sort.SliceStable(ev.Probes, func(i, j int) bool {
		a, b := ev.Probes[i], ev.Probes[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Kind < b.Kind
	})
	sort.Slice(ev.DataPath, func(i, j int) bool {
		a, b := ev.DataPath[i], ev.DataPath[j]
		return a.From+a.URL < b.From+b.URL
	})
	capWG.Wait()
	for _, s := range ev.Speakers {
		if s.Error != "" {
			ev.Problems = append(ev.Problems, "speaker "+s.Node+": "+s.Error)
		}
		if s.APIError != "" {
			ev.Problems = append(ev.Problems, s.APIError)
		}
	}
	for _, r := range ev.Routers {
		if r.Error != "" {
			ev.Problems = append(ev.Problems, "router "+r.Node+": "+r.Error)
		}
	}
	if ev.Capture != nil && ev.Capture.Error != "" {
		ev.Problems = append(ev.Problems, "capture: "+ev.Capture.Error)
	}
	ev.Took = Duration(time.Since(start))
	return ev, ctx.Err()
}

// labNodes lists the lab file's nodes with their interfaces.
func labNodes(top *topology.Topology) []NodeInfo {
	var out []NodeInfo
	for _, n := range top.Nodes {
		ni := NodeInfo{Name: n.Name, Kind: n.Kind}
		if n.VyOS != nil {
			ni.Version = n.VyOS.Version
		}
		for i, ifc := range n.Interfaces {
			ii := IfaceInfo{Name: topology.IfName(i), Network: ifc.Network}
			if ifc.Address != "" {
				if p, err := top.InterfacePrefix(ifc); err == nil {
					ii.Address = p
				}
			}
			ni.Interfaces = append(ni.Interfaces, ii)
		}
		out = append(out, ni)
	}
	return out
}

// probeTargets lists what to probe: from every speaker to each BGPPeer's
// address, from every router to each neighbor address, and between every
// speaker and router that share a network, in both directions.
func probeTargets(ev *Evidence, nsPaths map[string]string, peer string) []probeTarget {
	seen := map[string]bool{}
	var out []probeTarget
	add := func(from, addr string, port int) {
		a, err := netip.ParseAddr(addr)
		if err != nil || nsPaths[from] == "" {
			return
		}
		a = a.Unmap()
		to := ev.nodeByAddr(a.String())
		if to == from {
			return
		}
		if peer != "" && !matchesPeer(ev, peer, from, to, a.String()) {
			return
		}
		key := fmt.Sprintf("%s>%s:%d", from, a, port)
		if seen[key] {
			return
		}
		seen[key] = true
		t := probeTarget{from: from, fromNS: nsPaths[from], to: to, addr: a, port: port}
		if n := ev.node(from); n != nil {
			for _, ifc := range n.Interfaces {
				if ifc.Address.IsValid() && ifc.Address.Masked().Contains(a) {
					t.onLink = true
				}
			}
		}
		out = append(out, t)
	}
	for _, s := range ev.Speakers {
		if s.Status != nil {
			for _, p := range s.Status.Peers {
				port := int(p.Port)
				if port == 0 {
					port = 179
				}
				add(s.Node, p.Address, port)
			}
		}
		for _, p := range s.Peers {
			add(s.Node, p.Address, 179)
		}
	}
	for _, r := range ev.Routers {
		for addr := range r.Neighbors {
			add(r.Node, addr, 179)
		}
	}
	for _, s := range ev.Speakers {
		for _, r := range ev.Routers {
			for _, sa := range sharedAddrs(ev, s.Node, r.Node) {
				add(s.Node, sa[1], 179)
				add(r.Node, sa[0], 179)
			}
		}
	}
	return out
}

// sharedAddrs returns [a's address, b's address] for each network both
// nodes are on.
func sharedAddrs(ev *Evidence, a, b string) [][2]string {
	na, nb := ev.node(a), ev.node(b)
	if na == nil || nb == nil {
		return nil
	}
	var out [][2]string
	for _, x := range na.Interfaces {
		for _, y := range nb.Interfaces {
			if x.Network == y.Network && x.Address.IsValid() && y.Address.IsValid() {
				out = append(out, [2]string{x.Address.Addr().String(), y.Address.Addr().String()})
			}
		}
	}
	return out
}

// matchesPeer reports whether a probe or session end concerns the peer
// filter (a node name or an address).
func matchesPeer(ev *Evidence, peer string, nodes ...string) bool {
	if slices.Contains(nodes, peer) {
		return true
	}
	if n := ev.nodeByAddr(peer); n != "" && slices.Contains(nodes, n) {
		return true
	}
	return false
}

type dataPathTarget struct {
	HTTPProbe
	ip   string
	port int
}

// dataPathTargets lists an HTTP GET of every service address from every
// client (host) node and every router node.
func dataPathTargets(ev *Evidence) []dataPathTarget {
	var out []dataPathTarget
	seen := map[string]bool{}
	for _, s := range ev.Speakers {
		for _, svc := range s.Services {
			if len(svc.IPs) == 0 || len(svc.Ports) == 0 {
				continue
			}
			key := svc.Namespace + "/" + svc.Name
			for _, n := range ev.Nodes {
				if n.Kind != "host" && n.Kind != "vyos" && n.Kind != "frr" {
					continue
				}
				for _, ip := range svc.IPs {
					k := n.Name + ">" + ip
					if seen[k] {
						continue
					}
					seen[k] = true
					out = append(out, dataPathTarget{HTTPProbe: HTTPProbe{From: n.Name, Service: key}, ip: ip, port: svc.Ports[0]})
				}
			}
		}
	}
	return out
}
