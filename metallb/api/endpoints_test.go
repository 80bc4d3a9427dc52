package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestEndpointSlicesFor(t *testing.T) {
	echo := decodeFile(t, "03-echoserver.yaml")
	svc := echo[2].Object.(*Service)
	ready := *echo[1].Object.(*Pod)
	ready.Spec.NodeName = "sno"
	ready.Status = PodStatus{Phase: "Running", PodIP: "10.128.0.5", PodIPs: []PodIP{{IP: "10.128.0.5"}, {IP: "fd01::5"}},
		Conditions: []PodCondition{{Type: "Ready", Status: "True"}}}
	starting := ready
	starting.Name = "echoserver-2"
	starting.Status = PodStatus{Phase: "Running", PodIP: "10.128.0.6"}
	gone := ready
	gone.Name = "echoserver-3"
	now := time.Now()
	gone.DeletionTimestamp = &now
	gone.Status.PodIPs, gone.Status.PodIP = nil, "10.128.0.7"
	other := ready
	other.Name, other.Labels = "other", map[string]string{"app": "other"}
	noIP := ready
	noIP.Name, noIP.Status = "pending", PodStatus{Phase: "Pending"}

	slices := EndpointSlicesFor(svc, []Pod{starting, ready, other, gone, noIP})
	b, _ := json.Marshal(slices)
	want := `[{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"echoserver-ipv4","namespace":"onp-metallb","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"echoserver"}},"addressType":"IPv4","endpoints":[` +
		`{"addresses":["10.128.0.5"],"conditions":{"ready":true,"serving":true,"terminating":false},"targetRef":{"kind":"Pod","namespace":"onp-metallb","name":"echoserver"},"nodeName":"sno"},` +
		`{"addresses":["10.128.0.6"],"conditions":{"ready":false,"serving":false,"terminating":false},"targetRef":{"kind":"Pod","namespace":"onp-metallb","name":"echoserver-2"},"nodeName":"sno"},` +
		`{"addresses":["10.128.0.7"],"conditions":{"ready":false,"serving":true,"terminating":true},"targetRef":{"kind":"Pod","namespace":"onp-metallb","name":"echoserver-3"},"nodeName":"sno"}],` +
		`"ports":[{"name":"","protocol":"TCP","port":8080}]},` +
		`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"echoserver-ipv6","namespace":"onp-metallb","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"echoserver"}},"addressType":"IPv6","endpoints":[` +
		`{"addresses":["fd01::5"],"conditions":{"ready":true,"serving":true,"terminating":false},"targetRef":{"kind":"Pod","namespace":"onp-metallb","name":"echoserver"},"nodeName":"sno"}],` +
		`"ports":[{"name":"","protocol":"TCP","port":8080}]}]`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	if !slices[0].Endpoints[2].Conditions.CanServe() || slices[0].Endpoints[1].Conditions.CanServe() {
		t.Error("CanServe: a terminating but serving endpoint can serve, a not-ready one cannot")
	}

	named := *svc
	tp := FromString("http")
	named.Spec.Ports = []ServicePort{{Name: "web", Port: 80, TargetPort: &tp}}
	withName := ready
	withName.Spec.Containers = []Container{{Name: "c", Ports: []ContainerPort{{Name: "http", ContainerPort: 9090}}}}
	got := EndpointSlicesFor(&named, []Pod{withName, ready})
	if len(got) != 2 || *got[0].Ports[0].Port != 9090 || len(got[0].Endpoints) != 1 || got[0].Endpoints[0].TargetRef.Name != "echoserver" {
		b, _ := json.Marshal(got)
		t.Errorf("named target port: %s", b)
	}
	if EndpointSlicesFor(&Service{}, []Pod{ready}) != nil {
		t.Error("a service without selector has no slices")
	}
}
