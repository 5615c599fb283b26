// Command bare-ready is not a function: it is make bench's floor for a
// function's start to ready. It opens a pgx pool on DATABASE_URL, pings
// PostgreSQL, and serves GET /health/readiness on PORT, answering 200 once
// the ping has succeeded — what every function must do before it is
// ready, with nothing else: no configuration, telemetry, relay or handler.
// With BARE_READY_EXIT=1 it exits as soon as main begins instead, which
// measures starting the process alone (exec, the Go runtime, the init of
// net/http and pgx).
//
// Consumes: nothing but its readiness probe. Emits nothing.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if os.Getenv("BARE_READY_EXIT") == "1" {
		return
	}
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-ready:", err)
		os.Exit(1)
	}
	var ready atomic.Bool
	go func() {
		if err := pool.Ping(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "bare-ready:", err)
			os.Exit(1)
		}
		ready.Store(true)
	}()
	http.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, "bare-ready:", err)
		os.Exit(1)
	}
}
