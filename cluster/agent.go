package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/onp-lab/onp/internal/nsx"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/onp-lab/onp/cluster/controllers"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/kubelet"
	"github.com/onp-lab/onp/cluster/kubeproxy"
	"github.com/onp-lab/onp/topology"
)

// Controller is a reconcile loop run by the agent. Reconcile brings the
// world in line with the cluster's objects; the agent calls it once at
// start, after every change to a resource it Watches (changes that arrive
// while it runs are coalesced into one more call), every resync period,
// and again with backoff after an error. A controller that implements
// io.Closer is closed when the agent stops.
type Controller interface {
	Name() string
	// Watches names resources as `onp get` takes them: "pods", "services",
	// "ipaddresspools.metallb.io".
	Watches() []string
	Reconcile(ctx context.Context, c kube.Interface) error
}

// Informed is a Controller that reads shared informers (each kind's
// objects decoded once, kept in memory and shared by the process's
// controllers, fed by the store itself inside the agent) and reconciles
// only what changed. Its runner calls Inform once, before the informers
// start: the controller takes the informers it reads and registers
// handlers that note what changed (kube.Dirty) and call notify. Watches is
// then informational. Before the first Reconcile and every resync period
// the runner calls Resync, which asks for everything to be brought in line
// (the safety net of a level-triggered controller); in between, Reconcile
// handles what was noted (and, after an error, what failed).
type Informed interface {
	Controller
	Inform(inf *kube.Informers, notify func())
	Resync()
}

// AgentOptions configure a node's cluster agent.
type AgentOptions struct {
	// Lab and Node name the lab and the cluster node (pod namespaces are
	// onp-<lab>.<node>.<pod id>).
	Lab, Node string
	// Dir is the node's directory in the lab (<labdir>/nodes/<node>); the
	// objects and the API socket live in its "cluster" subdirectory.
	Dir string
	// NodeNetns is the path of the node's network namespace. Empty means
	// the namespace the agent runs in (as when onp starts it in the node).
	NodeNetns string
	// PodSubnet is where pod IPs come from (default 10.128.0.0/23).
	PodSubnet netip.Prefix
	// ServiceSubnet is where ClusterIPs come from (default 172.30.0.0/16).
	ServiceSubnet netip.Prefix
	// NodeAddresses are the node's IPs for its Node object and pods'
	// hostIP; empty means the global addresses of the node's interfaces.
	NodeAddresses []netip.Addr
	// MetalLBNamespace is MetalLB's namespace (default metallb-system).
	MetalLBNamespace string
	// Controllers run in addition to the built-in ones (the speaker's
	// status, for instance).
	Controllers []Controller
	// APIOnly runs the store, the API and the API-only controllers
	// (MetalLB, endpoints, node), but no pods and no service rules.
	APIOnly bool
	// Resync is how often every controller reconciles without a change
	// (default 30s).
	Resync time.Duration
	// Ready is called once the API serves on its socket.
	Ready  func()
	Logger *slog.Logger
}

// RunAgent runs a cluster node's agent until ctx ends: the object store,
// the API on <Dir>/cluster/api.sock, and the controllers — node, kubelet,
// endpointslices, kube-proxy, MetalLB's controller, event expiry — plus
// opts.Controllers.
func RunAgent(ctx context.Context, opts AgentOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if why := topology.ValidLabName(opts.Lab); why != "" {
		return fmt.Errorf("cluster agent: lab name %q %s", opts.Lab, why)
	}
	if opts.Node == "" || strings.ContainsAny(opts.Node, "/. ") {
		return fmt.Errorf("cluster agent: invalid node name %q", opts.Node)
	}
	if opts.Dir == "" {
		return errors.New("cluster agent: no node directory (--dir)")
	}
	if !opts.PodSubnet.IsValid() {
		opts.PodSubnet = DefaultPodSubnet
	}
	if !opts.ServiceSubnet.IsValid() {
		opts.ServiceSubnet = DefaultServiceSubnet
	}
	if opts.PodSubnet.Overlaps(opts.ServiceSubnet) {
		return fmt.Errorf("cluster agent: pod subnet %s overlaps service subnet %s", opts.PodSubnet, opts.ServiceSubnet)
	}
	if opts.Resync == 0 {
		opts.Resync = 30 * time.Second
	}
	if opts.NodeNetns == "" {
		// The kubelet moves threads into pod namespaces while it creates
		// them; pin the node's namespace before it starts.
		p, release, err := nsx.Self()
		if err != nil {
			return fmt.Errorf("cluster agent: %w", err)
		}
		defer release()
		opts.NodeNetns = p
	}
	if len(opts.NodeAddresses) == 0 && !opts.APIOnly {
		addrs, err := nodeAddresses(opts.NodeNetns)
		if err != nil {
			return fmt.Errorf("cluster agent: addresses of node %s: %w", opts.Node, err)
		}
		opts.NodeAddresses = addrs
	}
	store, err := OpenStore(StoreOptions{
		Dir: StateDir(opts.Dir), Node: opts.Node, ServiceSubnet: opts.ServiceSubnet,
		MetalLBNamespace: opts.MetalLBNamespace, GracefulPodDeletion: !opts.APIOnly, Logger: log,
	})
	if err != nil {
		return err
	}
	defer store.Close()

	ctrls := []Controller{
		&controllers.Node{NodeName: opts.Node, Addresses: opts.NodeAddresses, PodCIDR: opts.PodSubnet, Version: Version},
		&controllers.Endpoints{},
		&controllers.MetalLB{Namespace: opts.MetalLBNamespace, Host: opts.Node, Logger: log.With("controller", "metallb-controller")},
		&controllers.EventExpiry{},
	}
	if !opts.APIOnly {
		ctrls = append(ctrls,
			&kubelet.Kubelet{Lab: opts.Lab, Node: opts.Node, NodeNetns: opts.NodeNetns, PodSubnet: opts.PodSubnet, HostIPs: opts.NodeAddresses, Logger: log.With("controller", "kubelet")},
			&kubeproxy.Proxy{NodeNetns: opts.NodeNetns, Node: opts.Node, PodSubnet: opts.PodSubnet, ServiceSubnet: opts.ServiceSubnet, Logger: log.With("controller", "kube-proxy")},
		)
	}
	ctrls = append(ctrls, opts.Controllers...)
	infs := kube.NewInformers(store, log)
	runners := make([]*runner, len(ctrls))
	for i, c := range ctrls {
		r := &runner{c: c, trigger: make(chan struct{}, 1), watches: map[string]bool{}, log: log.With("controller", c.Name())}
		if ic, ok := c.(Informed); ok {
			r.informed, r.infs = ic, infs
			ic.Inform(infs, r.poke)
		}
		for _, w := range c.Watches() {
			k, ok := kube.LookupResource(w)
			if !ok {
				return fmt.Errorf("controller %s watches %q, which is not a resource of the cluster", c.Name(), w)
			}
			if r.informed == nil {
				r.watches[kube.ResourceKey(k)] = true
			}
		}
		runners[i] = r
	}
	unhook := store.OnChange(func(res string) {
		for _, r := range runners {
			if r.watches[res] {
				r.poke()
			}
		}
	})
	defer unhook()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	infs.Start(ctx)
	defer func() {
		cancel()
		infs.Wait()
	}()
	srv := NewServer(store, log)
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- srv.Serve(ctx, SocketPath(opts.Dir), opts.Ready)
	}()
	log.Info("cluster agent started", "lab", opts.Lab, "node", opts.Node, "socket", SocketPath(opts.Dir),
		"podSubnet", opts.PodSubnet, "serviceSubnet", opts.ServiceSubnet, "addresses", opts.NodeAddresses)
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx, store, opts.Resync)
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("cluster API: %w", err)
		cancel()
	}
	wg.Wait()
	for _, c := range ctrls {
		if cl, ok := c.(io.Closer); ok {
			cl.Close()
		}
	}
	if runErr == nil {
		if err := <-serveErr; err != nil {
			runErr = fmt.Errorf("cluster API: %w", err)
		}
	}
	log.Info("cluster agent stopped", "node", opts.Node)
	return runErr
}

// nodeAddresses lists the global addresses of a node's interfaces, but
// not those of pod veths.
func nodeAddresses(nsPath string) ([]netip.Addr, error) {
	if nsPath == "" {
		nsPath = "/proc/self/ns/net"
	}
	h, err := nsHandle(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Name < links[j].Attrs().Name })
	var out []netip.Addr
	for _, l := range links {
		name := l.Attrs().Name
		if name == "lo" || strings.HasPrefix(name, "veth") {
			continue
		}
		as, err := h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			continue
		}
		for _, a := range as {
			ip, ok := netip.AddrFromSlice(a.IP)
			if ok && a.Scope == int(netlink.SCOPE_UNIVERSE) && !ip.Unmap().IsLinkLocalUnicast() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// runner drives one controller.
type runner struct {
	c       Controller
	trigger chan struct{}
	watches map[string]bool
	log     *slog.Logger
	// informed is c when it reads infs.
	informed Informed
	infs     *kube.Informers
}

func (r *runner) poke() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

func (r *runner) run(ctx context.Context, c kube.Interface, resync time.Duration) {
	backoff := time.Duration(0)
	lastErr := ""
	tick := time.NewTicker(resync)
	defer tick.Stop()
	if r.informed != nil {
		if !r.infs.WaitForSync(ctx) {
			return
		}
		r.informed.Resync()
	}
	for {
		err := r.c.Reconcile(ctx, c)
		if ctx.Err() != nil {
			return
		}
		var wait <-chan time.Time
		if err != nil {
			backoff = min(max(2*backoff, 50*time.Millisecond), 10*time.Second)
			if msg := err.Error(); msg != lastErr && !kube.IsConflict(err) {
				r.log.Warn("reconcile failed; retrying", "err", err, "in", backoff)
				lastErr = msg
			} else {
				r.log.Debug("reconcile failed; retrying", "err", err, "in", backoff)
			}
			wait = time.After(backoff)
		} else {
			if lastErr != "" {
				r.log.Info("reconcile recovered")
			}
			backoff, lastErr = 0, ""
		}
		select {
		case <-ctx.Done():
			return
		case <-r.trigger:
		case <-tick.C:
			if r.informed != nil {
				r.informed.Resync()
			}
		case <-wait:
		}
	}
}

func nsHandle(path string) (*netlink.Handle, error) {
	fd, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	return netlink.NewHandleAt(fd)
}
