// Package controllers holds the embedded cluster's API-only controllers:
// MetalLB's address allocation, EndpointSlices from services and pods, the
// node's own Node object and event expiry. Each is level-triggered: its
// Reconcile brings every object in line, whenever something it watches
// changes.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/allocator"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/config"
)

// MetalLB is MetalLB's controller: LoadBalancer services get addresses
// from the IPAddressPools (metallb/allocator, with MetalLB's annotations,
// pools, sharing and order), written to status.loadBalancer.ingress and
// the metallb.io/ip-allocated-from-pool annotation, released when the
// service goes. Assignments survive restarts: the allocator is rebuilt from
// the services' status before anything new is allocated. A service that
// cannot get an address stays pending with MetalLB's AllocationFailed
// event. L2Advertisements are reported as not supported.
type MetalLB struct {
	// Namespace is MetalLB's namespace (default metallb-system).
	Namespace string
	// LoadBalancerClass, when set, restricts the controller to services of
	// that class (MetalLB's --lb-class). A MetalLB resource's
	// spec.loadBalancerClass sets it too, as the operator does.
	LoadBalancerClass string
	Logger            *slog.Logger
	// Host names the node in events.
	Host string

	alloc    *allocator.Allocator
	class    string
	reported map[string]string // service key → last failure reported
	l2seen   map[string]int64  // L2Advertisement uid → generation reported
}

// Name implements the agent's Controller.
func (m *MetalLB) Name() string { return "metallb-controller" }

// Watches implements the agent's Controller.
func (m *MetalLB) Watches() []string {
	return []string{"services", "ipaddresspools.metallb.io", "namespaces", "l2advertisements.metallb.io", "metallbs.metallb.io"}
}

func (m *MetalLB) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// Reconcile implements the agent's Controller.
func (m *MetalLB) Reconcile(ctx context.Context, c kube.Interface) error {
	ns := m.Namespace
	if ns == "" {
		ns = api.DefaultMetalLBNamespace
	}
	rec := &kube.Recorder{Client: c, Component: "metallb-controller", Host: m.Host}
	pools, _, err := kube.ListOf[api.IPAddressPool](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	nss, _, err := kube.ListOf[api.Namespace](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	var objs []api.Object
	for _, p := range pools {
		objs = append(objs, p)
	}
	for _, n := range nss {
		objs = append(objs, n)
	}
	class := m.LoadBalancerClass
	mlbs, _, err := kube.ListOf[api.MetalLB](ctx, c, ns, kube.ListOptions{})
	if err != nil {
		return err
	}
	if len(mlbs) > 0 && mlbs[0].Spec.LoadBalancerClass != "" {
		class = mlbs[0].Spec.LoadBalancerClass
	}
	if m.alloc != nil && class != m.class {
		// A new class: start over; addresses in the services' status are
		// restored first, as after a restart.
		m.alloc = nil
	}
	m.class = class
	cfg, err := config.For(config.ResourcesFrom(ns, objs))
	if err != nil {
		// Admission keeps invalid pools out; this is a pool outside MetalLB's
		// namespace stored before, or the like. Keep the last good pools.
		m.log().Warn("IPAddressPools do not form a valid MetalLB configuration; keeping the previous pools", "err", err)
		if m.alloc == nil {
			m.alloc = allocator.New(nil, allocator.Options{LoadBalancerClass: class})
		}
	} else if m.alloc == nil {
		m.alloc = allocator.New(cfg, allocator.Options{LoadBalancerClass: class})
	} else {
		m.alloc.SetConfig(cfg)
	}
	if m.reported == nil {
		m.reported = map[string]string{}
		m.l2seen = map[string]int64{}
	}
	svcs, _, err := kube.ListOf[api.Service](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	byKey := map[string]*api.Service{}
	for _, s := range svcs {
		byKey[allocator.ServiceKey(s)] = s
	}
	var errs []error
	for _, out := range m.alloc.ConvergeAll(svcs) {
		svc := byKey[out.Key]
		if err := m.write(ctx, c, rec, svc, out); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", out.Key, err))
		}
	}
	for k := range m.reported {
		if byKey[k] == nil {
			delete(m.reported, k)
		}
	}
	if cfg != nil {
		for _, p := range pools {
			cnt := m.alloc.Counters(p.Name)
			st := api.IPAddressPoolStatus{AssignedIPv4: cnt.AssignedIPv4, AssignedIPv6: cnt.AssignedIPv6, AvailableIPv4: cnt.AvailableIPv4, AvailableIPv6: cnt.AvailableIPv6}
			if p.Status != st {
				p.Status = st
				if _, err := c.UpdateStatus(ctx, p); err != nil && !kube.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("IPAddressPool %s status: %w", p.Name, err))
				}
			}
		}
	}
	l2s, _, err := kube.ListOf[api.L2Advertisement](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	for _, l := range l2s {
		if m.l2seen[l.UID] == l.Generation {
			continue
		}
		if err := rec.Event(ctx, l, kube.EventWarning, "NotSupported",
			"L2Advertisement is stored but not announced: onp's speaker announces in BGP mode only (use a BGPAdvertisement)"); err != nil {
			errs = append(errs, err)
			continue
		}
		m.l2seen[l.UID] = l.Generation
	}
	return errors.Join(errs...)
}

// write brings one service's annotation, status and events in line with
// the allocator's outcome.
func (m *MetalLB) write(ctx context.Context, c kube.Interface, rec *kube.Recorder, svc *api.Service, out allocator.Outcome) error {
	var ingress []api.LoadBalancerIngress
	pool := ""
	if out.Err == nil && out.Ignored == "" {
		ingress, pool = out.Ingress(), out.Pool
	}
	if out.Ignored == allocator.IgnoredLoadBalancerClass {
		return nil
	}
	if out.Ignored == allocator.IgnoredNotLoadBalancer && len(svc.Status.LoadBalancer.Ingress) == 0 && svc.Annotations[api.AnnotationIPAllocateFromPool] == "" {
		return nil
	}
	// The annotation first (metadata), then the status subresource.
	if svc.Annotations[api.AnnotationIPAllocateFromPool] != pool {
		anns := maps.Clone(svc.Annotations)
		if anns == nil {
			anns = map[string]string{}
		}
		if pool == "" {
			delete(anns, api.AnnotationIPAllocateFromPool)
		} else {
			anns[api.AnnotationIPAllocateFromPool] = pool
		}
		svc.Annotations = anns
		updated, err := c.Update(ctx, svc)
		if err != nil {
			return err
		}
		svc = updated.(*api.Service)
	}
	if !sameIngress(svc.Status.LoadBalancer.Ingress, ingress) {
		svc.Status.LoadBalancer.Ingress = ingress
		updated, err := c.UpdateStatus(ctx, svc)
		if err != nil {
			return err
		}
		svc = updated.(*api.Service)
		m.log().Info("service addresses", "service", out.Key, "ips", out.IPs, "pool", pool)
	}
	for _, e := range out.Events {
		if err := rec.Event(ctx, svc, e.Type, e.Reason, e.Message); err != nil {
			return err
		}
	}
	if out.Err != nil {
		var ae *allocator.Error
		reason := allocator.ReasonAllocationFailed
		if errors.As(out.Err, &ae) {
			reason = ae.Reason
		}
		msg := out.Err.Error()
		if m.reported[out.Key] != msg {
			m.log().Warn("service has no address", "service", out.Key, "reason", reason, "err", msg)
			if err := rec.Event(ctx, svc, kube.EventWarning, reason, msg); err != nil {
				return err
			}
			m.reported[out.Key] = msg
		}
	} else {
		delete(m.reported, out.Key)
	}
	return nil
}

func sameIngress(a, b []api.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y api.LoadBalancerIngress) bool { return x.IP == y.IP && x.Hostname == y.Hostname })
}
