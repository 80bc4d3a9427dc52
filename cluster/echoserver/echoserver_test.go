package echoserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onp-lab/onp/metallb/api"
)

func TestForContainer(t *testing.T) {
	for _, tc := range []struct {
		c     api.Container
		kind  string
		ports string
		err   string
	}{
		{c: api.Container{Name: "e", Image: "registry.k8s.io/echoserver:1.0", Ports: []api.ContainerPort{{ContainerPort: 8080}}}, kind: KindEchoserver, ports: "8080"},
		{c: api.Container{Name: "e", Image: "k8s.gcr.io/echoserver:1.10", Ports: []api.ContainerPort{{ContainerPort: 9000}, {ContainerPort: 8443}, {ContainerPort: 53, Protocol: "UDP"}}}, kind: KindEchoserver, ports: "8080, 9000"},
		{c: api.Container{Name: "e", Image: "gcr.io/google_containers/echoserver@sha256:abc"}, kind: KindEchoserver, ports: "8080"},
		{c: api.Container{Name: "e", Image: "registry.k8s.io/e2e-test-images/echoserver:2.5"}, kind: KindEchoserver, ports: "8080"},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"netexec", "--http-port=9090"}}, kind: KindNetexec, ports: "9090"},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Command: []string{"/agnhost", "netexec"}}, kind: KindNetexec, ports: "8080"},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"serve-hostname", "--port", "9376"}}, kind: KindServeHostname, ports: "9376"},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}, err: "agnhost needs a subcommand"},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"pause"}}, err: `agnhost subcommand "pause" is not supported`},
		{c: api.Container{Name: "a", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"netexec", "--http-port=x"}}, err: "not a port number"},
		{c: api.Container{Name: "n", Image: "nginx"}, err: `image "nginx" is not supported`},
		{c: api.Container{Name: "n", Image: "registry.k8s.io/echoserverX:1"}, err: "not supported"},
	} {
		w, err := ForContainer(tc.c)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %v: err %v, want %q", tc.c.Image, tc.c.Args, err, tc.err)
			}
			continue
		}
		if err != nil || w.Kind != tc.kind || PortString(w.Ports) != tc.ports {
			t.Errorf("%s %v: %+v %v, want %s on %s", tc.c.Image, tc.c.Args, w, err, tc.kind, tc.ports)
		}
	}
}

func TestEchoserverAnswer(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "http://10.0.0.10:8080/a/b?x=1&y=2", strings.NewReader("hello"))
	req.RemoteAddr = "192.168.100.10:40000"
	req.Header.Set("User-Agent", "curl/7.88.1")
	req.Header.Set("Accept", "*/*")
	got := Render(8080, PodInfo{Hostname: "echoserver"}, req, []byte("hello"))
	want := "\n\nHostname: echoserver\n\nPod Information:\n\t-no pod information available-\n\n" +
		"Server values:\n\tserver_version=nginx: 1.13.3 - lua: 10008\n\n" +
		"Request Information:\n\tclient_address=192.168.100.10\n\tmethod=POST\n\treal path=/a/b?x=1&y=2\n\tquery=x=1&y=2\n\trequest_version=1.1\n\trequest_scheme=http\n\trequest_uri=http://10.0.0.10:8080/a/b?x=1&y=2\n\n" +
		"Request Headers:\n\taccept=*/*\n\thost=10.0.0.10:8080\n\tuser-agent=curl/7.88.1\n\n" +
		"Request Body:\nhello"
	if got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
	withEnv := Render(9000, PodInfo{Hostname: "e", Env: map[string]string{"POD_NAME": "e", "NODE_NAME": "sno4", "POD_NAMESPACE": "ns", "POD_IP": "10.128.0.2"}}, httptest.NewRequest("GET", "/", nil), nil)
	for _, w := range []string{"\tnode name:\tsno4\n", "\tpod name:\te\n", "\tpod namespace:\tns\n", "\tpod IP:\t10.128.0.2\n", "request_uri=http://example.com:9000/", "\t-no body in request-\n"} {
		if !strings.Contains(withEnv, w) {
			t.Errorf("answer lacks %q:\n%s", w, withEnv)
		}
	}
}

func TestNetexec(t *testing.T) {
	h := Handler(KindNetexec, 8080, PodInfo{Hostname: "pod-a"})
	for path, want := range map[string]string{"/hostname": "pod-a", "/clientip": "192.0.2.1:1234", "/echo?msg=hi%20there": "hi there"} {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		if string(b) != want {
			t.Errorf("%s: %q, want %q", path, b, want)
		}
	}
}

func FuzzEchoserver(f *testing.F) {
	f.Add("/a?b=c", "x-h", "v", []byte("body"))
	f.Fuzz(func(t *testing.T, target, hk, hv string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t") {
			return
		}
		req, err := http.NewRequest("GET", "http://h"+target, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.RequestURI = target
		req.Header.Set(hk, hv)
		out := Render(8080, PodInfo{Hostname: "p"}, req, body)
		if !strings.HasPrefix(out, "\n\nHostname: p\n") || !strings.Contains(out, "\nRequest Body:\n") {
			t.Fatalf("malformed answer:\n%s", out)
		}
	})
}
