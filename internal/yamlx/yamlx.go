// Package yamlx decodes YAML strictly into Go structs and keeps the position
// of every value, so that errors found while decoding or later, during
// validation, can say file:line:col and the field path, e.g.
//
//	lab.yaml:12:9: nodes[1].interfaces[0].network: unknown network "sno1"
//
// Field names come from `yaml` struct tags, or `json` tags when a field has
// no yaml tag (Kubernetes-style types). Unknown fields, duplicate keys and
// type mismatches are errors; all of them are collected, not only the first.
package yamlx

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Pos is a 1-based line and column in a file.
type Pos struct{ Line, Col int }

// Error is one problem at a position in a file.
type Error struct {
	File string
	Pos
	Path string // field path, e.g. nodes[1].interfaces[0].network; empty for the document
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is a list of errors sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find the individual errors.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Sort orders the list by line, column and path.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		if l[i].Col != l[j].Col {
			return l[i].Col < l[j].Col
		}
		return l[i].Path < l[j].Path
	})
}

// Err returns nil for an empty list, the sorted list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Positions maps field paths to the position of their value in the file.
type Positions map[string]Pos

// Doc is one decoded document: its file name and positions. Validation code
// uses it to attach positions to errors.
type Doc struct {
	File string
	Pos  Positions
}

// Errorf returns an error at the position of path. When path itself was not
// written in the file (a missing field), the closest written ancestor's
// position is used.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	return &Error{File: d.File, Pos: d.Lookup(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Lookup returns the position of path or of its closest ancestor.
func (d *Doc) Lookup(path string) Pos {
	if d == nil {
		return Pos{}
	}
	for p := path; ; {
		if pos, ok := d.Pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{}
		}
		p = parent(p)
	}
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Decode decodes the first YAML document of data strictly into out, which
// must be a pointer. It returns the document's positions and every error.
func Decode(file string, data []byte, out any) (*Doc, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return &Doc{File: file, Pos: Positions{}}, ErrorList{{File: file, Pos: Pos{1, 1}, Msg: "the file is empty"}}
		}
		return &Doc{File: file, Pos: Positions{}}, ErrorList{syntaxError(file, data, err)}
	}
	return DecodeNode(file, &root, out)
}

// DecodeNode decodes a parsed document (or any node) strictly into out.
func DecodeNode(file string, n *yaml.Node, out any) (*Doc, error) {
	d := &decoder{doc: &Doc{File: file, Pos: Positions{}}}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return d.doc, ErrorList{{File: file, Pos: Pos{1, 1}, Msg: "the document is empty"}}
		}
		n = n.Content[0]
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("yamlx: Decode needs a non-nil pointer")
	}
	d.value(n, v.Elem(), "")
	return d.doc, d.errs.Err()
}

// Documents splits a multi-document YAML stream into its documents, skipping
// empty ones. A syntax error is returned with its position.
func Documents(file string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, ErrorList{syntaxError(file, data, err)}
		}
		if n.Kind == yaml.DocumentNode && (len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null")) {
			continue
		}
		docs = append(docs, &n)
	}
}

// syntaxError turns a yaml library error ("yaml: line 3: ...") into an Error
// with a position. The library reports the line where the enclosing block
// starts; the line that breaks the document is found by parsing growing
// prefixes of it.
func syntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := &Error{File: file, Msg: msg}
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				e.Line, e.Col = n, 1
				e.Msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if line := firstBadLine(data); line > e.Line {
		e.Line, e.Col = line, 1
	}
	e.Msg = "invalid YAML: " + e.Msg
	return e
}

// firstBadLine returns the number of the first line whose addition makes the
// document fail to parse, or 0.
func firstBadLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 2000 {
		return 0
	}
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		dec := yaml.NewDecoder(bytes.NewReader(prefix))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return i + 1
			}
		}
	}
	return 0
}

type decoder struct {
	doc  *Doc
	errs ErrorList
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.doc.File, Pos: Pos{n.Line, n.Column}, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	nodeType     = reflect.TypeOf(yaml.Node{})
	durationType = reflect.TypeOf(time.Duration(0))
	textUnmarsh  = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.doc.Pos[path] = Pos{n.Line, n.Column}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if v.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
		return
	}
	if n.Kind == yaml.ScalarNode && v.CanAddr() && v.Addr().Type().Implements(textUnmarsh) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a duration such as 30s or 1m30s, got %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.fail(n, path, "invalid duration %q (use a number with a unit: 500ms, 30s, 2m)", n.Value)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structValue(n, v, path)
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 && n.Kind == yaml.ScalarNode {
			v.SetBytes([]byte(n.Value))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("yamlx: only string map keys are supported")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for _, kv := range pairs(n) {
			k, val := kv[0], kv[1]
			if seen[k.Value] {
				d.fail(k, join(path, k.Value), "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(val, e, join(path, k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.fail(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := scalarBool(n)
		if !ok {
			d.fail(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || err != nil {
			if n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "-") {
				d.fail(n, path, "expected a non-negative integer, got %s", kindName(n))
			} else if n.Kind == yaml.ScalarNode && isRangeErr(err) {
				d.fail(n, path, "%s is out of range (at most %d)", n.Value, uint64(math.MaxUint64>>(64-v.Type().Bits())))
			} else {
				d.fail(n, path, "expected a non-negative integer, got %s", kindName(n))
			}
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "expected a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		panic("yamlx: unsupported field type " + v.Type().String())
	}
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

func scalarBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	switch n.Value {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// pairs returns the key/value pairs of a mapping, with merge keys (<<)
// expanded; explicit keys win over merged ones.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Kind == yaml.ScalarNode && k.Style == 0) {
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				for s.Kind == yaml.AliasNode {
					s = s.Alias
				}
				if s.Kind == yaml.MappingNode {
					merged = append(merged, pairs(s)...)
				}
			}
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	if len(merged) == 0 {
		return out
	}
	have := map[string]bool{}
	for _, kv := range out {
		have[kv[0].Value] = true
	}
	for _, kv := range merged {
		if !have[kv[0].Value] {
			have[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

func join(path, key string) string {
	if isIdent(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// field describes one struct field reachable from a YAML key.
type field struct {
	index []int
	name  string
}

// fields lists the YAML names of a struct type, following inline fields.
func fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag, ok := f.Tag.Lookup("yaml")
		if !ok {
			tag, ok = f.Tag.Lookup("json")
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		inline := (strings.Contains(","+opts+",", ",inline,") || (!ok && f.Anonymous)) && ft.Kind() == reflect.Struct
		if !f.IsExported() && !inline {
			continue
		}
		if inline {
			for _, sub := range fields(ft) {
				out = append(out, field{index: append([]int{i}, sub.index...), name: sub.name})
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		out = append(out, field{index: []int{i}, name: name})
	}
	return out
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fs := fields(v.Type())
	byName := make(map[string]field, len(fs))
	for _, f := range fs {
		byName[f.name] = f
	}
	seen := map[string]bool{}
	for _, kv := range pairs(n) {
		k, val := kv[0], kv[1]
		p := join(path, k.Value)
		if seen[k.Value] {
			d.fail(k, p, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := byName[k.Value]
		if !ok {
			d.fail(k, p, "unknown field %q%s", k.Value, suggest(k.Value, fs))
			continue
		}
		fv := v
		for i, idx := range f.index {
			if i > 0 && fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					fv.Set(reflect.New(fv.Type().Elem()))
				}
				fv = fv.Elem()
			}
			fv = fv.Field(idx)
		}
		d.value(val, fv, p)
	}
}

// suggest names the closest valid field, or lists them all when few.
func suggest(key string, fs []field) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		names = append(names, f.name)
		if dd := distance(strings.ToLower(key), strings.ToLower(f.name)); dd < bestD {
			best, bestD = f.name, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(names) == 0 {
		return " (no fields are allowed here)"
	}
	sort.Strings(names)
	return " (valid fields: " + strings.Join(names, ", ") + ")"
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Merge combines decoding errors with errors found afterwards (validation of
// what could be decoded). A later error at or below a path that already has
// a decoding error is dropped: it is a consequence, not news.
func Merge(decodeErr, laterErr error) error {
	var dl, ll ErrorList
	if decodeErr != nil && !errors.As(decodeErr, &dl) {
		return decodeErr
	}
	if laterErr != nil && !errors.As(laterErr, &ll) {
		return errors.Join(decodeErr, laterErr)
	}
	out := append(ErrorList{}, dl...)
	for _, e := range ll {
		shadowed := false
		for _, d := range dl {
			if e.Path == d.Path || strings.HasPrefix(e.Path, d.Path+".") || strings.HasPrefix(e.Path, d.Path+"[") {
				shadowed = true
				break
			}
		}
		if !shadowed {
			out = append(out, e)
		}
	}
	return out.Err()
}

// Names lists the YAML files (*.yaml) in dir of fsys by name, without the
// extension, sorted: an embedded catalogue's entries.
func Names(fsys fs.FS, dir string) []string {
	ents, _ := fs.ReadDir(fsys, dir)
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
