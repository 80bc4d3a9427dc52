package api

// API versions of the resources in this package.
const (
	MetalLBV1beta1 = "metallb.io/v1beta1"
	MetalLBV1beta2 = "metallb.io/v1beta2"
	CoreV1         = "v1"
	DiscoveryV1    = "discovery.k8s.io/v1"
	OperatorsV1    = "operators.coreos.com/v1"
	OperatorsV1a1  = "operators.coreos.com/v1alpha1"
)

// DefaultMetalLBNamespace is where MetalLB's resources must live unless the
// speaker is configured otherwise.
const DefaultMetalLBNamespace = "metallb-system"

// Service annotations MetalLB reads and writes. The metallb.io/ prefix wins
// over the deprecated metallb.universe.tf/ one when both are present.
const (
	AnnotationAddressPool        = "metallb.io/address-pool"
	AnnotationLoadBalancerIPs    = "metallb.io/loadBalancerIPs"
	AnnotationAllowSharedIP      = "metallb.io/allow-shared-ip"
	AnnotationIPAllocateFromPool = "metallb.io/ip-allocated-from-pool"

	DeprecatedAnnotationAddressPool        = "metallb.universe.tf/address-pool"
	DeprecatedAnnotationLoadBalancerIPs    = "metallb.universe.tf/loadBalancerIPs"
	DeprecatedAnnotationAllowSharedIP      = "metallb.universe.tf/allow-shared-ip"
	DeprecatedAnnotationIPAllocateFromPool = "metallb.universe.tf/ip-allocated-from-pool"
)

// Annotation returns the value of a MetalLB annotation, preferring the
// metallb.io/ key and falling back to the deprecated metallb.universe.tf/
// one. name is the part after the prefix ("address-pool").
func Annotation(annotations map[string]string, name string) (string, bool) {
	if v, ok := annotations["metallb.io/"+name]; ok {
		return v, true
	}
	v, ok := annotations["metallb.universe.tf/"+name]
	return v, ok
}

// IPAddressPool is metallb.io/v1beta1 IPAddressPool: addresses services may get.
type IPAddressPool struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       IPAddressPoolSpec   `json:"spec"`
	Status     IPAddressPoolStatus `json:"status,omitempty"`
}

// IPAddressPoolSpec is the pool's configuration.
type IPAddressPoolSpec struct {
	// Addresses are CIDRs ("192.168.10.0/24") or ranges ("10.0.0.10-10.0.0.20").
	Addresses []string `json:"addresses"`
	// AutoAssign (default true) lets the pool be used without an explicit request.
	AutoAssign *bool `json:"autoAssign,omitempty"`
	// AvoidBuggyIPs skips IPv4 addresses ending in .0 and .255.
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`
	// AllocateTo pins the pool to namespaces or services.
	AllocateTo *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation restricts a pool to some namespaces or services.
type ServiceAllocation struct {
	Priority           int             `json:"priority,omitempty"`
	Namespaces         []string        `json:"namespaces,omitempty"`
	NamespaceSelectors []LabelSelector `json:"namespaceSelectors,omitempty"`
	ServiceSelectors   []LabelSelector `json:"serviceSelectors,omitempty"`
}

// IPAddressPoolStatus counts the pool's addresses.
type IPAddressPoolStatus struct {
	AssignedIPv4  int64 `json:"assignedIPv4"`
	AssignedIPv6  int64 `json:"assignedIPv6"`
	AvailableIPv4 int64 `json:"availableIPv4"`
	AvailableIPv6 int64 `json:"availableIPv6"`
}

// BGPAdvertisement is metallb.io/v1beta1 BGPAdvertisement: how pool
// addresses are announced over BGP.
type BGPAdvertisement struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       BGPAdvertisementSpec `json:"spec,omitempty"`
	Status     struct{}             `json:"status,omitempty"`
}

// BGPAdvertisementSpec is the advertisement's configuration.
type BGPAdvertisementSpec struct {
	AggregationLength      *int32          `json:"aggregationLength,omitempty"`
	AggregationLengthV6    *int32          `json:"aggregationLengthV6,omitempty"`
	LocalPref              uint32          `json:"localPref,omitempty"`
	Communities            []string        `json:"communities,omitempty"`
	IPAddressPools         []string        `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []LabelSelector `json:"nodeSelectors,omitempty"`
	Peers                  []string        `json:"peers,omitempty"`
	ServiceSelectors       []LabelSelector `json:"serviceSelectors,omitempty"`
}

// L2Advertisement is metallb.io/v1beta1 L2Advertisement. This speaker
// accepts and stores it but announces nothing in layer 2 mode.
type L2Advertisement struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       L2AdvertisementSpec `json:"spec,omitempty"`
	Status     struct{}            `json:"status,omitempty"`
}

// L2AdvertisementSpec is the layer 2 advertisement's configuration.
type L2AdvertisementSpec struct {
	IPAddressPools         []string                `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []LabelSelector         `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []LabelSelector         `json:"nodeSelectors,omitempty"`
	Interfaces             []string                `json:"interfaces,omitempty"`
	ServiceSelectors       []LabelSelector         `json:"serviceSelectors,omitempty"`
	PreferredNodeSelectors []PreferredNodeSelector `json:"preferredNodeSelectors,omitempty"`
}

// PreferredNodeSelector weights nodes for layer 2 announcements.
type PreferredNodeSelector struct {
	Weight     int32         `json:"weight"`
	Preference LabelSelector `json:"preference"`
}

// BFDProfile is metallb.io/v1beta1 BFDProfile: BFD timers for BGP sessions.
// Intervals are in milliseconds.
type BFDProfile struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       BFDProfileSpec `json:"spec,omitempty"`
	Status     struct{}       `json:"status,omitempty"`
}

// BFDProfileSpec holds the BFD parameters; nil means the default.
type BFDProfileSpec struct {
	ReceiveInterval  *uint32 `json:"receiveInterval,omitempty"`
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`
	EchoInterval     *uint32 `json:"echoInterval,omitempty"`
	EchoMode         *bool   `json:"echoMode,omitempty"`
	PassiveMode      *bool   `json:"passiveMode,omitempty"`
	MinimumTTL       *uint32 `json:"minimumTtl,omitempty"`
}

// Community is metallb.io/v1beta1 Community: named BGP community values.
type Community struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       CommunitySpec `json:"spec,omitempty"`
	Status     struct{}      `json:"status,omitempty"`
}

// CommunitySpec lists the aliases.
type CommunitySpec struct {
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityAlias names a community value ("65535:65282" or "large:1:2:3").
type CommunityAlias struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// MetalLB is the operator's metallb.io/v1beta1 MetalLB resource; its
// presence starts the speaker on the cluster's nodes.
type MetalLB struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       MetalLBSpec   `json:"spec,omitempty"`
	Status     MetalLBStatus `json:"status,omitempty"`
}

// MetalLBSpec is the operator's configuration of MetalLB.
type MetalLBSpec struct {
	Image                        string            `json:"image,omitempty"`
	SpeakerNodeSelector          map[string]string `json:"nodeSelector,omitempty"`
	SpeakerTolerations           []any             `json:"speakerTolerations,omitempty"`
	LogLevel                     string            `json:"logLevel,omitempty"`
	LoadBalancerClass            string            `json:"loadBalancerClass,omitempty"`
	ControllerNodeSelector       map[string]string `json:"controllerNodeSelector,omitempty"`
	ControllerTolerations        []any             `json:"controllerTolerations,omitempty"`
	ControllerConfig             map[string]any    `json:"controllerConfig,omitempty"`
	SpeakerConfig                map[string]any    `json:"speakerConfig,omitempty"`
	BGPBackend                   string            `json:"bgpBackend,omitempty"`
	FRRK8SConfig                 *FRRK8SConfig     `json:"frrk8sConfig,omitempty"`
	SpeakerGratuitousARPInterval *Duration         `json:"speakerGratuitousARPInterval,omitempty"`
}

// FRRK8SConfig is the operator's frr-k8s configuration (recorded only).
type FRRK8SConfig struct {
	AlwaysBlock       []string `json:"alwaysBlock,omitempty"`
	Namespace         string   `json:"namespace,omitempty"`
	SecretPassthrough bool     `json:"secretPassthrough,omitempty"`
}

// MetalLBStatus holds the operator's conditions.
type MetalLBStatus struct {
	Conditions []Condition `json:"conditions,omitempty"`
}
