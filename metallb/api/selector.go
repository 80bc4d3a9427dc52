package api

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// LabelSelector is metav1.LabelSelector: every matchLabels pair and every
// matchExpressions requirement must hold. An empty selector matches
// everything.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one matchExpressions entry.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Label selector operators.
const (
	SelectorOpIn           = "In"
	SelectorOpNotIn        = "NotIn"
	SelectorOpExists       = "Exists"
	SelectorOpDoesNotExist = "DoesNotExist"
)

// Empty reports whether the selector has no requirement (it matches all).
func (s LabelSelector) Empty() bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// Validate checks the selector as Kubernetes does when it turns a
// LabelSelector into a selector: operators, the values each operator needs,
// and label key and value syntax.
func (s LabelSelector) Validate() error {
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateLabelKey(k); err != nil {
			return fmt.Errorf("matchLabels: %w", err)
		}
		if err := ValidateLabelValue(s.MatchLabels[k]); err != nil {
			return fmt.Errorf("matchLabels[%q]: %w", k, err)
		}
	}
	for i, r := range s.MatchExpressions {
		if err := r.validate(); err != nil {
			return fmt.Errorf("matchExpressions[%d]: %w", i, err)
		}
	}
	return nil
}

func (r LabelSelectorRequirement) validate() error {
	if err := ValidateLabelKey(r.Key); err != nil {
		return err
	}
	switch r.Operator {
	case SelectorOpIn, SelectorOpNotIn:
		if len(r.Values) == 0 {
			return fmt.Errorf("values: for 'In', 'NotIn' operators, values set can't be empty")
		}
	case SelectorOpExists, SelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			return fmt.Errorf("values: values set must be empty for 'Exists' and 'DoesNotExist' operators")
		}
	default:
		return fmt.Errorf("operator: %q is not a valid label selector operator (use In, NotIn, Exists or DoesNotExist)", r.Operator)
	}
	for _, v := range r.Values {
		if err := ValidateLabelValue(v); err != nil {
			return fmt.Errorf("values: %w", err)
		}
	}
	return nil
}

// Matches reports whether labels satisfy the selector. Call Validate first:
// an invalid requirement never matches.
func (s LabelSelector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := labels[r.Key]
		switch r.Operator {
		case SelectorOpIn:
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case SelectorOpNotIn:
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case SelectorOpExists:
			if !ok {
				return false
			}
		case SelectorOpDoesNotExist:
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// String renders the selector as kubectl does ("app=echo,tier in (a,b),!x").
// Values of In/NotIn are sorted, so two selectors that differ only in value
// order render the same.
func (s LabelSelector) String() string {
	var parts []string
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+s.MatchLabels[k])
	}
	for _, r := range s.MatchExpressions {
		parts = append(parts, r.String())
	}
	if len(parts) == 0 {
		return "(everything)"
	}
	return strings.Join(parts, ",")
}

func (r LabelSelectorRequirement) String() string {
	vals := slices.Clone(r.Values)
	sort.Strings(vals)
	switch r.Operator {
	case SelectorOpIn:
		return r.Key + " in (" + strings.Join(vals, ",") + ")"
	case SelectorOpNotIn:
		return r.Key + " notin (" + strings.Join(vals, ",") + ")"
	case SelectorOpExists:
		return r.Key
	case SelectorOpDoesNotExist:
		return "!" + r.Key
	}
	return r.Key + " " + r.Operator + " (" + strings.Join(vals, ",") + ")"
}

// LabelsString renders a label set as "k=v,k2=v2" with sorted keys (the
// form MetalLB uses as the backend key of ETP=Local services).
func LabelsString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

var (
	labelNameRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
	dnsLabelRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// ValidateLabelKey checks a label key: an optional DNS subdomain prefix and
// "/", then a name of at most 63 characters.
func ValidateLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if err := ValidateDNSSubdomain(prefix); err != nil {
			return fmt.Errorf("invalid label key %q: prefix part %v", k, err)
		}
	}
	if name == "" || len(name) > 63 || !labelNameRE.MatchString(name) {
		return fmt.Errorf("invalid label key %q: name part must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k)
	}
	return nil
}

// ValidateLabelValue checks a label value: empty, or at most 63 characters of
// letters, digits, '-', '_' and '.', starting and ending alphanumeric.
func ValidateLabelValue(v string) error {
	if len(v) > 63 || !labelNameRE.MatchString(v) {
		return fmt.Errorf("invalid label value %q: must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit", v)
	}
	return nil
}

// ValidateDNSSubdomain checks an RFC 1123 subdomain (object names, label
// key prefixes): at most 253 characters, dot-separated lower-case labels.
func ValidateDNSSubdomain(s string) error {
	if s == "" || len(s) > 253 {
		return fmt.Errorf("must be 1-253 characters")
	}
	for _, part := range strings.Split(s, ".") {
		if len(part) > 63 || !dnsLabelRE.MatchString(part) {
			return fmt.Errorf("%q must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", s)
		}
	}
	return nil
}
