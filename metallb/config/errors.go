package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// Error is one validation problem of one object.
type Error struct {
	// Source is where the object was written, when the caller said so
	// through ClusterResources.Sources.
	Source *api.Source
	// Object names the object: "BGPPeer metallb-system/onp-bgp-peer".
	Object string
	// Field is the field path: "spec.peerASN". Empty for the whole object.
	Field string
	Msg   string
	// Transient marks what MetalLB treats as a TransientError: a reference
	// to a BFDProfile, password Secret or Community alias that does not
	// exist (yet). MetalLB's admission webhook accepts such objects and the
	// speaker retries until the referenced object appears.
	Transient bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != nil {
		b.WriteString(e.Source.String())
		b.WriteString(": ")
	}
	b.WriteString(e.Object)
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem of a set of resources.
type Errors []*Error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As reach each *Error.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// OnlyTransient reports whether err holds validation errors and all of them
// are transient. An admission check that wants MetalLB's webhook behaviour
// (accept objects whose references may be created later) accepts the
// resources when OnlyTransient(err) is true; the speaker keeps reporting
// them until they resolve.
func OnlyTransient(err error) bool {
	var l Errors
	if !errors.As(err, &l) || len(l) == 0 {
		return false
	}
	for _, e := range l {
		if !e.Transient {
			return false
		}
	}
	return true
}

// collector gathers errors while validating.
type collector struct {
	errs    Errors
	sources map[string]api.Source
}

func (c *collector) add(object, field string, transient bool, format string, args ...any) {
	e := &Error{Object: object, Field: field, Msg: fmt.Sprintf(format, args...), Transient: transient}
	if s, ok := c.sources[object]; ok {
		e.Source = &s
	}
	c.errs = append(c.errs, e)
}

func (c *collector) errorf(object, field, format string, args ...any) {
	c.add(object, field, false, format, args...)
}

func (c *collector) transientf(object, field, format string, args ...any) {
	c.add(object, field, true, format, args...)
}
