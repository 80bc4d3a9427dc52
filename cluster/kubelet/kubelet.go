// Package kubelet runs the embedded cluster's pods. Each pod gets its own
// network namespace (onp-<lab>.<node>.<pod id>, tagged
// onp/<lab>/pod/<node>/<namespace>/<name> on its loopback so `onp down`
// finds it), an address from the pod subnet on eth0, and a point-to-point
// veth to the node: the node routes the pod's /32 to the veth, answers ARP
// on it (proxy ARP) and holds the gateway, the subnet's first address, on
// its loopback, so that every pod packet passes the node's routing and
// conntrack (kube-proxy's DNAT works pod-to-pod without br_netfilter) and
// masqueraded traffic reaches pods from that gateway address.
//
// Containers run as HTTP servers inside the agent: their listening sockets
// are opened inside the pod's namespace, so the pod IP answers and the
// node's own ports do not, at a few kilobytes per pod.
package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/cluster/echoserver"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/topology"
)

// Kubelet runs the pods scheduled to its node.
type Kubelet struct {
	Lab, Node string
	// NodeNetns is the path of the node's network namespace; empty means
	// the namespace the agent runs in.
	NodeNetns string
	// PodSubnet is where pod addresses come from (default 10.128.0.0/23);
	// its first address is the node's gateway address for pods.
	PodSubnet netip.Prefix
	// HostIPs are the node's addresses (pod status hostIP).
	HostIPs []netip.Addr
	Logger  *slog.Logger
	Now     func() time.Time

	pods *kube.Informer

	mu        sync.Mutex
	setup     bool
	node      *netlink.Handle
	gw        netip.Addr
	sandboxes map[string]*sandbox // by pod UID
	ips       map[netip.Addr]string
	failed    map[string]string // pod UID → last failure reported
}

type sandbox struct {
	uid, namespace, name string
	netns                string
	hostIf               string
	ip                   netip.Addr
	servers              []*http.Server
	// spec is what the servers were started from (images, ports, env).
	spec    string
	started time.Time
}

// Name implements the agent's Controller.
func (k *Kubelet) Name() string { return "kubelet" }

// Watches implements the agent's Controller.
func (k *Kubelet) Watches() []string { return []string{"pods"} }

// Inform implements the agent's Informed: the kubelet reads pods from the
// shared informer and looks at all of its node's pods on every change
// (they are few).
func (k *Kubelet) Inform(inf *kube.Informers, notify func()) {
	k.pods = kube.InformerOf[api.Pod](inf)
	k.pods.AddHandler(func(kube.Change) { notify() })
}

// Resync implements the agent's Informed (every Reconcile looks at every
// pod).
func (k *Kubelet) Resync() {}

func (k *Kubelet) log() *slog.Logger {
	if k.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Logger
}

func (k *Kubelet) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Kubelet) nodeNetns() string {
	if k.NodeNetns == "" {
		return "/proc/self/ns/net"
	}
	return k.NodeNetns
}

// PodNetnsPrefix is what every pod namespace of a node is called before
// its pod id: "onp-<lab>.<node>.".
func PodNetnsPrefix(lab, node string) string { return topology.NodeNamespace(lab, node) + "." }

// PodNetns is the network namespace name of a pod.
func PodNetns(lab, node, uid string) string { return PodNetnsPrefix(lab, node) + podID(uid) }

// PodTag is the ownership tag on a pod namespace's loopback.
func PodTag(lab, node, namespace, name string) string {
	return "onp/" + lab + "/pod/" + node + "/" + namespace + "/" + name
}

func podID(uid string) string {
	id := strings.ReplaceAll(uid, "-", "")
	if len(id) < 8 {
		sum := sha256.Sum256([]byte(uid))
		id = hex.EncodeToString(sum[:])
	}
	return id[:8]
}

// Netns returns the network namespace path of a running pod ("" if none).
func (k *Kubelet) Netns(uid string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sb := k.sandboxes[uid]; sb != nil {
		return nsx.Path(sb.netns)
	}
	return ""
}

func handleAt(path string) (*netlink.Handle, error) {
	fd, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer fd.Close()
	return netlink.NewHandleAt(fd)
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// init prepares the node: forwarding, the gateway address on lo, an
// unreachable route for unused pod addresses; and adopts or removes pod
// namespaces left by an earlier run.
func (k *Kubelet) init() error {
	if !k.PodSubnet.IsValid() {
		return errors.New("kubelet: no pod subnet")
	}
	if !k.PodSubnet.Addr().Is4() || k.PodSubnet.Bits() > 30 {
		return fmt.Errorf("pod subnet %s must be an IPv4 prefix of /30 or shorter", k.PodSubnet)
	}
	k.PodSubnet = k.PodSubnet.Masked()
	k.gw = k.PodSubnet.Addr().Next()
	h, err := handleAt(k.nodeNetns())
	if err != nil {
		return err
	}
	k.node = h
	for key, v := range map[string]string{
		"ipv4/ip_forward":          "1",
		"ipv4/conf/all/arp_ignore": "0",
		"ipv4/conf/all/rp_filter":  "0",
	} {
		if err := nsx.WriteSysctl(k.nodeNetns(), key, v); err != nil {
			return fmt.Errorf("node %s: sysctl net.%s=%s: %w", k.Node, strings.ReplaceAll(key, "/", "."), v, err)
		}
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("node %s: loopback: %w", k.Node, err)
	}
	gw := &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(k.gw, 32))}
	if err := h.AddrAdd(lo, gw); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("node %s: pod gateway %s on lo: %w", k.Node, k.gw, err)
	}
	un := &netlink.Route{Dst: ipnet(k.PodSubnet), Type: unix.RTN_UNREACHABLE}
	if err := h.RouteReplace(un); err != nil {
		return fmt.Errorf("node %s: route for pod subnet %s: %w", k.Node, k.PodSubnet, err)
	}
	k.sandboxes = map[string]*sandbox{}
	k.ips = map[netip.Addr]string{}
	k.failed = map[string]string{}
	return nil
}

// Close stops the pods' servers. Their namespaces stay: a restarted
// agent adopts them.
func (k *Kubelet) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, sb := range k.sandboxes {
		stopServers(sb)
	}
	if k.node != nil {
		k.node.Close()
	}
	return nil
}

func stopServers(sb *sandbox) {
	for _, s := range sb.servers {
		s.Close()
	}
	sb.servers = nil
}

// Reconcile implements the agent's Controller.
func (k *Kubelet) Reconcile(ctx context.Context, c kube.Interface) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.setup {
		if err := k.init(); err != nil {
			return err
		}
		k.setup = true
	}
	var pods []*api.Pod
	if k.pods != nil {
		pods = kube.Typed[api.Pod](k.pods.List())
	} else {
		var err error
		if pods, _, err = kube.ListOf[api.Pod](ctx, c, "", kube.ListOptions{}); err != nil {
			return err
		}
	}
	rec := &kube.Recorder{Client: c, Component: "kubelet", Host: k.Node, Now: k.Now}
	mine := map[string]*api.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName == k.Node {
			mine[p.UID] = p
		}
	}
	var errs []error
	// Pods that went, or are being deleted: tear down.
	for uid, sb := range k.sandboxes {
		if p := mine[uid]; p == nil || p.DeletionTimestamp != nil {
			k.teardown(sb)
		}
	}
	for _, p := range sortedPods(mine) {
		if p.DeletionTimestamp != nil {
			zero := int64(0)
			if err := c.Delete(ctx, kube.KindFor[api.Pod](), p.Namespace, p.Name, kube.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !kube.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err))
			}
			delete(k.failed, p.UID)
			continue
		}
		if err := k.run(ctx, c, rec, p); err != nil {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	// Namespaces of pods that no longer exist (from an earlier run).
	k.removeOrphans()
	for uid := range k.failed {
		if mine[uid] == nil {
			delete(k.failed, uid)
		}
	}
	return errors.Join(errs...)
}

func sortedPods(m map[string]*api.Pod) []*api.Pod {
	out := make([]*api.Pod, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// workloads says what each container runs.
func workloads(p *api.Pod) ([]echoserver.Workload, error) {
	var out []echoserver.Workload
	seen := map[int]string{}
	for _, c := range p.Spec.Containers {
		w, err := echoserver.ForContainer(c)
		if err != nil {
			return nil, err
		}
		for _, port := range w.Ports {
			if other, ok := seen[port]; ok {
				return nil, fmt.Errorf("containers %q and %q both listen on port %d", other, c.Name, port)
			}
			seen[port] = c.Name
		}
		out = append(out, w)
	}
	return out, nil
}

func specKey(p *api.Pod) string {
	var b strings.Builder
	for _, c := range p.Spec.Containers {
		fmt.Fprintf(&b, "%s|%s|%v|%v|%v|%v;", c.Name, c.Image, c.Command, c.Args, c.Ports, c.Env)
	}
	return b.String()
}

// run makes sure a pod runs and its status says so.
func (k *Kubelet) run(ctx context.Context, c kube.Interface, rec *kube.Recorder, p *api.Pod) error {
	ws, werr := workloads(p)
	if werr != nil {
		return k.reportFailure(ctx, c, rec, p, "ImageNotSupported", werr.Error())
	}
	sb := k.sandboxes[p.UID]
	fresh := false
	if sb == nil {
		var err error
		sb, err = k.sandbox(p)
		if err != nil {
			return k.reportFailure(ctx, c, rec, p, "CreatePodSandboxError", err.Error())
		}
		k.sandboxes[p.UID] = sb
		fresh = true
	}
	if sb.spec != specKey(p) || len(sb.servers) == 0 {
		stopServers(sb)
		if err := k.serve(sb, p, ws); err != nil {
			return k.reportFailure(ctx, c, rec, p, "RunContainerError", err.Error())
		}
		sb.spec = specKey(p)
		if fresh {
			sb.started = k.now().UTC().Truncate(time.Second)
		}
	}
	delete(k.failed, p.UID)
	want := k.runningStatus(p, sb)
	if sameStatus(p.Status, want) {
		return nil
	}
	first := p.Status.Phase != "Running"
	p = kube.DeepCopy(p) // the informer's: change a copy
	p.Status = want
	if _, err := c.UpdateStatus(ctx, p); err != nil {
		return err
	}
	if first {
		k.log().Info("pod running", "pod", p.Namespace+"/"+p.Name, "ip", sb.ip, "netns", sb.netns)
		rec.Component = "default-scheduler"
		rec.Event(ctx, p, kube.EventNormal, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, k.Node))
		rec.Component = "kubelet"
		for _, ct := range p.Spec.Containers {
			rec.Event(ctx, p, kube.EventNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", ct.Image))
			rec.Event(ctx, p, kube.EventNormal, "Created", "Created container "+ct.Name)
			rec.Event(ctx, p, kube.EventNormal, "Started", "Started container "+ct.Name)
		}
	}
	return nil
}

// reportFailure leaves the pod Pending with the container waiting for the
// reason, and records a warning once.
func (k *Kubelet) reportFailure(ctx context.Context, c kube.Interface, rec *kube.Recorder, p *api.Pod, reason, msg string) error {
	if k.failed[p.UID] == reason+msg {
		return nil
	}
	if sb := k.sandboxes[p.UID]; sb != nil {
		k.teardown(sb)
	}
	p = kube.DeepCopy(p) // the informer's: change a copy
	p.Status.Phase = "Pending"
	p.Status.PodIP, p.Status.PodIPs = "", nil
	p.Status.Conditions = []api.PodCondition{{Type: "PodScheduled", Status: api.ConditionTrue}, {Type: "Ready", Status: api.ConditionFalse, Reason: "ContainersNotReady"}}
	var cs []any
	for _, ct := range p.Spec.Containers {
		cs = append(cs, map[string]any{"name": ct.Name, "image": ct.Image, "imageID": "", "ready": false, "started": false, "restartCount": 0,
			"state": map[string]any{"waiting": map[string]any{"reason": reason, "message": msg}}})
	}
	p.Status.ContainerStatuses = cs
	if _, err := c.UpdateStatus(ctx, p); err != nil {
		return err
	}
	rec.Event(ctx, p, kube.EventWarning, "Failed", msg)
	k.failed[p.UID] = reason + msg
	k.log().Warn("pod cannot run", "pod", p.Namespace+"/"+p.Name, "reason", reason, "err", msg)
	return nil
}

func (k *Kubelet) runningStatus(p *api.Pod, sb *sandbox) api.PodStatus {
	st := p.Status
	t := sb.started
	if st.StartTime != nil {
		t = *st.StartTime
	}
	st.Phase = "Running"
	st.Reason, st.Message = "", ""
	st.PodIP = sb.ip.String()
	st.PodIPs = []api.PodIP{{IP: sb.ip.String()}}
	st.HostIP, st.HostIPs = "", nil
	for i, a := range k.HostIPs {
		if i == 0 {
			st.HostIP = a.String()
		}
		st.HostIPs = append(st.HostIPs, api.PodIP{IP: a.String()})
	}
	st.StartTime = &t
	conds := []api.PodCondition{}
	for _, typ := range []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		ct := t
		for _, old := range p.Status.Conditions {
			if old.Type == typ && old.Status == api.ConditionTrue && old.LastTransitionTime != nil {
				ct = *old.LastTransitionTime
			}
		}
		conds = append(conds, api.PodCondition{Type: typ, Status: api.ConditionTrue, LastTransitionTime: &ct})
	}
	st.Conditions = conds
	var cs []any
	for _, c := range p.Spec.Containers {
		sum := sha256.Sum256([]byte(c.Image))
		cid := sha256.Sum256([]byte(p.UID + "/" + c.Name))
		cs = append(cs, map[string]any{
			"name": c.Name, "image": c.Image,
			"imageID":     echoserver.Repository(c.Image) + "@sha256:" + hex.EncodeToString(sum[:]),
			"containerID": "onp://" + hex.EncodeToString(cid[:]),
			"ready":       true, "started": true, "restartCount": 0,
			"state":     map[string]any{"running": map[string]any{"startedAt": t.Format(time.RFC3339)}},
			"lastState": map[string]any{},
		})
	}
	st.ContainerStatuses = cs
	return st
}

func sameStatus(a, b api.PodStatus) bool {
	x, _ := jsonOf(a)
	y, _ := jsonOf(b)
	return x == y
}

// sandbox creates (or adopts) the pod's network namespace and wiring.
func (k *Kubelet) sandbox(p *api.Pod) (*sandbox, error) {
	sb := &sandbox{uid: p.UID, namespace: p.Namespace, name: p.Name, netns: PodNetns(k.Lab, k.Node, p.UID), hostIf: "veth" + podID(p.UID)}
	tag := PodTag(k.Lab, k.Node, p.Namespace, p.Name)
	if nsx.IsMounted(sb.netns) {
		if ip, ok := k.adopt(sb, tag); ok {
			sb.ip = ip
			k.ips[ip] = p.UID
			k.log().Info("adopted pod network namespace", "pod", p.Namespace+"/"+p.Name, "netns", sb.netns, "ip", ip)
			return sb, nil
		}
		k.removeNetns(sb.netns, sb.hostIf)
	} else if nsx.Exists(sb.netns) {
		nsx.Delete(sb.netns)
	}
	ip, err := k.allocate(p)
	if err != nil {
		return nil, err
	}
	sb.ip = ip
	if err := k.wire(sb, tag); err != nil {
		k.removeNetns(sb.netns, sb.hostIf)
		delete(k.ips, ip)
		return nil, err
	}
	k.ips[ip] = p.UID
	return sb, nil
}

// allocate gives a pod its address: the one in its status if still free
// (a restarted lab keeps pod IPs), else the lowest free one.
func (k *Kubelet) allocate(p *api.Pod) (netip.Addr, error) {
	if a, err := netip.ParseAddr(p.Status.PodIP); err == nil && k.usable(a) {
		if owner, taken := k.ips[a]; !taken || owner == p.UID {
			return a, nil
		}
	}
	for a := k.gw.Next(); k.PodSubnet.Contains(a); a = a.Next() {
		if !k.usable(a) {
			continue
		}
		if _, taken := k.ips[a]; !taken {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod subnet %s has no free address (%d pods); use a larger podSubnet", k.PodSubnet, len(k.ips))
}

func (k *Kubelet) usable(a netip.Addr) bool {
	if !k.PodSubnet.Contains(a) || a == k.gw || a == k.PodSubnet.Addr() {
		return false
	}
	return a != lastAddr(k.PodSubnet)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// wire creates the namespace (tagged before it is named), the veth pair in
// one netlink request, addresses and routes.
func (k *Kubelet) wire(sb *sandbox, tag string) error {
	err := nsx.CreateWith(sb.netns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetAlias(lo, tag); err != nil {
			return fmt.Errorf("tag pod namespace: %w", err)
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		return fmt.Errorf("create network namespace %s: %w", sb.netns, err)
	}
	podFd, err := netns.GetFromPath(nsx.Path(sb.netns))
	if err != nil {
		return err
	}
	defer podFd.Close()
	if old, err := k.node.LinkByName(sb.hostIf); err == nil {
		k.node.LinkDel(old)
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: sb.hostIf}, PeerName: "eth0", PeerNamespace: netlink.NsFd(podFd)}
	if err := k.node.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s for pod %s/%s: %w", sb.hostIf, sb.namespace, sb.name, err)
	}
	host, err := k.node.LinkByName(sb.hostIf)
	if err != nil {
		return err
	}
	k.node.LinkSetAlias(host, "onp/"+k.Lab+"/podif/"+k.Node+"/"+sb.namespace+"/"+sb.name)
	if err := nsx.WriteSysctl(k.nodeNetns(), "ipv4/conf/"+sb.hostIf+"/proxy_arp", "1"); err != nil {
		return fmt.Errorf("proxy ARP on %s: %w", sb.hostIf, err)
	}
	if err := k.node.LinkSetUp(host); err != nil {
		return err
	}
	if err := k.node.RouteReplace(&netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipnet(netip.PrefixFrom(sb.ip, 32)), Scope: netlink.SCOPE_LINK}); err != nil {
		return fmt.Errorf("route to pod %s: %w", sb.ip, err)
	}
	ph, err := netlink.NewHandleAt(podFd)
	if err != nil {
		return err
	}
	defer ph.Close()
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := ph.AddrAdd(eth0, &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(sb.ip, k.PodSubnet.Bits()))}); err != nil {
		return fmt.Errorf("address %s on the pod's eth0: %w", sb.ip, err)
	}
	if err := ph.LinkSetUp(eth0); err != nil {
		return err
	}
	def := &netlink.Route{Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Gw: k.gw.AsSlice(), LinkIndex: eth0.Attrs().Index}
	if err := ph.RouteAdd(def); err != nil {
		return fmt.Errorf("default route via %s in the pod: %w", k.gw, err)
	}
	return nil
}

// adopt takes over a pod namespace from an earlier run if it is this
// pod's and wired as expected; it returns the pod's address.
func (k *Kubelet) adopt(sb *sandbox, tag string) (netip.Addr, bool) {
	h, err := handleAt(nsx.Path(sb.netns))
	if err != nil {
		return netip.Addr{}, false
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil || lo.Attrs().Alias != tag {
		return netip.Addr{}, false
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, _ := h.AddrList(eth0, netlink.FAMILY_V4)
	if len(addrs) != 1 {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(addrs[0].IP.To4())
	if !ok || !k.usable(ip) {
		return netip.Addr{}, false
	}
	if owner, taken := k.ips[ip]; taken && owner != sb.uid {
		return netip.Addr{}, false
	}
	if _, err := k.node.LinkByName(sb.hostIf); err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

func (k *Kubelet) teardown(sb *sandbox) {
	stopServers(sb)
	k.removeNetns(sb.netns, sb.hostIf)
	if k.ips[sb.ip] == sb.uid {
		delete(k.ips, sb.ip)
	}
	delete(k.sandboxes, sb.uid)
	k.log().Info("pod stopped", "pod", sb.namespace+"/"+sb.name, "netns", sb.netns)
}

func (k *Kubelet) removeNetns(name, hostIf string) {
	if l, err := k.node.LinkByName(hostIf); err == nil {
		k.node.LinkDel(l)
	}
	if err := nsx.Delete(name); err != nil {
		k.log().Warn("remove pod network namespace", "netns", name, "err", err)
	}
}

// removeOrphans deletes this node's pod namespaces that belong to no
// running pod.
func (k *Kubelet) removeOrphans() {
	prefix := PodNetnsPrefix(k.Lab, k.Node)
	names, _ := nsx.List()
	known := map[string]bool{}
	for _, sb := range k.sandboxes {
		known[sb.netns] = true
	}
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) || known[n] {
			continue
		}
		// Only namespaces onp tagged as this node's pods (or empty leftovers).
		if nsx.IsMounted(n) {
			h, err := handleAt(nsx.Path(n))
			if err != nil {
				continue
			}
			lo, err := h.LinkByName("lo")
			h.Close()
			if err != nil || !strings.HasPrefix(lo.Attrs().Alias, "onp/"+k.Lab+"/pod/"+k.Node+"/") {
				continue
			}
		} else if !nsx.IsEmptyFile(n) {
			continue
		}
		k.removeNetns(n, "veth"+strings.TrimPrefix(n, prefix))
		k.log().Info("removed the network namespace of a pod that no longer exists", "netns", n)
	}
}

// serve starts the containers' servers on sockets inside the pod's
// namespace.
func (k *Kubelet) serve(sb *sandbox, p *api.Pod, ws []echoserver.Workload) error {
	path := nsx.Path(sb.netns)
	for i, w := range ws {
		info := echoserver.PodInfo{Hostname: p.Name, Env: k.env(p, p.Spec.Containers[i], sb)}
		if p.Spec.Hostname != "" {
			info.Hostname = p.Spec.Hostname
		}
		for _, port := range w.Ports {
			var ln net.Listener
			err := nsx.Do(path, func() error {
				var err error
				ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
				return err
			})
			if err != nil {
				stopServers(sb)
				return fmt.Errorf("container %q: listen on port %d: %w", p.Spec.Containers[i].Name, port, err)
			}
			srv := &http.Server{Handler: echoserver.Handler(w.Kind, port, info), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
			go srv.Serve(ln)
			sb.servers = append(sb.servers, srv)
		}
	}
	return nil
}

// env resolves a container's environment, downward API included.
func (k *Kubelet) env(p *api.Pod, c api.Container, sb *sandbox) map[string]string {
	out := map[string]string{}
	field := func(path string) string {
		switch path {
		case "metadata.name":
			return p.Name
		case "metadata.namespace":
			return p.Namespace
		case "metadata.uid":
			return p.UID
		case "spec.nodeName":
			return p.Spec.NodeName
		case "spec.serviceAccountName":
			if p.Spec.ServiceAccountName == "" {
				return "default"
			}
			return p.Spec.ServiceAccountName
		case "status.podIP", "status.podIPs":
			return sb.ip.String()
		case "status.hostIP", "status.hostIPs":
			if len(k.HostIPs) > 0 {
				return k.HostIPs[0].String()
			}
		}
		for _, pre := range []struct {
			prefix string
			m      map[string]string
		}{{"metadata.labels", p.Labels}, {"metadata.annotations", p.Annotations}} {
			if rest, ok := strings.CutPrefix(path, pre.prefix+"['"); ok {
				return pre.m[strings.TrimSuffix(rest, "']")]
			}
		}
		return ""
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = os.Expand(e.Value, func(v string) string { return out[v] })
			continue
		}
		if fr, ok := e.ValueFrom["fieldRef"].(map[string]any); ok {
			if fp, ok := fr["fieldPath"].(string); ok {
				out[e.Name] = field(fp)
			}
		}
	}
	return out
}
