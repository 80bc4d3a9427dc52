// Package speaker is the MetalLB-compatible BGP speaker of one cluster node:
// the process onp runs inside the node's network namespace as
// `onp speaker ...` (Run).
//
// It reads the node's cluster through the cluster API socket
// (cluster/client): the MetalLB resource, MetalLB's configuration objects in
// MetalLB's namespace (IPAddressPool, BGPPeer, BGPAdvertisement,
// BFDProfile, Community, L2Advertisement, password Secrets), Nodes,
// Namespaces, Services and EndpointSlices. Each kind is listed once and
// then watched by an informer (cluster/kube.Informer: typed objects,
// decoded once); every change triggers a round (changes that arrive during
// a round are coalesced into the next). Nothing polls.
//
// A change of the configuration, the node or the MetalLB resource, the
// first round, a failed round and every Options.Resync (30s) make a
// complete round, below. Otherwise a round decides again only the
// services that changed or whose EndpointSlices did, updates the desired
// set of the sessions they reach prefix by prefix, and Sets those
// sessions' merged desired sets (a burst of changes at most every 50 ms).
//
// A complete round, as MetalLB's speaker does it:
//
//   - The MetalLB resource starts the speaker: without one in MetalLB's
//     namespace, or when its spec.nodeSelector does not match the node,
//     the speaker holds no sessions and its status says what it waits for.
//   - The configuration is config.For over the objects (MetalLB's rules,
//     FRR-mode flavour). When it is invalid the last valid one stays in
//     effect (status "invalid", stale) and the error is logged once
//     (event=configInvalid); transient errors (a BFDProfile, Secret or
//     Community alias that does not exist yet) resolve themselves when the
//     object appears.
//   - One BGP session (metallb/bgp, gobgp/v3) per BGPPeer whose
//     nodeSelectors match this Node's labels; others are reported with
//     MetalLB's reason filteredByNodeSelector. Sessions whose parameters
//     did not change are never touched.
//   - Every LoadBalancer service (of the handled loadBalancerClass) with an
//     ingress IP in a pool is decided with config.ShouldAnnounce
//     (MetalLB's order and reason strings: notOwner,
//     noMatchingAdvertisement, conflictingAdvertisements,
//     nodeNetworkUnavailable, nodeLabeledExcludeBalancers,
//     noLocalEndpoints, noEndpoints). Announced services' advertisements
//     are merged per session (config.PeerAdvertisements: prefix = IP masked
//     to the aggregation length, communities and large communities united,
//     localPref for iBGP) and each session gets its full desired set with
//     Session.Set, which sends only the difference.
//   - Decisions that change are logged (event=serviceAnnounced,
//     serviceWithdrawn with the reason), recorded as Kubernetes Events on
//     the service (nodeAssigned, or the reason), and exported as
//     metallb_speaker_announced.
//
// While the cluster API is unreachable the sessions and routes stay as
// they are. When Run returns the sessions are closed: the routers see a
// Cease NOTIFICATION and drop the routes; a new speaker announces from
// scratch, so nothing stale survives a restart.
//
// Endpoints: the status socket (Options.StatusSocket) serves GET /status
// (StatusReport, JSON; read it with Status) and GET /metrics; Prometheus
// metrics with MetalLB's names are also served on Options.MetricsAddr
// (:7472 by default).
package speaker
