package apitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// OpenAPIPath is the OpenAPI 3.1 document of the HTTP API, from the
// repository's root. The site serves it at /sviluppatori/openapi.yaml.
const OpenAPIPath = "web/src/sviluppatori/openapi.yaml"

// API is the OpenAPI document loaded once per test binary, with its router.
type API struct {
	Doc    *openapi3.T
	Router routers.Router
}

var (
	apiOnce sync.Once
	api     *API
	apiErr  error
)

// RepoRoot is the repository's root, found from this file's path.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// OpenAPI loads the OpenAPI document (once per test binary) and fails tb
// when it cannot be read, resolved or routed.
func OpenAPI(tb testing.TB) *API {
	tb.Helper()
	apiOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(RepoRoot(), OpenAPIPath))
		if err != nil {
			apiErr = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			apiErr = fmt.Errorf("%s: %w", OpenAPIPath, err)
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			apiErr = fmt.Errorf("%s: %w", OpenAPIPath, err)
			return
		}
		api = &API{Doc: doc, Router: router}
	})
	if apiErr != nil {
		tb.Fatalf("the OpenAPI document: %v", apiErr)
	}
	return api
}

// validated is a handler whose requests and answers are checked against
// the OpenAPI document.
type validated struct {
	tb testing.TB
	h  http.Handler
}

// Validated wraps h so that every request it serves is checked against
// the OpenAPI document (OpenAPIPath) and every answer too: the route must
// be documented (else the answer must be a 400, 404 or 405 problem), the
// status must be one of the operation's, with its headers, content type
// and body schema; a request answered 2xx must itself be valid (its
// parameters, credentials and body), since the handler took it. A request
// answered 4xx is not checked: refusing bad input is the point. Failures
// are reported with tb.Errorf, so h may run on a server's goroutine.
func Validated(tb testing.TB, h http.Handler) http.Handler {
	if v, ok := h.(*validated); ok {
		return v
	}
	OpenAPI(tb)
	return &validated{tb: tb, h: h}
}

// validatedBy is h checked against the OpenAPI document with failures
// reported to tb, this request's test: h may validate already, for the
// test (or fuzz target) that built it, whose tb must not be used by
// another test's request.
func validatedBy(tb testing.TB, h http.Handler) *validated {
	OpenAPI(tb)
	if v, ok := h.(*validated); ok {
		h = v.h
	}
	return &validated{tb: tb, h: h}
}

func (v *validated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.serve(w, r, true)
}

// checking marks a request a validator checks.
type checking struct{}

// serve runs r through the handler into w, checking the answer and, if
// requests and the answer is a 2xx, the request.
func (v *validated) serve(w http.ResponseWriter, r *http.Request, requests bool) {
	if r.Context().Value(checking{}) != nil {
		v.h.ServeHTTP(w, r) // a validator outside this one checks it
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), checking{}, true))
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rec := httptest.NewRecorder()
	v.h.ServeHTTP(rec, r)
	res := rec.Result()
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(rec.Body.Bytes())

	check := r.Clone(context.Background())
	check.Body = io.NopCloser(bytes.NewReader(body))
	check.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if len(body) > 0 && check.Header.Get("Content-Type") == "" {
		// httpx.Decode reads a body without a Content-Type as JSON.
		check.Header.Set("Content-Type", "application/json")
	}
	if err := Conforms(v.tb, check, requests, res.StatusCode, res.Header, rec.Body.Bytes()); err != nil {
		v.tb.Errorf("OpenAPI: %s %s → %d: %v\nanswer: %.2000s", r.Method, r.URL, res.StatusCode, err, rec.Body.Bytes())
	}
}

// Conforms checks an answer (status, header, body) to r against the
// OpenAPI document and, with requests set and a 2xx answer, r itself.
func Conforms(tb testing.TB, r *http.Request, requests bool, status int, header http.Header, body []byte) error {
	a := OpenAPI(tb)
	route, params, err := a.Router.FindRoute(r)
	if err != nil {
		tally(r.Method+" (undocumented)", status, false)
		// Outside the document's routes: ServeMux's redirect to a clean
		// path, or a refusal (no such route or method, a path the edge
		// refuses, an Idempotency-Key replayed before any route).
		switch {
		case status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect:
			return nil
		case status >= 400 && status < 500:
			return a.problem(header, body)
		}
		return fmt.Errorf("the route is not in the document (%v), yet answered %d", err, status)
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: credentialPresent,
			MultiError:         true,
		},
	}
	requests = requests && status >= 200 && status < 300
	tally(r.Method+" "+route.Path, status, requests)
	if requests {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			return fmt.Errorf("the request, answered %d, is not valid: %w", status, err)
		}
	}
	if header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("a gzip body that is not gzip: %w", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("a gzip body that is not gzip: %w", err)
		}
	}
	op := route.Operation
	if resp := op.Responses.Status(status); resp != nil && resp.Value != nil && len(resp.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("status %d is documented without a body, yet has one", status)
	}
	input.Options = &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                input.Options,
	})
	if err != nil {
		return fmt.Errorf("the answer does not match %s %s: %w", r.Method, route.Path, err)
	}
	return nil
}

// problem checks that an answer outside the document's routes is a
// problem document.
func (a *API) problem(header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("an answer outside the document's routes must be a problem, not %q", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return a.Doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors())
}

// credentialPresent is the authentication of the document's security
// schemes in tests: the credential must be there, in its place; whether
// it is right is the handler's business.
func credentialPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "http" && s.Scheme == "bearer":
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return errors.New("no Bearer token in Authorization")
		}
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) == "" {
			return fmt.Errorf("no %s header", s.Name)
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if c, err := r.Cookie(s.Name); err != nil || c.Value == "" {
			return fmt.Errorf("no %s cookie", s.Name)
		}
	default:
		return fmt.Errorf("security scheme %q: not checked in tests", in.SecuritySchemeName)
	}
	return nil
}

// tallyFile, when SPORTELLO_OPENAPI_TALLY names a file, receives a line
// per answer checked: the operation (or "(undocumented)"), the status and
// whether the request was checked too.
var tallyFile = sync.OnceValue(func() *os.File {
	name := os.Getenv("SPORTELLO_OPENAPI_TALLY")
	if name == "" {
		return nil
	}
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil
	}
	return f
})

func tally(op string, status int, request bool) {
	if f := tallyFile(); f != nil {
		fmt.Fprintf(f, "%s %d request=%t\n", op, status, request)
	}
}
