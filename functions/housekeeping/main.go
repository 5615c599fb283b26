// Command housekeeping keeps the counter tidy on every tick of a periodic
// event (a Knative PingSource in the cluster, a ticker in the local stack).
// Each tick runs every job; each job is idempotent and concurrency-safe,
// works in its own transactions and logs counts only (never personal data):
//
//  1. expire holds past their expiry (booking.expired.v1);
//  2. close the appointments the citizen never joined: a confirmed booking
//     with no citizen in its video room by NO_SHOW_AFTER past its end
//     becomes completed with outcome no_show (booking.completed.v1,
//     recorded_by system);
//  3. queue reminders 24 hours and 1 hour before confirmed bookings, once
//     per kind and start time (booking.reminder.v1);
//  4. purge the personal data of bookings that ended more than RETENTION
//     ago: the citizen's fields, the manage links, the documents' objects
//     and names, the outcome's note (booking.purged.v1);
//  5. forget consumers' processed events older than INBOX_RETENTION, and
//     the outbox's events delivered longer than OUTBOX_RETENTION ago
//     (undelivered ones stay);
//  6. keep the video rooms just in time: create on LiveKit the rooms whose
//     window has opened, warn the people in the rooms that close within
//     ROOM_CLOSING_WARNING, and delete the rooms whose window has closed
//     (LiveKit disconnects whoever is left);
//  7. deliver what is due in the outbox — of every function, this tick's
//     events included.
//
// A job that fails does not stop the others; the tick then answers 5xx (503
// when a dependency cannot be reached) and the broker retries it (the next
// tick would redo the work anyway).
//
// Consumes: dev.knative.sources.ping (its data are ignored).
// Emits: io.github.sportello.booking.expired.v1,
// io.github.sportello.booking.completed.v1,
// io.github.sportello.booking.reminder.v1,
// io.github.sportello.booking.purged.v1.
//
// Environment, besides function.Config: RETENTION (default 720h, 30 days),
// INBOX_RETENTION (default 720h), OUTBOX_RETENTION (default 720h),
// PURGE_BATCH (bookings purged per tick at most; default 500),
// NO_SHOW_AFTER (default 15m: the citizens' join window closes JOIN_GRACE
// after the end; keep it at least that), the object store's S3_ENDPOINT,
// S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, and LiveKit's
// LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, ROOM_CLOSING_WARNING
// (5m) and the rooms' settings (see join).
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
)

// Config is the environment of housekeeping beyond function.Config and
// storage.Config.
type Config struct {
	Retention       time.Duration `envconfig:"RETENTION" default:"720h"`
	InboxRetention  time.Duration `envconfig:"INBOX_RETENTION" default:"720h"`
	OutboxRetention time.Duration `envconfig:"OUTBOX_RETENTION" default:"720h"`
	PurgeBatch      int           `envconfig:"PURGE_BATCH" default:"500"`
	NoShowAfter     time.Duration `envconfig:"NO_SHOW_AFTER" default:"15m"`
	IdempotencyTTL  time.Duration `envconfig:"IDEMPOTENCY_TTL" default:"24h"`
}

func main() {
	var cfg Config
	err := envconfig.Process("", &cfg)
	if err == nil && (cfg.Retention <= 0 || cfg.InboxRetention <= 0 || cfg.OutboxRetention <= 0 || cfg.PurgeBatch < 1 || cfg.NoShowAfter < 0 || cfg.IdempotencyTTL <= 0) {
		err = errors.New("RETENTION, INBOX_RETENTION, OUTBOX_RETENTION, PURGE_BATCH and IDEMPOTENCY_TTL must be positive, NO_SHOW_AFTER not negative")
	}
	var objects *storage.Store
	if err == nil {
		var sc storage.Config
		if sc, err = storage.FromEnv(); err == nil {
			objects, err = storage.New(sc)
		}
	}
	var lk *rooms.LiveKit
	if err == nil {
		var lc rooms.Config
		if lc, err = rooms.LoadConfig(); err == nil {
			lk = rooms.New(lc)
		}
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "housekeeping", "err", err)
		os.Exit(1)
	}
	function.Main("housekeeping", func(env *function.Env) http.Handler {
		h := &Housekeeper{Store: env.Store, Relay: env.Relay, Objects: objects, LiveKit: lk, Log: env.Log,
			Retention: cfg.Retention, InboxRetention: cfg.InboxRetention, OutboxRetention: cfg.OutboxRetention, PurgeBatch: cfg.PurgeBatch, NoShowAfter: cfg.NoShowAfter,
			IdempotencyTTL: cfg.IdempotencyTTL}
		return function.Events(env.Log, h.Handle)
	})
}
