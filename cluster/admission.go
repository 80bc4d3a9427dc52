package cluster

import (
	"errors"
	"net/http"
	"strings"

	"github.com/onp-lab/onp/cluster/echoserver"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/config"
)

// webhooks are the names of MetalLB's validating webhooks per kind.
var webhooks = map[string]string{
	"IPAddressPool":    "ipaddresspoolvalidationwebhook.metallb.io",
	"BGPPeer":          "bgppeervalidationwebhook.metallb.io",
	"BGPAdvertisement": "bgpadvertisementvalidationwebhook.metallb.io",
	"L2Advertisement":  "l2advertisementvalidationwebhook.metallb.io",
	"BFDProfile":       "bfdprofilevalidationwebhook.metallb.io",
	"Community":        "communityvalidationwebhook.metallb.io",
}

// admit runs the admission checks over everything the transaction
// creates or changes: pods must run supported images; MetalLB resources
// must form a valid MetalLB configuration together with the stored ones,
// as MetalLB's webhooks check by running config.For over all of them.
func (t *txn) admit() error {
	var failures []error
	for _, o := range t.incoming {
		pod, ok := o.(*api.Pod)
		if !ok {
			continue
		}
		for _, c := range append(append([]api.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if _, err := echoserver.ForContainer(c); err != nil {
				k, _ := kube.KindOf(pod)
				failures = append(failures, t.sourced(pod, kube.Forbidden(k, pod.Name, err.Error())))
				break
			}
		}
	}
	if t.metallb {
		if err := t.admitMetalLB(); err != nil {
			failures = append(failures, err)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	return joinFailures(failures)
}

// sourced adds where an object was written to its failure.
func (t *txn) sourced(o api.Object, err *kube.StatusError) error {
	src, ok := t.sources[api.Ref(o)]
	if !ok {
		return err
	}
	err.Status.Details = cloneDetails(err.Status.Details)
	if err.Status.Details == nil {
		err.Status.Details = &kube.StatusDetails{}
	}
	err.Status.Details.Causes = append(err.Status.Details.Causes, kube.StatusCause{Type: "Source", Field: src.String()})
	return err
}

func (t *txn) admitMetalLB() error {
	var objs []api.Object
	for _, res := range []string{"metallb.io/ipaddresspools", "metallb.io/bgppeers", "metallb.io/bgpadvertisements",
		"metallb.io/l2advertisements", "metallb.io/bfdprofiles", "metallb.io/communities", "/secrets", "/nodes", "/namespaces"} {
		t.each(res, func(e *entry) { objs = append(objs, e.obj) })
	}
	res := config.ResourcesFrom(t.s.opts.MetalLBNamespace, objs)
	res.Sources = t.sources
	_, err := config.For(res)
	if err == nil || config.OnlyTransient(err) {
		return nil
	}
	var list config.Errors
	if !errors.As(err, &list) {
		return kube.InternalError(err)
	}
	incoming := map[string]bool{}
	firstKind := ""
	for _, o := range t.incoming {
		incoming[api.Ref(o)] = true
		if _, ok := webhooks[o.GVK().Kind]; ok && firstKind == "" {
			firstKind = o.GVK().Kind
		}
	}
	out := kube.NewStatusError(kube.ReasonForbidden, http.StatusForbidden, "")
	out.Status.Details = &kube.StatusDetails{}
	var msgs []string
	for _, e := range list {
		if e.Transient {
			continue
		}
		kind, _, _ := strings.Cut(e.Object, " ")
		if _, ok := webhooks[kind]; !ok || !incoming[e.Object] {
			kind = firstKind
		}
		msg := "admission webhook \"" + webhooks[kind] + "\" denied the request: " + e.Error()
		msgs = append(msgs, msg)
		out.Status.Details.Causes = append(out.Status.Details.Causes, kube.StatusCause{Type: kube.ReasonForbidden, Message: msg})
	}
	out.Status.Message = strings.Join(msgs, "\n")
	return out
}
