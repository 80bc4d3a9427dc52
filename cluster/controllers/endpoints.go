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
// serving conditions, node name), owned by the service.
type Endpoints struct{}

// Name implements the agent's Controller.
func (Endpoints) Name() string { return "endpointslice-controller" }

// Watches implements the agent's Controller.
func (Endpoints) Watches() []string { return []string{"services", "pods", "endpointslices"} }

// Reconcile implements the agent's Controller.
func (Endpoints) Reconcile(ctx context.Context, c kube.Interface) error {
	svcs, _, err := kube.ListOf[api.Service](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	pods, _, err := kube.ListOf[api.Pod](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	slices, _, err := kube.ListOf[api.EndpointSlice](ctx, c, "", kube.ListOptions{LabelSelector: api.LabelEndpointSliceManagedBy + "=" + api.EndpointSliceControllerName})
	if err != nil {
		return err
	}
	byNs := map[string][]api.Pod{}
	for _, p := range pods {
		byNs[p.Namespace] = append(byNs[p.Namespace], *p)
	}
	have := map[string]*api.EndpointSlice{}
	for _, s := range slices {
		have[s.Namespace+"/"+s.Name] = s
	}
	want := map[string]bool{}
	var errs []error
	for _, svc := range svcs {
		t := true
		for _, s := range api.EndpointSlicesFor(svc, byNs[svc.Namespace]) {
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
