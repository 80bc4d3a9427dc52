package controllers

import "testing"

func TestEqualBut(t *testing.T) {
	const skip = "pool"
	for _, tc := range []struct {
		a, b map[string]string
		want bool
	}{
		{nil, nil, true},
		{nil, map[string]string{skip: "p"}, true},
		{map[string]string{skip: "p", "x": "1"}, map[string]string{"x": "1"}, true},
		{map[string]string{skip: "p", "x": "1"}, map[string]string{skip: "q", "x": "1"}, true},
		{map[string]string{"x": "1"}, map[string]string{"x": "2"}, false},
		{map[string]string{"x": "1"}, map[string]string{"x": "1", "y": ""}, false},
		{map[string]string{"x": "1", "y": ""}, map[string]string{"x": "1"}, false},
	} {
		if got := equalBut(tc.a, tc.b, skip); got != tc.want {
			t.Errorf("equalBut(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
