package kube

import (
	"context"
	"fmt"

	"github.com/onp-lab/onp/metallb/api"
)

// Interface is the cluster's API: what the in-process store serves to the
// agent's controllers and what the HTTP client offers to the CLI, the
// speaker and checks. Objects handed out are copies the caller may change.
type Interface interface {
	Get(ctx context.Context, k api.Kind, namespace, name string) (api.Object, error)
	// List returns the objects of a kind in a namespace ("" for all
	// namespaces) that match the options' label selector.
	List(ctx context.Context, k api.Kind, namespace string, opts ListOptions) (*List, error)
	// Watch streams changes of a kind after opts.ResourceVersion; without
	// one it first sends every current object as ADDED.
	Watch(ctx context.Context, k api.Kind, namespace string, opts ListOptions) (Watcher, error)
	Create(ctx context.Context, obj api.Object) (api.Object, error)
	// Update replaces an object's metadata and spec; status is kept. A
	// non-empty resourceVersion must match the stored one.
	Update(ctx context.Context, obj api.Object) (api.Object, error)
	// UpdateStatus replaces an object's status (the status subresource).
	UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error)
	Delete(ctx context.Context, k api.Kind, namespace, name string, opts DeleteOptions) error
	// Apply creates or updates a set of objects all-or-nothing, as
	// `kubectl apply -f` (or `create -f`) would with one admission pass
	// over the whole set.
	Apply(ctx context.Context, objs []api.Object, opts ApplyOptions) ([]ApplyResult, error)
}

// StatusUpdater is implemented by clients that can replace an object's
// metadata and spec and its status in one change (the in-process store):
// Update then UpdateStatus, committed together, seen by watchers as one
// MODIFIED event.
type StatusUpdater interface {
	UpdateWithStatus(ctx context.Context, obj api.Object) (api.Object, error)
}

// BatchStatusUpdater is a StatusUpdater that can write many objects in
// one change. The objects become the cluster's (callers pass copies they
// no longer touch); the errors are per object, in order.
type BatchStatusUpdater interface {
	UpdateWithStatusAll(ctx context.Context, objs []api.Object) []error
}

// List is the result of a list call.
type List struct {
	Items []api.Object
	// ResourceVersion is the version of the list, to watch from.
	ResourceVersion string
}

// ListOptions filter a list or watch.
type ListOptions struct {
	// LabelSelector in kubectl syntax: "app=echo,tier!=db,env in (a,b),!gone".
	LabelSelector string
	// ResourceVersion: for Watch, stream changes after this version.
	ResourceVersion string
}

// DeleteOptions tune a delete.
type DeleteOptions struct {
	// GracePeriodSeconds: 0 deletes a pod at once; nil uses its grace period
	// (the kubelet tears the pod down, then the object goes).
	GracePeriodSeconds *int64
}

// Apply modes.
const (
	ModeApply  = "apply"
	ModeCreate = "create"
)

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// Mode is ModeApply (create or update) or ModeCreate (existing objects
	// are an AlreadyExists error).
	Mode string
	// Sources optionally says where each object was written (same index as
	// the objects), so admission errors can name file:line:col.
	Sources []api.Source
	// DryRun validates and reports without storing.
	DryRun bool
	// Summary asks for results that carry each object's kind and metadata
	// only (what `onp apply` prints), not the whole stored object: a big
	// apply does not send every object back.
	Summary bool
}

// Apply actions, as kubectl prints them.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// ApplyResult is what happened to one object of an apply.
type ApplyResult struct {
	Object api.Object
	Action string
}

// Watch event types.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
	Error    = "ERROR"
)

// WatchEvent is one change.
type WatchEvent struct {
	Type   string
	Object api.Object
}

// Watcher delivers watch events until it is stopped or fails. The channel
// closes at the end; Err then says why (nil after Stop or a cancelled
// context; an Expired error when the client must list again).
type Watcher interface {
	Events() <-chan WatchEvent
	Stop()
	Err() error
}

// Get fetches one object of type T.
func Get[T any, PT interface {
	*T
	api.Object
}](ctx context.Context, c Interface, namespace, name string) (PT, error) {
	k, err := kindFor[T, PT]()
	if err != nil {
		return nil, err
	}
	o, err := c.Get(ctx, k, namespace, name)
	if err != nil {
		return nil, err
	}
	return cast[T, PT](o)
}

// ListOf lists objects of type T in a namespace ("" for all).
func ListOf[T any, PT interface {
	*T
	api.Object
}](ctx context.Context, c Interface, namespace string, opts ListOptions) ([]PT, string, error) {
	k, err := kindFor[T, PT]()
	if err != nil {
		return nil, "", err
	}
	l, err := c.List(ctx, k, namespace, opts)
	if err != nil {
		return nil, "", err
	}
	out := make([]PT, 0, len(l.Items))
	for _, o := range l.Items {
		t, err := cast[T, PT](o)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	return out, l.ResourceVersion, nil
}

// KindFor returns the kind of Go type T (*api.Service → Service).
func KindFor[T any, PT interface {
	*T
	api.Object
}]() api.Kind {
	k, _ := kindFor[T, PT]()
	return k
}

func kindFor[T any, PT interface {
	*T
	api.Object
}]() (api.Kind, error) {
	var zero PT = new(T)
	k, ok := KindOf(zero)
	if !ok {
		return api.Kind{}, fmt.Errorf("type %T is not a kind the cluster serves", zero)
	}
	return k, nil
}

func cast[T any, PT interface {
	*T
	api.Object
}](o api.Object) (PT, error) {
	if o == nil {
		return nil, nil
	}
	if t, ok := o.(PT); ok {
		return t, nil
	}
	if t, ok := api.Normalize(o).(PT); ok {
		return t, nil
	}
	var zero PT
	return nil, fmt.Errorf("got a %T, want a %T", o, zero)
}
