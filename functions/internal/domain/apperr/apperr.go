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
	"time"
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
	RateLimited   Code = "rate_limited"           // 429: too many requests from a client or an address (with Retry-After)
	NotAdmitted   Code = "not_admitted"           // 403: the service's waiting room is on and the client holds no admission for it
	NotYetOpen    Code = "not_yet_open"           // 409: the room's window has not opened yet (with Retry-After)
	Expired       Code = "expired"                // 410: the room's window has closed
	BadGateway    Code = "bad_gateway"            // 502: a service we depend on answered wrongly (the identity provider)
	Unavailable   Code = "unavailable"            // 503: a service we depend on cannot be reached (LiveKit)
	ClientClosed  Code = "client_closed"          // 499: the client went away before its answer (nginx's status)
	Internal      Code = "internal"               // 500: our fault
)

// Reason is a stable, machine-readable kind of field problem, so that a
// client can say it in its own language without reading Message (which is
// English, for people and logs).
type Reason string

// The reasons of field problems. Limit, Min, Max and Allowed of the
// FieldError carry the numbers and values a reason speaks of.
const (
	Required      Reason = "required"       // missing or blank
	TooLong       Reason = "too_long"       // Limit: the most characters (bytes for a password)
	TooShort      Reason = "too_short"      // Limit: the fewest characters
	TooMany       Reason = "too_many"       // Limit: the most items
	TooBig        Reason = "too_large"      // Limit: the largest number (bytes of a document)
	OutOfRange    Reason = "out_of_range"   // Min and Max: the whole numbers allowed
	NotAllowed    Reason = "not_allowed"    // Allowed: the values accepted
	InvalidText   Reason = "invalid_text"   // not valid UTF-8, or control characters where text has none
	InvalidEmail  Reason = "invalid_email"  // not a plain email address
	InvalidFormat Reason = "invalid_format" // not a date, time, id, ... of the form the message shows
	UnknownField  Reason = "unknown_field"  // a member or query parameter the request does not have
	WrongType     Reason = "wrong_type"     // a JSON value of the wrong type
	Duplicate     Reason = "duplicate"      // listed twice
	Overlap       Reason = "overlap"        // overlaps another item of the list
	Order         Reason = "order"          // must come after another field (closes after opens, to after from)
	NoSuch        Reason = "not_found"      // names something that does not exist
	Past          Reason = "past"           // a time that has passed
	TooSoon       Reason = "too_soon"       // inside the service's minimum notice
	BeyondHorizon Reason = "beyond_horizon" // after the last bookable day
	Closed        Reason = "closed"         // a day the office is closed (a closure or a public holiday)
	NotASlot      Reason = "not_a_slot"     // outside the opening hours or off the service's time grid
	InProgress    Reason = "in_progress"    // an Idempotency-Key whose first request is still running
	Reused        Reason = "reused"         // an Idempotency-Key sent before with another request
)

// FieldError is one problem with one field of the input: the field's path,
// a message for people, the stable reason and, where the reason has them,
// its limits or allowed values.
type FieldError struct {
	Field   string   `json:"field"`
	Message string   `json:"message"`
	Reason  Reason   `json:"reason"`
	Limit   *int64   `json:"limit,omitempty"`
	Min     *int64   `json:"min,omitempty"`
	Max     *int64   `json:"max,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

// Error is a domain error. Field names the input at fault ("citizen.email",
// "start"); Fields lists every problem when validation found several.
// Members are more members of the problem document the client receives
// (the bookings a change would strand, a room's window), without personal
// data; RetryAfter, when set, tells the client when to try again.
type Error struct {
	Code       Code
	Message    string
	Field      string
	Fields     []FieldError
	Members    map[string]any
	RetryAfter time.Duration
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

// Field returns an Invalid *Error about one field, with its reason.
func Field(field string, reason Reason, format string, args ...any) *Error {
	var v Validation
	v.Add(field, reason, format, args...)
	return v.Err().(*Error)
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

// WithReason returns an *Error with a code and one field problem with its
// reason (Field is for Invalid).
func WithReason(code Code, field string, reason Reason, format string, args ...any) *Error {
	e := New(code, field, format, args...)
	e.Fields = []FieldError{{Field: field, Message: e.Message, Reason: reason}}
	return e
}

// Unreachable returns an Unavailable *Error (503) telling the client to try
// again after retry, with cause, the failure behind it, kept for the log:
// the client sees only the message.
func Unreachable(cause error, retry time.Duration, format string, args ...any) error {
	e := New(Unavailable, "", format, args...)
	e.RetryAfter = retry
	return &caused{refusal: e, cause: cause}
}

// caused is a refusal with the error behind it, for the log.
type caused struct {
	refusal *Error
	cause   error
}

func (c *caused) Error() string   { return c.refusal.Error() + ": " + c.cause.Error() }
func (c *caused) Unwrap() []error { return []error{c.refusal, c.cause} }

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Validation accumulates field problems, as Knative's apis.FieldError does,
// so one response lists everything wrong with a request.
type Validation struct {
	fields []FieldError
}

// Add records a problem with field, of the given reason.
func (v *Validation) Add(field string, reason Reason, format string, args ...any) *FieldError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	v.fields = append(v.fields, FieldError{Field: field, Message: msg, Reason: reason})
	return &v.fields[len(v.fields)-1]
}

// Required records a missing field.
func (v *Validation) Required(field string) { v.Add(field, Required, "required") }

// TooLong records a text longer than max characters.
func (v *Validation) TooLong(field string, max int) {
	v.Add(field, TooLong, "at most %d characters", max).Limit = ptr(int64(max))
}

// OutOfRange records a whole number outside [min, max].
func (v *Validation) OutOfRange(field string, min, max int64) {
	f := v.Add(field, OutOfRange, "must be a whole number from %d to %d", min, max)
	f.Min, f.Max = ptr(min), ptr(max)
}

// NotAllowed records a value that is none of allowed.
func (v *Validation) NotAllowed(field string, allowed ...string) {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	v.Add(field, NotAllowed, "must be one of %s", strings.Join(quoted, ", ")).Allowed = allowed
}

// With sets the limit of the problem just added, for a reason that has one.
func (f *FieldError) With(limit int64) { f.Limit = ptr(limit) }

// Fields lists the problems added so far.
func (v *Validation) Fields() []FieldError { return v.fields }

func ptr(n int64) *int64 { return &n }

// Err returns nil when nothing was added, or an Invalid *Error naming the
// first field and listing all of them.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	first := v.fields[0]
	return &Error{Code: Invalid, Field: first.Field, Message: first.Message, Fields: v.fields}
}
