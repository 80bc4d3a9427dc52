package api

import "time"

// Namespace is core v1 Namespace.
type Namespace struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       NamespaceSpec   `json:"spec,omitempty"`
	Status     NamespaceStatus `json:"status,omitempty"`
}

// NamespaceSpec holds the namespace's finalizers.
type NamespaceSpec struct {
	Finalizers []string `json:"finalizers,omitempty"`
}

// NamespaceStatus is the namespace's phase.
type NamespaceStatus struct {
	Phase      string `json:"phase,omitempty"`
	Conditions []any  `json:"conditions,omitempty"`
}

// Secret is core v1 Secret.
type Secret struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Type       string            `json:"type,omitempty"`
	Data       map[string]Bytes  `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
	Immutable  *bool             `json:"immutable,omitempty"`
}

// Secret types MetalLB cares about.
const (
	SecretTypeOpaque    = "Opaque"
	SecretTypeBasicAuth = "kubernetes.io/basic-auth"
)

// Value returns a key's value, from data or (not yet merged) stringData;
// stringData wins, as it does when the API server merges them.
func (s *Secret) Value(key string) ([]byte, bool) {
	if v, ok := s.StringData[key]; ok {
		return []byte(v), true
	}
	v, ok := s.Data[key]
	return v, ok
}

// ConfigMap is core v1 ConfigMap.
type ConfigMap struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string]Bytes  `json:"binaryData,omitempty"`
	Immutable  *bool             `json:"immutable,omitempty"`
}

// Node is core v1 Node.
type Node struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       NodeSpec   `json:"spec,omitempty"`
	Status     NodeStatus `json:"status,omitempty"`
}

// Node labels and condition types the speaker looks at.
const (
	LabelNodeExcludeBalancers     = "node.kubernetes.io/exclude-from-external-load-balancers"
	LabelHostname                 = "kubernetes.io/hostname"
	NodeReady                     = "Ready"
	NodeNetworkUnavailable        = "NetworkUnavailable"
	ConditionTrue                 = "True"
	ConditionFalse                = "False"
	ConditionUnknown              = "Unknown"
	NodeInternalIP                = "InternalIP"
	NodeExternalIP                = "ExternalIP"
	NodeHostName                  = "Hostname"
	LabelServiceName              = "kubernetes.io/service-name"
	LabelEndpointSliceManagedBy   = "endpointslice.kubernetes.io/managed-by"
	EndpointSliceAddressTypeIPv4  = "IPv4"
	EndpointSliceAddressTypeIPv6  = "IPv6"
	EndpointSliceAddressTypeFQDN  = "FQDN"
	EndpointSliceControllerName   = "endpointslice-controller.k8s.io"
	ServiceTypeLoadBalancer       = "LoadBalancer"
	ServiceTypeClusterIP          = "ClusterIP"
	ServiceTypeNodePort           = "NodePort"
	ServiceTypeExternalName       = "ExternalName"
	ServiceExternalTrafficLocal   = "Local"
	ServiceExternalTrafficCluster = "Cluster"
	IPv4Protocol                  = "IPv4"
	IPv6Protocol                  = "IPv6"
	IPFamilyPolicySingleStack     = "SingleStack"
	IPFamilyPolicyPreferDualStack = "PreferDualStack"
	IPFamilyPolicyRequireDual     = "RequireDualStack"
	ProtocolTCP                   = "TCP"
	ProtocolUDP                   = "UDP"
	ProtocolSCTP                  = "SCTP"
)

// NodeSpec is the node's configuration.
type NodeSpec struct {
	PodCIDR       string   `json:"podCIDR,omitempty"`
	PodCIDRs      []string `json:"podCIDRs,omitempty"`
	ProviderID    string   `json:"providerID,omitempty"`
	Unschedulable bool     `json:"unschedulable,omitempty"`
	Taints        []Taint  `json:"taints,omitempty"`
	ConfigSource  any      `json:"configSource,omitempty"`
	ExternalID    string   `json:"externalID,omitempty"`
}

// Taint keeps pods off a node.
type Taint struct {
	Key       string     `json:"key"`
	Value     string     `json:"value,omitempty"`
	Effect    string     `json:"effect"`
	TimeAdded *time.Time `json:"timeAdded,omitempty"`
}

// NodeStatus is the node's observed state.
type NodeStatus struct {
	Capacity        map[string]Quantity `json:"capacity,omitempty"`
	Allocatable     map[string]Quantity `json:"allocatable,omitempty"`
	Phase           string              `json:"phase,omitempty"`
	Conditions      []NodeCondition     `json:"conditions,omitempty"`
	Addresses       []NodeAddress       `json:"addresses,omitempty"`
	DaemonEndpoints any                 `json:"daemonEndpoints,omitempty"`
	NodeInfo        map[string]any      `json:"nodeInfo,omitempty"`
	Images          []any               `json:"images,omitempty"`
	VolumesInUse    []string            `json:"volumesInUse,omitempty"`
	VolumesAttached []any               `json:"volumesAttached,omitempty"`
	Config          any                 `json:"config,omitempty"`
	RuntimeHandlers []any               `json:"runtimeHandlers,omitempty"`
	Features        any                 `json:"features,omitempty"`
}

// NodeCondition is one node condition (Ready, NetworkUnavailable, ...).
type NodeCondition struct {
	Type               string     `json:"type"`
	Status             string     `json:"status"`
	LastHeartbeatTime  *time.Time `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	Reason             string     `json:"reason,omitempty"`
	Message            string     `json:"message,omitempty"`
}

// NodeAddress is one of the node's addresses.
type NodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Condition returns the status of a node condition type, "Unknown" when the
// node does not report it.
func (n *Node) Condition(t string) string {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ConditionUnknown
}

// Pod is core v1 Pod.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PodSpec   `json:"spec,omitempty"`
	Status     PodStatus `json:"status,omitempty"`
}

// PodSpec is the pod's configuration. Fields a lab never interprets are
// accepted as written.
type PodSpec struct {
	Volumes                       []any                  `json:"volumes,omitempty"`
	InitContainers                []Container            `json:"initContainers,omitempty"`
	Containers                    []Container            `json:"containers"`
	EphemeralContainers           []any                  `json:"ephemeralContainers,omitempty"`
	RestartPolicy                 string                 `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64                 `json:"terminationGracePeriodSeconds,omitempty"`
	ActiveDeadlineSeconds         *int64                 `json:"activeDeadlineSeconds,omitempty"`
	DNSPolicy                     string                 `json:"dnsPolicy,omitempty"`
	NodeSelector                  map[string]string      `json:"nodeSelector,omitempty"`
	ServiceAccountName            string                 `json:"serviceAccountName,omitempty"`
	DeprecatedServiceAccount      string                 `json:"serviceAccount,omitempty"`
	AutomountServiceAccountToken  *bool                  `json:"automountServiceAccountToken,omitempty"`
	NodeName                      string                 `json:"nodeName,omitempty"`
	HostNetwork                   bool                   `json:"hostNetwork,omitempty"`
	HostPID                       bool                   `json:"hostPID,omitempty"`
	HostIPC                       bool                   `json:"hostIPC,omitempty"`
	ShareProcessNamespace         *bool                  `json:"shareProcessNamespace,omitempty"`
	SecurityContext               *PodSecurityContext    `json:"securityContext,omitempty"`
	ImagePullSecrets              []LocalObjectReference `json:"imagePullSecrets,omitempty"`
	Hostname                      string                 `json:"hostname,omitempty"`
	Subdomain                     string                 `json:"subdomain,omitempty"`
	Affinity                      map[string]any         `json:"affinity,omitempty"`
	SchedulerName                 string                 `json:"schedulerName,omitempty"`
	Tolerations                   []Toleration           `json:"tolerations,omitempty"`
	HostAliases                   []any                  `json:"hostAliases,omitempty"`
	PriorityClassName             string                 `json:"priorityClassName,omitempty"`
	Priority                      *int32                 `json:"priority,omitempty"`
	DNSConfig                     map[string]any         `json:"dnsConfig,omitempty"`
	ReadinessGates                []any                  `json:"readinessGates,omitempty"`
	RuntimeClassName              *string                `json:"runtimeClassName,omitempty"`
	EnableServiceLinks            *bool                  `json:"enableServiceLinks,omitempty"`
	PreemptionPolicy              *string                `json:"preemptionPolicy,omitempty"`
	Overhead                      map[string]Quantity    `json:"overhead,omitempty"`
	TopologySpreadConstraints     []any                  `json:"topologySpreadConstraints,omitempty"`
	SetHostnameAsFQDN             *bool                  `json:"setHostnameAsFQDN,omitempty"`
	OS                            map[string]any         `json:"os,omitempty"`
	HostUsers                     *bool                  `json:"hostUsers,omitempty"`
	SchedulingGates               []any                  `json:"schedulingGates,omitempty"`
	ResourceClaims                []any                  `json:"resourceClaims,omitempty"`
	Resources                     *ResourceRequirements  `json:"resources,omitempty"`
}

// Toleration lets a pod run on a tainted node.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Container is one container of a pod.
type Container struct {
	Name                     string                `json:"name"`
	Image                    string                `json:"image,omitempty"`
	Command                  []string              `json:"command,omitempty"`
	Args                     []string              `json:"args,omitempty"`
	WorkingDir               string                `json:"workingDir,omitempty"`
	Ports                    []ContainerPort       `json:"ports,omitempty"`
	EnvFrom                  []any                 `json:"envFrom,omitempty"`
	Env                      []EnvVar              `json:"env,omitempty"`
	Resources                *ResourceRequirements `json:"resources,omitempty"`
	ResizePolicy             []any                 `json:"resizePolicy,omitempty"`
	RestartPolicy            *string               `json:"restartPolicy,omitempty"`
	VolumeMounts             []any                 `json:"volumeMounts,omitempty"`
	VolumeDevices            []any                 `json:"volumeDevices,omitempty"`
	LivenessProbe            map[string]any        `json:"livenessProbe,omitempty"`
	ReadinessProbe           map[string]any        `json:"readinessProbe,omitempty"`
	StartupProbe             map[string]any        `json:"startupProbe,omitempty"`
	Lifecycle                map[string]any        `json:"lifecycle,omitempty"`
	TerminationMessagePath   string                `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy string                `json:"terminationMessagePolicy,omitempty"`
	ImagePullPolicy          string                `json:"imagePullPolicy,omitempty"`
	SecurityContext          *SecurityContext      `json:"securityContext,omitempty"`
	Stdin                    bool                  `json:"stdin,omitempty"`
	StdinOnce                bool                  `json:"stdinOnce,omitempty"`
	TTY                      bool                  `json:"tty,omitempty"`
}

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	HostPort      int32  `json:"hostPort,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name      string         `json:"name"`
	Value     string         `json:"value,omitempty"`
	ValueFrom map[string]any `json:"valueFrom,omitempty"`
}

// ResourceRequirements are a container's limits and requests.
type ResourceRequirements struct {
	Limits   map[string]Quantity `json:"limits,omitempty"`
	Requests map[string]Quantity `json:"requests,omitempty"`
	Claims   []any               `json:"claims,omitempty"`
}

// SecurityContext is a container's security settings.
type SecurityContext struct {
	Capabilities             *Capabilities   `json:"capabilities,omitempty"`
	Privileged               *bool           `json:"privileged,omitempty"`
	SELinuxOptions           map[string]any  `json:"seLinuxOptions,omitempty"`
	WindowsOptions           map[string]any  `json:"windowsOptions,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	ProcMount                *string         `json:"procMount,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
	AppArmorProfile          map[string]any  `json:"appArmorProfile,omitempty"`
}

// Capabilities adds and drops Linux capabilities.
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type             string  `json:"type"`
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// PodSecurityContext is a pod's security settings.
type PodSecurityContext struct {
	SELinuxOptions           map[string]any  `json:"seLinuxOptions,omitempty"`
	WindowsOptions           map[string]any  `json:"windowsOptions,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	SupplementalGroups       []int64         `json:"supplementalGroups,omitempty"`
	SupplementalGroupsPolicy *string         `json:"supplementalGroupsPolicy,omitempty"`
	FSGroup                  *int64          `json:"fsGroup,omitempty"`
	Sysctls                  []any           `json:"sysctls,omitempty"`
	FSGroupChangePolicy      *string         `json:"fsGroupChangePolicy,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
	AppArmorProfile          map[string]any  `json:"appArmorProfile,omitempty"`
	SELinuxChangePolicy      *string         `json:"seLinuxChangePolicy,omitempty"`
}

// PodStatus is the pod's observed state.
type PodStatus struct {
	Phase                      string         `json:"phase,omitempty"`
	Conditions                 []PodCondition `json:"conditions,omitempty"`
	Message                    string         `json:"message,omitempty"`
	Reason                     string         `json:"reason,omitempty"`
	NominatedNodeName          string         `json:"nominatedNodeName,omitempty"`
	HostIP                     string         `json:"hostIP,omitempty"`
	HostIPs                    []PodIP        `json:"hostIPs,omitempty"`
	PodIP                      string         `json:"podIP,omitempty"`
	PodIPs                     []PodIP        `json:"podIPs,omitempty"`
	StartTime                  *time.Time     `json:"startTime,omitempty"`
	InitContainerStatuses      []any          `json:"initContainerStatuses,omitempty"`
	ContainerStatuses          []any          `json:"containerStatuses,omitempty"`
	EphemeralContainerStatuses []any          `json:"ephemeralContainerStatuses,omitempty"`
	QOSClass                   string         `json:"qosClass,omitempty"`
	Resize                     string         `json:"resize,omitempty"`
	ResourceClaimStatuses      []any          `json:"resourceClaimStatuses,omitempty"`
}

// PodIP is one of a pod's (or its host's) addresses.
type PodIP struct {
	IP string `json:"ip"`
}

// PodCondition is one pod condition (Ready, ...).
type PodCondition struct {
	Type               string     `json:"type"`
	Status             string     `json:"status"`
	ObservedGeneration int64      `json:"observedGeneration,omitempty"`
	LastProbeTime      *time.Time `json:"lastProbeTime,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	Reason             string     `json:"reason,omitempty"`
	Message            string     `json:"message,omitempty"`
}

// Ready reports whether the pod's Ready condition is True.
func (p *Pod) Ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == ConditionTrue
		}
	}
	return false
}

// Service is core v1 Service.
type Service struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ServiceSpec   `json:"spec,omitempty"`
	Status     ServiceStatus `json:"status,omitempty"`
}

// ServiceSpec is the service's configuration.
type ServiceSpec struct {
	Ports                         []ServicePort     `json:"ports,omitempty"`
	Selector                      map[string]string `json:"selector,omitempty"`
	ClusterIP                     string            `json:"clusterIP,omitempty"`
	ClusterIPs                    []string          `json:"clusterIPs,omitempty"`
	Type                          string            `json:"type,omitempty"`
	ExternalIPs                   []string          `json:"externalIPs,omitempty"`
	SessionAffinity               string            `json:"sessionAffinity,omitempty"`
	LoadBalancerIP                string            `json:"loadBalancerIP,omitempty"`
	LoadBalancerSourceRanges      []string          `json:"loadBalancerSourceRanges,omitempty"`
	ExternalName                  string            `json:"externalName,omitempty"`
	ExternalTrafficPolicy         string            `json:"externalTrafficPolicy,omitempty"`
	HealthCheckNodePort           int32             `json:"healthCheckNodePort,omitempty"`
	PublishNotReadyAddresses      bool              `json:"publishNotReadyAddresses,omitempty"`
	SessionAffinityConfig         map[string]any    `json:"sessionAffinityConfig,omitempty"`
	IPFamilies                    []string          `json:"ipFamilies,omitempty"`
	IPFamilyPolicy                *string           `json:"ipFamilyPolicy,omitempty"`
	AllocateLoadBalancerNodePorts *bool             `json:"allocateLoadBalancerNodePorts,omitempty"`
	LoadBalancerClass             *string           `json:"loadBalancerClass,omitempty"`
	InternalTrafficPolicy         *string           `json:"internalTrafficPolicy,omitempty"`
	TrafficDistribution           *string           `json:"trafficDistribution,omitempty"`
}

// ServicePort is one port a service exposes.
type ServicePort struct {
	Name        string       `json:"name,omitempty"`
	Protocol    string       `json:"protocol,omitempty"`
	AppProtocol *string      `json:"appProtocol,omitempty"`
	Port        int32        `json:"port"`
	TargetPort  *IntOrString `json:"targetPort,omitempty"`
	NodePort    int32        `json:"nodePort,omitempty"`
}

// ServiceStatus holds the load balancer's ingress points.
type ServiceStatus struct {
	LoadBalancer LoadBalancerStatus `json:"loadBalancer,omitempty"`
	Conditions   []Condition        `json:"conditions,omitempty"`
}

// LoadBalancerStatus lists the addresses a LoadBalancer service got.
type LoadBalancerStatus struct {
	Ingress []LoadBalancerIngress `json:"ingress,omitempty"`
}

// LoadBalancerIngress is one address of a LoadBalancer service.
type LoadBalancerIngress struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	IPMode   string `json:"ipMode,omitempty"`
	Ports    []any  `json:"ports,omitempty"`
}

// EndpointSlice is discovery.k8s.io/v1 EndpointSlice: the addresses behind
// a service (label kubernetes.io/service-name names the service).
type EndpointSlice struct {
	TypeMeta    `json:",inline"`
	ObjectMeta  `json:"metadata,omitempty"`
	AddressType string         `json:"addressType"`
	Endpoints   []Endpoint     `json:"endpoints"`
	Ports       []EndpointPort `json:"ports,omitempty"`
}

// Endpoint is one backend of a service.
type Endpoint struct {
	Addresses          []string           `json:"addresses"`
	Conditions         EndpointConditions `json:"conditions,omitempty"`
	Hostname           *string            `json:"hostname,omitempty"`
	TargetRef          *ObjectReference   `json:"targetRef,omitempty"`
	DeprecatedTopology map[string]string  `json:"deprecatedTopology,omitempty"`
	NodeName           *string            `json:"nodeName,omitempty"`
	Zone               *string            `json:"zone,omitempty"`
	Hints              map[string]any     `json:"hints,omitempty"`
}

// EndpointConditions are an endpoint's readiness flags.
type EndpointConditions struct {
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
}

// CanServe reports whether the endpoint may receive traffic, as MetalLB
// decides it: ready unset or true, or serving true.
func (c EndpointConditions) CanServe() bool {
	if c.Ready == nil || *c.Ready {
		return true
	}
	return c.Serving != nil && *c.Serving
}

// EndpointPort is one port of the endpoints.
type EndpointPort struct {
	Name        *string `json:"name,omitempty"`
	Protocol    *string `json:"protocol,omitempty"`
	Port        *int32  `json:"port,omitempty"`
	AppProtocol *string `json:"appProtocol,omitempty"`
}
