package diagnose

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
)

// routerKinds are the node kinds whose BGP state Gather reads.
var routerKinds = []string{"vyos", "frr", "bird", "gobgp"}

func isRouterKind(k string) bool {
	for _, r := range routerKinds {
		if r == k {
			return true
		}
	}
	return false
}

// gatherRouter reads a router node's BGP state.
func gatherRouter(ctx context.Context, env Env, l *lab.Lab, n NodeInfo, nsPath string, full bool) RouterInfo {
	ri := RouterInfo{Node: n.Name, Kind: n.Kind, Version: n.Version}
	var err error
	switch n.Kind {
	case "vyos", "frr":
		err = gatherFRR(ctx, env, &ri, full)
	case "bird":
		err = gatherBIRD(ctx, filepath.Join(lab.NodeRunDir(l.Name, n.Name), "bird.ctl"), &ri)
	case "gobgp":
		err = gatherGoBGP(ctx, nsPath, &ri)
	}
	if err != nil {
		ri.Error = err.Error()
	}
	return ri
}

// gatherFRR reads FRR through the router's vtysh: neighbors and summary,
// and with full also the running configuration and the routes.
func gatherFRR(ctx context.Context, env Env, ri *RouterInfo, full bool) error {
	var (
		wg                        sync.WaitGroup
		sumOut, nbOut, cfg, rtOut string
		sumErr, nbErr, cfgErr     error
		rtErr                     error
	)
	run := func(cmd string, out *string, err *error) {
		defer wg.Done()
		*out, *err = env.RouterShow(ctx, ri.Node, cmd)
	}
	wg.Add(2)
	go run("show bgp summary json", &sumOut, &sumErr)
	go run("show bgp neighbors json", &nbOut, &nbErr)
	if full {
		wg.Add(2)
		go run("show running-config", &cfg, &cfgErr)
		go run("show ip route json", &rtOut, &rtErr)
	}
	wg.Wait()
	if nbErr != nil {
		return nbErr
	}
	nbs, err := decodeNeighbors(nbOut)
	if err != nil {
		return fmt.Errorf("router %s: show bgp neighbors json: %w", ri.Node, err)
	}
	ri.Neighbors = nbs
	if sumErr == nil {
		mergeSummary(ri, sumOut)
	}
	if full {
		if cfgErr == nil {
			ri.Config = ParseFRRConfig(cfg)
			if ri.AS == 0 {
				ri.AS = ri.Config.AS
			}
			if ri.RouterID == "" {
				ri.RouterID = ri.Config.RouterID
			}
		}
		if rtErr == nil {
			ri.Routes = decodeRoutes(rtOut)
		}
	}
	for _, nb := range ri.Neighbors {
		if ri.RouterID == "" {
			ri.RouterID = nb.LocalRouterID
		}
		if ri.AS == 0 {
			ri.AS = nb.LocalAS
		}
	}
	return nil
}

func decodeNeighbors(out string) (map[string]Neighbor, error) {
	out = strings.TrimSpace(out)
	if out == "" {
		return nil, fmt.Errorf("no output (is bgpd running?)")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("%v (output starts %q)", err, firstLine(out))
	}
	nbs := map[string]Neighbor{}
	for k, v := range raw {
		var nb Neighbor
		if json.Unmarshal(v, &nb) == nil {
			nbs[k] = nb
		}
	}
	return nbs, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 120 {
		l = l[:120]
	}
	return l
}

// mergeSummary adds the summary's per-peer counters to the neighbors.
func mergeSummary(ri *RouterInfo, out string) {
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(strings.TrimSpace(out)), &raw) != nil {
		return
	}
	for fam, v := range raw {
		var af frr.BGPAFSummary
		if json.Unmarshal(v, &af) != nil {
			continue
		}
		if ri.AS == 0 {
			ri.AS = af.AS
		}
		if ri.RouterID == "" {
			ri.RouterID = af.RouterID
		}
		for addr, p := range af.Peers {
			nb, ok := ri.Neighbors[addr]
			if !ok {
				continue
			}
			if fam == "ipv4Unicast" || nb.SummaryState == "" {
				nb.SummaryState = p.State
				nb.UptimeMsec = p.PeerUptimeMsec
			}
			if fam == "ipv4Unicast" {
				nb.PfxRcd, nb.PfxSnt = p.PfxRcd, p.PfxSnt
			}
			ri.Neighbors[addr] = nb
		}
	}
}

func decodeRoutes(out string) []RouteInfo {
	m := map[string][]frr.Route{}
	if json.Unmarshal([]byte(strings.TrimSpace(out)), &m) != nil {
		return nil
	}
	var rs []RouteInfo
	for p, paths := range m {
		for _, r := range paths {
			if r.Protocol == "connected" || r.Protocol == "local" {
				continue
			}
			ri := RouteInfo{Prefix: p, Protocol: r.Protocol, Installed: r.Installed, Selected: r.Selected}
			for _, nh := range r.Nexthops {
				s := nh.IP
				if nh.InterfaceName != "" {
					s = strings.TrimSpace(s + " dev " + nh.InterfaceName)
				}
				ri.Nexthops = append(ri.Nexthops, s)
			}
			rs = append(rs, ri)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Prefix < rs[j].Prefix })
	return rs
}

// ParseFRRConfig reads the BGP part of an FRR running configuration
// (`show running-config`). Passwords are fingerprinted, never kept.
func ParseFRRConfig(text string) *RouterConfig {
	rc := &RouterConfig{Neighbors: map[string]*NeighborConfig{}}
	inBGP := false
	family := ""
	nb := func(name string) *NeighborConfig {
		n := rc.Neighbors[name]
		if n == nil {
			n = &NeighborConfig{}
			rc.Neighbors[name] = n
		}
		return n
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "!") {
			continue
		}
		if !strings.HasPrefix(raw, " ") {
			inBGP = false
			family = ""
			if len(f) >= 3 && f[0] == "router" && f[1] == "bgp" && len(f) == 3 {
				inBGP = true
				if v, err := strconv.ParseUint(f[2], 10, 32); err == nil {
					rc.AS = uint32(v)
				}
				rc.Lines = append(rc.Lines, line)
			}
			continue
		}
		if !inBGP {
			continue
		}
		rc.Lines = append(rc.Lines, maskPassword(line))
		switch {
		case f[0] == "address-family" && len(f) >= 3:
			family = f[1] + " " + f[2]
			continue
		case f[0] == "exit-address-family":
			family = ""
			continue
		}
		if family != "" {
			if len(f) >= 3 && f[0] == "neighbor" && f[2] == "activate" {
				n := nb(f[1])
				n.Families = append(n.Families, family)
			}
			if len(f) >= 4 && f[0] == "no" && f[1] == "neighbor" && f[3] == "activate" && family == "ipv4 unicast" {
				nb(f[2]).Families = append(nb(f[2]).Families, "-ipv4 unicast")
			}
			continue
		}
		switch {
		case len(f) >= 3 && f[0] == "bgp" && f[1] == "router-id":
			rc.RouterID = f[2]
		case len(f) >= 3 && f[0] == "bgp" && f[1] == "minimum-holdtime":
			rc.MinimumHoldTime, _ = strconv.Atoi(f[2])
		case line == "no bgp default ipv4-unicast":
			rc.NoDefaultIPv4 = true
		case line == "bgp ebgp-requires-policy":
			rc.EBGPRequiresPolicy = true
		case line == "bgp shutdown":
			rc.Shutdown = true
		case len(f) >= 4 && f[0] == "timers" && f[1] == "bgp":
			rc.Keepalive, _ = strconv.Atoi(f[2])
			rc.HoldTime, _ = strconv.Atoi(f[3])
		case len(f) >= 3 && f[0] == "neighbor":
			n := nb(f[1])
			switch f[2] {
			case "remote-as":
				if len(f) >= 4 {
					n.RemoteAS = f[3]
				}
			case "peer-group":
				if len(f) >= 4 {
					n.PeerGroup = f[3]
				}
			case "password":
				if len(f) >= 4 {
					n.Password = secretOf(strings.Join(f[3:], " "), "neighbor "+f[1]+" password")
				}
			case "shutdown":
				n.Shutdown = true
			case "ebgp-multihop":
				n.EBGPMultihop = 255
				if len(f) >= 4 {
					n.EBGPMultihop, _ = strconv.Atoi(f[3])
				}
			case "disable-connected-check":
				n.DisableConnectedCheck = true
			case "passive":
				n.Passive = true
			case "update-source":
				if len(f) >= 4 {
					n.UpdateSource = f[3]
				}
			case "timers":
				if len(f) >= 5 && f[3] != "connect" {
					n.Keepalive, _ = strconv.Atoi(f[3])
					n.HoldTime, _ = strconv.Atoi(f[4])
				}
			}
		}
	}
	for _, n := range rc.Neighbors {
		explicit, negated := false, false
		var fams []string
		for _, fam := range n.Families {
			switch fam {
			case "ipv4 unicast":
				explicit = true
				fams = append(fams, fam)
			case "-ipv4 unicast":
				negated = true
			default:
				fams = append(fams, fam)
			}
		}
		n.IPv4Unicast = explicit || (!rc.NoDefaultIPv4 && !negated)
		if n.IPv4Unicast && !explicit {
			fams = append([]string{"ipv4 unicast"}, fams...)
		}
		n.Families = fams
	}
	return rc
}

func maskPassword(line string) string {
	f := strings.Fields(line)
	if len(f) >= 4 && f[0] == "neighbor" && f[2] == "password" {
		return strings.Join(f[:3], " ") + " ********"
	}
	return line
}

// gatherBIRD reads BIRD's protocols over its control socket.
func gatherBIRD(ctx context.Context, sock string, ri *RouterInfo) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("bird on %s: control socket %s: %w", ri.Node, sock, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := readBIRD(r); err != nil {
		return fmt.Errorf("bird on %s: %w", ri.Node, err)
	}
	if _, err := c.Write([]byte("show protocols all\n")); err != nil {
		return fmt.Errorf("bird on %s: %w", ri.Node, err)
	}
	lines, err := readBIRD(r)
	if err != nil {
		return fmt.Errorf("bird on %s: %w", ri.Node, err)
	}
	ri.Neighbors = parseBIRDProtocols(lines)
	return nil
}

// readBIRD reads one reply: lines "NNNN-text" or " text", up to a line
// "NNNN text" (a space after the code ends the reply).
func readBIRD(r *bufio.Reader) ([]string, error) {
	var out []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return out, err
		}
		line = strings.TrimRight(line, "\n")
		out = append(out, line)
		if len(line) >= 5 && line[4] == ' ' && isDigits(line[:4]) {
			return out, nil
		}
	}
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parseBIRDProtocols turns `show protocols all` into neighbors (BGP
// protocols only).
func parseBIRDProtocols(lines []string) map[string]Neighbor {
	out := map[string]Neighbor{}
	var cur *Neighbor
	isBGP := false
	addr := ""
	flush := func() {
		if cur != nil && isBGP && addr != "" {
			out[addr] = *cur
		}
		cur, isBGP, addr = nil, false, ""
	}
	for _, l := range lines {
		text := l
		if len(l) >= 5 && isDigits(l[:4]) {
			if l[:4] == "1002" {
				flush()
				f := strings.Fields(l[5:])
				cur = &Neighbor{}
				isBGP = len(f) >= 2 && f[1] == "BGP"
				if len(f) >= 6 {
					cur.Description = f[0]
				}
				continue
			}
			text = l[5:]
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(text), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "BGP state":
			cur.BGPState = v
		case "Neighbor address":
			addr = v
		case "Neighbor AS":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				cur.RemoteAS = uint32(n)
			}
		case "Local AS":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				cur.LocalAS = uint32(n)
			}
		case "Neighbor ID":
			cur.RemoteRouterID = v
		case "Last error":
			cur.LastResetDueTo = v
		case "Routes":
			// "1 imported, 0 exported, 1 preferred"
			for _, part := range strings.Split(v, ",") {
				f := strings.Fields(part)
				if len(f) == 2 {
					n, _ := strconv.Atoi(f[0])
					switch f[1] {
					case "imported":
						cur.PfxRcd = n
					case "exported":
						cur.PfxSnt = n
					}
				}
			}
		}
	}
	flush()
	return out
}

// gatherGoBGP reads gobgpd's neighbors with the gobgp CLI inside the node.
func gatherGoBGP(ctx context.Context, nsPath string, ri *RouterInfo) error {
	path, err := exec.LookPath("/usr/bin/gobgp")
	if err != nil {
		return fmt.Errorf("gobgp on %s: the gobgp CLI is not installed (apt-get install -y gobgpd)", ri.Node)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, path, "-j", "neighbor")
	var out strings.Builder
	cmd.Stdout = &out
	if err := nsx.Start(nsPath, cmd); err != nil {
		return fmt.Errorf("gobgp on %s: %w", ri.Node, err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("gobgp on %s: gobgp -j neighbor: %w", ri.Node, err)
	}
	var peers []struct {
		Conf struct {
			NeighborAddress string `json:"neighbor_address"`
			PeerASN         uint32 `json:"peer_asn"`
			LocalASN        uint32 `json:"local_asn"`
		} `json:"conf"`
		State struct {
			SessionState json.RawMessage `json:"session_state"`
			RouterID     string          `json:"router_id"`
		} `json:"state"`
		Timers struct {
			State struct {
				Uptime struct {
					Seconds int64 `json:"seconds"`
				} `json:"uptime"`
			} `json:"state"`
		} `json:"timers"`
		AfiSafis []struct {
			State struct {
				Family struct {
					Afi  int `json:"afi"`
					Safi int `json:"safi"`
				} `json:"family"`
				Received   int `json:"received"`
				Advertised int `json:"advertised"`
			} `json:"state"`
		} `json:"afi_safis"`
	}
	if err := json.Unmarshal([]byte(out.String()), &peers); err != nil {
		return fmt.Errorf("gobgp on %s: decode gobgp -j neighbor: %w", ri.Node, err)
	}
	ri.Neighbors = map[string]Neighbor{}
	for _, p := range peers {
		nb := Neighbor{}
		nb.RemoteAS, nb.LocalAS, nb.RemoteRouterID = p.Conf.PeerASN, p.Conf.LocalASN, p.State.RouterID
		nb.BGPState = gobgpState(p.State.SessionState)
		if nb.BGPState == "Established" && p.Timers.State.Uptime.Seconds > 0 {
			nb.BGPTimerUpMsec = time.Since(time.Unix(p.Timers.State.Uptime.Seconds, 0)).Milliseconds()
		}
		for _, af := range p.AfiSafis {
			if af.State.Family.Afi == 1 && af.State.Family.Safi == 1 {
				nb.PfxRcd, nb.PfxSnt = af.State.Received, af.State.Advertised
			}
		}
		if a, err := netip.ParseAddr(p.Conf.NeighborAddress); err == nil {
			ri.Neighbors[a.String()] = nb
		}
	}
	return nil
}

// gobgpState maps gobgp's session_state (a number of its API enum, or a
// name) to FRR's state names.
func gobgpState(raw json.RawMessage) string {
	names := []string{"Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}
	var n int
	if json.Unmarshal(raw, &n) == nil && n >= 0 && n < len(names) {
		return names[n]
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for _, name := range names {
			if strings.EqualFold(strings.ReplaceAll(s, "_", ""), name) {
				return name
			}
		}
		return s
	}
	return "Unknown"
}
