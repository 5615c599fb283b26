package function_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunServesHealthAndDrains: the runner answers the Knative Functions
// health endpoints, serves the handler, finishes a request in flight when
// told to stop, and returns cleanly.
func TestRunServesHealthAndDrains(t *testing.T) {
	port := apitest.FreePort(t)
	t.Setenv("DATABASE_URL", pgtest.URL(t))
	t.Setenv("PORT", fmt.Sprint(port))
	t.Setenv("DRAIN_QUIET_PERIOD", "200ms")
	t.Setenv("K_SINK", "")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	started := make(chan struct{})
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- function.Run(ctx, "test", func(env *function.Env) http.Handler {
			if env.Store == nil || env.Store.Source != "/sportello/test" {
				t.Errorf("env store: %+v", env.Store)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				w.WriteHeader(http.StatusTeapot)
			})
			return mux
		})
	}()

	deadline := time.Now().Add(10 * time.Second)
	for get(base+"/health/readiness") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := get(base + "/health/liveness"); s != http.StatusOK {
		t.Fatalf("liveness %d", s)
	}

	slow := make(chan int, 1)
	go func() { slow <- get(base + "/api/slow") }()
	<-started
	cancel() // as SIGTERM would
	time.Sleep(100 * time.Millisecond)
	if s := get(base + "/health/readiness"); s != http.StatusServiceUnavailable {
		t.Errorf("readiness while draining: %d, want 503", s)
	}
	close(release)
	if s := <-slow; s != http.StatusTeapot {
		t.Fatalf("request in flight got %d, want it to finish with 418", s)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after drain")
	}
	if s := get(base + "/health/liveness"); s != 0 {
		t.Fatalf("server still answering after shutdown: %d", s)
	}
}

// TestRunRefusesBadConfig: a bad time zone or patron day stops the start.
func TestRunRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct{ key, value string }{{"TIME_ZONE", "Europe/Nowhere"}, {"PATRON_DAY", "13-45"}, {"HOLD_TTL", "ten minutes"}} {
		t.Run(tc.key, func(t *testing.T) {
			t.Setenv("DATABASE_URL", pgtest.URL(t))
			t.Setenv(tc.key, tc.value)
			err := function.Run(t.Context(), "test", func(*function.Env) http.Handler { return http.NotFoundHandler() })
			if err == nil {
				t.Fatalf("%s=%s accepted", tc.key, tc.value)
			}
		})
	}
}
