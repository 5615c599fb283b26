// Package httpx is the HTTP edge shared by the functions: strict JSON
// decoding, JSON responses, RFC 9457 problem responses, and the one table
// that maps apperr codes to HTTP statuses.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// MaxBody is the largest request body a function reads.
const MaxBody = 64 << 10

// statusOf is the one place where error codes become HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:       http.StatusBadRequest,
	apperr.Unauthorized:  http.StatusUnauthorized,
	apperr.NotFound:      http.StatusNotFound,
	apperr.Conflict:      http.StatusConflict,
	apperr.Gone:          http.StatusGone,
	apperr.Unprocessable: http.StatusUnprocessableEntity,
	apperr.TooLarge:      http.StatusRequestEntityTooLarge,
	apperr.Unsupported:   http.StatusUnsupportedMediaType,
	apperr.Forbidden:     http.StatusForbidden,
	apperr.CSRF:          http.StatusForbidden,
	apperr.Locked:        http.StatusTooManyRequests,
	apperr.RateLimited:   http.StatusTooManyRequests,
	apperr.NotAdmitted:   http.StatusForbidden,
	apperr.NotYetOpen:    http.StatusConflict,
	apperr.Expired:       http.StatusGone,
	apperr.BadGateway:    http.StatusBadGateway,
	apperr.Unavailable:   http.StatusServiceUnavailable,
	apperr.ClientClosed:  StatusClientClosed,
	apperr.Internal:      http.StatusInternalServerError,
}

// StatusClientClosed is the status of a request whose client went away
// before its answer (nginx's 499): nobody reads it, and it is nobody's
// fault on the server's side, so it is no 5xx.
const StatusClientClosed = 499

// Status returns the HTTP status of an error.
func Status(err error) int { return StatusOf(apperr.CodeOf(err)) }

// StatusOf returns the HTTP status of an error code.
func StatusOf(c apperr.Code) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem document, extended with a stable code, the
// field at fault, for validation every field's problem, and the members an
// error adds of its own (a room's opens_at, the bookings a change would
// strand).
type Problem struct {
	Type    string              `json:"type"`
	Title   string              `json:"title"`
	Status  int                 `json:"status"`
	Detail  string              `json:"detail,omitempty"`
	Code    apperr.Code         `json:"code"`
	Field   string              `json:"field,omitempty"`
	Errors  []apperr.FieldError `json:"errors,omitempty"`
	Members map[string]any      `json:"-"`
}

// MarshalJSON writes the problem with its extension members beside the
// standard ones.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Members) == 0 {
		return b, err
	}
	all := map[string]any{}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range p.Members {
		if _, taken := all[k]; !taken {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// ProblemOf converts an error into the problem sent to the client. An error
// that is not an *apperr.Error is ours: its text is not sent.
func ProblemOf(err error) Problem {
	status := Status(err)
	title := http.StatusText(status)
	if status == StatusClientClosed {
		title = "Client Closed Request"
	}
	p := Problem{
		Type:   "urn:sportello:problem:" + string(apperr.CodeOf(err)),
		Title:  title,
		Status: status,
		Code:   apperr.CodeOf(err),
	}
	var e *apperr.Error
	if errors.As(err, &e) && e.Code != apperr.Internal {
		p.Detail, p.Field, p.Errors, p.Members = e.Message, e.Field, e.Fields, e.Members
	} else {
		p.Detail = "internal error"
	}
	return p
}

// Error writes err as a problem response, with Retry-After when the error
// says when to try again. A database that cannot be reached is a 503
// (postgres.Unavailable), never a bare 500. Errors that are our fault are
// logged (their text never carries personal data: it comes from our code
// and the database driver, not from request bodies).
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		err = apperr.New(apperr.ClientClosed, "", "the client closed the request before its answer")
	}
	err = postgres.Unavailable(err)
	p := ProblemOf(err)
	if p.Status >= 500 && log != nil {
		log.ErrorContext(r.Context(), "request failed", "pattern", r.Pattern, "err", err)
	}
	var e *apperr.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.RetryAfter.Seconds())), 10))
	}
	writeProblem(w, p.Status, p)
}

// writeProblem writes a problem document with status. Problems are never
// cached.
func writeProblem(w http.ResponseWriter, status int, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := p.MarshalJSON() // directly: an Encoder would compact its output again
	_, _ = w.Write(append(b, '\n'))
}

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NoStore marks a response that carries personal data or secrets.
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// Decode reads a JSON request body into v strictly: the Content-Type must be
// JSON, the raw text must pass CheckJSON, unknown fields and trailing data
// are refused, and every failure is an apperr naming the field at fault.
func Decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.New(apperr.Unsupported, "Content-Type", "send application/json, not %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		return decodeError(err)
	}
	if err := CheckJSON(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		err = decodeError(err)
		var e *apperr.Error
		if errors.As(err, &e) && strings.HasPrefix(e.Message, "unknown field ") {
			// encoding/json names only the key, not its path: find it.
			if path := unknownField(data, reflect.TypeOf(v)); path != "" {
				return apperr.Field(path, apperr.UnknownField, "unknown field %q", path)
			}
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.Invalid, "", "the body must hold one JSON object and nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "", "the body is empty: send a JSON object")
	case errors.As(err, &tooLarge):
		return apperr.New(apperr.TooLarge, "", "the body is larger than %d bytes", MaxBody)
	case errors.As(err, &syntax):
		return apperr.New(apperr.Invalid, "", "malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "", "malformed JSON: the body ends too early")
	case errors.As(err, &typ):
		field := memberPath(typ.Field)
		if field == "" {
			return apperr.New(apperr.Invalid, "", "the body must be a JSON object")
		}
		return apperr.Field(field, apperr.WrongType, "%s must be a %s, not %s", field, kindOf(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Field(field, apperr.UnknownField, "unknown field %q", field)
	default:
		var e *apperr.Error
		if errors.As(err, &e) {
			return e
		}
		return apperr.New(apperr.Invalid, "", "cannot read the body: %s", err)
	}
}

// memberPath is the path of a member as the API names it, from the one
// encoding/json reports: that one also names the Go type of an embedded
// struct ("ServicePatch.buffer_minutes"). The API's members are all lower
// case, so a segment that begins with a capital is such a name, and goes.
func memberPath(field string) string {
	var kept []string
	for _, seg := range strings.Split(field, ".") {
		if seg != "" && !unicode.IsUpper(rune(seg[0])) {
			kept = append(kept, seg)
		}
	}
	return strings.Join(kept, ".")
}

// unknownField returns the path ("citizen.nickname") of the first key in the
// JSON document data that has no field in type t, as encoding/json matches
// them (the json tag or the Go name, case-insensitively), or "".
func unknownField(data []byte, t reflect.Type) string {
	path, _ := unknownIn(json.NewDecoder(bytes.NewReader(data)), t, "")
	return path
}

func unknownIn(dec *json.Decoder, t reflect.Type, prefix string) (string, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", false
			}
			name, _ := key.(string)
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			var ft reflect.Type // nil: anything goes below
			switch {
			case t != nil && t.Kind() == reflect.Struct:
				f, ok := jsonField(t, name)
				if !ok {
					return path, true
				}
				ft = f
			case t != nil && t.Kind() == reflect.Map:
				ft = t.Elem()
			}
			if p, found := unknownIn(dec, ft, path); found {
				return p, true
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if p, found := unknownIn(dec, et, fmt.Sprintf("%s[%d]", prefix, i)); found {
				return p, true
			}
		}
		_, _ = dec.Token()
	}
	return "", false
}

// jsonField returns the type of the field of struct t that the JSON key
// name fills, looking into embedded structs as encoding/json does.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && tag == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if ft, ok := jsonField(et, name); ok {
					return ft, true
				}
				continue
			}
		}
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, name) {
			return f.Type, true
		}
	}
	return nil, false
}

func kindOf(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "JSON object"
	case "slice", "array":
		return "JSON array"
	default:
		if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") || strings.HasPrefix(k, "float") {
			return "number"
		}
		return k
	}
}

// NotFound is the handler for paths no route matches.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, nil, apperr.New(apperr.NotFound, "", "no such resource: %s %s", r.Method, r.URL.Path))
}

// MethodNotAllowed writes a 405 problem.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, http.StatusMethodNotAllowed, Problem{Type: "urn:sportello:problem:method_not_allowed", Title: "Method Not Allowed",
		Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Detail: fmt.Sprintf("%s is not allowed here", r.Method)})
}

// OneRoute completes mux, where a function registered its one route (method
// path): other methods on path are 405 (with Allow: method), other paths
// 404.
func OneRoute(mux *http.ServeMux, method, path string) http.Handler {
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", method)
		MethodNotAllowed(w, r)
	})
	mux.HandleFunc("/", NotFound)
	return mux
}

// DecodeString reads a body of one member, named field, a string that must
// not be empty ({"service_id": "..."}), strictly as Decode, and answers it.
// Errors: those of Decode; Required (field: missing or "").
func DecodeString(r *http.Request, field string) (string, error) {
	// A struct of one string field tagged field, as if declared in place.
	body := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Value", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + field + `"`)},
	}))
	if err := Decode(r, body.Interface()); err != nil {
		return "", err
	}
	s := body.Elem().Field(0).String()
	if s == "" {
		return "", apperr.Field(field, apperr.Required, "required")
	}
	return s, nil
}

// EmptyBody reports whether the request body is empty, reading at most one
// byte; when it is not, the body is left whole for Decode.
func EmptyBody(r *http.Request) bool {
	var one [1]byte
	n, _ := io.ReadFull(r.Body, one[:])
	if n == 0 {
		return true
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(one[:n]), r.Body))
	return false
}

// DecodeOptional reads an optional body that must be empty or a T (the
// empty object, for the bodiless actions). It answers false once it has
// written the problem.
func DecodeOptional[T any](w http.ResponseWriter, r *http.Request, log *slog.Logger) bool {
	if err := CheckOptional[T](r); err != nil {
		Error(w, r, log, err)
		return false
	}
	return true
}

// CheckOptional reads an optional body that must be empty or a T, as
// DecodeOptional, and returns the problem instead of writing it.
func CheckOptional[T any](r *http.Request) error {
	if r.ContentLength != 0 && !EmptyBody(r) {
		var body T
		return Decode(r, &body)
	}
	return nil
}

// BearerToken reads the token of an Authorization: Bearer header (the
// citizen's manage token). Errors: Unauthorized (Authorization: missing or
// of another scheme).
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", apperr.New(apperr.Unauthorized, "Authorization", "send the manage token as Authorization: Bearer TOKEN")
	}
	scheme, t, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 9110)
		return "", apperr.New(apperr.Unauthorized, "Authorization", "the Authorization header must be Bearer TOKEN")
	}
	return strings.TrimSpace(t), nil
}
