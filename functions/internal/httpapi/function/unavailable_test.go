package function_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// dbLink stands between a function and the real PostgreSQL: up, it
// forwards; down, it cuts every connection and every new one at once (as a
// stopped server, or a reset); silent, it accepts connections and never
// answers (as a server that hangs).
type dbLink struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	state  string // "up", "down" or "silent"
	conns  []net.Conn
}

func newDBLink(t *testing.T, target string) *dbLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dbLink{ln: ln, target: target, state: "up"}
	t.Cleanup(func() { ln.Close(); d.set("down") })
	go d.serve()
	return d
}

func (d *dbLink) serve() {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		state := d.state
		if state != "down" {
			d.conns = append(d.conns, c)
		}
		d.mu.Unlock()
		switch state {
		case "down":
			c.Close()
		case "up":
			go d.forward(c)
		}
	}
}

func (d *dbLink) forward(c net.Conn) {
	s, err := net.Dial("tcp", d.target)
	if err != nil {
		c.Close()
		return
	}
	d.mu.Lock()
	d.conns = append(d.conns, s)
	d.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

// set changes the state; down and silent cut every open connection.
func (d *dbLink) set(state string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = state
	if state != "up" {
		for _, c := range d.conns {
			c.Close()
		}
		d.conns = nil
	}
}

// onLink runs a function on the package's database through a dbLink (with
// DATABASE_TIMEOUT 1s), serving what handler makes of its Env and the link;
// it answers the function's base URL once the function is ready.
func onLink(t *testing.T, handler func(env *function.Env, link *dbLink) http.Handler) (string, *dbLink) {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	link := newDBLink(t, u.Host)
	u.Host = link.ln.Addr().String()
	port := apitest.FreePort(t)
	t.Setenv("DATABASE_URL", u.String())
	t.Setenv("DATABASE_TIMEOUT", "1s")
	t.Setenv("PORT", fmt.Sprint(port))
	t.Setenv("DRAIN_QUIET_PERIOD", "100ms")
	t.Setenv("K_SINK", "")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- function.Run(ctx, "test", func(env *function.Env) http.Handler { return handler(env, link) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for get(base+"/health/readiness") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return base, link
}

// write is the handler of POST /api/write: one transaction on the database.
func write(env *function.Env) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := env.Store.InTx(r.Context(), func(tx *postgres.Tx) error {
			_, err := tx.Exec(r.Context(), `SELECT 1`)
			return err
		})
		if err != nil {
			httpx.Error(w, r, env.Log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestRunAnswers503WhileTheDatabaseIsUnreachable: while the database cannot
// be reached — connections cut, or a server that never answers — a request
// that needs it answers 503 problem+json with Retry-After within
// DATABASE_TIMEOUT, never a 500 and never hanging; readiness fails and
// liveness does not; when the database is back, the function recovers by
// itself.
func TestRunAnswers503WhileTheDatabaseIsUnreachable(t *testing.T) {
	base, link := onLink(t, func(env *function.Env, _ *dbLink) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/write", write(env))
		return mux
	})
	client := &http.Client{Timeout: 10 * time.Second}
	status := func(method, path string) (int, http.Header, []byte, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v after %s", method, path, err, time.Since(start))
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, time.Since(start)
	}
	if s, _, b, _ := status("POST", "/api/write"); s != http.StatusNoContent {
		t.Fatalf("with the database up: %d %s", s, b)
	}

	for _, state := range []string{"down", "silent"} {
		t.Run(state, func(t *testing.T) {
			link.set(state)
			for i := range 3 {
				s, h, b, took := status("POST", "/api/write")
				if s != http.StatusServiceUnavailable || h.Get("Content-Type") != "application/problem+json" || h.Get("Retry-After") != "5" {
					t.Fatalf("request %d with the database %s: %d Content-Type %q Retry-After %q: %s", i, state, s, h.Get("Content-Type"), h.Get("Retry-After"), b)
				}
				var p httpx.Problem
				if err := json.Unmarshal(b, &p); err != nil || p.Code != "unavailable" {
					t.Fatalf("problem %s: %v", b, err)
				}
				if took > 2*time.Second {
					t.Errorf("request %d with the database %s answered after %s, want within DATABASE_TIMEOUT (1s)", i, state, took)
				}
				t.Logf("database %s: 503 in %s", state, took.Round(time.Millisecond))
			}
			if s, _, _, took := status("GET", "/health/readiness"); s != http.StatusServiceUnavailable || took > 3*time.Second {
				t.Errorf("readiness with the database %s: %d after %s, want 503 at once", state, s, took)
			}
			if s, _, _, _ := status("GET", "/health/liveness"); s != http.StatusOK {
				t.Errorf("liveness with the database %s: %d, want 200", state, s)
			}

			link.set("up")
			deadline := time.Now().Add(5 * time.Second)
			for {
				s, _, b, _ := status("POST", "/api/write")
				if s == http.StatusNoContent {
					break
				}
				if s != http.StatusServiceUnavailable || time.Now().After(deadline) {
					t.Fatalf("after the database came back: %d %s", s, b)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if s, _, _, _ := status("GET", "/health/readiness"); s != http.StatusOK {
				t.Errorf("readiness after the database came back: %d", s)
			}
		})
	}
}

// TestIdempotencyKeyOutlivesAnOutage: a request with an Idempotency-Key
// whose end the database missed — its 5xx could not release the key, or its
// answer could not be kept — does not leave its retries refused as in
// progress until the key is abandoned (postgres.AbandonedKey, a minute):
// once the database is back the instance records its end, and a retry runs
// again after the 5xx, or gets the kept answer.
func TestIdempotencyKeyOutlivesAnOutage(t *testing.T) {
	var runs atomic.Int32
	base, link := onLink(t, func(env *function.Env, link *dbLink) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/write", func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			switch r.Header.Get("X-Cut") {
			case "before": // the database goes as the request starts: a 503
				link.set("down")
				write(env)(w, r)
			case "after": // the database goes as the answer leaves
				write(env)(w, r)
				link.set("down")
			default:
				write(env)(w, r)
			}
		})
		return mux
	})
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(key, cut string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/write", nil)
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("X-Cut", cut)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		cut            string
		first, retried int
		runs           int32
		replayed       string
	}{
		{cut: "before", first: http.StatusServiceUnavailable, retried: http.StatusNoContent, runs: 2},
		{cut: "after", first: http.StatusNoContent, retried: http.StatusNoContent, runs: 1, replayed: "true"},
	} {
		t.Run(tc.cut, func(t *testing.T) {
			runs.Store(0)
			key := fmt.Sprintf("outage-%s-%d", tc.cut, time.Now().UnixNano())
			if got := post(key, tc.cut).StatusCode; got != tc.first {
				t.Fatalf("the request the outage met: %d, want %d", got, tc.first)
			}
			link.set("up")
			// Without the instance trying again, every retry is a 409 for
			// a minute; with it, a few seconds at most.
			deadline := time.Now().Add(postgres.AbandonedKey / 3)
			resp := post(key, "")
			for resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusServiceUnavailable {
				if time.Now().After(deadline) {
					t.Fatalf("retries still %d after %s", resp.StatusCode, postgres.AbandonedKey/3)
				}
				time.Sleep(200 * time.Millisecond)
				resp = post(key, "")
			}
			if resp.StatusCode != tc.retried || resp.Header.Get("Idempotent-Replayed") != tc.replayed || runs.Load() != tc.runs {
				t.Errorf("retry: %d, Idempotent-Replayed %q, the handler ran %d times; want %d, %q, %d",
					resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), runs.Load(), tc.retried, tc.replayed, tc.runs)
			}
		})
	}
}

// TestRunServesBeforeTheDatabaseAnswers: a function listens while its
// first database connection is being opened — liveness answers, readiness
// fails until the database has answered — and becomes ready by itself once
// it does; a database that does not answer within DATABASE_WAIT stops the
// function with an error, as before.
func TestRunServesBeforeTheDatabaseAnswers(t *testing.T) {
	start := func(t *testing.T, wait string) (string, *dbLink, chan error, context.CancelFunc) {
		u, err := url.Parse(pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		link := newDBLink(t, u.Host)
		link.set("down")
		u.Host = link.ln.Addr().String()
		port := apitest.FreePort(t)
		t.Setenv("DATABASE_URL", u.String())
		t.Setenv("DATABASE_TIMEOUT", "1s")
		t.Setenv("DATABASE_WAIT", wait)
		t.Setenv("PORT", fmt.Sprint(port))
		t.Setenv("DRAIN_QUIET_PERIOD", "100ms")
		t.Setenv("K_SINK", "")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- function.Run(ctx, "test", func(env *function.Env) http.Handler {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /api/write", write(env))
				return mux
			})
		}()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("Run did not return")
			}
		})
		return fmt.Sprintf("http://127.0.0.1:%d", port), link, done, cancel
	}

	t.Run("ready once the database answers", func(t *testing.T) {
		base, link, done, _ := start(t, "30s")
		awaitStatus(t, base+"/health/liveness", http.StatusOK, 10*time.Second, "not listening while the database is down")
		for i := range 5 {
			if s := get(base + "/health/readiness"); s != http.StatusServiceUnavailable {
				t.Fatalf("readiness %d with the database not reached yet: %d, want 503", i, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned while waiting for the database: %v", err)
		default:
		}
		link.set("up")
		awaitStatus(t, base+"/health/readiness", http.StatusOK, 5*time.Second, "not ready after the database came up")
		resp, err := http.Post(base+"/api/write", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("a write once ready: %d", resp.StatusCode)
		}
	})

	t.Run("stops cleanly when told to while connecting", func(t *testing.T) {
		base, _, done, stop := start(t, "30s")
		awaitStatus(t, base+"/health/liveness", http.StatusOK, 10*time.Second, "not listening while the database is down")
		stop() // as SIGTERM would
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run stopped while connecting returned %v, want nil (a SIGTERM is no failure)", err)
			}
			done <- err // for the cleanup
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after it was told to stop")
		}
	})

	t.Run("stops after DATABASE_WAIT", func(t *testing.T) {
		_, _, done, _ := start(t, "300ms")
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "postgres: ping") {
				t.Fatalf("Run returned %v, want the ping's error", err)
			}
			done <- err // for the cleanup
		case <-time.After(10 * time.Second):
			t.Fatal("Run still waiting for the database 10s after DATABASE_WAIT (300ms)")
		}
	})
}

// awaitStatus polls url until it answers want, failing the test with why
// after within.
func awaitStatus(t *testing.T, url string, want int, within time.Duration, why string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for get(url) != want {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
