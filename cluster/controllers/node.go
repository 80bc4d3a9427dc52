package controllers

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Node keeps the cluster node's own Node object: labels as a single-node
// OpenShift node has them (hostname, master, worker, control-plane), its
// addresses, pod CIDR and a Ready condition. Labels users add stay.
type Node struct {
	NodeName  string
	Addresses []netip.Addr
	PodCIDR   netip.Prefix
	// Version is the kubelet version the node reports.
	Version string
	Now     func() time.Time
}

// NodeLabels are the labels of a single-node OpenShift node.
func NodeLabels(name string) map[string]string {
	return map[string]string{
		"beta.kubernetes.io/arch":               runtime.GOARCH,
		"beta.kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":                    runtime.GOARCH,
		"kubernetes.io/hostname":                name,
		"kubernetes.io/os":                      "linux",
		"node-role.kubernetes.io/control-plane": "",
		"node-role.kubernetes.io/master":        "",
		"node-role.kubernetes.io/worker":        "",
		"node.openshift.io/os_id":               "rhcos",
	}
}

// Name implements the agent's Controller.
func (n *Node) Name() string { return "node-lifecycle" }

// Watches implements the agent's Controller.
func (n *Node) Watches() []string { return []string{"nodes"} }

// Desired returns the Node object as the agent registers it.
func (n *Node) Desired() *api.Node {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	t := now().UTC().Truncate(time.Second)
	node := &api.Node{ObjectMeta: api.ObjectMeta{Name: n.NodeName, Labels: NodeLabels(n.NodeName)}}
	node.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Node"})
	if n.PodCIDR.IsValid() {
		node.Spec.PodCIDR = n.PodCIDR.String()
		node.Spec.PodCIDRs = []string{n.PodCIDR.String()}
	}
	for _, a := range n.Addresses {
		node.Status.Addresses = append(node.Status.Addresses, api.NodeAddress{Type: api.NodeInternalIP, Address: a.String()})
	}
	node.Status.Addresses = append(node.Status.Addresses, api.NodeAddress{Type: api.NodeHostName, Address: n.NodeName})
	node.Status.Conditions = []api.NodeCondition{
		{Type: "MemoryPressure", Status: api.ConditionFalse, LastHeartbeatTime: &t, LastTransitionTime: &t, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: "DiskPressure", Status: api.ConditionFalse, LastHeartbeatTime: &t, LastTransitionTime: &t, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: "PIDPressure", Status: api.ConditionFalse, LastHeartbeatTime: &t, LastTransitionTime: &t, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: api.NodeReady, Status: api.ConditionTrue, LastHeartbeatTime: &t, LastTransitionTime: &t, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	version := n.Version
	if version == "" {
		version = "v1.30.0+onp"
	}
	node.Status.NodeInfo = map[string]any{
		"architecture": runtime.GOARCH, "operatingSystem": "linux", "osImage": "onp embedded cluster (network namespaces)",
		"kubeletVersion": version, "kubeProxyVersion": version, "containerRuntimeVersion": "onp://" + version,
		"kernelVersion": kernelVersion(),
	}
	node.Status.Capacity = map[string]api.Quantity{"cpu": api.Quantity(itoa(runtime.NumCPU())), "pods": "250"}
	node.Status.Allocatable = node.Status.Capacity
	return node
}

// Reconcile implements the agent's Controller: the Node exists, carries
// the node's labels and addresses and is Ready.
func (n *Node) Reconcile(ctx context.Context, c kube.Interface) error {
	want := n.Desired()
	cur, err := kube.Get[api.Node](ctx, c, "", n.NodeName)
	if kube.IsNotFound(err) {
		created, err := c.Create(ctx, want)
		if err != nil {
			return err
		}
		cur = created.(*api.Node)
		cur.Status = want.Status
		_, err = c.UpdateStatus(ctx, cur)
		return err
	}
	if err != nil {
		return err
	}
	changed := false
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			cur.Labels[k] = v
			changed = true
		}
	}
	if cur.Spec.PodCIDR != want.Spec.PodCIDR {
		cur.Spec.PodCIDR, cur.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
		changed = true
	}
	if changed {
		updated, err := c.Update(ctx, cur)
		if err != nil {
			return err
		}
		cur = updated.(*api.Node)
	}
	if !sameAddresses(cur.Status.Addresses, want.Status.Addresses) || cur.Condition(api.NodeReady) != api.ConditionTrue {
		cur.Status = want.Status
		_, err = c.UpdateStatus(ctx, cur)
	}
	return err
}

func sameAddresses(a, b []api.NodeAddress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// EventExpiry deletes events whose last occurrence is older than TTL
// (Kubernetes' default is one hour), at start and every resync period. It
// reads the events from a shared informer.
type EventExpiry struct {
	TTL time.Duration
	Now func() time.Time

	events *kube.Informer
	dirty  kube.Dirty
}

// Name implements the agent's Controller.
func (*EventExpiry) Name() string { return "event-expiry" }

// Watches implements the agent's Controller.
func (*EventExpiry) Watches() []string { return nil }

// Inform implements the agent's Informed.
func (x *EventExpiry) Inform(inf *kube.Informers, notify func()) {
	x.dirty.SetNotify(notify)
	x.events = kube.InformerOf[kube.Event](inf)
}

// Resync implements the agent's Informed.
func (x *EventExpiry) Resync() { x.dirty.MarkAll() }

// Reconcile implements the agent's Controller.
func (x *EventExpiry) Reconcile(ctx context.Context, c kube.Interface) error {
	if x.events == nil {
		return errors.New("event-expiry: not informed (run it with RunAgent or RunController)")
	}
	if _, all := x.dirty.Take(); !all {
		return nil
	}
	ttl := x.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	for _, e := range kube.Typed[kube.Event](x.events.List()) {
		last := e.LastTimestamp
		if last == nil {
			last = e.CreationTimestamp
		}
		if last != nil && now().Sub(*last) > ttl {
			if err := c.Delete(ctx, kube.KindFor[kube.Event](), e.Namespace, e.Name, kube.DeleteOptions{}); err != nil && !kube.IsNotFound(err) {
				x.dirty.RequeueAll()
				return err
			}
		}
	}
	return nil
}
