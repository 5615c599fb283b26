package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Housekeeper runs the periodic jobs.
type Housekeeper struct {
	Store           *postgres.Store // the pool, the clock and the source of the events written
	Relay           *outbox.Relay
	Objects         *storage.Store
	LiveKit         *rooms.LiveKit // the video rooms; nil: the rooms job does nothing
	Log             *slog.Logger
	Retention       time.Duration // personal data are kept this long after a booking's end
	InboxRetention  time.Duration // processed events are remembered this long
	OutboxRetention time.Duration // delivered events are kept in the outbox this long (0: 30 days)
	PurgeBatch      int           // bookings purged per tick at most
	NoShowAfter     time.Duration // a booking nobody joined is a no-show this long after its end
	IdempotencyTTL  time.Duration // answers kept for Idempotency-Keys are deleted this long after (0: 24 hours)
}

// Report counts what one tick did.
type Report struct {
	HoldsExpired    int
	NoShows         int
	Reminders24h    int
	Reminders1h     int
	Purged          int
	ObjectsDeleted  int
	InboxForgotten  int
	EventsForgotten int
	KeysForgotten   int
	RoomsOpened     int
	RoomsWarned     int
	RoomsClosed     int
	Delivered       int
}

// Handle runs a tick for a ping. The ping's data are informational (a
// PingSource sends whatever it was configured with) and are not read.
// Another event type is refused as invalid: the trigger should not have
// sent it.
func (h *Housekeeper) Handle(ctx context.Context, ev cloudevents.Event) error {
	if ev.Type() != events.Ping {
		return apperr.New(apperr.Invalid, "type", "housekeeping consumes %s only, not %q", events.Ping, ev.Type())
	}
	_, err := h.Tick(ctx)
	return err
}

// Tick runs every job once, each even when another failed, and returns
// what they did and every failure.
func (h *Housekeeper) Tick(ctx context.Context) (Report, error) {
	var rep Report
	var errs []error
	run := func(job string, fn func() error) {
		if err := fn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", job, err))
		}
	}
	run("expire holds", func() (err error) {
		rep.HoldsExpired, err = h.Store.ExpireHolds(ctx)
		return err
	})
	run("no-shows", func() (err error) {
		rep.NoShows, err = h.Store.MarkNoShows(ctx, h.NoShowAfter)
		return err
	})
	run("reminders", func() (err error) {
		rep.Reminders24h, rep.Reminders1h, err = h.queueReminders(ctx)
		return err
	})
	run("purge", func() (err error) {
		rep.Purged, rep.ObjectsDeleted, err = h.purge(ctx)
		return err
	})
	run("inbox", func() (err error) {
		rep.InboxForgotten, err = h.forgetProcessed(ctx)
		return err
	})
	run("delivered events", func() (err error) {
		rep.EventsForgotten, err = h.forgetDelivered(ctx)
		return err
	})
	run("idempotency keys", func() (err error) {
		ttl := h.IdempotencyTTL
		if ttl <= 0 {
			ttl = 24 * time.Hour
		}
		rep.KeysForgotten, err = h.Store.ForgetKeys(ctx, h.Store.Clock.Now().Add(-ttl))
		return err
	})
	run("request counters", func() (err error) {
		_, err = h.Store.ForgetCounts(ctx, h.Store.Clock.Now().Add(-2*time.Minute))
		return err
	})
	run("rooms", func() (err error) {
		rep.RoomsOpened, rep.RoomsWarned, rep.RoomsClosed, err = h.keepRooms(ctx)
		return err
	})
	// Last, so that this tick's events leave at once.
	run("outbox", func() (err error) {
		if h.Relay != nil {
			rep.Delivered, err = h.Relay.DeliverPending(ctx)
		}
		return err
	})
	err := errors.Join(errs...)
	attrs := []any{"holds_expired", rep.HoldsExpired, "no_shows", rep.NoShows, "reminders_24h", rep.Reminders24h, "reminders_1h", rep.Reminders1h,
		"purged", rep.Purged, "objects_deleted", rep.ObjectsDeleted, "inbox_forgotten", rep.InboxForgotten, "events_forgotten", rep.EventsForgotten, "keys_forgotten", rep.KeysForgotten,
		"rooms_opened", rep.RoomsOpened, "rooms_warned", rep.RoomsWarned, "rooms_closed", rep.RoomsClosed, "delivered", rep.Delivered}
	if err != nil {
		h.Log.Error("housekeeping", append(attrs, "err", err)...)
	} else {
		h.Log.Info("housekeeping", attrs...)
	}
	return rep, err
}

// forgetProcessed deletes the consumers' records of events processed
// longer than InboxRetention ago: the broker's retries are long over.
func (h *Housekeeper) forgetProcessed(ctx context.Context) (int, error) {
	return h.Store.ForgetProcessed(ctx, h.Store.Clock.Now().Add(-h.InboxRetention))
}

// Delivered events are deleted forgetBatch a statement, at most
// forgetPerTick a tick: a backlog of years (the outbox before
// OUTBOX_RETENTION) goes over a few ticks instead of one long one.
const (
	forgetBatch   = 5000
	forgetPerTick = 100_000
)

// forgetDelivered deletes the outbox's events delivered longer than
// OutboxRetention ago. Undelivered events stay, however old.
func (h *Housekeeper) forgetDelivered(ctx context.Context) (int, error) {
	keep := h.OutboxRetention
	if keep <= 0 {
		keep = 720 * time.Hour
	}
	return h.Store.ForgetDelivered(ctx, h.Store.Clock.Now().Add(-keep), forgetBatch, forgetPerTick)
}
