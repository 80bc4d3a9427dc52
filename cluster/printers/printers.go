// Package printers renders cluster objects as `oc get` does: tables with
// the columns kubectl (and the CRDs' printer columns) define, -o wide, and
// -o yaml, json and name.
package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// Options say how to print.
type Options struct {
	// Format is "" (table), "wide", "yaml", "json" or "name".
	Format string
	// AllNamespaces adds a NAMESPACE column.
	AllNamespaces bool
	NoHeaders     bool
	// WithKind prefixes names with their type ("pod/echoserver"), as
	// kubectl does when several kinds are printed.
	WithKind bool
	// Now is the time ages are computed against (zero: time.Now()).
	Now time.Time
}

// Formats lists the output formats.
var Formats = []string{"wide", "yaml", "json", "name"}

// ValidFormat reports whether f is a format Print takes.
func ValidFormat(f string) bool {
	if f == "" {
		return true
	}
	for _, x := range Formats {
		if f == x {
			return true
		}
	}
	return false
}

// Print writes objects of one kind. single is true when one object was
// asked for by name: yaml and json then print the object, not a List.
func Print(w io.Writer, k api.Kind, objs []api.Object, single bool, opts Options) error {
	switch opts.Format {
	case "json", "yaml":
		var v any
		if single && len(objs) == 1 {
			v = objs[0]
		} else {
			items := make([]any, len(objs))
			for i, o := range objs {
				items[i] = o
			}
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
		}
		return Marshal(w, v, opts.Format)
	case "name":
		for _, o := range objs {
			fmt.Fprintln(w, kube.ObjectName(k, o.Meta().Name))
		}
		return nil
	case "", "wide":
	default:
		return fmt.Errorf("unknown output format %q (use wide, yaml, json or name)", opts.Format)
	}
	t := tableFor(k)
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if t.sort != nil {
		sort.SliceStable(objs, func(i, j int) bool { return t.sort(objs[i], objs[j]) })
	}
	tw := tabwriter.NewWriter(w, 10, 4, 3, ' ', 0)
	cols := t.cols
	if opts.Format == "wide" {
		cols = append(append([]column(nil), cols...), t.wide...)
	}
	if !opts.NoHeaders {
		var hdr []string
		if opts.AllNamespaces && k.Namespaced {
			hdr = append(hdr, "NAMESPACE")
		}
		for _, c := range cols {
			hdr = append(hdr, c.name)
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	}
	for _, o := range objs {
		var row []string
		if opts.AllNamespaces && k.Namespaced {
			row = append(row, o.Meta().Namespace)
		}
		for i, c := range cols {
			v := c.value(o, now)
			if i == 0 && opts.WithKind {
				v = kube.ObjectName(k, v)
			}
			row = append(row, v)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// Marshal writes v as kubectl does with -o json (indented) or -o yaml
// (keys sorted, lists not indented).
func Marshal(w io.Writer, v any, format string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if format == "json" {
		var out bytes.Buffer
		json.Indent(&out, b, "", "    ")
		out.WriteByte('\n')
		_, err := w.Write(out.Bytes())
		return err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(generic); err != nil {
		return err
	}
	return enc.Close()
}

type column struct {
	name  string
	value func(o api.Object, now time.Time) string
}

type table struct {
	cols, wide []column
	sort       func(a, b api.Object) bool
}

func name(o api.Object, _ time.Time) string { return o.Meta().Name }

func age(o api.Object, now time.Time) string {
	t := o.Meta().CreationTimestamp
	if t == nil {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(*t))
}

var (
	nameCol = column{"NAME", name}
	ageCol  = column{"AGE", age}
)

func col[T any](header string, f func(*T) string) column {
	return column{header, func(o api.Object, _ time.Time) string {
		if t, ok := any(o).(*T); ok {
			return f(t)
		}
		return ""
	}}
}

func colNow[T any](header string, f func(*T, time.Time) string) column {
	return column{header, func(o api.Object, now time.Time) string {
		if t, ok := any(o).(*T); ok {
			return f(t, now)
		}
		return ""
	}}
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// jsonCell renders a CRD printer column's value as kubectl does: arrays and
// objects as JSON, absent values as an empty cell.
func jsonCell(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return ""
	}
	return string(b)
}

func boolCell(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func u32Cell(v *uint32) string {
	if v == nil {
		return ""
	}
	return strconv.FormatUint(uint64(*v), 10)
}

func tableFor(k api.Kind) table {
	switch k.GVK.Group() + "/" + k.GVK.Kind {
	case "/Pod":
		return table{cols: []column{nameCol, col("READY", podReady), col("STATUS", podStatus), col("RESTARTS", podRestarts), ageCol},
			wide: []column{col("IP", func(p *api.Pod) string { return orNone(p.Status.PodIP) }), col("NODE", func(p *api.Pod) string { return orNone(p.Spec.NodeName) }),
				col("NOMINATED NODE", func(p *api.Pod) string { return orNone(p.Status.NominatedNodeName) }), col("READINESS GATES", func(p *api.Pod) string { return "<none>" })}}
	case "/Service":
		return table{cols: []column{nameCol, col("TYPE", func(s *api.Service) string { return s.Spec.Type }), col("CLUSTER-IP", svcClusterIP),
			col("EXTERNAL-IP", svcExternalIP), col("PORT(S)", svcPorts), ageCol},
			wide: []column{col("SELECTOR", func(s *api.Service) string { return orNone(api.LabelsString(s.Spec.Selector)) })}}
	case "/Namespace":
		return table{cols: []column{nameCol, col("STATUS", func(n *api.Namespace) string { return n.Status.Phase }), ageCol}}
	case "/Node":
		return table{cols: []column{nameCol, col("STATUS", nodeStatus), col("ROLES", nodeRoles), ageCol, col("VERSION", func(n *api.Node) string { return nodeInfo(n, "kubeletVersion") })},
			wide: []column{col("INTERNAL-IP", func(n *api.Node) string { return nodeAddr(n, api.NodeInternalIP) }), col("EXTERNAL-IP", func(n *api.Node) string { return nodeAddr(n, api.NodeExternalIP) }),
				col("OS-IMAGE", func(n *api.Node) string { return nodeInfo(n, "osImage") }), col("KERNEL-VERSION", func(n *api.Node) string { return nodeInfo(n, "kernelVersion") }),
				col("CONTAINER-RUNTIME", func(n *api.Node) string { return nodeInfo(n, "containerRuntimeVersion") })}}
	case "discovery.k8s.io/EndpointSlice":
		return table{cols: []column{nameCol, col("ADDRESSTYPE", func(s *api.EndpointSlice) string { return s.AddressType }), col("PORTS", slicePorts), col("ENDPOINTS", sliceEndpoints), ageCol}}
	case "/Event":
		return table{cols: []column{colNow("LAST SEEN", eventLastSeen), col("TYPE", func(e *kube.Event) string { return e.Type }), col("REASON", func(e *kube.Event) string { return e.Reason }),
			col("OBJECT", func(e *kube.Event) string {
				return strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
			}), col("MESSAGE", func(e *kube.Event) string { return e.Message })},
			sort: func(a, b api.Object) bool { return eventTime(a.(*kube.Event)).Before(eventTime(b.(*kube.Event))) }}
	case "/Secret":
		return table{cols: []column{nameCol, col("TYPE", func(s *api.Secret) string { return s.Type }), col("DATA", func(s *api.Secret) string { return strconv.Itoa(len(s.Data) + len(s.StringData)) }), ageCol}}
	case "/ConfigMap":
		return table{cols: []column{nameCol, col("DATA", func(c *api.ConfigMap) string { return strconv.Itoa(len(c.Data) + len(c.BinaryData)) }), ageCol}}
	case "metallb.io/IPAddressPool":
		return table{cols: []column{nameCol, col("AUTO ASSIGN", func(p *api.IPAddressPool) string { return boolCell(p.Spec.AutoAssign) }),
			col("AVOID BUGGY IPS", func(p *api.IPAddressPool) string { return strconv.FormatBool(p.Spec.AvoidBuggyIPs) }),
			col("ADDRESSES", func(p *api.IPAddressPool) string { return jsonCell(p.Spec.Addresses) })}}
	case "metallb.io/BGPPeer":
		return table{cols: []column{nameCol, col("ADDRESS", func(p *api.BGPPeer) string { return p.Spec.Address }),
			col("ASN", func(p *api.BGPPeer) string {
				if p.Spec.ASN == 0 {
					return ""
				}
				return strconv.FormatUint(uint64(p.Spec.ASN), 10)
			}),
			col("BFD PROFILE", func(p *api.BGPPeer) string { return p.Spec.BFDProfile }),
			col("MULTI HOPS", func(p *api.BGPPeer) string {
				if !p.Spec.EBGPMultiHop {
					return ""
				}
				return "true"
			})}}
	case "metallb.io/BGPAdvertisement":
		return table{cols: []column{nameCol, col("IPADDRESSPOOLS", func(a *api.BGPAdvertisement) string { return jsonCell(a.Spec.IPAddressPools) }),
			col("IPADDRESSPOOL SELECTORS", func(a *api.BGPAdvertisement) string { return jsonCell(a.Spec.IPAddressPoolSelectors) }),
			col("PEERS", func(a *api.BGPAdvertisement) string { return jsonCell(a.Spec.Peers) })},
			wide: []column{col("NODE SELECTORS", func(a *api.BGPAdvertisement) string { return jsonCell(a.Spec.NodeSelectors) })}}
	case "metallb.io/L2Advertisement":
		return table{cols: []column{nameCol, col("IPADDRESSPOOLS", func(a *api.L2Advertisement) string { return jsonCell(a.Spec.IPAddressPools) }),
			col("IPADDRESSPOOL SELECTORS", func(a *api.L2Advertisement) string { return jsonCell(a.Spec.IPAddressPoolSelectors) }),
			col("INTERFACES", func(a *api.L2Advertisement) string { return jsonCell(a.Spec.Interfaces) })},
			wide: []column{col("NODE SELECTORS", func(a *api.L2Advertisement) string { return jsonCell(a.Spec.NodeSelectors) })}}
	case "metallb.io/BFDProfile":
		return table{cols: []column{nameCol, col("PASSIVE MODE", func(b *api.BFDProfile) string { return boolCell(b.Spec.PassiveMode) }),
			col("TRANSMIT INTERVAL", func(b *api.BFDProfile) string { return u32Cell(b.Spec.TransmitInterval) }),
			col("RECEIVE INTERVAL", func(b *api.BFDProfile) string { return u32Cell(b.Spec.ReceiveInterval) }),
			col("MULTIPLIER", func(b *api.BFDProfile) string { return u32Cell(b.Spec.DetectMultiplier) })}}
	case "operators.coreos.com/Subscription":
		return table{cols: []column{nameCol, col("PACKAGE", func(s *api.Subscription) string { return s.Spec.Package }),
			col("SOURCE", func(s *api.Subscription) string { return s.Spec.CatalogSource }), col("CHANNEL", func(s *api.Subscription) string { return s.Spec.Channel })}}
	}
	return table{cols: []column{nameCol, ageCol}}
}

func podReady(p *api.Pod) string {
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if m, ok := cs.(map[string]any); ok && m["ready"] == true {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

// podStatus is kubectl's STATUS column: the phase, or a reason that says
// more (a container waiting or terminated, Terminating).
func podStatus(p *api.Pod) string {
	reason := p.Status.Phase
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, cs := range p.Status.ContainerStatuses {
		m, _ := cs.(map[string]any)
		st, _ := m["state"].(map[string]any)
		if w, ok := st["waiting"].(map[string]any); ok {
			if r, _ := w["reason"].(string); r != "" {
				reason = r
			}
		} else if t, ok := st["terminated"].(map[string]any); ok {
			if r, _ := t["reason"].(string); r != "" {
				reason = r
			}
		}
	}
	if p.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	if reason == "" {
		reason = "Pending"
	}
	return reason
}

func podRestarts(p *api.Pod) string {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		if m, ok := cs.(map[string]any); ok {
			// float64 as decoded from JSON; an int as the kubelet writes it
			// (objects handed out in the agent's process are not decoded).
			switch r := m["restartCount"].(type) {
			case float64:
				n += int(r)
			case int:
				n += r
			case int64:
				n += int(r)
			}
		}
	}
	return strconv.Itoa(n)
}

func svcClusterIP(s *api.Service) string {
	if s.Spec.Type == api.ServiceTypeExternalName {
		return "<none>"
	}
	return orNone(s.Spec.ClusterIP)
}

func svcExternalIP(s *api.Service) string {
	var ips []string
	switch s.Spec.Type {
	case api.ServiceTypeExternalName:
		return s.Spec.ExternalName
	case api.ServiceTypeLoadBalancer:
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, s.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
	default:
		ips = s.Spec.ExternalIPs
	}
	return orNone(strings.Join(ips, ","))
}

func svcPorts(s *api.Service) string {
	var ps []string
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = api.ProtocolTCP
		}
		if p.NodePort != 0 {
			ps = append(ps, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto))
		} else {
			ps = append(ps, fmt.Sprintf("%d/%s", p.Port, proto))
		}
	}
	return orNone(strings.Join(ps, ","))
}

func nodeStatus(n *api.Node) string {
	s := "Unknown"
	switch n.Condition(api.NodeReady) {
	case api.ConditionTrue:
		s = "Ready"
	case api.ConditionFalse:
		s = "NotReady"
	}
	if n.Spec.Unschedulable {
		s += ",SchedulingDisabled"
	}
	return s
}

func nodeRoles(n *api.Node) string {
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	sort.Strings(roles)
	return orNone(strings.Join(roles, ","))
}

func nodeInfo(n *api.Node, key string) string {
	if v, ok := n.Status.NodeInfo[key].(string); ok && v != "" {
		return v
	}
	return "<unknown>"
}

func nodeAddr(n *api.Node, typ string) string {
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return "<none>"
}

func slicePorts(s *api.EndpointSlice) string {
	var ps []string
	for _, p := range s.Ports {
		if p.Port != nil {
			ps = append(ps, strconv.Itoa(int(*p.Port)))
		}
	}
	if len(ps) == 0 {
		return "<unset>"
	}
	return strings.Join(ps, ",")
}

func sliceEndpoints(s *api.EndpointSlice) string {
	var addrs []string
	for _, e := range s.Endpoints {
		addrs = append(addrs, e.Addresses...)
	}
	if len(addrs) == 0 {
		return "<unset>"
	}
	if len(addrs) > 3 {
		return strings.Join(addrs[:3], ",") + fmt.Sprintf(" + %d more...", len(addrs)-3)
	}
	return strings.Join(addrs, ",")
}

func eventTime(e *kube.Event) time.Time {
	switch {
	case e.LastTimestamp != nil:
		return *e.LastTimestamp
	case e.FirstTimestamp != nil:
		return *e.FirstTimestamp
	case e.CreationTimestamp != nil:
		return *e.CreationTimestamp
	}
	return time.Time{}
}

func eventLastSeen(e *kube.Event, now time.Time) string {
	t := eventTime(e)
	if t.IsZero() {
		return "<unknown>"
	}
	s := HumanDuration(now.Sub(t))
	if e.Count > 1 && e.FirstTimestamp != nil {
		s += fmt.Sprintf(" (x%d over %s)", e.Count, HumanDuration(now.Sub(*e.FirstTimestamp)))
	}
	return s
}

// HumanDuration renders an age as kubectl does ("45s", "3m20s", "5h", "12d").
func HumanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		s := int(d/time.Second) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", minutes)
		}
		return fmt.Sprintf("%dm%ds", minutes, s)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		m := int(d/time.Minute) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", hours)
		}
		return fmt.Sprintf("%dh%dm", hours, m)
	} else if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	} else if hours < 24*8 {
		h := hours % 24
		if h == 0 {
			return fmt.Sprintf("%dd", hours/24)
		}
		return fmt.Sprintf("%dd%dh", hours/24, h)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*8 {
		dy := int(hours/24) % 365
		if dy == 0 {
			return fmt.Sprintf("%dy", hours/24/365)
		}
		return fmt.Sprintf("%dy%dd", hours/24/365, dy)
	}
	return fmt.Sprintf("%dy", int(hours/24/365))
}
