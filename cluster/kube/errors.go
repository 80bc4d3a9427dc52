package kube

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onp-lab/onp/metallb/api"
)

// Reasons of a failed request, as Kubernetes names them (metav1.StatusReason).
const (
	ReasonNotFound           = "NotFound"
	ReasonAlreadyExists      = "AlreadyExists"
	ReasonConflict           = "Conflict"
	ReasonForbidden          = "Forbidden"
	ReasonInvalid            = "Invalid"
	ReasonBadRequest         = "BadRequest"
	ReasonMethodNotAllowed   = "MethodNotAllowed"
	ReasonExpired            = "Expired"
	ReasonInternalError      = "InternalError"
	ReasonServiceUnavailable = "ServiceUnavailable"
	ReasonTimeout            = "Timeout"
)

// Status is metav1.Status: the body of a failed request.
type Status struct {
	api.TypeMeta `json:",inline"`
	Status       string         `json:"status,omitempty"`
	Message      string         `json:"message,omitempty"`
	Reason       string         `json:"reason,omitempty"`
	Details      *StatusDetails `json:"details,omitempty"`
	Code         int32          `json:"code,omitempty"`
}

// StatusDetails names the object a failure is about, and its causes.
type StatusDetails struct {
	Name   string        `json:"name,omitempty"`
	Group  string        `json:"group,omitempty"`
	Kind   string        `json:"kind,omitempty"`
	Causes []StatusCause `json:"causes,omitempty"`
}

// StatusCause is one reason a request failed: for a batch apply, one line
// per rejected object.
type StatusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// StatusError is an error carrying a Status, what the API returns.
type StatusError struct {
	Status Status
}

func (e *StatusError) Error() string { return e.Status.Message }

// NewStatusError builds a failure with a reason, an HTTP code and a message.
func NewStatusError(reason string, code int, format string, args ...any) *StatusError {
	return &StatusError{Status: Status{
		TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   "Failure", Reason: reason, Code: int32(code), Message: fmt.Sprintf(format, args...),
	}}
}

// NotFound is `services "x" not found`.
func NotFound(k api.Kind, name string) *StatusError {
	e := NewStatusError(ReasonNotFound, http.StatusNotFound, "%s %q not found", GroupResource(k), name)
	e.Status.Details = &StatusDetails{Name: name, Group: k.GVK.Group(), Kind: k.Resource}
	return e
}

// NamespaceNotFound is `namespaces "x" not found`, the answer to creating an
// object in a namespace that does not exist.
func NamespaceNotFound(ns string) *StatusError {
	e := NewStatusError(ReasonNotFound, http.StatusNotFound, "namespaces %q not found", ns)
	e.Status.Details = &StatusDetails{Name: ns, Kind: "namespaces"}
	return e
}

// AlreadyExists is `namespaces "x" already exists`.
func AlreadyExists(k api.Kind, name string) *StatusError {
	e := NewStatusError(ReasonAlreadyExists, http.StatusConflict, "%s %q already exists", GroupResource(k), name)
	e.Status.Details = &StatusDetails{Name: name, Group: k.GVK.Group(), Kind: k.Resource}
	return e
}

// Conflict is the optimistic-concurrency failure of an update.
func Conflict(k api.Kind, name, why string) *StatusError {
	e := NewStatusError(ReasonConflict, http.StatusConflict, "Operation cannot be fulfilled on %s %q: %s", GroupResource(k), name, why)
	e.Status.Details = &StatusDetails{Name: name, Group: k.GVK.Group(), Kind: k.Resource}
	return e
}

// Forbidden is `pods "x" is forbidden: why`.
func Forbidden(k api.Kind, name, why string) *StatusError {
	e := NewStatusError(ReasonForbidden, http.StatusForbidden, "%s %q is forbidden: %s", GroupResource(k), name, why)
	e.Status.Details = &StatusDetails{Name: name, Group: k.GVK.Group(), Kind: k.Resource}
	return e
}

// FieldError is one invalid field.
type FieldError struct {
	Field  string
	Value  any
	Detail string
	// Type is "Invalid" (the default), "Required", "Forbidden", "NotSupported", "Duplicate".
	Type string
}

func (f FieldError) String() string {
	t := f.Type
	if t == "" {
		t = "Invalid value"
	}
	switch t {
	case "Required":
		return fmt.Sprintf("%s: Required value: %s", f.Field, f.Detail)
	case "Forbidden":
		return fmt.Sprintf("%s: Forbidden: %s", f.Field, f.Detail)
	case "Duplicate":
		return fmt.Sprintf("%s: Duplicate value: %s", f.Field, quoteValue(f.Value))
	case "NotSupported":
		return fmt.Sprintf("%s: Unsupported value: %s: %s", f.Field, quoteValue(f.Value), f.Detail)
	}
	return fmt.Sprintf("%s: Invalid value: %s: %s", f.Field, quoteValue(f.Value), f.Detail)
}

func quoteValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// Invalid is `Service "x" is invalid: spec.ports[0].port: Invalid value: ...`.
func Invalid(k api.Kind, name string, errs ...FieldError) *StatusError {
	parts := make([]string, len(errs))
	causes := make([]StatusCause, len(errs))
	for i, f := range errs {
		parts[i] = f.String()
		t := f.Type
		if t == "" {
			t = "FieldValueInvalid"
		} else {
			t = "FieldValue" + t
		}
		causes[i] = StatusCause{Type: t, Message: f.String(), Field: f.Field}
	}
	msg := strings.Join(parts, ", ")
	if len(parts) > 1 {
		msg = "[" + msg + "]"
	}
	e := NewStatusError(ReasonInvalid, http.StatusUnprocessableEntity, "%s %q is invalid: %s", k.GVK.Kind, name, msg)
	e.Status.Details = &StatusDetails{Name: name, Group: k.GVK.Group(), Kind: k.GVK.Kind, Causes: causes}
	return e
}

// BadRequest is a malformed request.
func BadRequest(format string, args ...any) *StatusError {
	return NewStatusError(ReasonBadRequest, http.StatusBadRequest, format, args...)
}

// Expired says a watch asked for a resourceVersion older than the server
// remembers; the client lists again.
func Expired(format string, args ...any) *StatusError {
	return NewStatusError(ReasonExpired, http.StatusGone, format, args...)
}

// InternalError wraps a server-side failure (disk full, netlink error).
func InternalError(err error) *StatusError {
	return NewStatusError(ReasonInternalError, http.StatusInternalServerError, "Internal error occurred: %v", err)
}

// ReasonOf returns the Status reason of err, "" if it carries none.
func ReasonOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status.Reason
	}
	return ""
}

// IsNotFound reports whether err is a NotFound failure.
func IsNotFound(err error) bool { return ReasonOf(err) == ReasonNotFound }

// IsAlreadyExists reports whether err is an AlreadyExists failure.
func IsAlreadyExists(err error) bool { return ReasonOf(err) == ReasonAlreadyExists }

// IsConflict reports whether err is an update conflict.
func IsConflict(err error) bool { return ReasonOf(err) == ReasonConflict }

// IsForbidden reports whether err is a Forbidden failure (admission).
func IsForbidden(err error) bool { return ReasonOf(err) == ReasonForbidden }

// IsInvalid reports whether err is an Invalid failure.
func IsInvalid(err error) bool { return ReasonOf(err) == ReasonInvalid }

// IsExpired reports whether a watch's resourceVersion is too old.
func IsExpired(err error) bool { return ReasonOf(err) == ReasonExpired }
