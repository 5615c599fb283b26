// Command waiting-room is the virtual waiting room of the click day: when
// more citizens come for a service than its counter admits, they queue
// here and are let in first come, first served, at the service's rate,
// with an admission ticket reserve checks (httpapi/admission). A service's
// room is on when the administration gives it an admission rate
// (admission_per_minute), or for a while when reserve finds its holds slow.
// With the room off, everyone is admitted at once.
//
// A waiting citizen's polls read nothing but the room (cached a second per
// instance: domain/queue, store's Room): no request of theirs reaches
// reserve or the bookings. The place is in the citizen's signed queue
// token, which the page keeps, so reloading keeps it.
//
// Consumes: HTTP POST /api/queue {"service_id"}: join (at most
// QUEUE_JOINS_PER_MINUTE_PER_ADDRESS a minute from one address);
// GET /api/queue/{queue_token}: the place now. Both answer
// {"service_id", "admitted": true, "admitted_until"} with the admission
// (cookie sportello_admission, header X-Admission-Ticket), or
// {"service_id", "admitted": false, "queue_token", "position", "ahead",
// "estimate_seconds", "poll_after_seconds", "rate_per_minute"}.
// Emits: nothing.
package main

import (
	"errors"

	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/queue"
	"github.com/sportello/sportello/functions/internal/httpapi/admission"
	"github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Config is the environment of waiting-room beyond function.Config.
type Config struct {
	client.Config
	AdmissionTTL   time.Duration `envconfig:"ADMISSION_TTL" default:"15m"`
	JoinsPerMinute int           `envconfig:"QUEUE_JOINS_PER_MINUTE_PER_ADDRESS" default:"60"`
}

func main() {
	var cfg Config
	err := envconfig.Process("", &cfg)
	if err == nil && (cfg.AdmissionTTL <= 0 || cfg.JoinsPerMinute < 0) {
		err = errors.New("ADMISSION_TTL must be positive, QUEUE_JOINS_PER_MINUTE_PER_ADDRESS not negative (0: no limit)")
	}
	ids, signer := cfg.MustIdentifier("waiting-room", err)
	function.Main("waiting-room", func(env *function.Env) http.Handler {
		return newHandler(&room{
			store:   env.Store,
			ids:     ids,
			tickets: &admission.Tickets{Signer: signer, TTL: cfg.AdmissionTTL},
			joins:   cfg.JoinsPerMinute,
		}, env.Log)
	})
}

type room struct {
	store   *postgres.Store
	ids     *client.Identifier
	tickets *admission.Tickets
	joins   int // per address a minute
}

// Status is a place in a waiting room, as answered.
type Status struct {
	ServiceID       string     `json:"service_id"`
	Admitted        bool       `json:"admitted"`
	AdmittedUntil   *time.Time `json:"admitted_until,omitempty"`
	QueueToken      string     `json:"queue_token,omitempty"`
	Position        int64      `json:"position,omitempty"`
	Ahead           *int64     `json:"ahead,omitempty"`
	EstimateSeconds *int64     `json:"estimate_seconds,omitempty"`
	PollAfter       int        `json:"poll_after_seconds,omitempty"`
	RatePerMinute   int        `json:"rate_per_minute,omitempty"`
}

// status answers client's place at position in service's room r: the
// admission when its turn has come.
func (q *room) status(w http.ResponseWriter, r *http.Request, serviceID string, rm queue.Room, position int64, clientID string) Status {
	now := q.store.Clock.Now()
	if !rm.On() || rm.Admitted(position, now) {
		until := q.tickets.Grant(w, r, serviceID, clientID, now).In(q.store.Calendar.Location)
		return Status{ServiceID: serviceID, Admitted: true, AdmittedUntil: &until}
	}
	ahead := rm.Ahead(position, now)
	wait := int64(math.Ceil(rm.Wait(position, now).Seconds()))
	// Poll about ten times over the wait, between 2 and 15 seconds apart.
	poll := min(max(int(wait/10), 2), 15)
	return Status{ServiceID: serviceID, QueueToken: q.tickets.QueueToken(serviceID, position, clientID, now), Position: ahead + 1,
		Ahead: &ahead, EstimateSeconds: &wait, PollAfter: poll, RatePerMinute: rm.Rate}
}

func newHandler(q *room, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/queue", func(w http.ResponseWriter, r *http.Request) {
		serviceID, err := httpx.DecodeString(r, "service_id")
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		who := q.ids.Of(w, r, q.store.Clock.Now())
		rm, err := q.store.Room(r.Context(), serviceID)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		position := int64(0)
		if rm.On() {
			over, err := q.store.CountRequest(r.Context(), "queue:address:"+who.Address, q.joins)
			if err == nil && over {
				e := apperr.New(apperr.RateLimited, "", "too many joins from this address: at most %d a minute", q.joins)
				now := q.store.Clock.Now()
				e.RetryAfter = now.Truncate(time.Minute).Add(time.Minute).Sub(now)
				err = e
			}
			if err == nil {
				rm, position, err = q.store.JoinQueue(r.Context(), serviceID)
			}
			if err != nil {
				httpx.Error(w, r, log, err)
				return
			}
		}
		httpx.NoStore(w)
		httpx.JSON(w, http.StatusOK, q.status(w, r, serviceID, rm, position, who.ID))
	})
	mux.HandleFunc("GET /api/queue/{token}", func(w http.ResponseWriter, r *http.Request) {
		who := q.ids.Of(w, r, q.store.Clock.Now())
		serviceID, position, clientID, err := q.tickets.Place(r.PathValue("token"), q.store.Clock.Now())
		if err == nil && clientID != who.ID {
			err = apperr.New(apperr.NotFound, "queue_token", "this place in the queue belongs to another browser: join the queue again")
		}
		var rm queue.Room
		if err == nil {
			rm, err = q.store.Room(r.Context(), serviceID)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.NoStore(w)
		httpx.JSON(w, http.StatusOK, q.status(w, r, serviceID, rm, position, who.ID))
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
