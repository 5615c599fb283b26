package idempotency_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/idempotency"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// counter is a handler that counts the requests it runs, answers what its
// status says and can be held until released.
type counter struct {
	runs    atomic.Int64
	status  int
	release chan struct{}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.runs.Add(1)
	if c.release != nil {
		<-c.release
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Not-Kept", "1")
	w.WriteHeader(c.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"run": n, "echo": string(body)})
}

func send(h http.Handler, method, path, key, body, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		r.Header.Set(idempotency.Header, key)
	}
	if auth != "" {
		r.Header.Set("Authorization", "Bearer "+auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestRetriesAnsweredOnce: a request with a key runs once; its retry gets
// the same answer, marked replayed, with the kept headers; another caller
// or another key runs again; the same key with another body is 422.
func TestRetriesAnsweredOnce(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	c := &counter{status: http.StatusCreated}
	h := idempotency.Wrap(store, "test-"+pgtest.Suffix(), apitest.Discard, c)

	first := send(h, "POST", "/api/things", "k-1", `{"a":1}`, "alice")
	again := send(h, "POST", "/api/things", "k-1", `{"a":1}`, "alice")
	if first.Code != 201 || again.Code != 201 || again.Body.String() != first.Body.String() {
		t.Fatalf("first %d %s, again %d %s: want the same 201", first.Code, first.Body, again.Code, again.Body)
	}
	if again.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, again %q", first.Header().Get("Idempotent-Replayed"), again.Header().Get("Idempotent-Replayed"))
	}
	if again.Header().Get("Cache-Control") != "no-store" || again.Header().Get("Content-Type") != "application/json" || again.Header().Get("X-Not-Kept") != "" {
		t.Errorf("replayed headers: %v", again.Header())
	}
	if n := c.runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}

	for _, tc := range []struct{ name, method, key, body, auth string }{
		{"another key", "POST", "k-2", `{"a":1}`, "alice"},
		{"another caller", "POST", "k-1", `{"a":1}`, "bob"},
		{"no key", "POST", "", `{"a":1}`, "alice"},
	} {
		before := c.runs.Load()
		if rec := send(h, tc.method, "/api/things", tc.key, tc.body, tc.auth); rec.Code != 201 || c.runs.Load() != before+1 {
			t.Errorf("%s: status %d, runs %d -> %d: want a new run", tc.name, rec.Code, before, c.runs.Load())
		}
	}

	before := c.runs.Load()
	apitest.RefusedServe(t, "the same key, another body", apitest.Want(422, "unprocessable", idempotency.Header), h,
		func() *http.Request {
			r := httptest.NewRequest("POST", "/api/things", strings.NewReader(`{"a":2}`))
			r.Header.Set(idempotency.Header, "k-1")
			r.Header.Set("Authorization", "Bearer alice")
			return r
		}())
	if c.runs.Load() != before {
		t.Error("a reused key ran the handler")
	}
}

// TestBadKeys: a key too long or not printable ASCII is a 400 naming the
// header; the handler does not run.
func TestBadKeys(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	c := &counter{status: http.StatusOK}
	h := idempotency.Wrap(store, "test-"+pgtest.Suffix(), apitest.Discard, c)
	for name, key := range map[string]string{"too long": strings.Repeat("k", 256), "not ASCII": "chiavè", "a tab": "a\tb"} {
		r := httptest.NewRequest("POST", "/api/things", strings.NewReader("{}"))
		r.Header.Set(idempotency.Header, key)
		apitest.RefusedServe(t, name, apitest.Want(400, "invalid", idempotency.Header), h, r)
	}
	if n := c.runs.Load(); n != 0 {
		t.Errorf("the handler ran %d times", n)
	}
}

// TestServerErrorsAreNotKept: a 5xx is not kept, so that the retry runs.
func TestServerErrorsAreNotKept(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	c := &counter{status: http.StatusServiceUnavailable}
	h := idempotency.Wrap(store, "test-"+pgtest.Suffix(), apitest.Discard, c)
	send(h, "POST", "/api/things", "k", "{}", "")
	c.status = http.StatusCreated
	if rec := send(h, "POST", "/api/things", "k", "{}", ""); rec.Code != 201 || c.runs.Load() != 2 {
		t.Errorf("retry after a 503: status %d after %d runs, want 201 after 2", rec.Code, c.runs.Load())
	}
}

// TestConcurrentRetries: twenty copies of one request race; the handler
// runs once, the copies that come while it runs are 409 with Retry-After,
// and once it is done every copy gets its answer.
func TestConcurrentRetries(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	c := &counter{status: http.StatusCreated, release: make(chan struct{})}
	h := idempotency.Wrap(store, "test-"+pgtest.Suffix(), apitest.Discard, c)
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	firstDone := make(chan *httptest.ResponseRecorder, 1)
	go func() { firstDone <- send(h, "POST", "/api/things", "race", "{}", "") }()
	for c.runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 19 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := send(h, "POST", "/api/things", "race", "{}", "")
			if rec.Code == http.StatusConflict && rec.Header().Get("Retry-After") != "1" {
				t.Errorf("409 without Retry-After: 1: %v", rec.Header())
			}
			codes <- rec.Code
		}()
	}
	wg.Wait()
	close(c.release)
	first := <-firstDone
	close(codes)
	for code := range codes {
		if code != http.StatusConflict {
			t.Errorf("a copy while the first ran: %d, want 409", code)
		}
	}
	if rec := send(h, "POST", "/api/things", "race", "{}", ""); rec.Code != 201 || rec.Body.String() != first.Body.String() {
		t.Errorf("after: %d %s, want the first's %s", rec.Code, rec.Body, first.Body)
	}
	if n := c.runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
	var kept int
	_ = store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM idempotency_keys WHERE key = 'race'`).Scan(&kept)
	if kept != 1 {
		t.Errorf("%d rows for the key, want 1", kept)
	}
}

// TestALateEndLeavesALaterClaim: a request's claim ended late — its end
// recorded again after the database was away, by then the key abandoned
// and claimed by a retry — ends only its own claim: the retry's stays in
// progress, and its answer is the one kept.
func TestALateEndLeavesALaterClaim(t *testing.T) {
	store, clk := pgtest.Store(t, apitest.Monday)
	scope, key, hash := "test-"+pgtest.Suffix(), "k", []byte("request")
	state, _, first, err := store.ClaimKey(t.Context(), scope, key, hash)
	if err != nil || state != postgres.KeyClaimed {
		t.Fatalf("first claim: %v, %v", state, err)
	}
	clk.Advance(postgres.AbandonedKey + time.Second)
	state, _, second, err := store.ClaimKey(t.Context(), scope, key, hash)
	if err != nil || state != postgres.KeyClaimed {
		t.Fatalf("the abandoned key claimed again: %v, %v", state, err)
	}
	if err := store.ReleaseKey(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	if err := store.KeepAnswer(t.Context(), first, postgres.KeptAnswer{Status: 500}); err != nil {
		t.Fatal(err)
	}
	if state, _, _, err := store.ClaimKey(t.Context(), scope, key, hash); err != nil || state != postgres.KeyInProgress {
		t.Fatalf("after the first claim's late end: %v, %v; want the second still in progress", state, err)
	}
	if err := store.KeepAnswer(t.Context(), second, postgres.KeptAnswer{Status: 201, Body: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	state, kept, _, err := store.ClaimKey(t.Context(), scope, key, hash)
	if err != nil || state != postgres.KeyAnswered || kept.Status != 201 || string(kept.Body) != "second" {
		t.Fatalf("after the second claim's end: %v %d %q, %v; want its answer", state, kept.Status, kept.Body, err)
	}
}
