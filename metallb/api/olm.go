package api

// OperatorGroup is OLM's operators.coreos.com/v1 OperatorGroup. A lab
// accepts and records it; there is no operator lifecycle manager.
type OperatorGroup struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       OperatorGroupSpec `json:"spec,omitempty"`
	Status     map[string]any    `json:"status,omitempty"`
}

// OperatorGroupSpec is the operator group's configuration.
type OperatorGroupSpec struct {
	Selector           *LabelSelector   `json:"selector,omitempty"`
	TargetNamespaces   []string         `json:"targetNamespaces,omitempty"`
	ServiceAccountName string           `json:"serviceAccountName,omitempty"`
	StaticProvidedAPIs bool             `json:"staticProvidedAPIs,omitempty"`
	UpgradeStrategy    *UpgradeStrategy `json:"upgradeStrategy,omitempty"`
}

// UpgradeStrategy names the operator group's upgrade strategy.
type UpgradeStrategy struct {
	Name string `json:"name,omitempty"`
}

// Subscription is OLM's operators.coreos.com/v1alpha1 Subscription,
// accepted and recorded.
type Subscription struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       SubscriptionSpec `json:"spec,omitempty"`
	Status     map[string]any   `json:"status,omitempty"`
}

// SubscriptionSpec names the operator package and its catalog.
type SubscriptionSpec struct {
	CatalogSource          string         `json:"source"`
	CatalogSourceNamespace string         `json:"sourceNamespace"`
	Package                string         `json:"name"`
	Channel                string         `json:"channel,omitempty"`
	StartingCSV            string         `json:"startingCSV,omitempty"`
	InstallPlanApproval    string         `json:"installPlanApproval,omitempty"`
	Config                 map[string]any `json:"config,omitempty"`
}
