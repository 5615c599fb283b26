// Package apitest holds what the functions' handler tests share: the
// fixed moments they run at (Monday in Rome), opening a test's function on
// its store with a service (Open, OpenEdge), building requests as the site,
// a browser or a signed-in operator sends them, running a request through a
// handler with the checks every answer must pass, decoding and checking a
// problem answer, comparing JSON bodies exactly, reading the written
// state of the package's pgtest database (bookings and outbox), and a free
// port for a test's own server.
//
// It is for tests only: its functions fail the test they are given.
package apitest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Rome, Monday and At are the fixed moments of the store's tests
// (pgtest's), which the handler tests run at too: Rome is Europe/Rome,
// Monday 2027-03-01 08:00 in Rome (an ordinary Monday), and At the moment
// hhmm ("09:30") of day ("2027-03-02") in Rome, panicking on a malformed
// day or time.
var (
	Rome   = pgtest.Rome
	Monday = pgtest.Monday
	At     = pgtest.At
)

// Problem is the RFC 9457 document the functions answer on errors.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Code   string              `json:"code"`
	Field  string              `json:"field"`
	Errors []apperr.FieldError `json:"errors"`
}

// Verdict is what a test expects of an error response.
type Verdict struct {
	Status int
	Code   string
	Field  string
}

// Want is the Verdict expected of an error response: its status, the
// problem's code and the field at fault ("" for none).
func Want(status int, code, field string) Verdict {
	return Verdict{status, code, field}
}

// VerdictOf is the Verdict of a response and the problem decoded from it
// (ProblemOf): the response's status, the problem's code and field.
func VerdictOf(rec *httptest.ResponseRecorder, p Problem) Verdict {
	return Verdict{rec.Code, p.Code, p.Field}
}

// Option asks Serve or ProblemOf to check one more thing of a response.
type Option int

const (
	// NoStore requires the response to carry Cache-Control: no-store.
	NoStore Option = iota + 1
)

func has(opts []Option, o Option) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// Serve runs one request through h, checked against the OpenAPI document
// (Validated). A 5xx is our fault, never the client's: every test case
// that yields one fails. With NoStore, every answer must also carry
// Cache-Control: no-store.
func Serve(tb testing.TB, h http.Handler, r *http.Request, opts ...Option) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	validatedBy(tb, h).ServeHTTP(rec, r)
	if rec.Code >= 500 {
		tb.Errorf("%s %s: status %d, a 5xx on client input is a bug: %s", r.Method, r.URL, rec.Code, rec.Body)
	}
	if has(opts, NoStore) {
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			tb.Errorf("%s %s: status %d with Cache-Control %q, want no-store", r.Method, r.URL, rec.Code, cc)
		}
	}
	return rec
}

// ProblemOf decodes a problem response and checks that it is consistent.
// With NoStore it must also not be cacheable (Cache-Control: no-store).
func ProblemOf(tb testing.TB, rec *httptest.ResponseRecorder, opts ...Option) Problem {
	tb.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if has(opts, NoStore) {
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			tb.Errorf("Cache-Control = %q, want no-store", cc)
		}
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if p.Status != rec.Code || p.Type != "urn:sportello:problem:"+p.Code || p.Detail == "" {
		tb.Errorf("inconsistent problem for status %d: %+v", rec.Code, p)
	}
	return p
}

// SameJSON compares a JSON body with the expected document, given as JSON
// text, exactly: the same keys (no more, no fewer) and the same values.
func SameJSON(tb testing.TB, got []byte, want string) {
	tb.Helper()
	g := decodeBody(tb, got)
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("expected body: %v", err)
	}
	diffJSON(tb, w, g)
}

// SameJSONValue is SameJSON with the expected document given as a Go value
// in the handler's JSON shape, which it encodes first.
func SameJSONValue(tb testing.TB, got []byte, want any) {
	tb.Helper()
	g := decodeBody(tb, got)
	b, err := json.Marshal(want)
	if err != nil {
		tb.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(b, &w); err != nil {
		tb.Fatal(err)
	}
	diffJSON(tb, w, g)
}

func decodeBody(tb testing.TB, body []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("response body %q: %v", body, err)
	}
	return v
}

func diffJSON(tb testing.TB, want, got any) {
	tb.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("body (-want +got):\n%s", diff)
	}
}

// Snapshot is the written state of the database: how many bookings and
// outbox rows there are and a digest of their contents, so that a request
// that must write nothing can be seen to leave it exactly as it was, not
// only with as many rows.
type Snapshot struct {
	Bookings, Outbox int
	Digest           string
}

// Snap takes a Snapshot of the package's pgtest database.
func Snap(tb testing.TB) Snapshot {
	tb.Helper()
	var s Snapshot
	err := pgtest.Pool(tb).QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM outbox),
		       (SELECT md5(coalesce(string_agg(b::text, ',' ORDER BY b.id), '')) FROM bookings b) ||
		       (SELECT md5(coalesce(string_agg(o::text, ',' ORDER BY o.id), '')) FROM outbox o)`).
		Scan(&s.Bookings, &s.Outbox, &s.Digest)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Unchanged fails the test when the database is no longer as it was in
// before: what (say, "a repeated delivery") must have written nothing.
func Unchanged(tb testing.TB, what string, before Snapshot) {
	tb.Helper()
	if after := Snap(tb); after != before {
		tb.Errorf("%s wrote: %+v -> %+v", what, before, after)
	}
}

// Wrote fails the test unless, since before, the database gained exactly
// bookings booking rows (0 for a change of an existing booking) and events
// outbox rows.
func Wrote(tb testing.TB, before Snapshot, bookings, events int) {
	tb.Helper()
	if after := Snap(tb); after.Bookings != before.Bookings+bookings || after.Outbox != before.Outbox+events {
		tb.Errorf("rows: bookings %d -> %d, outbox %d -> %d; want %d more bookings and %d more events",
			before.Bookings, after.Bookings, before.Outbox, after.Outbox, bookings, events)
	}
}

// EventsOf counts the outbox rows of one type about one booking (its
// subject) in the package's pgtest database.
func EventsOf(tb testing.TB, subject, typ string) int {
	tb.Helper()
	var n int
	if err := pgtest.Pool(tb).QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE subject = $1 AND type = $2`, subject, typ).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// VerdictNoStore is the Verdict of a problem response that must carry
// Cache-Control: no-store.
func VerdictNoStore(tb testing.TB, rec *httptest.ResponseRecorder) Verdict {
	tb.Helper()
	return VerdictOf(rec, ProblemOf(tb, rec, NoStore))
}

// Decode reads a JSON body into a T, failing the test when it cannot.
func Decode[T any](tb testing.TB, body []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("%v: %s", err, body)
	}
	return v
}

// RFC3339 is t in Rome, as the functions answer times.
func RFC3339(t time.Time) string { return t.In(Rome).Format(time.RFC3339) }

// Refused runs a request that must be refused: its problem must have the
// verdict want, carry Cache-Control: no-store, and leave the database
// exactly as it was. label names the case in failures.
func Refused(tb testing.TB, label string, want Verdict, do func() *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	tb.Helper()
	before := Snap(tb)
	rec := do()
	if got := VerdictNoStore(tb, rec); got != want {
		tb.Errorf("%s: got %+v, want %+v; body: %s", label, got, want, rec.Body)
	}
	if after := Snap(tb); after != before {
		tb.Errorf("%s: a refused request wrote to the database: %+v -> %+v", label, before, after)
	}
	return rec
}

// RefusedServe is Refused for request r served by h.
func RefusedServe(tb testing.TB, label string, want Verdict, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	return Refused(tb, label, want, func() *httptest.ResponseRecorder { return Serve(tb, h, r) })
}

// Open is one test's function on the package's pgtest database: its store
// with the clock at Monday, the handler that handler makes on the store
// (Validated), and a new service of svc (its id).
func Open(tb testing.TB, svc pgtest.Service, handler func(*postgres.Store) http.Handler) (*postgres.Store, *clock.Fixed, http.Handler, string) {
	tb.Helper()
	store, clk := pgtest.Store(tb, Monday)
	h := Validated(tb, handler(store))
	_, id := pgtest.NewService(tb, store.Pool, svc)
	return store, clk, h, id
}

// JSONAnswer fails the test unless rec is a JSON answer (Content-Type
// application/json) of status, stopping it on another status; with a
// cacheControl other than "" the answer must also carry that Cache-Control.
func JSONAnswer(tb testing.TB, rec *httptest.ResponseRecorder, status int, cacheControl string) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cacheControl != "" && cc != cacheControl {
		tb.Errorf("Cache-Control = %q, want %s", cc, cacheControl)
	}
}
