package rooms

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what a pool and a transaction have in common, for WindowOf.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// WindowOf is the window of a booking at its current sequence: the one
// provision-room recorded in table rooms for that sequence, or else
// (provision-room has not caught up yet) the one computed from the
// booking's start and end. The citizen's join and the operator's share it,
// so both sides of a call see the same window.
func (c Config) WindowOf(ctx context.Context, q Querier, bookingID string, sequence int, start, end time.Time) (Window, error) {
	var win Window
	err := q.QueryRow(ctx, `
		SELECT opens_at, closes_at FROM rooms
		WHERE booking_id = $1 AND sequence = $2 AND deleted_at IS NULL`, bookingID, sequence).Scan(&win.OpensAt, &win.ClosesAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c.Window(start, end), nil
	}
	return win, err
}
