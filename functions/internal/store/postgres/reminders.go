package postgres

import (
	"context"
	"time"

	"github.com/sportello/sportello/events"
)

// QueueReminders records a reminder of kind (housekeeping's rules) for
// each confirmed, unpurged booking that starts in (now+floor, now+lead]
// and was made (confirmed or last rescheduled) more than lead before its
// start, and returns those bookings, by start. A reminder is recorded once
// per booking, kind and start time: one queued already (by an earlier or a
// concurrent tick) is neither recorded nor returned again.
func (tx *Tx) QueueReminders(ctx context.Context, kind string, lead, floor time.Duration) ([]events.Booking, error) {
	rows, err := tx.Query(ctx, `
		WITH due AS (
		    INSERT INTO reminders (booking_id, kind, starts_at, queued_at)
		    SELECT b.id, $1, b.starts_at, $2
		    FROM bookings b
		    WHERE b.status = 'confirmed' AND b.purged_at IS NULL
		      AND b.starts_at > $3 AND b.starts_at <= $4
		      AND b.starts_at - b.updated_at > make_interval(secs => $5)
		    ON CONFLICT DO NOTHING
		    RETURNING booking_id)
		SELECT `+EventColumns+`
		FROM due
		JOIN bookings b ON b.id = due.booking_id
		JOIN services s ON s.id = b.service_id
		JOIN desks d ON d.id = b.desk_id
		ORDER BY b.starts_at, b.id`,
		kind, tx.Now, tx.Now.Add(floor), tx.Now.Add(lead), lead.Seconds())
	if err != nil {
		return nil, err
	}
	return tx.store.CollectEvents(rows)
}
