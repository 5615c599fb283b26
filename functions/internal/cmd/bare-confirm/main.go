// Command bare-confirm is not a function: it is confirm's store behind a
// bare net/http handler, for make bench's floor of the Go path. The
// request is read with a plain json.Unmarshal, the store confirms the hold
// with the same statement as confirm, and the answer is written with
// json.Marshal: no middleware (drain, OpenTelemetry, access log, checks of
// the path and query, idempotency), no strict decoding of the body, no
// metrics, no statement tracer, no relay. What confirm costs more than
// this is what those cost; what this costs more than the bare SQL is the
// HTTP server, pgx and the store's own work, which every Go function of
// this shape pays (docs/performance.md).
//
// Consumes: HTTP POST /api/bookings, as confirm. Emits nothing itself: the
// booking.confirmed.v1 row stays in the outbox.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare-confirm:", err)
		os.Exit(1)
	}
}

func run() error {
	conns, _ := strconv.Atoi(os.Getenv("DATABASE_MAX_CONNS"))
	pool, err := postgres.Open(context.Background(), os.Getenv("DATABASE_URL"), postgres.Options{Wait: 10 * time.Second, MaxConns: conns})
	if err != nil {
		return err
	}
	defer pool.Close()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return err
	}
	store := &postgres.Store{Pool: pool, Clock: clock.System{}, Calendar: &schedule.Calendar{Location: rome},
		Source: "/sportello/confirm", Services: &postgres.Services{}, Rooms: &postgres.Rooms{}, Confirmations: &postgres.Confirmations{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /api/bookings", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			HoldID     string          `json:"hold_id"`
			HoldSecret string          `json:"hold_secret"`
			Citizen    booking.Citizen `json:"citizen"`
		}
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := store.Confirm(r.Context(), req.HoldID, req.HoldSecret, req.Citizen)
		if err != nil {
			http.Error(w, err.Error(), httpx.Status(err))
			return
		}
		answer, err := json.Marshal(c)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	})
	return http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux)
}
