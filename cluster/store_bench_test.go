package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

// BenchmarkStoreWrites: what a controller's writes cost in the store: the
// annotation (Update) and the status (UpdateStatus) of a LoadBalancer
// service, as MetalLB's controller writes them, with the WAL on disk.
func BenchmarkStoreWrites(b *testing.B) {
	s, err := OpenStore(StoreOptions{Dir: b.TempDir(), Node: "sno4"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ns := &api.Namespace{ObjectMeta: api.ObjectMeta{Name: "apps"}}
	ns.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Namespace"})
	if _, err := s.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	const n = 1000
	for i := range n {
		svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("s%05d", i), Namespace: "apps"}, Spec: api.ServiceSpec{
			Type: api.ServiceTypeLoadBalancer, Ports: []api.ServicePort{{Port: 80, Protocol: api.ProtocolTCP}},
		}}
		svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
		if _, err := s.Create(ctx, svc); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o, err := s.Get(ctx, kube.KindFor[api.Service](), "apps", fmt.Sprintf("s%05d", i%n))
		if err != nil {
			b.Fatal(err)
		}
		svc := o.(*api.Service)
		svc.Annotations = map[string]string{api.AnnotationIPAllocateFromPool: fmt.Sprintf("p%d", i)}
		u, err := s.Update(ctx, svc)
		if err != nil {
			b.Fatal(err)
		}
		svc = u.(*api.Service)
		svc.Status.LoadBalancer.Ingress = []api.LoadBalancerIngress{{IP: fmt.Sprintf("10.0.%d.%d", i/250%250, i%250)}}
		if _, err := s.UpdateStatus(ctx, svc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreApply: one apply of 10,000 LoadBalancer services and
// their EndpointSlices (20,000 objects) into a store with the WAL on
// disk, as `onp apply -f` of a big file does.
func BenchmarkStoreApply(b *testing.B) {
	objs := testutil.LoadBalancerServices(10000, false)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := OpenStore(StoreOptions{Dir: b.TempDir(), Node: "sno4"})
		if err != nil {
			b.Fatal(err)
		}
		ns := &api.Namespace{ObjectMeta: api.ObjectMeta{Name: "apps"}}
		ns.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Namespace"})
		if _, err := s.Create(ctx, ns); err != nil {
			b.Fatal(err)
		}
		in := make([]api.Object, len(objs))
		for j, o := range objs {
			in[j] = kube.DeepCopy(o)
		}
		b.StartTimer()
		if _, err := s.Apply(ctx, in, kube.ApplyOptions{Summary: true}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
