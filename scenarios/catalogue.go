package scenarios

import (
	"embed"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/format"
	"github.com/onp-lab/onp/topology"
)

// The scenario file format (package format), under the names callers use.
type (
	Scenario   = format.Scenario
	Step       = format.Step
	ApplyStep  = format.ApplyStep
	RouterStep = format.RouterStep
	FaultStep  = format.FaultStep
	DeleteStep = format.DeleteStep
	ObjectRef  = format.ObjectRef
)

//go:embed builtin
var builtinFS embed.FS

// BuiltinInfo describes a built-in scenario.
type BuiltinInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Builtins lists the scenarios embedded in the binary.
func Builtins() []BuiltinInfo {
	var out []BuiltinInfo
	for _, name := range builtinNames() {
		info := BuiltinInfo{Name: name}
		if s, err := Builtin(name); err == nil {
			info.Description = strings.TrimSpace(s.Description)
		}
		out = append(out, info)
	}
	return out
}

func builtinNames() []string { return yamlx.Names(builtinFS, "builtin") }

// BuiltinSource returns the YAML text of a built-in scenario.
func BuiltinSource(name string) ([]byte, error) {
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		list := "there are none"
		if names := builtinNames(); len(names) > 0 {
			list = "built-ins: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("no built-in scenario %q (%s)", name, list)
	}
	return data, nil
}

// Builtin loads a built-in scenario.
func Builtin(name string) (*Scenario, error) {
	data, err := BuiltinSource(name)
	if err != nil {
		return nil, err
	}
	return format.ParseBuiltin("builtin:"+name, data, builtinFS, "builtin")
}

// Load reads a scenario file.
func Load(file string) (*Scenario, error) { return format.Load(file) }

// Resolve loads arg as a scenario file when it names an existing file, and
// as a built-in scenario otherwise.
func Resolve(arg string) (*Scenario, error) {
	if _, err := os.Stat(arg); err == nil {
		return format.Load(arg)
	}
	if strings.ContainsAny(arg, "/.") {
		return nil, fmt.Errorf("scenario file %s: no such file", arg)
	}
	return Builtin(arg)
}

// UniqueLabName returns a fresh lab name for a run of the scenario: its
// name, shortened, and a random suffix.
func UniqueLabName(scenario string) string {
	base := scenario
	if len(base) > topology.MaxLabName-6 {
		base = strings.TrimRight(base[:topology.MaxLabName-6], "-")
	}
	return base + "-" + randHex(5)
}
