package main

import (
	"context"
	"fmt"
	"time"

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
		bid, office, ok, err := tx.DuePurge(ctx, tx.Now.Add(-h.Retention))
		if err != nil || !ok {
			return err
		}
		id = bid.String()
		// Every object under the booking's prefix, whatever its row says: an
		// upload that was never completed is erased too.
		if objects, err = h.Objects.DeletePrefix(ctx, prefix(id)); err != nil {
			return err
		}
		if err := tx.ErasePersonalData(ctx, bid); err != nil {
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
	ids, err := h.Store.PurgedWithLateUploads(ctx, h.Store.Clock.Now().Add(-lateUploads), lateUploads)
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
