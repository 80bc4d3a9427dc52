package echoserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PodInfo is what a container knows about itself.
type PodInfo struct {
	// Hostname is the pod's host name (spec.hostname or the pod's name).
	Hostname string
	// Env is the container's environment, downward-API values resolved;
	// the echoserver prints NODE_NAME, POD_NAME, POD_NAMESPACE and POD_IP
	// when POD_NAME is set, as the image's nginx does.
	Env map[string]string
}

// maxBody bounds how much of a request body is echoed.
const maxBody = 1 << 20

// Handler returns the HTTP handler of a workload listening on port.
func Handler(kind string, port int, info PodInfo) http.Handler {
	switch kind {
	case KindNetexec:
		return netexec(info)
	case KindServeHostname:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, info.Hostname)
		})
	}
	return echo(port, info)
}

// echo answers like registry.k8s.io/echoserver (1.10 and the
// e2e-test-images echoserver): pod information, server values, request
// information, headers and body as plain text.
func echo(port int, info PodInfo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Server", "echoserver")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, Render(port, info, r, body))
	})
}

// Render builds the echoserver's answer to r (body already read).
func Render(port int, info PodInfo, r *http.Request, body []byte) string {
	var b strings.Builder
	b.WriteString("\n\nHostname: ")
	b.WriteString(orNA(info.Hostname))
	b.WriteString("\n\nPod Information:\n")
	if info.Env["POD_NAME"] != "" {
		fmt.Fprintf(&b, "\tnode name:\t%s\n", orNA(info.Env["NODE_NAME"]))
		fmt.Fprintf(&b, "\tpod name:\t%s\n", orNA(info.Env["POD_NAME"]))
		fmt.Fprintf(&b, "\tpod namespace:\t%s\n", orNA(info.Env["POD_NAMESPACE"]))
		fmt.Fprintf(&b, "\tpod IP:\t%s\n", orNA(info.Env["POD_IP"]))
	} else {
		b.WriteString("\t-no pod information available-\n")
	}
	b.WriteString("\nServer values:\n\tserver_version=nginx: 1.13.3 - lua: 10008\n")
	b.WriteString("\nRequest Information:\n")
	client := r.RemoteAddr
	if h, _, err := net.SplitHostPort(client); err == nil {
		client = h
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// An absolute-form target ("GET http://host/path"): nginx keeps the path.
		uri = r.URL.RequestURI()
	}
	fmt.Fprintf(&b, "\tclient_address=%s\n", client)
	fmt.Fprintf(&b, "\tmethod=%s\n", r.Method)
	fmt.Fprintf(&b, "\treal path=%s\n", uri)
	fmt.Fprintf(&b, "\tquery=%s\n", r.URL.RawQuery)
	fmt.Fprintf(&b, "\trequest_version=%d.%d\n", r.ProtoMajor, r.ProtoMinor)
	b.WriteString("\trequest_scheme=http\n")
	fmt.Fprintf(&b, "\trequest_uri=http://%s:%d%s\n", hostOf(r), port, uri)
	b.WriteString("\nRequest Headers:\n")
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%s=%s\n", k, headers[k])
	}
	b.WriteString("\nRequest Body:\n")
	if len(body) > 0 {
		b.Write(body)
	} else {
		b.WriteString("\t-no body in request-\n")
	}
	return b.String()
}

// hostOf is nginx's $host: the Host header without port, lower-case, or
// the local address when the request has none.
func hostOf(r *http.Request) string {
	h := r.Host
	if h == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			h = a.String()
		}
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}

// netexec answers agnhost netexec's basic endpoints: / (the time),
// /hostname, /clientip, /echo?msg=, /header?key=, /healthz.
func netexec(info PodInfo) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "NOW: %v", time.Now())
	})
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, info.Hostname)
	})
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.FormValue("msg"))
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get(r.FormValue("key")))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "netexec /shutdown is not supported by onp's embedded cluster", http.StatusNotImplemented)
	})
	return mux
}

// PortString renders ports for messages ("8080, 8443").
func PortString(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}
