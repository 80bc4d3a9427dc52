package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/onp-lab/onp/cluster/internal/unixsock"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Version is what the embedded cluster reports as its Kubernetes version.
const Version = "v1.30.0+onp"

// SocketName is the API socket's file name in the cluster directory.
const SocketName = "api.sock"

// StateDir is the cluster's directory inside a node's directory
// (<labdir>/nodes/<node>/cluster).
func StateDir(nodeDir string) string { return filepath.Join(nodeDir, "cluster") }

// SocketPath is where a node's cluster API listens.
func SocketPath(nodeDir string) string { return filepath.Join(StateDir(nodeDir), SocketName) }

// ApplyRequest is the body of POST /onp/v1/apply, the all-or-nothing batch
// apply (an onp extension of the Kubernetes API).
type ApplyRequest struct {
	Mode    string            `json:"mode"`
	DryRun  bool              `json:"dryRun,omitempty"`
	Objects []json.RawMessage `json:"objects"`
	Sources []api.Source      `json:"sources,omitempty"`
	// Summary: each result's object carries its kind and metadata only.
	Summary bool `json:"summary,omitempty"`
}

// ApplyResponse lists what happened to each object.
type ApplyResponse struct {
	Results []ApplyResponseItem `json:"results"`
}

// ApplyResponseItem is one object's outcome.
type ApplyResponseItem struct {
	Action string          `json:"action"`
	Object json.RawMessage `json:"object"`
}

// ApplyPath is the batch apply endpoint.
const ApplyPath = "/onp/v1/apply"

// maxRequest bounds request bodies.
const maxRequest = 32 << 20

// Server serves a Store over HTTP with Kubernetes' REST paths and JSON:
// GET (list, get, ?watch=1), POST (create), PUT (update, /status),
// DELETE, and POST /onp/v1/apply for all-or-nothing batches.
type Server struct {
	store *Store
	log   *slog.Logger
}

// NewServer returns the HTTP handler of a store.
func NewServer(s *Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: s, log: log}
}

// Serve serves the API on the unix socket at path until ctx ends.
func (srv *Server) Serve(ctx context.Context, path string, ready func()) error {
	ln, err := unixsock.Listen(path)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hs.Shutdown(sctx)
		cancel()
		hs.Close()
		return nil
	case err := <-errc:
		ln.Close()
		return err
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if b, ok := v.([]byte); ok {
		w.Write(b)
		return
	}
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var se *kube.StatusError
	if !errors.As(err, &se) {
		se = kube.InternalError(err)
	}
	writeJSON(w, int(se.Status.Code), se.Status)
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		return nil, kube.BadRequest("read request body: %v", err)
	}
	if len(b) > maxRequest {
		return nil, kube.NewStatusError("RequestEntityTooLarge", http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxRequest)
	}
	return b, nil
}

// ServeHTTP implements http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/livez":
		w.Write([]byte("ok"))
		return
	case "/version":
		writeJSON(w, 200, map[string]string{"major": "1", "minor": "30", "gitVersion": Version, "platform": "linux/amd64"})
		return
	case ApplyPath:
		srv.apply(w, r)
		return
	}
	t, err := kube.ParsePath(r.URL.Path)
	if err != nil {
		writeError(w, kube.NewStatusError(kube.ReasonNotFound, http.StatusNotFound, "%v", err))
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	s := srv.store
	switch {
	case r.Method == http.MethodGet && t.Name == "":
		opts := kube.ListOptions{LabelSelector: q.Get("labelSelector"), ResourceVersion: q.Get("resourceVersion")}
		if wv := q.Get("watch"); wv == "1" || wv == "true" {
			srv.watch(ctx, w, r, t, opts)
			return
		}
		raws, rv, err := s.ListRaw(t.Kind, t.Namespace, opts)
		if err != nil {
			writeError(w, err)
			return
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"apiVersion":%q,"kind":%q,"metadata":{"resourceVersion":%q},"items":[`, t.Kind.GVK.APIVersion, t.Kind.GVK.Kind+"List", rv)
		for i, raw := range raws {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(raw)
		}
		b.WriteString("]}\n")
		writeJSON(w, 200, b.Bytes())
	case r.Method == http.MethodGet && t.Subresource == "" || r.Method == http.MethodGet && t.Subresource == "status":
		raw, err := s.GetRaw(t.Kind, t.Namespace, t.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, 200, raw)
	case r.Method == http.MethodPost && t.Name == "":
		o, err := srv.body(r, t)
		if err != nil {
			writeError(w, err)
			return
		}
		out, err := s.Create(ctx, o)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	case r.Method == http.MethodPut && t.Name != "" && (t.Subresource == "" || t.Subresource == "status"):
		o, err := srv.body(r, t)
		if err != nil {
			writeError(w, err)
			return
		}
		if o.Meta().Name != t.Name {
			writeError(w, kube.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", o.Meta().Name, t.Name))
			return
		}
		var out api.Object
		if t.Subresource == "status" {
			out, err = s.UpdateStatus(ctx, o)
		} else {
			out, err = s.Update(ctx, o)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, 200, out)
	case r.Method == http.MethodDelete && t.Name != "" && t.Subresource == "":
		var opts kube.DeleteOptions
		if g := q.Get("gracePeriodSeconds"); g != "" {
			v, err := strconv.ParseInt(g, 10, 64)
			if err != nil {
				writeError(w, kube.BadRequest("invalid gracePeriodSeconds %q", g))
				return
			}
			opts.GracePeriodSeconds = &v
		}
		if err := s.Delete(ctx, t.Kind, t.Namespace, t.Name, opts); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, 200, kube.Status{TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: "Success",
			Details: &kube.StatusDetails{Name: t.Name, Group: t.Kind.GVK.Group(), Kind: t.Kind.Resource}})
	default:
		writeError(w, kube.NewStatusError(kube.ReasonMethodNotAllowed, http.StatusMethodNotAllowed, "%s is not supported on %s", r.Method, r.URL.Path))
	}
}

// body decodes a request's object and checks it against the path.
func (srv *Server) body(r *http.Request, t kube.Target) (api.Object, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	o, err := kube.Decode(b)
	if err != nil {
		return nil, kube.BadRequest("%v", err)
	}
	k, _ := kube.KindOf(o)
	if kube.ResourceKey(k) != kube.ResourceKey(t.Kind) {
		return nil, kube.BadRequest("a %s cannot be sent to %s", k.GVK.Kind, r.URL.Path)
	}
	if t.Kind.Namespaced {
		m := o.Meta()
		if m.Namespace == "" {
			m.Namespace = t.Namespace
		}
		if m.Namespace != t.Namespace {
			return nil, kube.BadRequest("the namespace of the object (%s) does not match the namespace on the request (%s)", m.Namespace, t.Namespace)
		}
	}
	return o, nil
}

func (srv *Server) apply(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, kube.NewStatusError(kube.ReasonMethodNotAllowed, http.StatusMethodNotAllowed, "use POST on %s", ApplyPath))
		return
	}
	b, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req ApplyRequest
	if err := json.Unmarshal(b, &req); err != nil {
		writeError(w, kube.BadRequest("decode apply request: %v", err))
		return
	}
	objs := make([]api.Object, len(req.Objects))
	for i, raw := range req.Objects {
		o, err := kube.Decode(raw)
		if err != nil {
			writeError(w, kube.BadRequest("object %d: %v", i+1, err))
			return
		}
		objs[i] = o
	}
	entries, res, err := srv.store.applyEntries(objs, kube.ApplyOptions{Mode: req.Mode, DryRun: req.DryRun, Sources: req.Sources, Summary: req.Summary}, true)
	if err != nil {
		writeError(w, err)
		return
	}
	// The stored JSON as it is, as in ApplyResponse.
	var out bytes.Buffer
	out.WriteString(`{"results":[`)
	for i, x := range res {
		if i > 0 {
			out.WriteByte(',')
		}
		act, _ := json.Marshal(x.Action)
		out.WriteString(`{"action":`)
		out.Write(act)
		out.WriteString(`,"object":`)
		if req.Summary {
			raw, err := json.Marshal(summaryOf(entries[i].obj))
			if err != nil {
				writeError(w, kube.InternalError(err))
				return
			}
			out.Write(raw)
		} else {
			out.Write(entries[i].raw)
		}
		out.WriteByte('}')
	}
	out.WriteString("]}\n")
	writeJSON(w, 200, out.Bytes())
}

// watch streams events as Kubernetes does: one JSON object per line,
// {"type": "ADDED", "object": {...}}.
func (srv *Server) watch(ctx context.Context, w http.ResponseWriter, r *http.Request, t kube.Target, opts kube.ListOptions) {
	sub, err := srv.store.subscribe(ctx, t.Kind, t.Namespace, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	defer sub.cancel()
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(200)
	if fl != nil {
		fl.Flush()
	}
	var buf bytes.Buffer
	for {
		evs, ok := sub.next()
		if !ok {
			break
		}
		buf.Reset()
		for _, ev := range evs {
			buf.WriteString(`{"type":"`)
			buf.WriteString(ev.typ)
			buf.WriteString(`","object":`)
			buf.Write(ev.e.raw)
			buf.WriteString("}\n")
			// Write big backlogs in pieces.
			if buf.Len() >= 1<<20 {
				if _, err := w.Write(buf.Bytes()); err != nil {
					return
				}
				buf.Reset()
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
	err = sub.failure()
	if err != nil {
		var se *kube.StatusError
		if errors.As(err, &se) {
			b, _ := json.Marshal(map[string]any{"type": kube.Error, "object": se.Status})
			w.Write(append(b, '\n'))
		}
	}
}
