// Package api holds Go types mirroring the Kubernetes and MetalLB resources a
// lab understands — MetalLB's metallb.io CRDs, the core v1 objects a cluster
// node needs (Namespace, Pod, Service, Secret, Node, ConfigMap), EndpointSlice
// and the OLM objects of the MetalLB operator install — and a strict decoder
// for multi-document YAML streams as users paste them into `onp apply -f -`.
//
// JSON field names are exactly those of Kubernetes and MetalLB, so the types
// encode with encoding/json into objects `kubectl` would accept. Fields that
// Kubernetes accepts but a lab never interprets (probes, affinity, volumes…)
// are kept as free-form values so that real manifests decode verbatim.
package api

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TypeMeta is an object's apiVersion and kind.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// GVK returns the object's apiVersion and kind.
func (t *TypeMeta) GVK() GVK { return GVK{APIVersion: t.APIVersion, Kind: t.Kind} }

// SetGVK sets the object's apiVersion and kind.
func (t *TypeMeta) SetGVK(g GVK) { t.APIVersion, t.Kind = g.APIVersion, g.Kind }

// GVK is an apiVersion ("metallb.io/v1beta1", "v1") and a kind.
type GVK struct {
	APIVersion string
	Kind       string
}

// Group returns the API group ("" for the core group).
func (g GVK) Group() string {
	if i := strings.IndexByte(g.APIVersion, '/'); i >= 0 {
		return g.APIVersion[:i]
	}
	return ""
}

// Version returns the version part of the apiVersion.
func (g GVK) Version() string {
	if i := strings.IndexByte(g.APIVersion, '/'); i >= 0 {
		return g.APIVersion[i+1:]
	}
	return g.APIVersion
}

func (g GVK) String() string { return g.Kind + " " + g.APIVersion }

// ObjectMeta is the metadata every object carries.
type ObjectMeta struct {
	Name                       string            `json:"name,omitempty"`
	GenerateName               string            `json:"generateName,omitempty"`
	Namespace                  string            `json:"namespace,omitempty"`
	SelfLink                   string            `json:"selfLink,omitempty"`
	UID                        string            `json:"uid,omitempty"`
	ResourceVersion            string            `json:"resourceVersion,omitempty"`
	Generation                 int64             `json:"generation,omitempty"`
	CreationTimestamp          *time.Time        `json:"creationTimestamp,omitempty"`
	DeletionTimestamp          *time.Time        `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Annotations                map[string]string `json:"annotations,omitempty"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitempty"`
	Finalizers                 []string          `json:"finalizers,omitempty"`
	ManagedFields              []any             `json:"managedFields,omitempty"`
}

// Meta returns the object's metadata; every object type has it through
// embedding, which makes the types satisfy Object.
func (m *ObjectMeta) Meta() *ObjectMeta { return m }

// OwnerReference points at the object that owns this one.
type OwnerReference struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	UID                string `json:"uid"`
	Controller         *bool  `json:"controller,omitempty"`
	BlockOwnerDeletion *bool  `json:"blockOwnerDeletion,omitempty"`
}

// ObjectReference refers to another object (EndpointSlice targetRef and the like).
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// SecretReference names a Secret, optionally in another namespace.
type SecretReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Condition is metav1.Condition, the standard status condition.
type Condition struct {
	Type               string     `json:"type"`
	Status             string     `json:"status"`
	ObservedGeneration int64      `json:"observedGeneration,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	Reason             string     `json:"reason,omitempty"`
	Message            string     `json:"message,omitempty"`
}

// Object is any decoded resource.
type Object interface {
	GVK() GVK
	SetGVK(GVK)
	Meta() *ObjectMeta
}

// Ref returns how errors and tables name an object: "Kind namespace/name",
// or "Kind name" for cluster-scoped objects.
func Ref(o Object) string {
	m := o.Meta()
	name := m.Name
	if name == "" && m.GenerateName != "" {
		name = m.GenerateName + "*"
	}
	if name == "" {
		name = "(no name)"
	}
	if m.Namespace != "" {
		return o.GVK().Kind + " " + m.Namespace + "/" + name
	}
	return o.GVK().Kind + " " + name
}

// Duration is metav1.Duration: a Go duration string such as "90s" or "1m30s".
type Duration struct {
	time.Duration
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number with a unit: 500ms, 30s, 2m)", string(b))
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration as Kubernetes does ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// IntOrString is a port number or a port name (Service targetPort).
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// FromInt returns an IntOrString holding a number.
func FromInt(i int32) IntOrString { return IntOrString{IntVal: i} }

// FromString returns an IntOrString holding a name.
func FromString(s string) IntOrString { return IntOrString{IsString: true, StrVal: s} }

// UnmarshalText takes a number as a number and anything else as a name.
func (v *IntOrString) UnmarshalText(b []byte) error {
	s := string(b)
	if i, err := strconv.ParseInt(s, 10, 32); err == nil {
		*v = FromInt(int32(i))
		return nil
	}
	if s == "" {
		return fmt.Errorf("expected a port number or name, got an empty string")
	}
	*v = FromString(s)
	return nil
}

// MarshalJSON writes a number or a string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return []byte(strconv.Quote(v.StrVal)), nil
	}
	return []byte(strconv.FormatInt(int64(v.IntVal), 10)), nil
}

// UnmarshalJSON reads a number or a string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		*v = FromString(s)
		return nil
	}
	return v.UnmarshalText(b)
}

func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// Quantity is a resource quantity ("100m", "64Mi", 2), kept as written.
type Quantity string

// UnmarshalText keeps the quantity's text.
func (q *Quantity) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("expected a quantity such as 100m or 64Mi, got an empty string")
	}
	*q = Quantity(b)
	return nil
}

// Bytes is a base64-encoded byte string (Secret and ConfigMap binary data).
type Bytes []byte

// UnmarshalText decodes standard base64, as Kubernetes stores Secret data.
func (b *Bytes) UnmarshalText(text []byte) error {
	out, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("invalid base64 data (use stringData for plain text): %v", err)
	}
	*b = out
	return nil
}
