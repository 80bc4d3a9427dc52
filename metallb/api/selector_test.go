package api

import "testing"

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "echo", "tier": "web", "zone": ""}
	cases := []struct {
		sel  LabelSelector
		want bool
	}{
		{LabelSelector{}, true},
		{LabelSelector{MatchLabels: map[string]string{"app": "echo"}}, true},
		{LabelSelector{MatchLabels: map[string]string{"app": "echo", "tier": "db"}}, false},
		{LabelSelector{MatchLabels: map[string]string{"zone": ""}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"db", "web"}}}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "missing", Operator: "In", Values: []string{"x"}}}}, false},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"db"}}}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "missing", Operator: "NotIn", Values: []string{"db"}}}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"web"}}}}, false},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "zone", Operator: "Exists"}}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "missing", Operator: "Exists"}}}, false},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "missing", Operator: "DoesNotExist"}}}, true},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: "DoesNotExist"}}}, false},
		{LabelSelector{MatchLabels: map[string]string{"app": "echo"}, MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"db"}}}}, false},
	}
	for _, tc := range cases {
		if err := tc.sel.Validate(); err != nil {
			t.Errorf("%s: %v", tc.sel, err)
		}
		if got := tc.sel.Matches(labels); got != tc.want {
			t.Errorf("%s matches = %v, want %v", tc.sel, got, tc.want)
		}
	}
	if got := (LabelSelector{MatchLabels: map[string]string{"b": "1", "a": "2"}, MatchExpressions: []LabelSelectorRequirement{
		{Key: "c", Operator: "NotIn", Values: []string{"y", "x"}}, {Key: "d", Operator: "Exists"}, {Key: "e", Operator: "DoesNotExist"}}}).String(); got != "a=2,b=1,c notin (x,y),d,!e" {
		t.Errorf("String() = %q", got)
	}
	bad := map[string]LabelSelector{
		"operator":     {MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: "in", Values: []string{"x"}}}},
		"exists value": {MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: "Exists", Values: []string{"x"}}}},
		"key":          {MatchLabels: map[string]string{"-a": "x"}},
		"prefix":       {MatchLabels: map[string]string{"Example.com/a": "x"}},
		"value":        {MatchLabels: map[string]string{"a": "x y"}},
		"long value":   {MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: "In", Values: []string{string(make([]byte, 64))}}}},
	}
	for name, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%s: %s validated", name, s)
		}
	}
	if err := (LabelSelector{MatchLabels: map[string]string{"node.kubernetes.io/exclude-from-external-load-balancers": ""}}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestAnnotationPrefixes(t *testing.T) {
	a := map[string]string{"metallb.universe.tf/address-pool": "old", "metallb.universe.tf/allow-shared-ip": "k"}
	if v, ok := Annotation(a, "address-pool"); !ok || v != "old" {
		t.Errorf("deprecated prefix not read: %q", v)
	}
	a["metallb.io/address-pool"] = "new"
	if v, _ := Annotation(a, "address-pool"); v != "new" {
		t.Errorf("metallb.io/ must win, got %q", v)
	}
}
