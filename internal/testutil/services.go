package testutil

import (
	"fmt"

	"github.com/onp-lab/onp/metallb/api"
)

// LoadBalancerServices are n LoadBalancer services s00000… in namespace
// apps, each with a ready EndpointSlice on node sno4 (endpoint 10.128.0.5)
// and without node ports (a node has 2,768): the load of the big
// benchmarks. requested ones ask for 10.100.x.y with
// metallb.io/loadBalancerIPs.
func LoadBalancerServices(n int, requested bool) []api.Object {
	noNodePorts, ready, node := false, true, "sno4"
	out := make([]api.Object, 0, 2*n)
	for i := range n {
		name := fmt.Sprintf("s%05d", i)
		svc := &api.Service{ObjectMeta: api.ObjectMeta{Namespace: "apps", Name: name}, Spec: api.ServiceSpec{
			Type: api.ServiceTypeLoadBalancer, Ports: []api.ServicePort{{Port: 80, Protocol: api.ProtocolTCP}},
			AllocateLoadBalancerNodePorts: &noNodePorts,
		}}
		if requested {
			svc.Annotations = map[string]string{"metallb.io/loadBalancerIPs": fmt.Sprintf("10.100.%d.%d", i/256, i%256)}
		}
		svc.SetGVK(api.GVK{APIVersion: api.CoreV1, Kind: "Service"})
		es := &api.EndpointSlice{
			ObjectMeta:  api.ObjectMeta{Namespace: "apps", Name: name + "-1", Labels: map[string]string{api.LabelServiceName: name}},
			AddressType: api.EndpointSliceAddressTypeIPv4,
			Endpoints:   []api.Endpoint{{Addresses: []string{"10.128.0.5"}, NodeName: &node, Conditions: api.EndpointConditions{Ready: &ready, Serving: &ready}}},
		}
		es.SetGVK(api.GVK{APIVersion: api.DiscoveryV1, Kind: "EndpointSlice"})
		out = append(out, svc, es)
	}
	return out
}
