// Command reserve is the function that holds a slot for a citizen while
// they enter their data. The hold lasts HOLD_TTL (10 minutes by default) and
// is answered with its id and a secret that confirm needs.
//
// Consumes: HTTP POST /api/holds {"service_id", "start" (RFC 3339), "locale"}.
// Answers 201 with the hold, 409 when no desk is free at that time.
// Emits: io.github.sportello.booking.held.v1, and
// io.github.sportello.booking.expired.v1 for a lapsed hold it clears away.
package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	function.Main("reserve", func(env *function.Env) http.Handler { return newHandler(env.Store, env.Log) })
}

// Request is the body of POST /api/holds.
type Request struct {
	ServiceID string `json:"service_id"`
	Start     string `json:"start"`
	Locale    string `json:"locale"`
}

func (q Request) validate() (time.Time, string, error) {
	var v apperr.Validation
	if q.ServiceID == "" {
		v.Required("service_id")
	}
	var start time.Time
	if q.Start == "" {
		v.Required("start")
	} else if t, err := time.Parse(time.RFC3339, q.Start); err != nil {
		v.Add("start", apperr.InvalidFormat, "must be a date and time in RFC 3339, like 2027-03-02T09:30:00+01:00")
	} else {
		start = t
	}
	locale := q.Locale
	if locale == "" {
		locale = "it"
	}
	booking.CheckLocale(&v, "locale", locale)
	return start, locale, v.Err()
}

func newHandler(store *postgres.Store, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/holds", func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if err := httpx.Decode(r, &req); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		start, locale, err := req.validate()
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		hold, err := store.Reserve(r.Context(), req.ServiceID, start, locale)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		hold.Start, hold.End = hold.Start.In(store.Calendar.Location), hold.End.In(store.Calendar.Location)
		hold.ExpiresAt = hold.ExpiresAt.In(store.Calendar.Location)
		httpx.NoStore(w) // the hold secret
		httpx.JSON(w, http.StatusCreated, hold)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
