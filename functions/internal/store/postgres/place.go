package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Placing a booking on a desk: the one way a hold is taken (Reserve), a
// booking moved (a reschedule) and a booking taken off a deactivated desk
// (an administrator's change). The database is the judge: the EXCLUDE
// constraint refuses an overlap on a desk whatever the code above does;
// this only chooses which desk to try first and what to do when another
// transaction took it.

// lockConfigurationShared takes the configuration lock shared, for the
// rest of tx. Every write that puts a booking at a time and desk (a hold, a
// reschedule) takes it before it reads the service's rules; an
// administrator's change that can strand bookings takes it exclusively
// (change.go). So either the booking is written first, and the change finds
// it and handles it, or the change commits first, and the booking is
// checked against the new rules (each statement sees what was committed
// before it began): no booking is ever stranded unseen. The row lock of a
// rescheduled booking is taken before this lock, and the change locks its
// candidate rows before taking it exclusively, so the two cannot deadlock.
func (tx *Tx) lockConfigurationShared(ctx context.Context) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended('sportello.configuration', 0))`)
	return err
}

type desk struct {
	id     int64
	label  string
	lapsed bool // a lapsed hold still marks the desk taken at that time
}

// span is where a booking goes: its service and the interval it blocks on
// a desk (its meeting and the buffer after it).
type span struct {
	serviceID       string
	start, blockEnd time.Time
	except          *uuid.UUID // the booking being moved: it does not block itself
}

// place puts a booking on a free active desk of the span's service: try is
// called for each free desk (least busy that day first, ties in random
// order, so that load spreads across desks) until it reports that it took
// one; it reports false when another transaction took that desk first.
// Holds past their expiry do not block: when one stands in the way it is
// expired (with its booking.expired.v1) before the desk is tried. place
// answers the desk taken, or a Conflict naming field when none was free.
func (tx *Tx) place(ctx context.Context, sp span, field string, try func(d desk) (bool, error)) (desk, error) {
	desks, err := tx.freeDesks(ctx, sp)
	if err != nil {
		return desk{}, err
	}
	expired := false
	for _, d := range desks {
		if d.lapsed && !expired {
			if _, err := tx.expireHolds(ctx, sp.serviceID, sp.start, sp.blockEnd); err != nil {
				return desk{}, err
			}
			expired = true
		}
		took, err := try(d)
		if err != nil {
			return desk{}, err
		}
		if took {
			return d, nil
		}
	}
	return desk{}, noDeskFree(field)
}

// noDeskFree is the refusal of a time at which every desk is taken.
func noDeskFree(field string) error {
	return apperr.New(apperr.Conflict, field, "no desk is free at this time: choose another slot")
}

// freeDesks lists the active desks of the span's service that are free
// over it, counting holds past their expiry as gone (and saying so).
// Another transaction may still take a desk first: the caller's write is
// the real test.
func (tx *Tx) freeDesks(ctx context.Context, sp span) ([]desk, error) {
	local := tx.store.local(sp.start)
	loc := tx.store.Calendar.Location
	dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	dayEnd := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
	rows, err := tx.Query(ctx, `
		WITH load AS ( -- the day's bookings of each desk, from the service's index
		    SELECT b.desk_id, count(*) AS n FROM bookings b
		    WHERE b.service_id = $1 AND b.status IN ('held', 'confirmed') AND b.starts_at >= $4 AND b.starts_at < $5
		    GROUP BY b.desk_id)
		SELECT d.id, d.label,
		       EXISTS (SELECT 1 FROM bookings b
		               WHERE b.desk_id = d.id AND b.status = 'held' AND b.hold_expires_at <= $7
		                 AND b.blocks && tstzrange($2, $3))
		FROM desks d LEFT JOIN load l ON l.desk_id = d.id
		WHERE d.service_id = $1 AND d.active
		  AND NOT EXISTS (
		        SELECT 1 FROM bookings b
		        WHERE b.desk_id = d.id AND b.status IN ('held', 'confirmed')
		          AND (b.status <> 'held' OR b.hold_expires_at > $7)
		          AND b.blocks && tstzrange($2, $3) AND b.id IS DISTINCT FROM $6)
		ORDER BY coalesce(l.n, 0), random()`,
		sp.serviceID, sp.start, sp.blockEnd, dayStart, dayEnd, sp.except, tx.Now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk, error) {
		var d desk
		return d, r.Scan(&d.id, &d.label, &d.lapsed)
	})
}

// attempt runs one statement that puts a booking on a desk inside a
// savepoint, so that losing the race for the desk (an exclusion or unique
// violation) rolls back only it; it reports whether the statement took.
func (tx *Tx) attempt(ctx context.Context, sql string, args ...any) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.Exec(ctx, sql, args...)
	if isConflict(err) {
		return false, sp.Rollback(ctx)
	}
	if err != nil {
		_ = sp.Rollback(ctx)
		return false, fmt.Errorf("place booking: %w", err)
	}
	return true, sp.Commit(ctx)
}

// expireHolds marks as expired the holds past their expiry — of one
// service and overlapping [start, end) when serviceID is not empty, else
// all of them — and emits a booking.expired.v1 for each. It returns how
// many lapsed.
func (tx *Tx) expireHolds(ctx context.Context, serviceID string, start, end time.Time) (int, error) {
	var svc *string
	var from, to *time.Time
	if serviceID != "" {
		svc, from, to = &serviceID, &start, &end
	}
	rows, err := tx.Query(ctx, `
		UPDATE bookings b SET status = 'expired', updated_at = $4
		FROM services s, desks d
		WHERE s.id = b.service_id AND d.id = b.desk_id
		  AND b.status = 'held' AND b.hold_expires_at <= $4
		  AND ($1::text IS NULL OR (b.service_id = $1 AND b.blocks && tstzrange($2, $3)))
		RETURNING `+EventColumns, svc, from, to, tx.Now)
	if err != nil {
		return 0, err
	}
	lapsed, err := tx.store.CollectEvents(rows)
	if err != nil {
		return 0, err
	}
	for _, b := range lapsed {
		if err := tx.expired(ctx, b); err != nil {
			return 0, err
		}
	}
	return len(lapsed), nil
}

// expired emits the booking.expired.v1 of a hold that lapsed or that a
// change of configuration ended.
func (tx *Tx) expired(ctx context.Context, b events.Booking) error {
	return tx.Emit(ctx, outbox.Event{Type: events.BookingExpired, Subject: b.BookingID, Data: events.BookingExpiredData{Booking: b}})
}

// ExpireHolds marks every hold past its expiry as expired, with its event.
// Slots do not wait for it (a lapsed hold blocks nothing); it keeps the
// table and the event stream true. It returns how many holds lapsed.
func (s *Store) ExpireHolds(ctx context.Context) (int, error) {
	var n int
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.expireHolds(ctx, "", time.Time{}, time.Time{})
		return err
	})
	return n, err
}
