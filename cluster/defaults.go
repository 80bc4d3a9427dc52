package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"

	"github.com/onp-lab/onp/cluster/echoserver"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/metallb/api"
)

// defaults fills in what the API server (and the CRDs' defaults) fill in,
// and checks what it checks. old is the stored object on update.
func (t *txn) defaults(k api.Kind, o api.Object, old api.Object) error {
	switch o := o.(type) {
	case *api.Namespace:
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels["kubernetes.io/metadata.name"] = o.Name
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []string{"kubernetes"}
		}
		if o.DeletionTimestamp == nil {
			o.Status.Phase = "Active"
		}
	case *api.Service:
		var prev *api.Service
		if old != nil {
			prev = old.(*api.Service)
		}
		return t.defaultService(k, o, prev)
	case *api.Pod:
		var prev *api.Pod
		if old != nil {
			prev = old.(*api.Pod)
		}
		return t.defaultPod(k, o, prev)
	case *api.Secret:
		if o.Type == "" {
			o.Type = api.SecretTypeOpaque
		}
		if len(o.StringData) > 0 {
			if o.Data == nil {
				o.Data = map[string]api.Bytes{}
			}
			for key, v := range o.StringData {
				o.Data[key] = api.Bytes(v)
			}
			o.StringData = nil
		}
	case *api.IPAddressPool:
		if o.Spec.AutoAssign == nil {
			v := true
			o.Spec.AutoAssign = &v
		}
	case *api.BGPAdvertisement:
		if o.Spec.AggregationLength == nil {
			v := int32(32)
			o.Spec.AggregationLength = &v
		}
		if o.Spec.AggregationLengthV6 == nil {
			v := int32(128)
			o.Spec.AggregationLengthV6 = &v
		}
	case *api.BGPPeer:
		if o.Spec.Port == nil {
			v := uint32(179)
			o.Spec.Port = &v
		}
	case *api.EndpointSlice:
		switch o.AddressType {
		case api.EndpointSliceAddressTypeIPv4, api.EndpointSliceAddressTypeIPv6, api.EndpointSliceAddressTypeFQDN:
		default:
			return kube.Invalid(k, o.Name, kube.FieldError{Field: "addressType", Type: "NotSupported", Value: o.AddressType, Detail: `supported values: "FQDN", "IPv4", "IPv6"`})
		}
	}
	return nil
}

var ianaSvcName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)

func (t *txn) defaultService(k api.Kind, svc, old *api.Service) error {
	sp := &svc.Spec
	var errs []kube.FieldError
	if sp.Type == "" {
		sp.Type = api.ServiceTypeClusterIP
	}
	switch sp.Type {
	case api.ServiceTypeClusterIP, api.ServiceTypeNodePort, api.ServiceTypeLoadBalancer, api.ServiceTypeExternalName:
	default:
		return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.type", Type: "NotSupported", Value: sp.Type, Detail: `supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`})
	}
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = "None"
	}
	if sp.Type != api.ServiceTypeExternalName && len(sp.Ports) == 0 {
		errs = append(errs, kube.FieldError{Field: "spec.ports", Type: "Required", Detail: ""})
	}
	seenName := map[string]bool{}
	seenPort := map[string]bool{}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		f := fmt.Sprintf("spec.ports[%d]", i)
		if p.Protocol == "" {
			p.Protocol = api.ProtocolTCP
		}
		switch p.Protocol {
		case api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP:
		default:
			errs = append(errs, kube.FieldError{Field: f + ".protocol", Type: "NotSupported", Value: p.Protocol, Detail: `supported values: "SCTP", "TCP", "UDP"`})
		}
		if p.Port < 1 || p.Port > 65535 {
			errs = append(errs, kube.FieldError{Field: f + ".port", Value: p.Port, Detail: "must be between 1 and 65535, inclusive"})
		}
		if p.TargetPort == nil || (!p.TargetPort.IsString && p.TargetPort.IntVal == 0) {
			tp := api.FromInt(p.Port)
			p.TargetPort = &tp
		} else if p.TargetPort.IsString && !ianaSvcName.MatchString(p.TargetPort.StrVal) {
			errs = append(errs, kube.FieldError{Field: f + ".targetPort", Value: p.TargetPort.StrVal, Detail: "must be a port number or an IANA service name (at most 15 lower-case letters, digits and '-')"})
		} else if !p.TargetPort.IsString && (p.TargetPort.IntVal < 1 || p.TargetPort.IntVal > 65535) {
			errs = append(errs, kube.FieldError{Field: f + ".targetPort", Value: p.TargetPort.IntVal, Detail: "must be between 1 and 65535, inclusive"})
		}
		if len(sp.Ports) > 1 && p.Name == "" {
			errs = append(errs, kube.FieldError{Field: f + ".name", Type: "Required", Detail: ""})
		}
		if p.Name != "" {
			if seenName[p.Name] {
				errs = append(errs, kube.FieldError{Field: f + ".name", Type: "Duplicate", Value: p.Name})
			}
			seenName[p.Name] = true
		}
		pk := fmt.Sprintf("%s/%d", p.Protocol, p.Port)
		if seenPort[pk] {
			errs = append(errs, kube.FieldError{Field: f, Type: "Duplicate", Value: fmt.Sprintf("{Port:%d, Protocol:%q}", p.Port, p.Protocol)})
		}
		seenPort[pk] = true
	}
	switch sp.Type {
	case api.ServiceTypeNodePort, api.ServiceTypeLoadBalancer:
		if sp.ExternalTrafficPolicy == "" {
			sp.ExternalTrafficPolicy = api.ServiceExternalTrafficCluster
		}
		if sp.ExternalTrafficPolicy != api.ServiceExternalTrafficCluster && sp.ExternalTrafficPolicy != api.ServiceExternalTrafficLocal {
			errs = append(errs, kube.FieldError{Field: "spec.externalTrafficPolicy", Type: "NotSupported", Value: sp.ExternalTrafficPolicy, Detail: `supported values: "Cluster", "Local"`})
		}
	default:
		if sp.ExternalTrafficPolicy != "" {
			errs = append(errs, kube.FieldError{Field: "spec.externalTrafficPolicy", Value: sp.ExternalTrafficPolicy, Detail: "may only be set when `type` is 'NodePort' or 'LoadBalancer'"})
		}
	}
	if sp.Type != api.ServiceTypeExternalName && sp.InternalTrafficPolicy == nil {
		v := "Cluster"
		sp.InternalTrafficPolicy = &v
	}
	if sp.Type == api.ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		v := true
		sp.AllocateLoadBalancerNodePorts = &v
	}
	// This cluster's service network is IPv4 only.
	for i, f := range sp.IPFamilies {
		if f != api.IPv4Protocol {
			errs = append(errs, kube.FieldError{Field: fmt.Sprintf("spec.ipFamilies[%d]", i), Value: f, Detail: "not configured on this cluster (its service network is IPv4 only)"})
		}
	}
	if sp.IPFamilyPolicy != nil && *sp.IPFamilyPolicy == api.IPFamilyPolicyRequireDual {
		errs = append(errs, kube.FieldError{Field: "spec.ipFamilyPolicy", Value: *sp.IPFamilyPolicy, Detail: "this cluster is not configured for dual-stack services"})
	}
	if len(errs) > 0 {
		return kube.Invalid(k, svc.Name, errs...)
	}
	if sp.Type == api.ServiceTypeExternalName {
		sp.ClusterIP, sp.ClusterIPs, sp.IPFamilies, sp.IPFamilyPolicy = "", nil, nil, nil
		return nil
	}
	if len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []string{api.IPv4Protocol}
	}
	if sp.IPFamilyPolicy == nil {
		v := api.IPFamilyPolicySingleStack
		sp.IPFamilyPolicy = &v
	}
	if err := t.clusterIP(k, svc, old); err != nil {
		return err
	}
	return t.nodePorts(k, svc, old)
}

// clusterIP keeps, checks or allocates the service's ClusterIP.
func (t *txn) clusterIP(k api.Kind, svc, old *api.Service) error {
	sp := &svc.Spec
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	if old != nil && old.Spec.ClusterIP != "" {
		if sp.ClusterIP == "" {
			sp.ClusterIP = old.Spec.ClusterIP
		}
		if sp.ClusterIP != old.Spec.ClusterIP {
			return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.clusterIPs[0]", Value: sp.ClusterIP, Detail: "may not change once set"})
		}
		sp.ClusterIPs = []string{sp.ClusterIP}
		return nil
	}
	if sp.ClusterIP == "None" {
		sp.ClusterIPs = []string{"None"}
		return nil
	}
	key := keyOf(k, &svc.ObjectMeta)
	used := func(a netip.Addr) bool {
		owner, ok := t.s.clusterIPs[a]
		if ok && owner != key {
			if e, live := t.get(owner); live && hasClusterIP(e, a) {
				return true
			}
		}
		for _, sk := range t.stagedIPs[a] {
			if e := t.staged[sk]; e != nil && sk != key && hasClusterIP(e, a) {
				return true
			}
		}
		return false
	}
	subnet := t.s.opts.ServiceSubnet
	if sp.ClusterIP != "" {
		a, err := netip.ParseAddr(sp.ClusterIP)
		if err != nil || !subnet.Contains(a) {
			return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.clusterIPs", Value: sp.ClusterIP, Detail: fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", sp.ClusterIP, sp.ClusterIP, subnet)})
		}
		if used(a) {
			return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.clusterIPs", Value: sp.ClusterIP, Detail: fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", sp.ClusterIP)})
		}
		sp.ClusterIPs = []string{a.String()}
		return nil
	}
	// A stable choice: the same service gets the same address in a rebuilt
	// lab. .1 is the kubernetes service's, by convention.
	size := uint64(1) << (32 - subnet.Bits())
	if size < 4 {
		return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.clusterIPs", Detail: "the service network is too small"})
	}
	sum := sha256.Sum256([]byte(svc.Namespace + "/" + svc.Name))
	start := binary.BigEndian.Uint64(sum[:8]) % (size - 3)
	base := binary.BigEndian.Uint32(subnet.Masked().Addr().AsSlice())
	for i := range size - 3 {
		off := 2 + (start+i)%(size-3)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+uint32(off))
		a := netip.AddrFrom4(b)
		if !used(a) {
			sp.ClusterIP, sp.ClusterIPs = a.String(), []string{a.String()}
			return nil
		}
	}
	return kube.Invalid(k, svc.Name, kube.FieldError{Field: "spec.clusterIPs", Detail: fmt.Sprintf("failed to allocate a service IP: range %s is full", subnet)})
}

func hasClusterIP(e *entry, a netip.Addr) bool {
	svc, ok := e.obj.(*api.Service)
	if !ok {
		return false
	}
	for _, ip := range svc.Spec.ClusterIPs {
		if ip == a.String() {
			return true
		}
	}
	return false
}

func hasNodePort(e *entry, p int32) bool {
	svc, ok := e.obj.(*api.Service)
	if !ok {
		return false
	}
	for _, sp := range svc.Spec.Ports {
		if sp.NodePort == p {
			return true
		}
	}
	return false
}

// nodePorts keeps, checks or allocates node ports of NodePort and
// LoadBalancer services.
func (t *txn) nodePorts(k api.Kind, svc, old *api.Service) error {
	sp := &svc.Spec
	want := sp.Type == api.ServiceTypeNodePort || (sp.Type == api.ServiceTypeLoadBalancer && (sp.AllocateLoadBalancerNodePorts == nil || *sp.AllocateLoadBalancerNodePorts))
	if !want {
		if sp.Type == api.ServiceTypeClusterIP {
			for i := range sp.Ports {
				sp.Ports[i].NodePort = 0
			}
		}
		return nil
	}
	key := keyOf(k, &svc.ObjectMeta)
	taken := map[int32]bool{}
	used := func(p int32) bool {
		if taken[p] {
			return true
		}
		if owner, ok := t.s.nodePorts[p]; ok && owner != key {
			if e, live := t.get(owner); live && hasNodePort(e, p) {
				return true
			}
		}
		for _, sk := range t.stagedPorts[p] {
			if e := t.staged[sk]; e != nil && sk != key && hasNodePort(e, p) {
				return true
			}
		}
		return false
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort == 0 && old != nil {
			for _, op := range old.Spec.Ports {
				if op.NodePort != 0 && op.Protocol == p.Protocol && (op.Port == p.Port || (op.Name != "" && op.Name == p.Name)) {
					p.NodePort = op.NodePort
				}
			}
		}
		f := fmt.Sprintf("spec.ports[%d].nodePort", i)
		if p.NodePort != 0 {
			if p.NodePort < NodePortMin || p.NodePort > NodePortMax {
				return kube.Invalid(k, svc.Name, kube.FieldError{Field: f, Value: p.NodePort, Detail: fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)})
			}
			if used(p.NodePort) {
				return kube.Invalid(k, svc.Name, kube.FieldError{Field: f, Value: p.NodePort, Detail: "provided port is already allocated"})
			}
			taken[p.NodePort] = true
			continue
		}
		n := uint64(NodePortMax - NodePortMin + 1)
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%s/%d", svc.Namespace, svc.Name, p.Protocol, p.Port)))
		start := binary.BigEndian.Uint64(sum[:8]) % n
		for j := range n {
			cand := int32(NodePortMin + (start+j)%n)
			if !used(cand) {
				p.NodePort = cand
				taken[cand] = true
				break
			}
		}
		if p.NodePort == 0 {
			return kube.Invalid(k, svc.Name, kube.FieldError{Field: f, Detail: "failed to allocate a node port: all ports are in use"})
		}
	}
	return nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (t *txn) defaultPod(k api.Kind, pod, old *api.Pod) error {
	sp := &pod.Spec
	var errs []kube.FieldError
	if len(sp.Containers) == 0 {
		errs = append(errs, kube.FieldError{Field: "spec.containers", Type: "Required", Detail: ""})
	}
	names := map[string]bool{}
	for i := range sp.Containers {
		c := &sp.Containers[i]
		f := fmt.Sprintf("spec.containers[%d]", i)
		if c.Name == "" {
			errs = append(errs, kube.FieldError{Field: f + ".name", Type: "Required", Detail: ""})
		} else if len(c.Name) > 63 || !dnsLabel.MatchString(c.Name) {
			errs = append(errs, kube.FieldError{Field: f + ".name", Value: c.Name, Detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"})
		} else if names[c.Name] {
			errs = append(errs, kube.FieldError{Field: f + ".name", Type: "Duplicate", Value: c.Name})
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Image) == "" {
			errs = append(errs, kube.FieldError{Field: f + ".image", Type: "Required", Detail: ""})
		}
		if c.ImagePullPolicy == "" {
			c.ImagePullPolicy = "IfNotPresent"
			if t := echoserver.Tag(c.Image); t == "latest" {
				c.ImagePullPolicy = "Always"
			}
		}
		if c.TerminationMessagePath == "" {
			c.TerminationMessagePath = "/dev/termination-log"
		}
		if c.TerminationMessagePolicy == "" {
			c.TerminationMessagePolicy = "File"
		}
		for j := range c.Ports {
			if c.Ports[j].Protocol == "" {
				c.Ports[j].Protocol = api.ProtocolTCP
			}
			if p := c.Ports[j].ContainerPort; p < 1 || p > 65535 {
				errs = append(errs, kube.FieldError{Field: fmt.Sprintf("%s.ports[%d].containerPort", f, j), Value: p, Detail: "must be between 1 and 65535, inclusive"})
			}
		}
	}
	if len(errs) > 0 {
		return kube.Invalid(k, pod.Name, errs...)
	}
	if sp.RestartPolicy == "" {
		sp.RestartPolicy = "Always"
	}
	if sp.DNSPolicy == "" {
		sp.DNSPolicy = "ClusterFirst"
	}
	if sp.SchedulerName == "" {
		sp.SchedulerName = "default-scheduler"
	}
	if sp.TerminationGracePeriodSeconds == nil {
		v := int64(30)
		sp.TerminationGracePeriodSeconds = &v
	}
	if sp.SecurityContext == nil {
		sp.SecurityContext = &api.PodSecurityContext{}
	}
	if sp.NodeName == "" && t.s.opts.Node != "" {
		sp.NodeName = t.s.opts.Node
	}
	if old == nil {
		if pod.Status.Phase == "" {
			pod.Status.Phase = "Pending"
		}
		if pod.Status.QOSClass == "" {
			pod.Status.QOSClass = "BestEffort"
		}
		return nil
	}
	// A pod's spec is immutable but for a few fields.
	a, b := normalizedPodSpec(old.Spec), normalizedPodSpec(pod.Spec)
	if !reflect.DeepEqual(a, b) {
		return kube.Invalid(k, pod.Name, kube.FieldError{Field: "spec", Type: "Forbidden", Detail: "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"})
	}
	return nil
}

func normalizedPodSpec(s api.PodSpec) api.PodSpec {
	c := kube.Clone(&api.Pod{TypeMeta: api.TypeMeta{APIVersion: api.CoreV1, Kind: "Pod"}, Spec: s}).Spec
	for i := range c.Containers {
		c.Containers[i].Image = ""
	}
	for i := range c.InitContainers {
		c.InitContainers[i].Image = ""
	}
	c.ActiveDeadlineSeconds, c.Tolerations = nil, nil
	return c
}
