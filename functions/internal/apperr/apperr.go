// Package apperr is the one error type of the booking functions: a stable
// code, a message for people, and the path of the field at fault.
//
// Domain and storage code return *Error; the HTTP layer (package httpx) maps
// each code to a status in one place. Anything that is not an *Error is our
// fault and becomes a 500 without details.
package apperr

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable error kind.
type Code string

// The codes. Each maps to one HTTP status in httpx.
const (
	Invalid       Code = "invalid"                // 400: the request is malformed or a field is wrong
	Unauthorized  Code = "unauthorized"           // 401: a credential is missing
	NotFound      Code = "not_found"              // 404: unknown id, or an unknown or tampered token
	Conflict      Code = "conflict"               // 409: the state does not allow it (slot taken, booking cancelled)
	Gone          Code = "gone"                   // 410: it existed but has lapsed (an expired hold)
	Unprocessable Code = "unprocessable"          // 422: well-formed but against a rule (too late to cancel)
	TooLarge      Code = "too_large"              // 413: the body is too large
	Unsupported   Code = "unsupported_media_type" // 415
	Forbidden     Code = "forbidden"              // 403: signed in, but not allowed (an operator on the administration)
	CSRF          Code = "csrf"                   // 403: an unsafe request without the session's CSRF token
	Locked        Code = "locked"                 // 429: too many failed sign-ins (with Retry-After)
	NotYetOpen    Code = "not_yet_open"           // 409: the room's window has not opened yet (with Retry-After)
	Expired       Code = "expired"                // 410: the room's window has closed
	BadGateway    Code = "bad_gateway"            // 502: a service we depend on answered wrongly (the identity provider)
	Unavailable   Code = "unavailable"            // 503: a service we depend on cannot be reached (LiveKit)
	Internal      Code = "internal"               // 500: our fault
)

// FieldError is one problem with one field of the input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error. Field names the input at fault ("citizen.email",
// "start"); Fields lists every problem when validation found several.
type Error struct {
	Code    Code
	Message string
	Field   string
	Fields  []FieldError
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Field != "" {
		b.WriteString(" (" + e.Field + ")")
	}
	b.WriteString(": " + e.Message)
	for _, f := range e.Fields {
		if f.Field == e.Field && f.Message == e.Message {
			continue
		}
		b.WriteString("; " + f.Field + ": " + f.Message)
	}
	return b.String()
}

// New returns an *Error with a code, the field at fault and a message.
func New(code Code, field, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Field: field, Message: msg}
}

// CodeOf returns the code of err, or Internal when err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Validation accumulates field problems, as Knative's apis.FieldError does,
// so one response lists everything wrong with a request.
type Validation struct {
	fields []FieldError
}

// Add records a problem with field.
func (v *Validation) Add(field, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	v.fields = append(v.fields, FieldError{Field: field, Message: msg})
}

// Err returns nil when nothing was added, or an Invalid *Error naming the
// first field and listing all of them.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	first := v.fields[0]
	return &Error{Code: Invalid, Field: first.Field, Message: first.Message, Fields: v.fields}
}
