package api

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/internal/yamlx"
)

// Source says where a decoded object was written.
type Source struct {
	File string
	// Doc is the 1-based index of the YAML document among the non-empty
	// documents of the stream.
	Doc int
	// Item is the 1-based index in a List's items, 0 outside a List.
	Item int
	// Line and Col are the 1-based position of the object's first key.
	Line, Col int
}

// String renders the position as "file:line:col".
func (s Source) String() string {
	f := s.File
	if f == "" {
		f = "-"
	}
	if s.Line == 0 {
		return f
	}
	return fmt.Sprintf("%s:%d:%d", f, s.Line, s.Col)
}

// Document is one decoded object and where it was written.
type Document struct {
	Object Object
	Source Source
}

// Error is one decoding problem: where, which object, which field, what.
type Error struct {
	Source
	// Object names the object ("IPAddressPool metallb-system/pool1") when
	// its kind is known.
	Object string
	// Path is the field path inside the object ("spec.addresses[0]").
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source.String())
	b.WriteString(": ")
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every decoding problem of a stream, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As reach each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Decode decodes a multi-document YAML (or JSON) stream exactly as a user
// pastes it into `kubectl apply -f -`: documents separated by `---`,
// comments and empty documents ignored, `kind: List` (and typed lists such
// as IPAddressPoolList) expanded into their items. Decoding is strict:
// unknown fields, duplicate keys, wrong types, unknown apiVersion/kind
// pairs, missing names and invalid labels are errors. Every problem of the
// stream is reported (as an ErrorList), each with file:line:col, the object
// and the field path. The objects that decoded cleanly are returned too, but
// a caller applying the stream must reject all of it when err != nil.
func Decode(file string, data []byte) ([]Document, error) {
	nodes, err := yamlx.Documents(file, data)
	var errs ErrorList
	if err != nil {
		var yl yamlx.ErrorList
		if errors.As(err, &yl) {
			for _, e := range yl {
				errs = append(errs, &Error{Source: Source{File: file, Doc: len(nodes) + 1, Line: e.Line, Col: e.Col}, Msg: e.Msg})
			}
		} else {
			errs = append(errs, &Error{Source: Source{File: file}, Msg: err.Error()})
		}
	}
	var docs []Document
	for i, n := range nodes {
		d := &streamDecoder{file: file, doc: i + 1}
		d.document(n.Content[0])
		docs = append(docs, d.out...)
		errs = append(errs, d.errs...)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].Line != errs[j].Line {
				return errs[i].Line < errs[j].Line
			}
			return errs[i].Col < errs[j].Col
		})
		return docs, errs
	}
	return docs, nil
}

type streamDecoder struct {
	file string
	doc  int
	out  []Document
	errs ErrorList
}

func (d *streamDecoder) fail(n *yaml.Node, item int, object, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		Source: Source{File: d.file, Doc: d.doc, Item: item, Line: n.Line, Col: n.Column},
		Object: object, Path: path, Msg: fmt.Sprintf(format, args...),
	})
}

// scalar returns the value of key in mapping n, and the key's value node.
func scalar(n *yaml.Node, key string) (string, *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return "", nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				return v.Value, v
			}
			return "", v
		}
	}
	return "", nil
}

func (d *streamDecoder) document(n *yaml.Node) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, 0, "", "", "expected an object (a mapping with apiVersion, kind and metadata), got %s", describe(n))
		return
	}
	kind, _ := scalar(n, "kind")
	apiVersion, _ := scalar(n, "apiVersion")
	if kind == "List" || (strings.HasSuffix(kind, "List") && kind != "List" && isListOf(apiVersion, kind)) {
		d.list(n, apiVersion, kind)
		return
	}
	d.object(n, 0, "", GVK{})
}

func isListOf(apiVersion, kind string) bool {
	_, ok := LookupKind(apiVersion, strings.TrimSuffix(kind, "List"))
	return ok
}

// list expands a v1 List or a typed list (IPAddressPoolList) into objects.
func (d *streamDecoder) list(n *yaml.Node, apiVersion, kind string) {
	var items *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "apiVersion", "kind", "metadata":
		case "items":
			items = v
		default:
			d.fail(k, 0, kind, "", "strict decoding error: unknown field %q (a %s has apiVersion, kind, metadata and items)", k.Value, kind)
		}
	}
	for items != nil && items.Kind == yaml.AliasNode {
		items = items.Alias
	}
	if items == nil || (items.Kind == yaml.ScalarNode && items.Tag == "!!null") {
		return
	}
	if items.Kind != yaml.SequenceNode {
		d.fail(items, 0, kind, "items", "expected a list of objects, got %s", describe(items))
		return
	}
	var def GVK
	if kind != "List" {
		def = GVK{APIVersion: apiVersion, Kind: strings.TrimSuffix(kind, "List")}
	}
	for i, it := range items.Content {
		for it.Kind == yaml.AliasNode {
			it = it.Alias
		}
		if it.Kind != yaml.MappingNode {
			d.fail(it, i+1, "", fmt.Sprintf("items[%d]", i), "expected an object, got %s", describe(it))
			continue
		}
		d.object(it, i+1, fmt.Sprintf("items[%d].", i), def)
	}
}

// object decodes one object mapping. prefix is prepended to field paths of
// items of a List; def supplies apiVersion/kind for typed list items.
func (d *streamDecoder) object(n *yaml.Node, item int, prefix string, def GVK) {
	apiVersion, avNode := scalar(n, "apiVersion")
	kind, kNode := scalar(n, "kind")
	if apiVersion == "" && avNode == nil {
		apiVersion = def.APIVersion
	}
	if kind == "" && kNode == nil {
		kind = def.Kind
	}
	name, ns := "", ""
	if _, meta := scalar(n, "metadata"); meta != nil {
		name, _ = scalar(meta, "name")
		ns, _ = scalar(meta, "namespace")
	}
	switch {
	case kind == "" && apiVersion == "":
		d.fail(n, item, "", strings.TrimSuffix(prefix, "."), "object has no apiVersion and no kind (every object needs both, e.g. apiVersion: v1 and kind: Service)")
		return
	case kind == "":
		d.fail(n, item, "", prefix+"kind", "object has no kind (set kind, e.g. kind: IPAddressPool)")
		return
	case apiVersion == "":
		d.fail(n, item, "", prefix+"apiVersion", "%s object has no apiVersion (set apiVersion, e.g. %s)", kind, exampleVersion(kind))
		return
	}
	k, ok := LookupKind(apiVersion, kind)
	if !ok {
		at := n
		if kNode != nil {
			at = kNode
		}
		d.fail(at, item, "", "", "%s", unknownKind(apiVersion, kind, name))
		return
	}
	obj := k.New()
	ref := refFor(k, name, ns)
	ydoc, err := yamlx.DecodeNode(d.file, n, obj)
	var yl yamlx.ErrorList
	if errors.As(err, &yl) {
		for _, e := range yl {
			msg := e.Msg
			path := prefix + e.Path
			if strings.HasPrefix(msg, "unknown field ") {
				// kubectl's strict field validation wording.
				_, rest, _ := strings.Cut(msg[len("unknown field "):], "\" ")
				msg = fmt.Sprintf("strict decoding error: unknown field %q", path)
				if rest != "" {
					msg += " " + rest
				}
				path = ""
			}
			d.errs = append(d.errs, &Error{Source: Source{File: d.file, Doc: d.doc, Item: item, Line: e.Line, Col: e.Col}, Object: ref, Path: path, Msg: msg})
		}
	} else if err != nil {
		d.fail(n, item, ref, "", "%v", err)
	}
	if err != nil {
		return
	}
	obj.SetGVK(k.GVK)
	before := len(d.errs)
	d.checkMeta(obj, k, ydoc, item, prefix, ref)
	if len(d.errs) > before {
		return
	}
	d.out = append(d.out, Document{Object: obj, Source: Source{File: d.file, Doc: d.doc, Item: item, Line: n.Line, Col: n.Column}})
}

func refFor(k Kind, name, ns string) string {
	if name == "" {
		name = "(no name)"
	}
	if k.Namespaced && ns != "" {
		return k.GVK.Kind + " " + ns + "/" + name
	}
	return k.GVK.Kind + " " + name
}

var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// checkMeta applies the API server's metadata rules: a name (or
// generateName) that is a valid DNS name, a DNS-label namespace, valid
// label keys and values, valid annotation keys.
func (d *streamDecoder) checkMeta(obj Object, k Kind, ydoc *yamlx.Doc, item int, prefix, ref string) {
	m := obj.Meta()
	at := func(path string) *yaml.Node {
		p := ydoc.Lookup(path)
		return &yaml.Node{Line: p.Line, Column: p.Col}
	}
	if !k.Namespaced {
		m.Namespace = ""
	}
	switch {
	case m.Name == "" && m.GenerateName == "":
		d.fail(at("metadata"), item, ref, prefix+"metadata.name", "resource name may not be empty (set metadata.name)")
	case m.Name != "":
		if err := ValidateDNSSubdomain(m.Name); err != nil {
			d.fail(at("metadata.name"), item, ref, prefix+"metadata.name", "invalid name %q: %v", m.Name, err)
		} else if (k.GVK.Kind == "Service" || k.GVK.Kind == "Namespace") && (len(m.Name) > 63 || !dns1035.MatchString(m.Name)) {
			d.fail(at("metadata.name"), item, ref, prefix+"metadata.name", "invalid name %q: a %s name must be a DNS label: at most 63 lower case alphanumeric characters or '-', starting with a letter and ending with an alphanumeric character", m.Name, k.GVK.Kind)
		}
	}
	if m.Namespace != "" && (len(m.Namespace) > 63 || !dnsLabelRE.MatchString(m.Namespace)) {
		d.fail(at("metadata.namespace"), item, ref, prefix+"metadata.namespace", "invalid namespace %q: must be at most 63 lower case alphanumeric characters or '-', starting and ending with an alphanumeric character", m.Namespace)
	}
	for _, key := range sortedKeys(m.Labels) {
		path := "metadata.labels" + pathKey(key)
		if err := ValidateLabelKey(key); err != nil {
			d.fail(at(path), item, ref, prefix+"metadata.labels", "%v", err)
		} else if err := ValidateLabelValue(m.Labels[key]); err != nil {
			d.fail(at(path), item, ref, prefix+"metadata.labels", "%v", err)
		}
	}
	for _, key := range sortedKeys(m.Annotations) {
		if err := ValidateLabelKey(key); err != nil {
			d.fail(at("metadata.annotations"+pathKey(key)), item, ref, prefix+"metadata.annotations", "invalid annotation key: %v", err)
		}
	}
}

// pathKey renders a map key in a field path as yamlx does: ".key" for
// plain identifiers, `["key"]` otherwise.
func pathKey(k string) string {
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Sprintf("[%q]", k)
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unknownKind(apiVersion, kind, name string) string {
	var versions []string
	for _, k := range registry {
		if k.GVK.Kind == kind {
			versions = append(versions, k.GVK.APIVersion)
		}
	}
	obj := ""
	if name != "" {
		obj = fmt.Sprintf(" (object %q)", name)
	}
	if len(versions) > 0 {
		return fmt.Sprintf("no matches for kind %q in version %q%s: %s is served as %s", kind, apiVersion, obj, kind, strings.Join(versions, " and "))
	}
	for _, k := range registry {
		if strings.EqualFold(k.GVK.Kind, kind) {
			return fmt.Sprintf("no matches for kind %q in version %q%s: did you mean kind %q (%s)?", kind, apiVersion, obj, k.GVK.Kind, k.GVK.APIVersion)
		}
	}
	return fmt.Sprintf("no matches for kind %q in version %q%s: supported kinds are %s", kind, apiVersion, obj, SupportedKinds())
}

func exampleVersion(kind string) string {
	for _, k := range registry {
		if k.GVK.Kind == kind && k.Preferred {
			return "apiVersion: " + k.GVK.APIVersion
		}
	}
	return "apiVersion: v1"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// Normalize returns the object in its hub version: a v1beta1 BGPPeer becomes
// a v1beta2 BGPPeer; everything else is returned as is.
func Normalize(o Object) Object {
	if p, ok := o.(*BGPPeerV1beta1); ok {
		return p.ConvertToV1beta2()
	}
	return o
}
