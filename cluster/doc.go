// Package cluster is the embedded cluster of a `sno` node: what a
// single-node OpenShift cluster is to the lab, made of the node's network
// namespace and one process, the cluster agent (RunAgent).
//
// The agent holds the cluster's objects in a Store — Kubernetes semantics
// (create, apply with kubectl's merge, update with resource versions, the
// status subresource, delete with graceful pods, namespace and owner
// cascades, list by label selector, watch with resource versions),
// defaulting (ClusterIPs from 172.30.0.0/16, node ports, CRD defaults) and
// admission (MetalLB's webhooks, by running metallb/config.For over the
// stored and incoming objects; only the echoserver test images run) —
// persisted in <node dir>/cluster as a snapshot and a write-ahead log, one
// line per all-or-nothing change set. Server serves it over the unix socket
// <node dir>/cluster/api.sock with Kubernetes' REST paths and JSON, plus a
// batch apply endpoint; cluster/client is its Go client.
//
// The agent's controllers reconcile level-triggered (Controller). The
// built-in ones but node-lifecycle are Informed: they read shared informers (kube.Informer)
// that the store feeds as it commits — each object decoded once, kept
// typed in memory, shared read-only — and reconcile what changed (the
// services that changed, their EndpointSlices, their rules), with a
// complete reconcile at start and every resync period:
//
//	node-lifecycle            the node's Node object (SNO labels, addresses, Ready)
//	kubelet                   pods: a network namespace each, a pod IP, the echoserver (cluster/kubelet)
//	endpointslice-controller  EndpointSlices of services
//	kube-proxy                nftables DNAT for ClusterIPs, LB IPs and node ports (cluster/kubeproxy)
//	metallb-controller        LB addresses from IPAddressPools (metallb/allocator)
//	event-expiry              events older than an hour
//
// More controllers (the speaker's) plug in through AgentOptions.Controllers,
// or run in their own process with RunController over a client.
//
// Sub-packages: kube (kinds, paths, errors, the Interface both Store and
// client implement), client, printers (`oc get` output), echoserver (what
// containers run), kubelet, kubeproxy, controllers.
package cluster
