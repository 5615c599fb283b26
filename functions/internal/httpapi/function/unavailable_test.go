package function_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

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

// TestRunAnswers503WhileTheDatabaseIsUnreachable: while the database cannot
// be reached — connections cut, or a server that never answers — a request
// that needs it answers 503 problem+json with Retry-After within
// DATABASE_TIMEOUT, never a 500 and never hanging; readiness fails and
// liveness does not; when the database is back, the function recovers by
// itself.
func TestRunAnswers503WhileTheDatabaseIsUnreachable(t *testing.T) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	link := newDBLink(t, u.Host)
	u.Host = link.ln.Addr().String()
	port := freePort(t)
	t.Setenv("DATABASE_URL", u.String())
	t.Setenv("DATABASE_TIMEOUT", "1s")
	t.Setenv("PORT", fmt.Sprint(port))
	t.Setenv("DRAIN_QUIET_PERIOD", "100ms")
	t.Setenv("K_SINK", "")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- function.Run(ctx, "test", func(env *function.Env) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/write", func(w http.ResponseWriter, r *http.Request) {
				err := env.Store.InTx(r.Context(), func(tx *postgres.Tx) error {
					_, err := tx.Exec(r.Context(), `SELECT 1`)
					return err
				})
				if err != nil {
					httpx.Error(w, r, env.Log, err)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			return mux
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
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
	deadline := time.Now().Add(10 * time.Second)
	for get(base+"/health/readiness") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
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
