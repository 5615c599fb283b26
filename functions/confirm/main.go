// Command confirm is the function that turns a hold into a booking with the
// citizen's personal data (nome, cognome, indirizzo di residenza, email),
// the optional reason and details, and the privacy consent. It answers the
// booking and its manage token, shown only this once and stored as a hash.
//
// The confirmations that arrive in an instance while its statements are in
// flight are written together, by one statement and one commit (one in
// flight at a time; postgres.Store.Confirm): a confirmation alone goes at
// once, and each is decided by the database as if it were alone.
//
// Consumes: HTTP POST /api/bookings {"hold_id", "hold_secret", "citizen": {...}}.
// Emits: io.github.sportello.booking.confirmed.v1.
package main

import (
	"log/slog"
	"net/http"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	function.Main("confirm", func(env *function.Env) http.Handler { return newHandler(env.Store, env.Log) })
}

// Request is the body of POST /api/bookings.
type Request struct {
	HoldID     string           `json:"hold_id"`
	HoldSecret string           `json:"hold_secret"`
	Citizen    *booking.Citizen `json:"citizen"`
}

func newHandler(store *postgres.Store, log *slog.Logger) http.Handler {
	if store.Confirmations == nil {
		// The confirmations that wait together go as one statement.
		store.Confirmations = &postgres.Confirmations{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/bookings", func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		var req Request
		if err := httpx.Decode(r, &req); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		var v apperr.Validation
		if req.HoldID == "" {
			v.Required("hold_id")
		}
		if req.HoldSecret == "" {
			v.Required("hold_secret")
		}
		if req.Citizen == nil {
			v.Required("citizen")
		}
		if err := v.Err(); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		c, err := store.Confirm(r.Context(), req.HoldID, req.HoldSecret, *req.Citizen)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		c.Start, c.End = c.Start.In(store.Calendar.Location), c.End.In(store.Calendar.Location)
		c.ChangeableUntil = c.ChangeableUntil.In(store.Calendar.Location)
		if c.ConfirmedAt != nil {
			at := c.ConfirmedAt.In(store.Calendar.Location)
			c.ConfirmedAt = &at
		}
		httpx.JSON(w, http.StatusCreated, c)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
