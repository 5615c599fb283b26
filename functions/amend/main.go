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
	// manage answers a request on the booking its manage token names: act
	// reads the rest of the request and does the work.
	manage := func(act func(r *http.Request, tok string) (booking.Booking, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			httpx.NoStore(w)
			tok, err := httpx.BearerToken(r)
			var b booking.Booking
			if err == nil {
				b, err = act(r, tok)
			}
			if err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			httpx.JSON(w, http.StatusOK, local(b))
		}
	}
	mux.HandleFunc("GET /api/manage", manage(func(r *http.Request, tok string) (booking.Booking, error) {
		return store.Booking(r.Context(), tok)
	}))
	mux.HandleFunc("POST /api/manage/reschedule", manage(func(r *http.Request, tok string) (booking.Booking, error) {
		var req RescheduleRequest
		if err := httpx.Decode(r, &req); err != nil {
			return booking.Booking{}, err
		}
		if req.Start == "" {
			return booking.Booking{}, apperr.Field("start", apperr.Required, "required")
		}
		start, err := time.Parse(time.RFC3339, req.Start)
		if err != nil {
			return booking.Booking{}, apperr.Field("start", apperr.InvalidFormat, "must be a date and time in RFC 3339, like 2027-03-02T09:30:00+01:00")
		}
		return store.Reschedule(r.Context(), tok, start)
	}))
	mux.HandleFunc("POST /api/manage/cancel", manage(func(r *http.Request, tok string) (booking.Booking, error) {
		// The body is optional; when there is one it must be {}.
		if err := httpx.CheckOptional[CancelRequest](r); err != nil {
			return booking.Booking{}, err
		}
		return store.Cancel(r.Context(), tok)
	}))
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
