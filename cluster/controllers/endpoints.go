package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Endpoints is Kubernetes' endpointslice controller: every service with a
// selector gets EndpointSlices listing the pods it selects (ready and
// serving conditions, node name), owned by the service. It reads shared
// informers and brings in line only the services that changed, whose
// selected pods changed, or whose slices someone else changed.
type Endpoints struct {
	svcs, pods, slices *kube.Informer
	dirty              kube.Dirty
}

// Name implements the agent's Controller.
func (*Endpoints) Name() string { return "endpointslice-controller" }

// Watches implements the agent's Controller.
func (*Endpoints) Watches() []string { return []string{"services", "pods", "endpointslices"} }

// Inform implements the agent's Informed.
func (e *Endpoints) Inform(inf *kube.Informers, notify func()) {
	e.dirty.SetNotify(notify)
	e.svcs = kube.InformerOf[api.Service](inf)
	e.pods = kube.InformerOf[api.Pod](inf)
	e.slices = kube.InformerOf[api.EndpointSlice](inf)
	e.svcs.AddIndex(kube.IndexNamespace, kube.NamespaceIndex)
	e.pods.AddIndex(kube.IndexNamespace, kube.NamespaceIndex)
	e.slices.AddIndex(kube.IndexService, kube.ServiceIndex)
	e.svcs.AddHandler(func(ch kube.Change) { e.dirty.Mark(dirtyServices, ch.Key) })
	e.pods.AddHandler(func(ch kube.Change) {
		// The services of the pod's namespace that select it, before or
		// after the change.
		o := ch.Object()
		var keys []string
		for _, x := range e.svcs.ByIndex(kube.IndexNamespace, o.Meta().Namespace) {
			svc := x.(*api.Service)
			if len(svc.Spec.Selector) == 0 {
				continue
			}
			sel := api.LabelSelector{MatchLabels: svc.Spec.Selector}
			if (ch.Old != nil && sel.Matches(ch.Old.Meta().Labels)) || (ch.New != nil && sel.Matches(ch.New.Meta().Labels)) {
				keys = append(keys, kube.ObjectKey(svc))
			}
		}
		if len(keys) > 0 {
			e.dirty.Mark(dirtyServices, keys...)
		}
	})
	e.slices.AddHandler(func(ch kube.Change) {
		var keys []string
		for _, o := range []api.Object{ch.Old, ch.New} {
			if o != nil && managed(o) {
				keys = append(keys, kube.ServiceIndex(o)...)
			}
		}
		if len(keys) > 0 {
			e.dirty.Mark(dirtyServices, keys...)
		}
	})
}

func managed(o api.Object) bool {
	return o.Meta().Labels[api.LabelEndpointSliceManagedBy] == api.EndpointSliceControllerName
}

// Resync implements the agent's Informed.
func (e *Endpoints) Resync() { e.dirty.MarkAll() }

// Reconcile implements the agent's Controller.
func (e *Endpoints) Reconcile(ctx context.Context, c kube.Interface) error {
	if e.svcs == nil {
		return errors.New("endpointslice-controller: not informed (run it with RunAgent or RunController)")
	}
	sets, all := e.dirty.Take()
	keys := sets[dirtyServices]
	if all {
		keys = map[string]bool{}
		for _, o := range e.svcs.List() {
			keys[kube.ObjectKey(o)] = true
		}
		for _, o := range e.slices.List() {
			if managed(o) {
				for _, k := range kube.ServiceIndex(o) {
					keys[k] = true
				}
			}
		}
	}
	var errs []error
	for key := range keys {
		if err := e.sync(ctx, c, key); err != nil {
			errs = append(errs, err)
			e.dirty.Requeue(dirtyServices, key)
		}
	}
	return errors.Join(errs...)
}

// sync brings the slices of one service in line.
func (e *Endpoints) sync(ctx context.Context, c kube.Interface, key string) error {
	have := map[string]*api.EndpointSlice{}
	for _, o := range e.slices.ByIndex(kube.IndexService, key) {
		if managed(o) {
			have[kube.ObjectKey(o)] = o.(*api.EndpointSlice)
		}
	}
	want := map[string]bool{}
	var errs []error
	if o, ok := e.svcs.GetKey(key); ok {
		svc := o.(*api.Service)
		var pods []api.Pod
		for _, p := range e.pods.ByIndex(kube.IndexNamespace, svc.Namespace) {
			pods = append(pods, *p.(*api.Pod))
		}
		t := true
		for _, s := range api.EndpointSlicesFor(svc, pods) {
			key := s.Namespace + "/" + s.Name
			want[key] = true
			s.OwnerReferences = []api.OwnerReference{{APIVersion: api.CoreV1, Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &t, BlockOwnerDeletion: &t}}
			if s.Endpoints == nil {
				s.Endpoints = []api.Endpoint{}
			}
			cur := have[key]
			if cur == nil {
				if _, err := c.Create(ctx, &s); err != nil && !kube.IsAlreadyExists(err) {
					errs = append(errs, fmt.Errorf("create EndpointSlice %s: %w", key, err))
				}
				continue
			}
			if sameSlice(cur, &s) {
				continue
			}
			s.ResourceVersion = cur.ResourceVersion
			if _, err := c.Update(ctx, &s); err != nil {
				errs = append(errs, fmt.Errorf("update EndpointSlice %s: %w", key, err))
			}
		}
	}
	for key, s := range have {
		if !want[key] {
			if err := c.Delete(ctx, kube.KindFor[api.EndpointSlice](), s.Namespace, s.Name, kube.DeleteOptions{}); err != nil && !kube.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete EndpointSlice %s: %w", key, err))
			}
		}
	}
	return errors.Join(errs...)
}

func sameSlice(a, b *api.EndpointSlice) bool {
	ja, _ := json.Marshal(struct {
		A any
		E any
		P any
		L any
		O any
	}{a.AddressType, a.Endpoints, a.Ports, a.Labels, a.OwnerReferences})
	jb, _ := json.Marshal(struct {
		A any
		E any
		P any
		L any
		O any
	}{b.AddressType, b.Endpoints, b.Ports, b.Labels, b.OwnerReferences})
	return reflect.DeepEqual(ja, jb)
}
