package topology

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onp-lab/onp/internal/yamlx"
)

//go:embed builtin
var builtinFS embed.FS

// BuiltinFS is the file system holding the built-in labs and the files they
// refer to.
func BuiltinFS() fs.FS { return builtinFS }

// Parse decodes, defaults and validates a lab file. file names the source in
// error messages.
func Parse(file string, data []byte) (*Topology, error) {
	t := &Topology{Source: file}
	doc, derr := yamlx.Decode(file, data, t)
	t.doc = doc
	if derr != nil && len(doc.Pos) == 0 {
		return nil, derr // not YAML at all
	}
	SetDefaults(t)
	if err := yamlx.Merge(derr, Validate(t)); err != nil {
		return nil, err
	}
	return t, nil
}

// Load reads a lab file from disk ("-" reads standard input).
func Load(file string) (*Topology, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
		file = "<stdin>"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read lab file: %w", err)
	}
	t, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	t.Dir = filepath.Dir(file)
	return t, nil
}

// BuiltinInfo describes a built-in lab.
type BuiltinInfo struct {
	Name        string
	Description string
}

// Builtins lists the labs embedded in the binary.
func Builtins() []BuiltinInfo {
	ents, _ := fs.ReadDir(builtinFS, "builtin")
	var out []BuiltinInfo
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		info := BuiltinInfo{Name: name}
		if t, err := Builtin(name); err == nil {
			info.Description = t.Description
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BuiltinSource returns the YAML text of a built-in lab.
func BuiltinSource(name string) ([]byte, error) {
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		names := []string{}
		for _, b := range Builtins() {
			names = append(names, b.Name)
		}
		return nil, fmt.Errorf("no built-in lab %q (built-ins: %s)", name, strings.Join(names, ", "))
	}
	return data, nil
}

// Builtin loads a built-in lab.
func Builtin(name string) (*Topology, error) {
	data, err := BuiltinSource(name)
	if err != nil {
		return nil, err
	}
	t, err := Parse("builtin:"+name, data)
	if err != nil {
		return nil, err
	}
	t.Dir, t.Builtin = "builtin", true
	return t, nil
}

// Resolve loads arg as a lab file when it names an existing file (or "-"),
// and as a built-in lab otherwise.
func Resolve(arg string) (*Topology, error) {
	if arg == "-" {
		return Load(arg)
	}
	if _, err := os.Stat(arg); err == nil {
		return Load(arg)
	}
	if strings.ContainsAny(arg, "/.") {
		return nil, fmt.Errorf("lab file %s: no such file", arg)
	}
	return Builtin(arg)
}

// ReadFile reads a file a topology refers to (a manifest, a daemon config),
// relative to the topology's directory or from the embedded FS for built-ins.
func (t *Topology) ReadFile(name string) ([]byte, error) {
	if t.Builtin {
		return builtinFS.ReadFile(path.Join(t.Dir, name))
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(t.Dir, name)
	}
	return os.ReadFile(name)
}
