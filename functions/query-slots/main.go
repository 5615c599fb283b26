// Command query-slots is the function that answers the free slots of a
// service over a range of days, each with its number of free desks.
//
// Consumes: HTTP GET /api/slots?service_id=ID&from=YYYY-MM-DD&to=YYYY-MM-DD
// (from defaults to today, to to from + 30 days; at most 92 days).
// Emits: no events.
package main

import (
	"log/slog"
	"net/http"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// MaxDays bounds a query's range.
const MaxDays = 92

func main() {
	function.Main("query-slots", func(env *function.Env) http.Handler { return newHandler(env.Store, env.Log) })
}

// Day groups the free slots of one local day.
type Day struct {
	Date  string             `json:"date"`
	Slots []booking.FreeSlot `json:"slots"`
}

// Response is the answer of GET /api/slots.
type Response struct {
	ServiceID       string `json:"service_id"`
	DurationMinutes int    `json:"duration_minutes"`
	TimeZone        string `json:"time_zone"`
	From            string `json:"from"`
	To              string `json:"to"`
	Days            []Day  `json:"days"`
}

func newHandler(store *postgres.Store, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/slots", func(w http.ResponseWriter, r *http.Request) {
		serviceID, from, to, err := parseQuery(r, store.Calendar.Today(store.Clock.Now()))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		svc, free, err := store.FreeSlots(r.Context(), serviceID, from, to)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		resp := Response{ServiceID: svc.ID, DurationMinutes: svc.DurationMinutes, TimeZone: store.Calendar.Location.String(),
			From: from.String(), To: to.String(), Days: []Day{}}
		for _, s := range free {
			s.Start, s.End = s.Start.In(store.Calendar.Location), s.End.In(store.Calendar.Location)
			date := schedule.DateOf(s.Start).String()
			if n := len(resp.Days); n == 0 || resp.Days[n-1].Date != date {
				resp.Days = append(resp.Days, Day{Date: date})
			}
			resp.Days[len(resp.Days)-1].Slots = append(resp.Days[len(resp.Days)-1].Slots, s)
		}
		w.Header().Set("Cache-Control", "no-cache")
		httpx.JSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}

func parseQuery(r *http.Request, today schedule.Date) (string, schedule.Date, schedule.Date, error) {
	q := r.URL.Query()
	var v apperr.Validation
	for k := range q {
		if k != "service_id" && k != "from" && k != "to" {
			v.Add(k, apperr.UnknownField, "unknown query parameter")
		}
	}
	serviceID := q.Get("service_id")
	if serviceID == "" {
		v.Required("service_id")
	}
	from, to := today, today.AddDays(30)
	if s := q.Get("from"); s != "" {
		d, err := schedule.ParseDate(s)
		if err != nil {
			v.Add("from", apperr.InvalidFormat, "%s", err)
		}
		from, to = d, d.AddDays(30)
	}
	if s := q.Get("to"); s != "" {
		d, err := schedule.ParseDate(s)
		if err != nil {
			v.Add("to", apperr.InvalidFormat, "%s", err)
		}
		to = d
	}
	if err := v.Err(); err != nil {
		return "", from, to, err
	}
	if to.Before(from) {
		v.Add("to", apperr.Order, "must not be before from (%s)", from)
	} else if n := from.DaysUntil(to) + 1; n > MaxDays {
		v.Add("to", apperr.TooMany, "the range holds %d days; ask for at most %d", n, MaxDays).With(MaxDays)
	}
	return serviceID, from, to, v.Err()
}
