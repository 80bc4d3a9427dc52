package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/kubelet"
	"github.com/onp-lab/onp/cluster/printers"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/metallb/api"
)

func lbService(ns, name string, port int, extra string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s%s}
spec:
  type: LoadBalancer
  selector: {app: echoserver}
  ports: [{port: %d, targetPort: 8080}]
`, name, ns, extra, port)
}

func TestAgentGetServiceTable(t *testing.T) {
	e := newEnv(t)
	if _, err := e.apply(seedYAML(t)); err != nil {
		t.Fatal(err)
	}
	e.waitIngress("onp-metallb", "echoserver")
	k, _ := kube.LookupResource("svc")
	l, err := e.c.List(context.Background(), k, "onp-metallb", kube.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printers.Print(&b, k, l.Items, false, printers.Options{})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" {
		t.Fatalf("table:\n%s", b.String())
	}
	f := strings.Fields(lines[1])
	if f[0] != "echoserver" || f[1] != "LoadBalancer" || !strings.HasPrefix(f[2], "172.30.") || f[3] != "10.0.0.10" || !strings.HasPrefix(f[4], "8080:3") || !strings.HasSuffix(f[4], "/TCP") {
		t.Fatalf("row: %q", lines[1])
	}
	t.Logf("\n%s", b.String())
}

func TestAgentRejectsInvalidInput(t *testing.T) {
	e := newEnv(t)
	if _, err := e.apply(seedYAML(t)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, err := e.c.List(ctx, kube.KindFor[api.IPAddressPool](), "", kube.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad address", `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bad, namespace: metallb-system}
spec: {addresses: [10.0.1.300/32]}
`, `admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request`},
		{"iBGP multihop", `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: p2, namespace: metallb-system}
spec: {peerAddress: 192.168.126.4, peerASN: 64512, myASN: 64512, ebgpMultiHop: true}
`, `admission webhook "bgppeervalidationwebhook.metallb.io" denied the request`},
		{"outside metallb-system, with a good one", `
apiVersion: v1
kind: Namespace
metadata: {name: fresh}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: elsewhere, namespace: default}
spec: {addresses: [10.0.2.0/24]}
`, "resource must be created in metallb-system namespace"},
		{"unsupported image", `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {containers: [{name: web, image: nginx:1.25}]}
`, `pods "web" is forbidden: image "nginx:1.25" is not supported by onp's embedded cluster`},
		{"missing namespace", `
apiVersion: v1
kind: Service
metadata: {name: s, namespace: nowhere}
spec: {ports: [{port: 80}]}
`, `namespaces "nowhere" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.apply(tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	after, _ := e.c.List(ctx, kube.KindFor[api.IPAddressPool](), "", kube.ListOptions{})
	if len(after.Items) != len(before.Items) {
		t.Fatalf("rejected applies stored pools: %d → %d", len(before.Items), len(after.Items))
	}
	if _, err := e.c.Get(ctx, kube.KindFor[api.Namespace](), "", "fresh"); !kube.IsNotFound(err) {
		t.Fatalf("namespace of a rejected apply: %v", err)
	}
	if _, err := e.c.Get(ctx, kube.KindFor[api.Pod](), "default", "web"); !kube.IsNotFound(err) {
		t.Fatalf("pod with an unsupported image: %v", err)
	}
	// The message names the supported images and real clusters.
	_, err = e.apply(`
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {containers: [{name: web, image: quay.io/x/y:1}]}
`)
	for _, want := range []string{"registry.k8s.io/echoserver:*", "agnhost", "kubeconfig"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("image error lacks %q: %v", want, err)
		}
	}
}

func TestAgentPoolExhaustedAndRelease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.apply(`
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: tiny, namespace: metallb-system}
spec: {addresses: [10.0.0.50/32]}
` + "---" + lbService("demo", "first", 80, "") + "---" + lbService("demo", "second", 81, "")); err != nil {
		t.Fatal(err)
	}
	if ip := e.waitIngress("demo", "first"); ip != "10.0.0.50" {
		t.Fatalf("first got %s", ip)
	}
	// second stays pending, with MetalLB's event.
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		evs, err := kube.EventsFor(ctx, e.c, e.svc("demo", "second"))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Reason == "AllocationFailed" && ev.Type == "Warning" && strings.Contains(ev.Message, `Failed to allocate IP for "demo/second": no available IPs`) {
				return nil
			}
		}
		return fmt.Errorf("no AllocationFailed event on demo/second: %+v", evs)
	})
	if s := e.svc("demo", "second"); len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("second got %v from an exhausted pool", s.Status.LoadBalancer.Ingress)
	}
	// Deleting first releases the address to second.
	if err := e.c.Delete(ctx, kube.KindFor[api.Service](), "demo", "first", kube.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ip := e.waitIngress("demo", "second"); ip != "10.0.0.50" {
		t.Fatalf("second got %s after the release", ip)
	}
	pool, err := kube.Get[api.IPAddressPool](ctx, e.c, "metallb-system", "tiny")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		pool, _ = kube.Get[api.IPAddressPool](ctx, e.c, "metallb-system", "tiny")
		if pool.Status.AssignedIPv4 != 1 || pool.Status.AvailableIPv4 != 0 {
			return fmt.Errorf("pool status %+v", pool.Status)
		}
		return nil
	})
}

func TestAgentRestartKeepsObjectsAndAssignments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.apply(seedYAML(t) + "---" + lbService("onp-metallb", "second", 9090, "")); err != nil {
		t.Fatal(err)
	}
	podIP := e.waitRunning("onp-metallb", "echoserver")
	ip1 := e.waitIngress("onp-metallb", "echoserver")
	ip2 := e.waitIngress("onp-metallb", "second")
	pod := e.pod("onp-metallb", "echoserver")
	eventuallyGet(t, e.client, "http://"+ip1+":8080/", "Hostname: echoserver")
	e.stop()
	// While the agent is down, its pod does not answer (it lives in the agent).
	if _, err := get(e.node, "http://"+podIP+":8080/"); err == nil {
		t.Error("the pod answers while the agent is stopped")
	}
	e.start()
	// Everything is back as it was: no re-allocation, same pod address.
	if got := e.svc("onp-metallb", "echoserver").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != ip1 {
		t.Fatalf("echoserver ingress after restart: %v, want %s", got, ip1)
	}
	if got := e.svc("onp-metallb", "second").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != ip2 {
		t.Fatalf("second ingress after restart: %v, want %s", got, ip2)
	}
	// A service created now gets the next address, not one already taken.
	if _, err := e.apply(lbService("onp-metallb", "third", 7070, "")); err != nil {
		t.Fatal(err)
	}
	if ip3 := e.waitIngress("onp-metallb", "third"); ip3 == ip1 || ip3 == ip2 {
		t.Fatalf("third got %s, already used", ip3)
	}
	after := e.pod("onp-metallb", "echoserver")
	if after.UID != pod.UID || after.Status.PodIP != podIP {
		t.Fatalf("pod after restart: uid %s ip %s, want %s %s", after.UID, after.Status.PodIP, pod.UID, podIP)
	}
	eventuallyGet(t, e.node, "http://"+podIP+":8080/", "Hostname: echoserver")
	eventuallyGet(t, e.client, "http://"+ip1+":8080/", "Hostname: echoserver")
	evs, _ := kube.EventsFor(ctx, e.c, e.svc("onp-metallb", "echoserver"))
	n := 0
	for _, ev := range evs {
		if ev.Reason == "IPAllocated" {
			n += int(ev.Count)
		}
	}
	if n != 1 {
		t.Errorf("IPAllocated recorded %d times, want once (a restart must not re-allocate)", n)
	}
}

func TestAgentPodDeleteRemovesNamespace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.apply(seedYAML(t)); err != nil {
		t.Fatal(err)
	}
	e.waitRunning("onp-metallb", "echoserver")
	pod := e.pod("onp-metallb", "echoserver")
	name := kubelet.PodNetns(e.lab, "sno4", pod.UID)
	if !nsx.IsMounted(name) {
		t.Fatalf("pod namespace %s missing", name)
	}
	h, err := netnsHandle(name)
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := h.LinkByName("lo")
	h.Close()
	if want := "onp/" + e.lab + "/pod/sno4/onp-metallb/echoserver"; lo.Attrs().Alias != want {
		t.Fatalf("pod namespace tag %q, want %q", lo.Attrs().Alias, want)
	}
	if err := e.c.Delete(ctx, kube.KindFor[api.Pod](), "onp-metallb", "echoserver", kube.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := e.c.Get(ctx, kube.KindFor[api.Pod](), "onp-metallb", "echoserver"); !kube.IsNotFound(err) {
			return fmt.Errorf("pod still there (%v)", err)
		}
		if nsx.Exists(name) {
			return fmt.Errorf("namespace %s still there", name)
		}
		return nil
	})
	// No endpoints now: the LB address rejects at once.
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := get(e.client, "http://10.0.0.10:8080/")
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("GET without endpoints: %v, want connection refused", err)
		}
		return nil
	})
	// Deleting the namespace takes the service and its slices too.
	if err := e.c.Delete(ctx, kube.KindFor[api.Namespace](), "", "onp-metallb", kube.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := e.c.Get(ctx, kube.KindFor[api.Namespace](), "", "onp-metallb"); !kube.IsNotFound(err) {
			return fmt.Errorf("namespace still there: %v", err)
		}
		return nil
	})
	sl, _ := e.c.List(ctx, kube.KindFor[api.EndpointSlice](), "onp-metallb", kube.ListOptions{})
	if len(sl.Items) != 0 {
		t.Fatalf("slices left: %d", len(sl.Items))
	}
}

func TestAgentAgnhostNetexec(t *testing.T) {
	e := newEnv(t)
	if _, err := e.apply(seedYAML(t) + `---
apiVersion: v1
kind: Pod
metadata: {name: netexec, namespace: onp-metallb, labels: {app: netexec}}
spec:
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=9090]
---
apiVersion: v1
kind: Service
metadata: {name: netexec, namespace: onp-metallb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: netexec}
  ports: [{port: 80, targetPort: 9090}]
`); err != nil {
		t.Fatal(err)
	}
	e.waitRunning("onp-metallb", "netexec")
	ip := e.waitIngress("onp-metallb", "netexec")
	eventuallyGet(t, e.client, "http://"+ip+"/hostname", "netexec")
	body := eventuallyGet(t, e.client, "http://"+ip+"/clientip", clientAddr+":")
	if !strings.HasPrefix(body, clientAddr+":") {
		t.Fatalf("/clientip: %q", body)
	}
	eventuallyGet(t, e.client, "http://"+ip+"/echo?msg=onp", "onp")
}
