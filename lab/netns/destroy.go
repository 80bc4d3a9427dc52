package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/topology"
)

// labNamespaces returns the namespaces that carry the lab's names, split
// into those onp owns (tagged, or named in the journal) and foreign ones.
func labNamespaces(name string, journal []lab.Entry) (owned, foreign []string) {
	fab := topology.FabricNamespace(name)
	inJournal := map[string]bool{}
	for _, e := range journal {
		if e.Kind == "netns" {
			inJournal[e.Name] = true
		}
	}
	all, _ := nsx.List()
	seen := map[string]bool{}
	for _, ns := range all {
		if ns != fab && !strings.HasPrefix(ns, fab+".") {
			continue
		}
		seen[ns] = true
		// An empty unmounted file is no namespace at all: what a crash
		// between naming and mounting a namespace leaves.
		if owner, ok := nsOwner(ns); (ok && owner == name) || inJournal[ns] || nsx.IsEmptyFile(ns) {
			owned = append(owned, ns)
		} else {
			foreign = append(foreign, ns)
		}
	}
	return owned, foreign
}

// Destroy implements lab.Provider. Order: stop the supervisor (so nothing
// is restarted), stop every process living in the lab's namespaces by pid,
// delete the root-namespace host links, then the namespaces.
func (p *Provider) Destroy(ctx context.Context, name string, journal []lab.Entry) (*lab.DestroyReport, error) {
	rep := &lab.DestroyReport{}
	owned, foreign := labNamespaces(name, journal)
	for _, f := range foreign {
		rep.Foreign = append(rep.Foreign, "network namespace "+f)
	}
	inodes := map[uint64]bool{}
	for _, ns := range owned {
		if nsx.IsMounted(ns) {
			if ino, err := nsx.Inode(nsx.Path(ns)); err == nil {
				inodes[ino] = true
			}
		}
	}
	var errs []error
	if len(inodes) > 0 {
		pids, err := nsx.Pids(inodes)
		if err != nil {
			errs = append(errs, err)
		}
		rep.Processes = stopAll(pids, supervisorPid(pids))
		// A process may have started while the others stopped (a router
		// restarting an FRR daemon it saw die, a shell's trap): sweep the
		// namespaces until they are empty, or the namespaces would outlive
		// their names in those processes.
		for range 10 {
			more, err := nsx.Pids(inodes)
			if err != nil || len(more) == 0 {
				break
			}
			rep.Processes = append(rep.Processes, stopAll(more, 0)...)
		}
	}
	// Root-namespace links: tagged ones, and veths whose peer is in the
	// lab's fabric (a host link whose tag was not yet set).
	fabricID := -2
	if fd, err := os.Open(nsx.Path(topology.FabricNamespace(name))); err == nil && nsx.IsMounted(topology.FabricNamespace(name)) {
		if id, err := netlink.GetNetNsIdByFd(int(fd.Fd())); err == nil && id >= 0 {
			fabricID = id
		}
		fd.Close()
	}
	links, _ := netlink.LinkList()
	for _, link := range links {
		owner, ok := tagLab(link.Attrs().Alias)
		if (ok && owner == name) || (link.Type() == "veth" && link.Attrs().NetNsID == fabricID) {
			if err := netlink.LinkDel(link); err != nil && !errors.Is(err, syscall.ENODEV) {
				errs = append(errs, fmt.Errorf("delete host link %s: %w", link.Attrs().Name, err))
				continue
			}
			rep.Links = append(rep.Links, link.Attrs().Name)
		}
	}
	// Node namespaces first, the fabric last.
	sort.Slice(owned, func(i, j int) bool { return len(owned[i]) > len(owned[j]) })
	for _, ns := range owned {
		if err := nsx.Delete(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Namespaces = append(rep.Namespaces, ns)
	}
	return rep, errors.Join(errs...)
}

// supervisorPid finds the lab's supervisor among pids.
func supervisorPid(pids map[int]uint64) int {
	for pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(b), "__supervise") {
			return pid
		}
	}
	return 0
}

// stopAll stops processes: the supervisor with SIGKILL first (so it cannot
// restart anything), then SIGTERM to the rest, SIGKILL to what is left after
// a short grace period. It returns the pids it stopped.
func stopAll(pids map[int]uint64, super int) []int {
	var out []int
	if super > 0 {
		syscall.Kill(super, syscall.SIGKILL)
		waitGone([]int{super}, 2*time.Second)
		out = append(out, super)
		delete(pids, super)
	}
	var rest []int
	for pid := range pids {
		rest = append(rest, pid)
		syscall.Kill(pid, syscall.SIGTERM)
	}
	sort.Ints(rest)
	left := waitGone(rest, 300*time.Millisecond)
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(left, 5*time.Second)
	return append(out, rest...)
}

// waitGone polls until every pid has exited (or is a zombie) or the timeout
// passes, and returns those still alive.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var alive []int
		for _, pid := range pids {
			if processAlive(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// Labs implements lab.Provider: labs found by their tags.
func (p *Provider) Labs(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	all, err := nsx.List()
	if err != nil {
		return nil, err
	}
	for _, ns := range all {
		rest, ok := strings.CutPrefix(ns, topology.NamespacePrefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if set[name] {
			continue
		}
		if owner, ok := nsOwner(ns); ok && owner == name {
			set[name] = true
		}
	}
	links, _ := netlink.LinkList()
	for _, link := range links {
		if owner, ok := tagLab(link.Attrs().Alias); ok {
			set[owner] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Inspect implements lab.Provider.
func (p *Provider) Inspect(ctx context.Context, l *lab.Lab) (*lab.Inventory, error) {
	inv := &lab.Inventory{Lab: l.Name, Provider: p.Name()}
	if pid := supervisor.ReadPid(l.Dir); pid > 0 {
		inv.Supervisor = &lab.ProcessStatus{Name: "supervisor", Pid: pid, Running: processAlive(pid)}
	}
	var states []supervisor.State
	if pid := supervisor.ReadPid(l.Dir); pid > 0 && processAlive(pid) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		states, _ = supervisor.NewClient(l.Dir).List(cctx)
		cancel()
	} else {
		states, _ = supervisor.SavedStates(l.Dir)
		for i := range states {
			states[i].Running = states[i].Running && processAlive(states[i].Pid)
		}
	}
	fab := topology.FabricNamespace(l.Name)
	var fh *netlink.Handle
	if nsx.IsMounted(fab) {
		fh, _ = handle(fab)
		if fh != nil {
			defer fh.Close()
		}
	}
	for _, nw := range l.Topology.Networks {
		ns := lab.NetworkStatus{Name: nw.Name, Subnet: nw.Subnet}
		if fh != nil {
			if br, err := fh.LinkByName(nw.Name); err == nil {
				ns.Exists, ns.Up = true, br.Attrs().Flags&1 != 0
				links, _ := fh.LinkList()
				for _, link := range links {
					if link.Attrs().MasterIndex == br.Attrs().Index {
						ns.Ports = append(ns.Ports, link.Attrs().Name)
					}
				}
				sort.Strings(ns.Ports)
			}
		}
		if nw.HostAccess != nil {
			ns.HostLink = topology.HostLinkName(l.Name, nw.Name)
		}
		inv.Networks = append(inv.Networks, ns)
	}
	for _, n := range l.Topology.Nodes {
		st := lab.NodeStatus{Name: n.Name, Kind: n.Kind, Namespace: topology.NodeNamespace(l.Name, n.Name)}
		if nsx.IsMounted(st.Namespace) {
			st.Exists = true
			if h, err := handle(st.Namespace); err == nil {
				for i, ifc := range n.Interfaces {
					is := lab.InterfaceStatus{Name: topology.IfName(i), Network: ifc.Network}
					if link, err := h.LinkByName(is.Name); err == nil {
						is.Up = link.Attrs().OperState == netlink.OperUp || link.Attrs().Flags&1 != 0
						as, _ := h.AddrList(link, netlink.FAMILY_ALL)
						for _, a := range as {
							if a.IP.IsLinkLocalUnicast() {
								continue
							}
							is.Addrs = append(is.Addrs, a.IPNet.String())
						}
					}
					st.Interfaces = append(st.Interfaces, is)
				}
				h.Close()
			}
		}
		for _, s := range states {
			if svc, ok := strings.CutPrefix(s.Name, n.Name+"/"); ok {
				st.Services = append(st.Services, lab.ProcessStatus{Name: svc, Pid: s.Pid, Running: s.Running, Restarts: s.Restarts, Since: s.Since, LastExit: s.LastExit, Log: s.Log})
			}
		}
		inv.Nodes = append(inv.Nodes, st)
	}
	return inv, nil
}

var _ lab.Provider = (*Provider)(nil)
