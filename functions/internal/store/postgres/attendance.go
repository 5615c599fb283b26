package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Who was in a booking's video room and when, from LiveKit's webhooks,
// and the no-shows found from it.

// BookingExists reports whether a booking with that id exists (purged ones
// too: the row stays).
func (tx *Tx) BookingExists(ctx context.Context, bookingID string) (bool, error) {
	id, err := uuid.Parse(bookingID)
	if err != nil {
		return false, nil
	}
	var ok bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}

// RecordJoined records that identity joined the booking's room at joinedAt
// (LiveKit's join time of the connection, the session's key). It reports
// false when that session was already recorded (by its join or its leave).
func (tx *Tx) RecordJoined(ctx context.Context, bookingID, identity, role string, joinedAt time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO attendance (booking_id, identity, role, joined_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, bookingID, identity, role, joinedAt)
	if err != nil {
		return false, fmt.Errorf("attendance: record join: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordLeft records that identity left the booking's room at leftAt. With
// the session's join time (joinedAt non-zero) the session is that one, and
// is recorded whole when its join never arrived (webhooks come in no fixed
// order); without it, the identity's latest open session is closed. A
// session already closed keeps its first leave time. It reports whether a
// session was closed.
func (tx *Tx) RecordLeft(ctx context.Context, bookingID, identity, role string, joinedAt, leftAt time.Time) (bool, error) {
	var tag interface{ RowsAffected() int64 }
	var err error
	if !joinedAt.IsZero() {
		tag, err = tx.Exec(ctx, `
			INSERT INTO attendance (booking_id, identity, role, joined_at, left_at)
			VALUES ($1, $2, $3, $4::timestamptz, greatest($4::timestamptz, $5::timestamptz))
			ON CONFLICT (booking_id, identity, joined_at) DO UPDATE SET left_at = EXCLUDED.left_at
			WHERE attendance.left_at IS NULL`, bookingID, identity, role, joinedAt, leftAt)
	} else {
		tag, err = tx.Exec(ctx, `
			UPDATE attendance SET left_at = greatest(joined_at, $3::timestamptz)
			WHERE (booking_id, identity, joined_at) = (
				SELECT booking_id, identity, joined_at FROM attendance
				WHERE booking_id = $1 AND identity = $2 AND left_at IS NULL
				ORDER BY joined_at DESC LIMIT 1)`, bookingID, identity, leftAt)
	}
	if err != nil {
		return false, fmt.Errorf("attendance: record leave: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// CloseAttendance closes every open session of the booking's room at at:
// the room is gone, so is everyone in it. It returns how many it closed.
func (tx *Tx) CloseAttendance(ctx context.Context, bookingID string, at time.Time) (int, error) {
	tag, err := tx.Exec(ctx, `
		UPDATE attendance SET left_at = greatest(joined_at, $2::timestamptz)
		WHERE booking_id = $1 AND left_at IS NULL`, bookingID, at)
	if err != nil {
		return 0, fmt.Errorf("attendance: close: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Attendance lists the sessions in a booking's room, in order of joining.
func (s *Store) Attendance(ctx context.Context, bookingID string) ([]booking.Attendance, error) {
	id, err := uuid.Parse(bookingID)
	if err != nil {
		return nil, nil
	}
	return s.attendance(ctx, s.Pool, id)
}

func (s *Store) attendance(ctx context.Context, q querier, id uuid.UUID) ([]booking.Attendance, error) {
	rows, err := q.Query(ctx, `
		SELECT identity, role, joined_at, left_at FROM attendance
		WHERE booking_id = $1 ORDER BY joined_at, identity`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Attendance, error) {
		var v booking.Attendance
		err := r.Scan(&v.Identity, &v.Role, &v.JoinedAt, &v.LeftAt)
		v.JoinedAt, v.LeftAt = s.local(v.JoinedAt), s.localPtr(v.LeftAt)
		return v, err
	})
}

// MarkNoShows closes the bookings whose citizen never came: confirmed
// bookings whose join window has closed (their end plus grace, JOIN_GRACE)
// and with no citizen session in their room become completed with outcome
// no_show, recorded by nobody (outcome_by NULL), each with its
// booking.completed.v1 (recorded_by "system"). Bookings an operator is
// recording at that moment are skipped (their rows are locked) and, if
// still confirmed, taken at the next run. It returns how many it marked; a
// second run marks none of them again.
func (s *Store) MarkNoShows(ctx context.Context, grace time.Duration) (int, error) {
	if grace < 0 {
		return 0, errors.New("no-shows: the grace must not be negative")
	}
	var n int
	err := s.InTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE bookings b SET status = 'completed', outcome = 'no_show', outcome_at = $1, updated_at = $1
			FROM services s, desks d
			WHERE s.id = b.service_id AND d.id = b.desk_id
			  AND b.id IN (
				SELECT c.id FROM bookings c
				WHERE c.status = 'confirmed' AND c.purged_at IS NULL AND c.ends_at <= $1::timestamptz - $2 * interval '1 microsecond'
				  AND NOT EXISTS (SELECT 1 FROM attendance a WHERE a.booking_id = c.id AND a.role = 'citizen')
				FOR UPDATE SKIP LOCKED)
			  AND b.status = 'confirmed'
			RETURNING `+EventColumns, tx.Now, grace.Microseconds())
		if err != nil {
			return fmt.Errorf("no-shows: %w", err)
		}
		marked, err := s.CollectEvents(rows)
		if err != nil {
			return fmt.Errorf("no-shows: %w", err)
		}
		for _, b := range marked {
			if err := tx.Record(ctx, audit.System, b.OfficeID, outbox.Event{
				Type: events.BookingCompleted, Subject: b.BookingID,
				Data: events.BookingCompletedData{Booking: b, Outcome: events.OutcomeNoShow, RecordedBy: booking.BySystem},
			}); err != nil {
				return err
			}
		}
		n = len(marked)
		return nil
	})
	return n, err
}

// RoomWindow is the window of a booking's room at its current sequence:
// the one provision-room recorded for that sequence, or else
// (provision-room has not caught up yet) computed, as given. The citizen's
// join and the operator's share it, so both sides of a call see the same
// window.
func (s *Store) RoomWindow(ctx context.Context, bookingID string, sequence int, computed booking.Window) (booking.Window, error) {
	var win booking.Window
	err := s.Pool.QueryRow(ctx, `
		SELECT opens_at, closes_at FROM rooms
		WHERE booking_id = $1 AND sequence = $2 AND deleted_at IS NULL`, bookingID, sequence).Scan(&win.OpensAt, &win.ClosesAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return computed, nil
	}
	return win, err
}
