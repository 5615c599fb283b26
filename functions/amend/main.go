// Command amend is the function behind the citizen's manage link: with the
// manage token (Authorization: Bearer TOKEN) it shows, reschedules or
// cancels the booking. Rescheduling is atomic and cancelling frees the slot;
// both are refused after the service's cancellation cutoff.
//
// Consumes: HTTP GET /api/manage, POST /api/manage/reschedule {"start"},
// POST /api/manage/cancel. An unknown or tampered token is a plain 404.
// Emits: io.github.sportello.booking.rescheduled.v1,
// io.github.sportello.booking.cancelled.v1, and
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
	function.Main("amend", func(env *function.Env) http.Handler { return newHandler(env.Store, env.Log) })
}

// RescheduleRequest is the body of POST /api/manage/reschedule.
type RescheduleRequest struct {
	Start string `json:"start"`
}

// CancelRequest is the (optional) body of POST /api/manage/cancel.
type CancelRequest struct{}

func newHandler(store *postgres.Store, log *slog.Logger) http.Handler {
	local := func(b booking.Booking) booking.Booking {
		loc := store.Calendar.Location
		b.Start, b.End, b.ChangeableUntil = b.Start.In(loc), b.End.In(loc), b.ChangeableUntil.In(loc)
		b.ConfirmedAt, b.CancelledAt = inLocation(b.ConfirmedAt, loc), inLocation(b.CancelledAt, loc)
		return b
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/manage", func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		tok, err := httpx.BearerToken(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		b, err := store.Booking(r.Context(), tok)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, local(b))
	})
	mux.HandleFunc("POST /api/manage/reschedule", func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		tok, err := httpx.BearerToken(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		var req RescheduleRequest
		if err := httpx.Decode(r, &req); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		if req.Start == "" {
			httpx.Error(w, r, log, apperr.Field("start", apperr.Required, "required"))
			return
		}
		start, err := time.Parse(time.RFC3339, req.Start)
		if err != nil {
			httpx.Error(w, r, log, apperr.Field("start", apperr.InvalidFormat, "must be a date and time in RFC 3339, like 2027-03-02T09:30:00+01:00"))
			return
		}
		b, err := store.Reschedule(r.Context(), tok, start)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, local(b))
	})
	mux.HandleFunc("POST /api/manage/cancel", func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		tok, err := httpx.BearerToken(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		// The body is optional; when there is one it must be {}.
		if !httpx.DecodeOptional[CancelRequest](w, r, log) {
			return
		}
		b, err := store.Cancel(r.Context(), tok)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, local(b))
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}

// inLocation returns *t in loc, or nil.
func inLocation(t *time.Time, loc *time.Location) *time.Time {
	if t == nil {
		return nil
	}
	v := t.In(loc)
	return &v
}
