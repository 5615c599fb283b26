package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// lateUploads is how long after a purge the objects of a booking are
// looked for again: a presigned upload issued just before the purge (they
// last 15 minutes) may still land afterwards.
const lateUploads = time.Hour

// purge erases the personal data of the bookings that ended more than
// Retention ago, one booking per transaction, at most PurgeBatch of them.
// It returns how many bookings it purged and how many objects it deleted.
func (h *Housekeeper) purge(ctx context.Context) (purged, objects int, err error) {
	for purged < h.batch() {
		id, n, err := h.purgeOne(ctx)
		objects += n
		if err != nil && id != "" {
			return purged, objects, fmt.Errorf("booking %s: %w", id, err)
		}
		if err != nil {
			return purged, objects, err
		}
		if id == "" {
			break
		}
		purged++
	}
	n, err := h.sweepLateUploads(ctx)
	return purged, objects + n, err
}

func (h *Housekeeper) batch() int {
	if h.PurgeBatch <= 0 {
		return 500
	}
	return h.PurgeBatch
}

// prefix is where every object of a booking lives (documents.ObjectKey).
func prefix(bookingID string) string { return "bookings/" + bookingID + "/" }

// purgeOne purges the next booking due, if any, and returns its id ("" when
// none is due). The objects go first: when their deletion or the commit
// fails, the booking stays due and the next tick finishes the work.
// Bookings that never held personal data (holds) are left alone.
func (h *Housekeeper) purgeOne(ctx context.Context) (string, int, error) {
	var id string
	var objects int
	err := h.Store.InTx(ctx, func(tx *postgres.Tx) error {
		var bid uuid.UUID
		var office string
		err := tx.QueryRow(ctx, `
			SELECT b.id, s.office_id FROM bookings b JOIN services s ON s.id = b.service_id
			WHERE purged_at IS NULL AND status IN ('confirmed', 'cancelled', 'completed') AND ends_at < $1
			ORDER BY ends_at, b.id
			LIMIT 1
			FOR UPDATE OF b SKIP LOCKED`, tx.Now.Add(-h.Retention)).Scan(&bid, &office)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		id = bid.String()
		// Every object under the booking's prefix, whatever its row says: an
		// upload that was never completed is erased too.
		if objects, err = h.Objects.DeletePrefix(ctx, prefix(id)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE documents SET status = 'deleted', filename = NULL
			WHERE booking_id = $1 AND (status <> 'deleted' OR filename IS NOT NULL)`, bid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE bookings SET given_name = NULL, family_name = NULL, address = NULL, email = NULL,
			       reason = NULL, details = NULL, outcome_note = NULL, purged_at = $2, updated_at = $2
			WHERE id = $1`, bid, tx.Now); err != nil {
			return err
		}
		// The links in old mails stop working: a plain 404, like any unknown link.
		if _, err := tx.Exec(ctx, `DELETE FROM manage_tokens WHERE booking_id = $1`, bid); err != nil {
			return err
		}
		return tx.Record(ctx, audit.System, office, outbox.Event{
			Type: events.BookingPurged, Subject: id,
			Data: events.BookingPurgedData{BookingID: id, PurgedAt: tx.Now},
		})
	})
	return id, objects, err
}

// sweepLateUploads deletes the objects that landed after their booking was
// purged, through a presigned upload issued shortly before the purge. Only
// bookings purged in the last hour that had a document requested in the
// hour before the purge are looked at: usually none.
func (h *Housekeeper) sweepLateUploads(ctx context.Context) (int, error) {
	now := h.Store.Clock.Now()
	rows, err := h.Store.Pool.Query(ctx, `
		SELECT b.id FROM bookings b
		WHERE b.purged_at > $1
		  AND EXISTS (SELECT 1 FROM documents d WHERE d.booking_id = b.id AND d.created_at > b.purged_at - $2 * interval '1 second')`,
		now.Add(-lateUploads), lateUploads.Seconds())
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		n, err := h.Objects.DeletePrefix(ctx, prefix(id.String()))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
