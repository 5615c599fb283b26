package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/telemetry"
	"github.com/sportello/sportello/functions/metrics"
)

// The video rooms of bookings: their windows (provision-room) and their
// life on LiveKit, just in time (housekeeping).

// RecordRoom upserts the room of booking id, called name, with window w,
// for the booking's sequence, and reports false when the row already
// follows that sequence or a later one (the event is stale). A new window
// starts the room's life over (not opened, warned or closed). A cancelled
// booking keeps its row, marked deleted, so that an older event arriving
// later cannot bring the room back. The row stays locked until tx ends,
// which orders concurrent events of one booking. Errors: Invalid
// (data.booking_id: no such booking).
func (tx *Tx) RecordRoom(ctx context.Context, id uuid.UUID, name string, w booking.Window, sequence int, cancelled bool) (bool, error) {
	var deletedAt *time.Time
	if cancelled {
		deletedAt = &tx.Now
	}
	var one int
	err := tx.QueryRow(ctx, `
		INSERT INTO rooms (booking_id, name, opens_at, closes_at, sequence, deleted_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (booking_id) DO UPDATE
		   SET opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at, sequence = EXCLUDED.sequence,
		       deleted_at = EXCLUDED.deleted_at, updated_at = EXCLUDED.updated_at,
		       opened_at = NULL, warned_at = NULL, closed_at = NULL
		 WHERE rooms.sequence < EXCLUDED.sequence
		RETURNING 1`,
		id, name, w.OpensAt, w.ClosesAt, sequence, deletedAt, tx.Now).Scan(&one)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return false, apperr.New(apperr.Invalid, "data.booking_id", "no booking with this id")
	case err != nil:
		return false, fmt.Errorf("record room: %w", err)
	}
	return true, nil
}

// A RoomStep is a step of a room's life on LiveKit.
type RoomStep struct {
	column  string          // set when done
	when    string          // the rooms due, as a condition on rooms r with $1 = now (and $2 = the warning's lead)
	lead    bool            // the condition reads the lead
	outcome metrics.Outcome // what sportello_rooms_total counts when done
}

// The steps of a room's life, in the order housekeeping takes them.
var (
	// CloseRoom: the window has closed.
	CloseRoom = RoomStep{"closed_at", `r.closes_at <= $1 AND r.closed_at IS NULL`, false, metrics.Closed}
	// OpenRoom: the window has opened.
	OpenRoom = RoomStep{"opened_at", `r.opened_at IS NULL AND r.opens_at <= $1 AND r.closes_at > $1`, false, metrics.Opened}
	// WarnRoom: the window closes within the warning's lead.
	WarnRoom = RoomStep{"warned_at", `r.warned_at IS NULL AND r.closed_at IS NULL AND r.closes_at > $1
	                                 AND r.closes_at <= $1 + $2 * interval '1 microsecond'`, true, metrics.Warned}
)

// RoomDue is a room due for a step.
type RoomDue struct {
	BookingID uuid.UUID
	Name      string
	Window    booking.Window
}

// DueRoom locks the first room (of a booking not cancelled) due for step,
// that no other transaction holds, with lead the warning's; ok is false when
// none is.
func (tx *Tx) DueRoom(ctx context.Context, step RoomStep, lead time.Duration) (r RoomDue, ok bool, err error) {
	args := []any{tx.Now}
	if step.lead {
		args = append(args, lead.Microseconds())
	}
	err = tx.QueryRow(ctx, `
		SELECT r.booking_id, r.name, r.opens_at, r.closes_at FROM rooms r
		WHERE r.deleted_at IS NULL AND `+step.when+`
		ORDER BY r.closes_at, r.booking_id
		LIMIT 1
		FOR UPDATE OF r SKIP LOCKED`, args...).Scan(&r.BookingID, &r.Name, &r.Window.OpensAt, &r.Window.ClosesAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// RoomDone marks step done for the room of booking id.
func (tx *Tx) RoomDone(ctx context.Context, step RoomStep, id uuid.UUID) error {
	_, err := tx.Exec(ctx, `UPDATE rooms SET `+step.column+` = $2 WHERE booking_id = $1`, id, tx.Now)
	if err == nil {
		tx.afterCommit = append(tx.afterCommit, func() { telemetry.RoomStep(ctx, step.outcome) })
	}
	return err
}
