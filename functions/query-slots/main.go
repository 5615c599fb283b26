// Command query-slots is the function that answers a service's calendar:
// the free start times of each day of a range, each with its number of free
// desks.
//
// Consumes: HTTP GET /api/slots?service_id=ID&from=YYYY-MM-DD&to=YYYY-MM-DD
// (from defaults to today, to to from + 30 days; at most 92 days). Answers
// 200 with
//
//	{"service_id", "duration_minutes", "time_zone", "from", "to",
//	 "days": [{"date": "2027-03-01", "times": ["09:00+01:00", ...], "free": [5, ...]}]}
//
// where each time is a start in the day's local wall-clock time with its
// UTC offset (so the DST days are unambiguous), and free[i] the free desks
// at times[i]; days without a free slot are left out.
//
// Built for the click day: an answer is kept in memory for at most
// CALENDAR_MAX_AGE (1s) and shared by every request that asks for it in
// that time (about one database query per service and range per second
// per instance, however many citizens ask: under a steady crowd it is
// built again ahead, after three quarters of its age, so that no request
// waits for it), so a slot shown free may have been taken up to a second
// ago — harmless, the hold is refused then and the citizen picks another.
// Answers carry a weak ETag (a 304 when the calendar did not change since
// the client's copy) and are gzip-compressed when the client accepts it;
// Cache-Control: no-cache makes browsers ask again each time, cheaply.
//
// Emits: no events.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/singleflight"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// MaxDays bounds a query's range.
const MaxDays = 92

// Config is query-slots' own environment.
type Config struct {
	// MaxAge is how long an answer is reused: the calendar's staleness.
	MaxAge time.Duration `envconfig:"CALENDAR_MAX_AGE" default:"1s"`
}

func main() {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "query-slots", "err", err)
		os.Exit(1)
	}
	function.Main("query-slots", func(env *function.Env) http.Handler {
		return newHandler(env.Store, env.Log, cfg.MaxAge)
	})
}

// Day is the free start times of one local day.
type Day struct {
	Date  string   `json:"date"`
	Times []string `json:"times"` // "09:00+01:00": local time and UTC offset
	Free  []int    `json:"free"`  // free desks at each time
}

// Calendar is the answer of GET /api/slots.
type Calendar struct {
	ServiceID       string `json:"service_id"`
	DurationMinutes int    `json:"duration_minutes"`
	TimeZone        string `json:"time_zone"`
	From            string `json:"from"`
	To              string `json:"to"`
	Days            []Day  `json:"days"`
}

// calendarOf groups free slots by local day, in loc.
func calendarOf(svc booking.Service, from, to schedule.Date, free []booking.FreeSlot, loc *time.Location) Calendar {
	c := Calendar{ServiceID: svc.ID, DurationMinutes: svc.DurationMinutes, TimeZone: loc.String(),
		From: from.String(), To: to.String(), Days: []Day{}}
	for _, s := range free {
		start := s.Start.In(loc)
		date := start.Format(time.DateOnly)
		if n := len(c.Days); n == 0 || c.Days[n-1].Date != date {
			c.Days = append(c.Days, Day{Date: date})
		}
		d := &c.Days[len(c.Days)-1]
		d.Times = append(d.Times, start.Format("15:04Z07:00"))
		d.Free = append(d.Free, s.Free)
	}
	return c
}

// answer is an encoded calendar, kept for the requests that follow.
type answer struct {
	raw, gz []byte
	etag    string
	made    time.Time
}

func encode(c Calendar, now time.Time) (answer, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return answer{}, err
	}
	raw = append(raw, '\n')
	sum := sha256.Sum256(raw)
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := w.Write(raw); err != nil {
		return answer{}, err
	}
	if err := w.Close(); err != nil {
		return answer{}, err
	}
	return answer{raw: raw, gz: gz.Bytes(), etag: `W/"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, made: now}, nil
}

// answers keeps encoded calendars by query for at most maxAge (0: not at
// all), and builds each once however many requests ask for it at the same
// time. Ages are measured on the wall clock (now), from before the build's
// query, so no answer served from memory is older than maxAge (a request
// that waits for a build gets it as old as the build took).
//
// An answer past three quarters of its age is built again ahead, in the
// background, while the requests meanwhile still get it (the last quarter,
// 250 ms by default, is the build's time): under a steady crowd nobody
// waits for a build (on a click day, a 60-day calendar's query took 40 ms
// of the database a second, and every request of those 40 ms waited for
// it). Only the first request after a quiet spell, or at a new minute (the
// key's), waits.
type answers struct {
	maxAge time.Duration
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]answer
	flight singleflight.Group
}

func (a *answers) get(key string, build func(now time.Time) (answer, error)) (answer, error) {
	now := a.now()
	a.mu.Lock()
	got, ok := a.m[key]
	a.mu.Unlock()
	if age := now.Sub(got.made); ok && age < a.maxAge {
		if age >= a.maxAge*3/4 {
			// One build at a time for a key: a refresh under way is
			// joined, not doubled; nobody waits for its result here.
			a.flight.DoChan(key, func() (any, error) { return a.build(key, build) })
		}
		return got, nil
	}
	v, err, _ := a.flight.Do(key, func() (any, error) { return a.build(key, build) })
	if err != nil {
		return answer{}, err
	}
	return v.(answer), nil
}

// build makes key's answer and keeps it, forgetting those nobody asked for
// lately. A panic of the build is its error: a build ahead runs on
// singleflight's goroutine, where nothing would recover it and the process
// would end.
func (a *answers) build(key string, build func(now time.Time) (answer, error)) (ans answer, err error) {
	defer func() {
		if p := recover(); p != nil {
			ans, err = answer{}, fmt.Errorf("calendar build: panic: %v", p)
		}
	}()
	ans, err = build(a.now())
	if err != nil {
		return ans, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]answer{}
	}
	for k, old := range a.m { // what nobody asked for lately goes
		if ans.made.Sub(old.made) >= a.maxAge {
			delete(a.m, k)
		}
	}
	a.m[key] = ans
	return ans, nil
}

// buildTimeout bounds a calendar's build, which outlives the request that
// started it: others wait for it, or it runs ahead in the background.
const buildTimeout = 10 * time.Second

func newHandler(store *postgres.Store, log *slog.Logger, maxAge time.Duration) http.Handler {
	cache := &answers{maxAge: maxAge, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/slots", func(w http.ResponseWriter, r *http.Request) {
		serviceID, from, to, err := parseQuery(r, store.Calendar.Today(store.Clock.Now()))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		// The domain's minute is part of the key: what is bookable depends
		// on it (past times, the minimum notice).
		minute := store.Clock.Now().Truncate(time.Minute).Unix()
		key := fmt.Sprintf("%s|%s|%s|%d", serviceID, from, to, minute)
		ans, err := cache.get(key, func(now time.Time) (answer, error) {
			// Not the request's context: the build is shared with other
			// requests, or runs ahead after this one was answered.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), buildTimeout)
			defer cancel()
			svc, free, err := store.FreeSlots(ctx, serviceID, from, to)
			if err != nil {
				return answer{}, err
			}
			return encode(calendarOf(svc, from, to, free, store.Calendar.Location), now)
		})
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		write(w, r, ans)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}

// write answers ans: 304 when the client has it, gzip when it accepts it.
func write(w http.ResponseWriter, r *http.Request, ans answer) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", ans.etag)
	h.Set("Vary", "Accept-Encoding")
	if matches(r.Header.Get("If-None-Match"), ans.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	body := ans.raw
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = ans.gz
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// matches reports whether an If-None-Match header names etag (weak
// comparison, RFC 9110 §13.1.2).
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip (and
// does not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") || strings.TrimSpace(name) == "*" {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
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
