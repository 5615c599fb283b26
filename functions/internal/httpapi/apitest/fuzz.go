package apitest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Endpoint is one route that a fuzz target sends its inputs to.
type Endpoint struct {
	Method string
	// Path is the route's path with its ids filled in; a query target
	// appends "?" and the fuzzed query string.
	Path string
	// Prepare, if set, adds to each request what the route needs besides
	// the input: a session and its CSRF token, a manage token.
	Prepare func(*http.Request)
	// Except names the watched tables a refusal may still write: a failed
	// sign-in is audited.
	Except []string
}

// Watched are the tables a refused request must leave as they were. A
// session's row is only counted: every request it authenticates moves
// its last_seen.
var Watched = []string{"bookings", "outbox", "audit_log", "documents", "manage_tokens", "operator_sessions",
	"offices", "services", "desks", "closures", "opening_hours", "operators", "operator_offices"}

// FuzzBody runs the fuzz target f against endpoint e of h: every input is
// sent as a JSON body, and must pass Check. The seed corpus is valid, the
// generic malformed bodies, and each valid body with each of its values
// replaced by text no field may hold, a value of another type, or a number
// out of range; go test runs the seeds, make fuzz explores from them.
func FuzzBody(f *testing.F, h http.Handler, e Endpoint, valid ...string) {
	for _, s := range Seeds(valid...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(e.Method, e.Path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		Check(t, h, e, r)
	})
}

// FuzzQuery is FuzzBody for a route whose input is its query string.
func FuzzQuery(f *testing.F, h http.Handler, e Endpoint, valid ...string) {
	for _, q := range QuerySeeds(valid...) {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(e.Method, e.Path, nil)
		r.URL.RawQuery = query
		Check(t, h, e, r)
	})
}

// FuzzPath is FuzzBody for a route whose input is the last segment of
// its path (an id): e.Path is the path up to that segment, and each input
// stands after it as the server would see it once unescaped.
func FuzzPath(f *testing.F, h http.Handler, e Endpoint, valid ...string) {
	for _, id := range valid {
		f.Add(id)
	}
	for _, id := range []string{"", "x", "a\x00b", "\xff", "%00", "..", "../../etc/passwd", " ", "\u202e", strings.Repeat("9", 600)} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		r := httptest.NewRequest(e.Method, "/", nil)
		r.URL.Path = e.Path + id
		Check(t, h, e, r)
	})
}

// addresses gives every fuzzed request its own network address, so that
// the per-address limits do not turn the rest of a run into 429s.
var addresses atomic.Uint32

// Check serves r through h and fails t unless the answer is a 2xx or 3xx,
// or a 4xx problem+json that left every watched table (but e.Except) as
// it was. A 5xx always fails. The answer must match the OpenAPI document
// (Validated); the request need not: fuzzed input is meant to be wrong.
func Check(t *testing.T, h http.Handler, e Endpoint, r *http.Request) {
	t.Helper()
	n := addresses.Add(1)
	r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", n>>16&0xff, n>>8&0xff, n&0xff)
	if e.Prepare != nil {
		e.Prepare(r)
	}
	before := watched(t, e.Except)
	rec := httptest.NewRecorder()
	OpenAPI(t)
	validatedBy(t, h).serve(rec, r, false)
	switch {
	case rec.Code >= 500:
		t.Fatalf("%s %s: status %d, a 5xx on client input is a bug: %s", e.Method, e.Path, rec.Code, rec.Body)
	case rec.Code >= 400:
		ProblemOf(t, rec, NoStore)
		if after := watched(t, e.Except); after != before {
			t.Fatalf("%s %s: a %d refusal wrote to the database:\nbefore %s\nafter  %s\nbody: %s", e.Method, e.Path, rec.Code, before, after, rec.Body)
		}
	}
}

// watched is the state of the Watched tables but except: each one's row
// count and the newest transaction that wrote one of its rows (xmin: an
// insert or an update gives the row a newer one, a delete lowers the
// count), the sessions' count only. It reads no row's contents, so that
// the seed corpora, hundreds of inputs a target, stay fast.
func watched(tb testing.TB, except []string) string {
	tb.Helper()
	var parts []string
	for _, table := range Watched {
		if slices.Contains(except, table) {
			continue
		}
		if table == "operator_sessions" {
			parts = append(parts, fmt.Sprintf("'%s ' || (SELECT count(*) FROM %s)", table, table))
			continue
		}
		parts = append(parts, fmt.Sprintf("'%s ' || (SELECT count(*) || ' ' || coalesce(max(xmin::text::bigint), 0) FROM %s)", table, table))
	}
	var s string
	if err := pgtest.Pool(tb).QueryRow(context.Background(), "SELECT concat_ws('; ', "+strings.Join(parts, ", ")+")").Scan(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// badText is what no text field may hold, as JSON string contents: raw
// invalid UTF-8, escaped NUL and controls, halves of surrogate pairs, a
// raw C1 control, and a string longer than any field.
var badText = []string{
	"\xff", "a\xc3", "\xc0\xaf", `\u0000`, `a\u0000b`, `\b`, `\u001b[31m`, `\ud800`, `\udfff`, `\ud83d\u0041`,
	"\u0085", `\u007f`, strings.Repeat("x", 10001), `a\nb`, `'; DROP TABLE bookings; --`, `%00`, ` `, ``,
}

// otherTypes are JSON values of every kind, numbers out of every range
// among them, to stand where a value of another type is due.
var otherTypes = []string{`null`, `true`, `0`, `-1`, `1e400`, `-1e400`, `99999999999999999999`, `0.5`, `[]`, `{}`, `[{}]`, `"x"`}

// generic are bodies wrong as a whole.
var generic = []string{
	``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `{"a":`, `{}x`, `{}{}`, `{"a":1,"a":2}`, "\xef\xbb\xbf{}",
	strings.Repeat(`[`, 64) + strings.Repeat(`]`, 64), strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
}

// value matches a member's value in a flat JSON text: a string, a number
// or a literal after a colon.
var value = regexp.MustCompile(`:\s*("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)`)

// Seeds is the seed corpus of FuzzBody for the valid bodies.
func Seeds(valid ...string) []string {
	seeds := slices.Clone(generic)
	for _, body := range valid {
		seeds = append(seeds, body)
		for _, m := range value.FindAllStringSubmatchIndex(body, -1) {
			at, end := m[2], m[3]
			with := func(v string) { seeds = append(seeds, body[:at]+v+body[end:]) }
			for _, bad := range badText {
				with(`"` + bad + `"`)
			}
			for _, other := range otherTypes {
				with(other)
			}
		}
		// the first member given twice, once in another case
		if i := strings.IndexByte(body, '{'); i >= 0 && value.MatchString(body) {
			m := regexp.MustCompile(`\{\s*"([^"]*)"\s*:`).FindStringSubmatchIndex(body)
			if m != nil {
				name := body[m[2]:m[3]]
				seeds = append(seeds, body[:i+1]+`"`+strings.ToUpper(name)+`": null, `+body[i+1:])
			}
		}
	}
	return seeds
}

// QuerySeeds is the seed corpus of FuzzQuery for the valid query
// strings: each of them, each with every value replaced by text no
// parameter may hold, and query strings wrong as a whole.
func QuerySeeds(valid ...string) []string {
	var seeds []string
	for _, q := range valid {
		seeds = append(seeds, q)
		for _, bad := range badQueryValues {
			seeds = append(seeds, replaceQueryValues(q, bad))
		}
	}
	return append(seeds, "", "&&&", "=", "a=%zz", "%FF=1", ";", strings.Repeat("x=1&", 300))
}

var badQueryValues = []string{"%00", "%FF", "%C3", "%0A", "%1B", "%E2%80%8B", strings.Repeat("a", 600), "%zz", "-1", "99999999999999999999"}

// replaceQueryValues is the query q with every value replaced by bad.
func replaceQueryValues(q, bad string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if name, _, ok := strings.Cut(p, "="); ok {
			parts[i] = name + "=" + bad
		}
	}
	return strings.Join(parts, "&")
}

// OpenEdge is Open for a fuzz target: the store, the handler as it serves
// the network (function.Edge under name, not Validated: most fuzz inputs
// are not requests of the API) and a new service of svc.
func OpenEdge(tb testing.TB, name string, svc pgtest.Service, handler func(*postgres.Store) http.Handler) (*postgres.Store, http.Handler, string) {
	tb.Helper()
	store, _ := pgtest.Store(tb, Monday.UTC())
	_, id := pgtest.NewService(tb, store.Pool, svc)
	return store, function.Edge(store, name, Discard, handler(store)), id
}
