package kube

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"", "app=echo", "a==b,c!=d", "env in (a,b),!gone,x", "k notin ()", "a=b,,", "x in (a", "!", "a/b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		// A parsed selector is valid and renders to a string that parses to
		// the same selector.
		if err := sel.Validate(); err != nil {
			t.Fatalf("%q parsed into an invalid selector: %v", s, err)
		}
		if sel.Empty() {
			return
		}
		for _, r := range sel.MatchExpressions {
			for _, v := range r.Values {
				if v == "" {
					return // "k notin ()" cannot say "not the empty value"
				}
			}
		}
		again, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", s, sel.String(), err)
		}
		if again.String() != sel.String() {
			t.Fatalf("%q → %q → %q", s, sel.String(), again.String())
		}
	})
}

func FuzzDecodeManifests(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"))
	f.Add([]byte("kind: Service\napiVersion: v1\n---\nkind: x\nkind: y\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Splitting never loses or reorders bytes.
		var joined []byte
		for _, c := range splitConcatenated(data) {
			joined = append(joined, c.data...)
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("split changed the stream")
		}
		docs, _ := DecodeManifests("f", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, d := range docs {
			if d.Source.Line < 1 || d.Source.Line > lines {
				t.Fatalf("object at line %d of a %d-line stream", d.Source.Line, lines)
			}
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":"http"}]}}`))
	f.Add([]byte(`{"apiVersion":"metallb.io/v1beta1","kind":"BGPPeer","metadata":{"name":"p"},"spec":{"peerAddress":"1.2.3.4","peerASN":1,"myASN":2,"holdTime":"90s"}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","data":{"a":"YQ=="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Decode(data)
		if err != nil {
			return
		}
		// What decodes encodes, and decodes again to the same JSON.
		b, err := Encode(o)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		o2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		b2, _ := Encode(o2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, p := range []string{"/api/v1/namespaces/a/pods/b/status", "/apis/metallb.io/v1beta1/ipaddresspools", "/api/v1/namespaces/x", "/api/v1/nodes/n", "/apis/x", "//"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tg, err := ParsePath(p)
		if err != nil {
			return
		}
		// A parsed path is the canonical path of what it names.
		if back := Path(tg.Kind, tg.Namespace, tg.Name, tg.Subresource); back != p && back+"/" != p {
			if again, err := ParsePath(back); err != nil || again.Kind.Resource != tg.Kind.Resource || again.Namespace != tg.Namespace || again.Name != tg.Name {
				t.Fatalf("%q → %+v → %q", p, tg, back)
			}
		}
	})
}
