package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/printers"
	"github.com/onp-lab/onp/metallb/api"
)

// clusterFlags are the flags the cluster commands share.
type clusterFlags struct {
	node      string
	socket    string
	namespace string
	output    string
	files     []string
}

func (f *clusterFlags) register(c *cobra.Command, files bool) {
	c.Flags().StringVar(&f.node, "node", "", "the lab's cluster node (default: its only sno node)")
	c.Flags().StringVar(&f.socket, "socket", "", "talk to the cluster API at this socket instead of the lab's node")
	c.Flags().MarkHidden("socket")
	c.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace (default \"default\")")
	if files {
		c.Flags().StringSliceVarP(&f.files, "filename", "f", nil, "file, directory or - (standard input) with the objects")
	}
}

// clusterClient finds the lab's cluster node and connects to its agent.
func (a *app) clusterClient(f *clusterFlags) (*client.Client, error) {
	if f.socket != "" {
		return client.New(f.socket), nil
	}
	l, err := a.manager().Load(a.labName)
	if err != nil {
		return nil, err
	}
	var snos, all []string
	for _, n := range l.Topology.Nodes {
		all = append(all, n.Name)
		if n.Kind == "sno" {
			snos = append(snos, n.Name)
		}
	}
	node := f.node
	switch {
	case node != "":
		if l.Topology.Node(node) == nil {
			return nil, usageError("lab %s has no node %q (nodes: %s)", l.Name, node, strings.Join(all, ", "))
		}
	case len(snos) == 0:
		return nil, fmt.Errorf("lab %s has no cluster node (kind sno); create one with: onp sno4 LAB=%s", l.Name, l.Name)
	case len(snos) > 1:
		return nil, usageError("lab %s has several cluster nodes (%s); pick one with --node", l.Name, strings.Join(snos, ", "))
	default:
		node = snos[0]
	}
	return client.New(cluster.SocketPath(filepath.Join(l.Dir, "nodes", node))), nil
}

func (f *clusterFlags) ns() string {
	if f.namespace == "" {
		return "default"
	}
	return f.namespace
}

// readObjects decodes the files of -f (a directory: its .yaml, .yml and
// .json files in name order; -: standard input) strictly, and puts
// namespaced objects without a namespace into -n.
func (a *app) readObjects(f *clusterFlags) ([]api.Object, []api.Source, error) {
	if len(f.files) == 0 {
		return nil, nil, usageError("no input: give -f FILE, -f DIRECTORY or -f - (standard input)")
	}
	var paths []string
	for _, p := range f.files {
		if p == "-" {
			paths = append(paths, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, usageError("%v", err)
		}
		if !st.IsDir() {
			paths = append(paths, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				paths = append(paths, filepath.Join(p, e.Name()))
			}
		}
	}
	var objs []api.Object
	var srcs []api.Source
	var errs []string
	for _, p := range paths {
		var data []byte
		var err error
		label := p
		if p == "-" {
			label = "STDIN"
			data, err = io.ReadAll(a.stdin)
		} else {
			data, err = os.ReadFile(p)
		}
		if err != nil {
			return nil, nil, err
		}
		docs, err := kube.DecodeManifests(label, data)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, d := range docs {
			o := api.Normalize(d.Object)
			k, _ := kube.KindOf(o)
			m := o.Meta()
			if k.Namespaced {
				switch {
				case m.Namespace == "":
					m.Namespace = f.ns()
				case f.namespace != "" && m.Namespace != f.namespace:
					return nil, nil, usageError("%s: the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.",
						d.Source, m.Namespace, f.namespace, m.Namespace)
				}
			}
			objs = append(objs, o)
			srcs = append(srcs, d.Source)
		}
	}
	if len(errs) > 0 {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("%s\nnothing was sent to the cluster", strings.Join(errs, "\n"))}
	}
	if len(objs) == 0 {
		return nil, nil, usageError("no objects passed to apply")
	}
	return objs, srcs, nil
}

// serverError prints a failed request as oc does, one line per rejected
// object ("Error from server (Forbidden): error when creating "STDIN": ..."),
// and returns the error that sets the exit code. Other errors (the agent
// is not running) are returned as they are.
func (a *app) serverError(err error, verb, file string, batch bool) error {
	var se *kube.StatusError
	if !errors.As(err, &se) {
		return err
	}
	type entry struct{ reason, msg, file string }
	var entries []entry
	src := ""
	if d := se.Status.Details; d != nil {
		for _, c := range d.Causes {
			switch {
			case c.Type == "Source":
				src = c.Field
			case c.Message != "":
				entries = append(entries, entry{c.Type, c.Message, c.Field})
			}
		}
	}
	if len(entries) == 0 {
		entries = []entry{{se.Status.Reason, se.Status.Message, src}}
	}
	for _, e := range entries {
		reason := e.reason
		if reason == "" || reason == "Object" {
			reason = se.Status.Reason
		}
		f := file
		if e.file != "" {
			f = strings.Split(e.file, ":")[0]
		}
		if verb == "" || f == "" {
			fmt.Fprintf(a.stderr, "Error from server (%s): %s\n", reason, e.msg)
		} else {
			fmt.Fprintf(a.stderr, "Error from server (%s): error when %s %q: %s\n", reason, verb, f, e.msg)
		}
	}
	if batch {
		return &exitError{code: 1, err: errors.New("nothing was stored: the cluster takes all objects of an input or none (fix the objects above and try again)")}
	}
	return &exitError{code: 1}
}

func inputLabel(files []string) string {
	if len(files) == 1 {
		if files[0] == "-" {
			return "STDIN"
		}
		return files[0]
	}
	return ""
}

func (a *app) applyCommand() *cobra.Command {
	return a.applyOrCreate(kube.ModeApply)
}

func (a *app) createCommand() *cobra.Command {
	return a.applyOrCreate(kube.ModeCreate)
}

func (a *app) applyOrCreate(mode string) *cobra.Command {
	f := &clusterFlags{}
	var dryRun bool
	c := &cobra.Command{
		Use:   mode + " -f FILE|DIR|- [-n NAMESPACE]",
		Short: "Create or update cluster objects from YAML (oc " + mode + " -f)",
		Long: `Send Kubernetes, MetalLB and OLM objects to the lab's cluster node, as
"oc ` + mode + ` -f" does: multi-document YAML (or JSON), verbatim.

The cluster takes all objects of an input or none: one invalid object (a
MetalLB rule, an unsupported image, a missing namespace) rejects everything,
and nothing is stored. ` + map[string]string{
			kube.ModeApply:  "Objects that exist are updated (\"configured\"), or left \"unchanged\".",
			kube.ModeCreate: "Objects that exist already are an error.",
		}[mode],
		Example: "  cat seed/0[123]*.yaml | onp " + mode + " -f -\n  onp " + mode + " -f metallb.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "" && f.output != "name" && f.output != "yaml" && f.output != "json" {
				return usageError("unknown output format %q: use name, yaml or json", f.output)
			}
			objs, srcs, err := a.readObjects(f)
			if err != nil {
				return err
			}
			cl, err := a.clusterClient(f)
			if err != nil {
				return err
			}
			defer cl.Close()
			summary := f.output != "yaml" && f.output != "json"
			res, err := cl.Apply(cmd.Context(), objs, kube.ApplyOptions{Mode: mode, Sources: srcs, DryRun: dryRun, Summary: summary})
			if err != nil {
				return a.serverError(err, "creating", inputLabel(f.files), true)
			}
			suffix := ""
			if dryRun {
				suffix = " (server dry run)"
			}
			for _, r := range res {
				k, _ := kube.KindOf(r.Object)
				switch f.output {
				case "name":
					fmt.Fprintln(a.stdout, kube.ObjectName(k, r.Object.Meta().Name))
				case "yaml", "json":
					if err := printers.Print(a.stdout, k, []api.Object{r.Object}, true, printers.Options{Format: f.output}); err != nil {
						return err
					}
				default:
					fmt.Fprintf(a.stdout, "%s %s%s\n", kube.ObjectName(k, r.Object.Meta().Name), r.Action, suffix)
				}
			}
			return nil
		},
	}
	f.register(c, true)
	c.Flags().StringVarP(&f.output, "output", "o", "", "print the objects: name, yaml or json")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "validate on the cluster without storing anything")
	return c
}

// clusterKinds resolves "svc,pods" to kinds.
func clusterKinds(s string) ([]api.Kind, error) {
	var out []api.Kind
	for _, part := range strings.Split(s, ",") {
		k, ok := kube.LookupResource(strings.TrimSpace(part))
		if !ok {
			var names []string
			for _, k := range kube.Kinds() {
				if k.Preferred {
					names = append(names, k.Resource)
				}
			}
			sort.Strings(names)
			return nil, usageError("the server doesn't have a resource type %q (it has %s)", part, strings.Join(names, ", "))
		}
		out = append(out, k)
	}
	return out, nil
}

// splitTypeName reads "KIND NAME..." or "KIND/NAME ...".
func splitTypeName(args []string) ([]api.Kind, []string, error) {
	if len(args) == 0 {
		return nil, nil, usageError("say what: onp get KIND [NAME...] (e.g. onp get svc -n onp-metallb)")
	}
	if strings.Contains(args[0], "/") {
		var kinds []api.Kind
		var names []string
		for _, a := range args {
			t, n, ok := strings.Cut(a, "/")
			if !ok || n == "" {
				return nil, nil, usageError("there is no need to give a resource type with %q when giving names as TYPE/NAME; give all as TYPE/NAME", a)
			}
			ks, err := clusterKinds(t)
			if err != nil {
				return nil, nil, err
			}
			kinds = append(kinds, ks[0])
			names = append(names, n)
		}
		return kinds, names, nil
	}
	ks, err := clusterKinds(args[0])
	if err != nil {
		return nil, nil, err
	}
	if len(args) > 1 && len(ks) > 1 {
		return nil, nil, usageError("names go with one resource type: onp get %s NAME, or TYPE/NAME", ks[0].Resource)
	}
	var kinds []api.Kind
	var names []string
	for _, n := range args[1:] {
		kinds = append(kinds, ks[0])
		names = append(names, n)
	}
	if len(names) == 0 {
		return ks, nil, nil
	}
	return kinds, names, nil
}

func (a *app) getCommand() *cobra.Command {
	f := &clusterFlags{}
	var all, noHeaders, watch bool
	var selector string
	c := &cobra.Command{
		Use:   "get KIND[,KIND...] [NAME...] [-n NAMESPACE | -A] [-o wide|yaml|json|name]",
		Short: "Show cluster objects as oc get does",
		Long: `Show the objects of the lab's cluster node as "oc get" does: pods (po),
services (svc), namespaces (ns), nodes (no), endpointslices, events (ev),
secrets, configmaps (cm), and MetalLB's ipaddresspools, bgppeers,
bgpadvertisements, bfdprofiles, communities, l2advertisements and metallbs
(also as bgppeers.metallb.io), subscriptions and operatorgroups.`,
		Example: "  onp get svc -n onp-metallb\n  onp get pods -A -o wide\n  onp get ipaddresspools,bgppeers -n metallb-system\n  onp get svc echoserver -n onp-metallb -o yaml",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !printers.ValidFormat(f.output) {
				return usageError("unknown output format %q: use wide, yaml, json or name", f.output)
			}
			kinds, names, err := splitTypeName(args)
			if err != nil {
				return err
			}
			if all && len(names) > 0 {
				return usageError("a name cannot be combined with --all-namespaces (-A)")
			}
			cl, err := a.clusterClient(f)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := cmd.Context()
			ns := f.ns()
			opts := printers.Options{Format: f.output, AllNamespaces: all, NoHeaders: noHeaders, WithKind: len(kinds) > 1 && names == nil}
			if names != nil {
				var failed error
				for i, k := range kinds {
					o, err := cl.Get(ctx, k, ns, names[i])
					if err != nil {
						failed = a.serverError(err, "", "", false)
						continue
					}
					opts.NoHeaders = noHeaders || i > 0 && kinds[i-1].Resource == k.Resource && f.output != "yaml" && f.output != "json"
					if err := printers.Print(a.stdout, k, []api.Object{o}, len(names) == 1, opts); err != nil {
						return err
					}
				}
				return failed
			}
			if all {
				ns = ""
			}
			printed := 0
			for i, k := range kinds {
				l, err := cl.List(ctx, k, ns, kube.ListOptions{LabelSelector: selector})
				if err != nil {
					return a.serverError(err, "", "", false)
				}
				if len(l.Items) == 0 {
					continue
				}
				if printed > 0 && f.output != "name" {
					fmt.Fprintln(a.stdout)
				}
				printed++
				if err := printers.Print(a.stdout, k, l.Items, false, opts); err != nil {
					return err
				}
				if watch && i == len(kinds)-1 {
					return a.watchRows(ctx, cl, k, ns, selector, l.ResourceVersion, opts)
				}
			}
			if printed == 0 {
				switch {
				case all || !kinds[0].Namespaced:
					fmt.Fprintln(a.stderr, "No resources found")
				default:
					fmt.Fprintf(a.stderr, "No resources found in %s namespace.\n", ns)
				}
				if watch {
					l, err := cl.List(ctx, kinds[0], ns, kube.ListOptions{LabelSelector: selector})
					if err != nil {
						return a.serverError(err, "", "", false)
					}
					return a.watchRows(ctx, cl, kinds[0], ns, selector, l.ResourceVersion, opts)
				}
			}
			return nil
		},
	}
	f.register(c, false)
	c.Flags().StringVarP(&f.output, "output", "o", "", "output format: wide, yaml, json or name")
	c.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list objects of all namespaces")
	c.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header line")
	c.Flags().StringVarP(&selector, "selector", "l", "", "label selector, e.g. app=echoserver")
	c.Flags().BoolVarP(&watch, "watch", "w", false, "after listing, print changes as they happen (until interrupted)")
	return c
}

// watchRows prints a row for each change after rv, until interrupted.
func (a *app) watchRows(ctx context.Context, cl *client.Client, k api.Kind, ns, selector, rv string, opts printers.Options) error {
	opts.NoHeaders = opts.Format == "" || opts.Format == "wide"
	for {
		w, err := cl.Watch(ctx, k, ns, kube.ListOptions{LabelSelector: selector, ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return a.serverError(err, "", "", false)
		}
		for ev := range w.Events() {
			rv = ev.Object.Meta().ResourceVersion
			if err := printers.Print(a.stdout, k, []api.Object{ev.Object}, true, opts); err != nil {
				w.Stop()
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := w.Err(); err != nil && !kube.IsExpired(err) {
			return err
		}
		if w.Err() != nil {
			// Too far behind: list again and go on from there.
			l, err := cl.List(ctx, k, ns, kube.ListOptions{LabelSelector: selector})
			if err != nil {
				return a.serverError(err, "", "", false)
			}
			rv = l.ResourceVersion
		}
	}
}

func (a *app) deleteCommand() *cobra.Command {
	f := &clusterFlags{}
	var ignoreNotFound, wait, all bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "delete (-f FILE|DIR|- | KIND NAME... | KIND/NAME... | KIND --all) [-n NAMESPACE]",
		Short: "Delete cluster objects as oc delete does",
		Long: `Delete objects of the lab's cluster node, named in files (-f) or on the
command line. Deleting a namespace deletes everything in it; deleting a pod
waits until its network namespace is gone (--wait=false does not wait).`,
		Example: "  onp delete -f 03-echoserver.yaml\n  onp delete svc echoserver -n onp-metallb\n  onp delete ipaddresspool.metallb.io/onp-bgp-pool -n metallb-system",
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "" && f.output != "name" {
				return usageError("unknown output format %q: delete prints names only (-o name)", f.output)
			}
			type target struct {
				k        api.Kind
				ns, name string
			}
			var targets []target
			fromFile := len(f.files) > 0
			if fromFile && len(args) > 0 {
				return usageError("give objects either with -f or as KIND NAME, not both")
			}
			if fromFile {
				objs, _, err := a.readObjects(f)
				if err != nil {
					return err
				}
				for _, o := range objs {
					k, _ := kube.KindOf(o)
					targets = append(targets, target{k, o.Meta().Namespace, o.Meta().Name})
				}
			}
			cl, err := a.clusterClient(f)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := cmd.Context()
			if !fromFile {
				if all && len(args) == 1 && !strings.Contains(args[0], "/") {
					ks, err := clusterKinds(args[0])
					if err != nil {
						return err
					}
					for _, k := range ks {
						l, err := cl.List(ctx, k, f.ns(), kube.ListOptions{})
						if err != nil {
							return a.serverError(err, "", "", false)
						}
						for _, o := range l.Items {
							targets = append(targets, target{k, o.Meta().Namespace, o.Meta().Name})
						}
					}
					if len(targets) == 0 {
						fmt.Fprintln(a.stderr, "No resources found")
						return nil
					}
				} else {
					if len(args) < 2 && (len(args) == 0 || !strings.Contains(args[0], "/")) {
						return usageError("say what to delete: onp delete -f FILE, onp delete KIND NAME, onp delete KIND/NAME or onp delete KIND --all")
					}
					kinds, names, err := splitTypeName(args)
					if err != nil {
						return err
					}
					for i, k := range kinds {
						targets = append(targets, target{k, f.ns(), names[i]})
					}
				}
			}
			var failed error
			var waitFor []target
			deletedNs := map[string]bool{}
			for _, t := range targets {
				err := cl.Delete(ctx, t.k, t.ns, t.name, kube.DeleteOptions{})
				if kube.IsNotFound(err) && t.k.Namespaced && deletedNs[t.ns] {
					// Gone with its namespace, deleted earlier in this run.
					err = nil
				}
				if err != nil {
					if ignoreNotFound && kube.IsNotFound(err) {
						continue
					}
					verb, file := "", ""
					if fromFile {
						verb, file = "deleting", inputLabel(f.files)
					}
					failed = a.serverError(err, verb, file, false)
					continue
				}
				if t.k.GVK.Kind == "Namespace" && t.k.GVK.Group() == "" {
					deletedNs[t.name] = true
				}
				if f.output == "name" {
					fmt.Fprintln(a.stdout, kube.ObjectName(t.k, t.name))
				} else {
					fmt.Fprintf(a.stdout, "%s %q deleted\n", kube.TypeName(t.k), t.name)
				}
				waitFor = append(waitFor, t)
			}
			if wait {
				wctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				for _, t := range waitFor {
					if err := clusterWaitGone(wctx, cl, t.k, t.ns, t.name); err != nil {
						return fmt.Errorf("%s %q is still being deleted after %v: %w (onp get %s %s shows it)", kube.TypeName(t.k), t.name, timeout, err, t.k.Resource, t.name)
					}
				}
			}
			return failed
		},
	}
	f.register(c, true)
	c.Flags().StringVarP(&f.output, "output", "o", "", "print the names of deleted objects only (name)")
	c.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "objects that do not exist are not an error")
	c.Flags().BoolVar(&wait, "wait", true, "wait until the objects are gone (pods: their network namespace)")
	c.Flags().BoolVar(&all, "all", false, "delete every object of the kind in the namespace")
	c.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long --wait waits")
	return c
}

// clusterWaitGone polls until an object no longer exists.
func clusterWaitGone(ctx context.Context, cl *client.Client, k api.Kind, ns, name string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := cl.Get(ctx, k, ns, name)
		if kube.IsNotFound(err) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
