package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/metallb/api"
)

// Cluster implements Env: the cluster API of a node (its agent's socket in
// the node's directory). Without a node it is the lab's only sno node, or
// else the only node whose cluster API socket exists.
func (e *LabEnv) Cluster(ctx context.Context, name string) (Cluster, error) {
	if name == "" {
		var snos, withSocket []string
		for _, n := range e.Lab.Topology.Nodes {
			if n.Kind == "sno" {
				snos = append(snos, n.Name)
			}
			if _, err := os.Stat(e.clusterSocket(n.Name)); err == nil {
				withSocket = append(withSocket, n.Name)
			}
		}
		switch {
		case len(snos) == 1:
			name = snos[0]
		case len(snos) > 1:
			return nil, Permanent(fmt.Errorf("lab %s has several cluster nodes (%s): say which one with node", e.Lab.Name, strings.Join(snos, ", ")))
		case len(withSocket) == 1:
			name = withSocket[0]
		default:
			return nil, Unavailable("cluster API", "lab %s has no cluster node (kind sno)", e.Lab.Name)
		}
	} else if _, err := e.node(name); err != nil {
		return nil, err
	}
	return &clusterAPI{node: name, c: client.New(e.clusterSocket(name))}, nil
}

func (e *LabEnv) clusterSocket(node string) string { return kinds.APISocket(e.Lab, node) }

// clusterAPI is a node's cluster through its API socket.
type clusterAPI struct {
	node string
	c    *client.Client
}

// Apply implements Cluster: the objects go in one all-or-nothing request,
// as onp apply -f sends them.
func (a *clusterAPI) Apply(ctx context.Context, source string, manifests []byte) error {
	defer a.c.Close()
	docs, err := api.Decode(source, manifests)
	if err != nil {
		return Permanent(err)
	}
	var objs []api.Object
	var srcs []api.Source
	for _, d := range docs {
		o := api.Normalize(d.Object)
		if k, ok := kube.KindOf(o); ok && k.Namespaced && o.Meta().Namespace == "" {
			o.Meta().Namespace = "default"
		}
		objs = append(objs, o)
		srcs = append(srcs, d.Source)
	}
	if len(objs) == 0 {
		return Permanent(fmt.Errorf("%s has no objects", source))
	}
	if _, err := a.c.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply, Sources: srcs, Summary: true}); err != nil {
		return a.fail(fmt.Sprintf("apply %s", source), err)
	}
	return nil
}

// fail describes a cluster error; a rejection by the cluster cannot be
// fixed by retrying.
func (a *clusterAPI) fail(what string, err error) error {
	var se *kube.StatusError
	if !asStatus(err, &se) {
		return fmt.Errorf("%s on %s: %w", what, a.node, err)
	}
	msg := se.Status.Message
	if d := se.Status.Details; d != nil {
		var causes []string
		for _, c := range d.Causes {
			if c.Message != "" && c.Type != "Source" {
				causes = append(causes, c.Message)
			}
		}
		if len(causes) > 0 {
			msg = strings.Join(causes, "; ")
		}
	}
	return Permanent(fmt.Errorf("%s on %s: the cluster refused it (%s): %s", what, a.node, se.Status.Reason, msg))
}

// Delete implements Cluster.
func (a *clusterAPI) Delete(ctx context.Context, objs []ObjectRef) error {
	defer a.c.Close()
	for _, o := range objs {
		k, ok := kube.LookupKind(o.APIVersion, o.Kind)
		if !ok {
			k, ok = kube.LookupResource(o.Kind)
		}
		if !ok {
			return Permanent(fmt.Errorf("delete %s: unknown kind %q", o, o.Kind))
		}
		ns := o.Namespace
		if k.Namespaced && ns == "" {
			ns = "default"
		}
		if err := a.c.Delete(ctx, k, ns, o.Name, kube.DeleteOptions{}); err != nil {
			return a.fail("delete "+o.String(), err)
		}
	}
	return nil
}

// ServiceIngress implements Cluster.
func (a *clusterAPI) ServiceIngress(ctx context.Context, namespace, name string) ([]string, error) {
	defer a.c.Close()
	svc, err := kube.Get[api.Service](ctx, a.c, namespace, name)
	if err != nil {
		var se *kube.StatusError
		if asStatus(err, &se) && se.Status.Reason == kube.ReasonNotFound {
			return nil, &notFoundError{fmt.Sprintf("service %s/%s not found", namespace, name)}
		}
		return nil, fmt.Errorf("cluster API on %s: %w", a.node, err)
	}
	var ips []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			ips = append(ips, in.IP)
		}
	}
	return ips, nil
}

// notFoundError is an object that does not exist (an observation: it may
// be created later).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func asStatus(err error, se **kube.StatusError) bool { return errors.As(err, se) }
