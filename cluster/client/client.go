// Package client talks to the embedded cluster's API over its unix socket
// (HTTP and JSON on Kubernetes' REST paths). It implements kube.Interface,
// so the CLI, the speaker and checks use the same calls as the agent's own
// controllers.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/onp-lab/onp/cluster/internal/unixsock"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Client is a connection to one cluster's API socket. It is safe for
// concurrent use.
type Client struct {
	socket string
	hc     *http.Client
	// watch has no overall timeout.
	wc *http.Client
}

var _ kube.Interface = (*Client)(nil)

// New returns a client for the API socket at path (see cluster.SocketPath).
func New(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return unixsock.Dial(ctx, socket)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{
		socket: socket,
		hc:     &http.Client{Transport: tr, Timeout: 60 * time.Second},
		wc:     &http.Client{Transport: tr},
	}
}

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// ErrNotRunning says nothing answers on the socket.
var ErrNotRunning = errors.New("the cluster agent is not running")

func (c *Client) transportError(err error) error {
	if _, serr := os.Stat(c.socket); serr != nil {
		return fmt.Errorf("%w: no API socket at %s (is the lab up? onp status shows the node's cluster-agent)", ErrNotRunning, c.socket)
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return fmt.Errorf("%w: nothing answers on %s (onp status shows whether the node's cluster-agent runs): %v", ErrNotRunning, c.socket, err)
	}
	return fmt.Errorf("cluster API at %s: %w", c.socket, err)
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://cluster" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.transportError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return c.transportError(err)
	}
	if resp.StatusCode >= 300 {
		return statusError(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}

func statusError(code int, b []byte) error {
	var st kube.Status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		return &kube.StatusError{Status: st}
	}
	return kube.NewStatusError(http.StatusText(code), code, "%s", bytes.TrimSpace(b))
}

// Ping checks that the API answers.
func (c *Client) Ping(ctx context.Context) error {
	var b []byte
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, &b)
}

func decodeObject(b []byte) (api.Object, error) {
	o, err := kube.DecodeTrusted(b)
	if err != nil {
		return nil, fmt.Errorf("cluster API answered with an object this onp cannot read: %w", err)
	}
	return o, nil
}

// Get implements kube.Interface.
func (c *Client) Get(ctx context.Context, k api.Kind, namespace, name string) (api.Object, error) {
	var b []byte
	if err := c.do(ctx, http.MethodGet, kube.Path(k, namespace, name, ""), nil, nil, &b); err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// List implements kube.Interface.
func (c *Client) List(ctx context.Context, k api.Kind, namespace string, opts kube.ListOptions) (*kube.List, error) {
	q := url.Values{}
	if opts.LabelSelector != "" {
		q.Set("labelSelector", opts.LabelSelector)
	}
	var body struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, kube.Path(k, namespace, "", ""), q, nil, &body); err != nil {
		return nil, err
	}
	l := &kube.List{ResourceVersion: body.Metadata.ResourceVersion, Items: make([]api.Object, 0, len(body.Items))}
	for _, raw := range body.Items {
		o, err := decodeObject(raw)
		if err != nil {
			return nil, err
		}
		l.Items = append(l.Items, o)
	}
	return l, nil
}

// withKind returns o with apiVersion and kind set from its Go type when the
// caller left them empty, as typed Kubernetes clients do.
func withKind(o api.Object) (api.Object, error) {
	k, ok := kube.KindOf(api.Normalize(o))
	if !ok {
		return nil, fmt.Errorf("%T is not a kind the cluster serves", o)
	}
	if o.GVK().Kind == "" || o.GVK().APIVersion == "" {
		o = kube.Clone(o)
		o.SetGVK(k.GVK)
	}
	return o, nil
}

func objectPath(o api.Object, sub string) (string, error) {
	k, ok := kube.KindOf(api.Normalize(o))
	if !ok {
		return "", fmt.Errorf("%T is not a kind the cluster serves", o)
	}
	ns := o.Meta().Namespace
	if k.Namespaced && ns == "" {
		ns = "default"
	}
	if sub == "collection" {
		return kube.Path(k, ns, "", ""), nil
	}
	return kube.Path(k, ns, o.Meta().Name, sub), nil
}

func (c *Client) write(ctx context.Context, method string, o api.Object, sub string) (api.Object, error) {
	o, err := withKind(o)
	if err != nil {
		return nil, err
	}
	p, err := objectPath(o, sub)
	if err != nil {
		return nil, err
	}
	var b []byte
	if err := c.do(ctx, method, p, nil, o, &b); err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// Create implements kube.Interface.
func (c *Client) Create(ctx context.Context, o api.Object) (api.Object, error) {
	return c.write(ctx, http.MethodPost, o, "collection")
}

// Update implements kube.Interface.
func (c *Client) Update(ctx context.Context, o api.Object) (api.Object, error) {
	return c.write(ctx, http.MethodPut, o, "")
}

// UpdateStatus implements kube.Interface.
func (c *Client) UpdateStatus(ctx context.Context, o api.Object) (api.Object, error) {
	return c.write(ctx, http.MethodPut, o, "status")
}

// Delete implements kube.Interface.
func (c *Client) Delete(ctx context.Context, k api.Kind, namespace, name string, opts kube.DeleteOptions) error {
	q := url.Values{}
	if opts.GracePeriodSeconds != nil {
		q.Set("gracePeriodSeconds", strconv.FormatInt(*opts.GracePeriodSeconds, 10))
	}
	return c.do(ctx, http.MethodDelete, kube.Path(k, namespace, name, ""), q, nil, nil)
}

// Apply implements kube.Interface: one request, all-or-nothing.
func (c *Client) Apply(ctx context.Context, objs []api.Object, opts kube.ApplyOptions) ([]kube.ApplyResult, error) {
	req := struct {
		Mode    string       `json:"mode"`
		DryRun  bool         `json:"dryRun,omitempty"`
		Objects []api.Object `json:"objects"`
		Sources []api.Source `json:"sources,omitempty"`
		Summary bool         `json:"summary,omitempty"`
	}{Mode: opts.Mode, DryRun: opts.DryRun, Sources: opts.Sources, Summary: opts.Summary}
	for _, o := range objs {
		o, err := withKind(o)
		if err != nil {
			return nil, err
		}
		req.Objects = append(req.Objects, o)
	}
	if req.Mode == "" {
		req.Mode = kube.ModeApply
	}
	var resp struct {
		Results []struct {
			Action string          `json:"action"`
			Object json.RawMessage `json:"object"`
		} `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/onp/v1/apply", nil, req, &resp); err != nil {
		return nil, err
	}
	out := make([]kube.ApplyResult, len(resp.Results))
	for i, r := range resp.Results {
		o, err := decodeObject(r.Object)
		if err != nil {
			return nil, err
		}
		out[i] = kube.ApplyResult{Action: r.Action, Object: o}
	}
	return out, nil
}

// Watch implements kube.Interface.
func (c *Client) Watch(ctx context.Context, k api.Kind, namespace string, opts kube.ListOptions) (kube.Watcher, error) {
	q := url.Values{"watch": {"1"}}
	if opts.LabelSelector != "" {
		q.Set("labelSelector", opts.LabelSelector)
	}
	if opts.ResourceVersion != "" {
		q.Set("resourceVersion", opts.ResourceVersion)
	}
	wctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(wctx, http.MethodGet, "http://cluster"+kube.Path(k, namespace, "", "")+"?"+q.Encode(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := c.wc.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.transportError(err)
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, statusError(resp.StatusCode, b)
	}
	w := &watcher{ch: make(chan kube.WatchEvent), cancel: cancel}
	go w.run(wctx, resp.Body)
	return w, nil
}

// watchEvent is one line of a watch.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// splitEvent takes apart a line as the cluster's server writes it,
// `{"type":"MODIFIED","object":{...}}`, without a pass over the object
// (which Decode makes).
func splitEvent(line []byte) (watchEvent, bool) {
	line = bytes.TrimRight(line, "\r\n")
	rest, ok := bytes.CutPrefix(line, []byte(`{"type":"`))
	if !ok {
		return watchEvent{}, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return watchEvent{}, false
	}
	typ := string(rest[:i])
	obj, ok := bytes.CutPrefix(rest[i+1:], []byte(`,"object":`))
	if !ok || len(obj) < 3 || obj[0] != '{' || obj[len(obj)-1] != '}' || obj[len(obj)-2] != '}' {
		return watchEvent{}, false
	}
	return watchEvent{Type: typ, Object: obj[:len(obj)-1]}, true
}

type watcher struct {
	ch     chan kube.WatchEvent
	cancel context.CancelFunc
	mu     sync.Mutex
	err    error
}

func (w *watcher) Events() <-chan kube.WatchEvent { return w.ch }
func (w *watcher) Stop()                          { w.cancel() }
func (w *watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func (w *watcher) run(ctx context.Context, body io.ReadCloser) {
	defer close(w.ch)
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			ev, ok := splitEvent(line)
			if !ok {
				if jerr := json.Unmarshal(line, &ev); jerr != nil {
					w.fail(fmt.Errorf("watch: bad event: %v", jerr))
					return
				}
			}
			if ev.Type == kube.Error {
				var st kube.Status
				json.Unmarshal(ev.Object, &st)
				w.fail(&kube.StatusError{Status: st})
				return
			}
			o, derr := decodeObject(ev.Object)
			if derr != nil {
				w.fail(derr)
				return
			}
			select {
			case w.ch <- kube.WatchEvent{Type: ev.Type, Object: o}:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				w.fail(fmt.Errorf("watch: %w", err))
			} else if ctx.Err() == nil {
				w.fail(kube.Expired("watch closed by the server; list again"))
			}
			return
		}
	}
}
