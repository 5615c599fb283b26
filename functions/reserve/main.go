// Command reserve is the function that holds a slot for a citizen while
// they enter their data, and takes a hold back. A hold lasts HOLD_TTL (10
// minutes by default) and is answered with its id and a secret that confirm
// needs.
//
// One client, one hold: every browser gets a signed client token (the
// sportello_client cookie, CLIENT_KEY) and holds at most
// MAX_HOLDS_PER_CLIENT slots — a new hold releases the oldest beyond — and
// asks for at most HOLDS_PER_MINUTE_PER_CLIENT holds a minute, and its
// network address HOLDS_PER_MINUTE_PER_ADDRESS; an office may set its own
// limits. The counts are in PostgreSQL: every instance shares them.
//
// The waiting room: when a service's room is on (its admission rate, or a
// while after holds slower than AUTO_QUEUE_HOLD_LATENCY — at least five,
// and one in ten, of an instance's holds of the service in ten seconds —
// which opens it at AUTO_QUEUE_PER_MINUTE for AUTO_QUEUE_FOR), only a
// client with an admission ticket of the waiting-room function holds: 403
// not_admitted otherwise.
//
// A time found full is refused from memory for TAKEN_MAX_AGE (1s; 0: off)
// in each instance: most of a click day's holds ask for a time a hold a
// moment before found full (postgres.TakenSlots). The holds of an instance
// for one time ask the database one after another, so that the crowd
// asking for a popular time together is refused from memory once it is
// full, instead of each probing every desk. A time freed elsewhere may be
// refused here that long, as the calendar may show it taken that long;
// only the database ever places a hold.
//
// Consumes: HTTP POST /api/holds {"service_id", "start" (RFC 3339),
// "locale"}: 201 with the hold, 409 when no desk is free at that time, 429
// over a limit (with Retry-After). DELETE /api/holds/{id} (Authorization:
// Bearer <hold secret>) and POST /api/holds/{id}/release {"hold_secret"}
// (for navigator.sendBeacon): 204, the slot free again.
// Emits: io.github.sportello.booking.held.v1,
// io.github.sportello.booking.released.v1 for a hold given back or
// released by a newer one, and io.github.sportello.booking.expired.v1 for a
// lapsed hold it clears away.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/admission"
	"github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Config is the environment of reserve beyond function.Config.
type Config struct {
	client.Config
	MaxHolds         int `envconfig:"MAX_HOLDS_PER_CLIENT" default:"1"`
	ClientPerMinute  int `envconfig:"HOLDS_PER_MINUTE_PER_CLIENT" default:"30"`
	AddressPerMinute int `envconfig:"HOLDS_PER_MINUTE_PER_ADDRESS" default:"120"`
	// Holds slower than SlowHold (0: never), as many as slowHoldsAtLeast and
	// one in slowHoldsShare of an instance's holds of a service in a
	// slowWindow, open the service's waiting room for AutoQueueFor at
	// AutoQueueRate citizens a minute.
	SlowHold      time.Duration `envconfig:"AUTO_QUEUE_HOLD_LATENCY" default:"2s"`
	AutoQueueFor  time.Duration `envconfig:"AUTO_QUEUE_FOR" default:"10m"`
	AutoQueueRate int           `envconfig:"AUTO_QUEUE_PER_MINUTE" default:"3000"`
	// A time found full is refused from memory for TakenMaxAge (0: every
	// hold asks the database).
	TakenMaxAge time.Duration `envconfig:"TAKEN_MAX_AGE" default:"1s"`
}

func main() {
	var cfg Config
	err := envconfig.Process("", &cfg)
	if err == nil && (cfg.MaxHolds < 0 || cfg.ClientPerMinute < 0 || cfg.AddressPerMinute < 0) {
		err = errors.New("MAX_HOLDS_PER_CLIENT, HOLDS_PER_MINUTE_PER_CLIENT and HOLDS_PER_MINUTE_PER_ADDRESS must not be negative (0: no limit)")
	}
	if err == nil && cfg.TakenMaxAge < 0 {
		err = errors.New("TAKEN_MAX_AGE must not be negative (0: every hold asks the database)")
	}
	ids, signer := cfg.MustIdentifier("reserve", err)
	function.Main("reserve", func(env *function.Env) http.Handler {
		env.Store.Limits = booking.HoldLimits{PerClient: cfg.MaxHolds, ClientPerMinute: cfg.ClientPerMinute, AddressPerMinute: cfg.AddressPerMinute}
		if cfg.TakenMaxAge > 0 {
			env.Store.Taken = &postgres.TakenSlots{}
			env.Store.Taken.MaxAge = cfg.TakenMaxAge
		}
		return newHandler(&holds{
			store:   env.Store,
			ids:     ids,
			tickets: &admission.Tickets{Signer: signer},
			slow:    cfg.SlowHold, autoFor: cfg.AutoQueueFor, autoRate: cfg.AutoQueueRate, log: env.Log,
		}, env.Log)
	})
}

// holds is reserve's counter: the store, who asks, the waiting room's
// tickets, and when slow holds open a waiting room.
type holds struct {
	store    *postgres.Store
	ids      *client.Identifier
	tickets  *admission.Tickets
	slow     time.Duration // 0: holds never open a waiting room
	autoFor  time.Duration
	autoRate int
	log      *slog.Logger

	mu     sync.Mutex
	opened map[string]time.Time  // the rooms this instance opened, until when
	timed  map[string]*slowCount // the holds of each service in this slowWindow
}

// A waiting room opens on holds that stay slow, not on one: a hold may
// wait for a database connection on a busy counter (on the click day every
// connection is in use and holds queue for them), and one slow hold — a
// garbage collection, a checkpoint — would otherwise close the counter to
// everyone without a ticket for AUTO_QUEUE_FOR.
const (
	slowWindow       = 10 * time.Second
	slowHoldsAtLeast = 5  // slow holds in a window
	slowHoldsShare   = 10 // one in this many of the window's holds
)

// slowCount is a service's holds and slow holds in the window that began
// at start.
type slowCount struct {
	start       time.Time
	holds, slow int
}

// hold places a hold for who, after the waiting room's check: with the
// service's room on, only an admitted client holds.
func (h *holds) hold(w http.ResponseWriter, r *http.Request, who booking.Client, serviceID string, start time.Time, locale string) (booking.Hold, error) {
	rm, err := h.store.Room(r.Context(), serviceID)
	if err != nil {
		return booking.Hold{}, err
	}
	if rm.On() && !h.tickets.Admitted(r, serviceID, who.ID, h.store.Clock.Now()) {
		return booking.Hold{}, admission.NotAdmitted(serviceID)
	}
	t0 := time.Now()
	hold, err := h.store.ReserveFor(r.Context(), who, serviceID, start, locale)
	if h.slow > 0 && !rm.On() && h.staySlow(serviceID, time.Since(t0) > h.slow) {
		h.openRoom(r, serviceID)
	}
	return hold, err
}

// staySlow counts a hold of the service, slow or not, and tells whether
// the window's slow holds are now enough to open its room.
func (h *holds) staySlow(serviceID string, slow bool) bool {
	now := h.store.Clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timed == nil {
		h.timed = map[string]*slowCount{}
	}
	c := h.timed[serviceID]
	if c == nil || now.Sub(c.start) >= slowWindow || now.Before(c.start) {
		c = &slowCount{start: now}
		h.timed[serviceID] = c
	}
	c.holds++
	if slow {
		c.slow++
	}
	return slow && c.slow >= slowHoldsAtLeast && c.slow*slowHoldsShare >= c.holds
}

// openRoom opens the service's waiting room for a while: the counter is
// slower than it should be. Once per instance and room while it is open.
func (h *holds) openRoom(r *http.Request, serviceID string) {
	now := h.store.Clock.Now()
	h.mu.Lock()
	if h.opened == nil {
		h.opened = map[string]time.Time{}
	}
	if now.Before(h.opened[serviceID]) {
		h.mu.Unlock()
		return
	}
	h.opened[serviceID] = now.Add(h.autoFor)
	h.mu.Unlock()
	if err := h.store.OpenRoom(context.WithoutCancel(r.Context()), serviceID, now.Add(h.autoFor), h.autoRate); err != nil {
		h.log.Warn("opening the waiting room", "service_id", serviceID, "err", err)
	}
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

// releaseTimeout bounds a hold's release once its client has gone.
const releaseTimeout = 5 * time.Second

func newHandler(h *holds, log *slog.Logger) http.Handler {
	store := h.store
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
		who := h.ids.Of(w, r, store.Clock.Now())
		hold, err := h.hold(w, r, who, req.ServiceID, start, locale)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		hold.Start, hold.End = hold.Start.In(store.Calendar.Location), hold.End.In(store.Calendar.Location)
		hold.ExpiresAt = hold.ExpiresAt.In(store.Calendar.Location)
		httpx.NoStore(w) // the hold secret
		httpx.JSON(w, http.StatusCreated, hold)
	})
	// release gives a hold back, its secret read by secretOf.
	release := func(secretOf func(*http.Request) (string, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			secret, err := secretOf(r)
			if err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			// The page that sends the beacon is gone, and its connection may
			// go before the answer: the hold is given back all the same.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), releaseTimeout)
			defer cancel()
			if err := store.Release(ctx, r.PathValue("id"), secret); err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("DELETE /api/holds/{id}", release(httpx.BearerToken))
	// navigator.sendBeacon can only POST, with a body and no headers of
	// its own: the page a citizen leaves gives its hold back this way.
	mux.HandleFunc("POST /api/holds/{id}/release", release(func(r *http.Request) (string, error) {
		return httpx.DecodeString(r, "hold_secret")
	}))
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
