package spec

import (
	"github.com/onp-lab/onp/internal/yamlx"
)

// ParseFile decodes and validates a checks file strictly; every problem is
// returned at once with file:line:col and field path.
func ParseFile(name string, data []byte, ctx *Context) ([]Check, error) {
	var f File
	doc, derr := yamlx.Decode(name, data, &f)
	if derr != nil && len(doc.Pos) == 0 {
		return nil, derr
	}
	var verr error
	if errs := Validate(doc, "checks", f.Checks, ctx); len(errs) > 0 {
		verr = errs
	}
	if len(f.Checks) == 0 && derr == nil {
		verr = yamlx.ErrorList{doc.Errorf("checks", "the file lists no checks (want checks: [{type: ..., ...}])")}
	}
	if err := yamlx.Merge(derr, verr); err != nil {
		return nil, err
	}
	return f.Checks, nil
}
