package main

import (
	"context"
	"time"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// A reminder is queued once per booking, kind and start time: a
// rescheduled booking gets its reminders again for the new time.
//
// The rules, kept simple:
//   - the 1h reminder is due when the booking starts within the next hour;
//   - the 24h reminder is due when it starts within the next 24 hours but
//     not within the next hour (then the 1h one is due instead: a late
//     tick never sends both at once);
//   - a reminder of kind K goes only to bookings made (confirmed or last
//     rescheduled, i.e. last updated) more than K before their start: a
//     citizen who books for this afternoon has just received the
//     confirmation, which says it all.
var reminderKinds = []struct {
	kind        string
	lead, floor time.Duration // due when the start is in (now+floor, now+lead]
}{
	{events.Reminder1h, time.Hour, 0},
	{events.Reminder24h, 24 * time.Hour, time.Hour},
}

// queueReminders queues the due reminders, each kind in one transaction:
// the reminders row and its event are written together.
func (h *Housekeeper) queueReminders(ctx context.Context) (n24, n1 int, err error) {
	for _, k := range reminderKinds {
		n, err := h.queue(ctx, k.kind, k.lead, k.floor)
		if err != nil {
			return n24, n1, err
		}
		if k.kind == events.Reminder24h {
			n24 = n
		} else {
			n1 = n
		}
	}
	return n24, n1, nil
}

func (h *Housekeeper) queue(ctx context.Context, kind string, lead, floor time.Duration) (int, error) {
	var n int
	err := h.Store.InTx(ctx, func(tx *postgres.Tx) error {
		due, err := tx.QueueReminders(ctx, kind, lead, floor)
		if err != nil {
			return err
		}
		for _, b := range due {
			if err := tx.Emit(ctx, outbox.Event{
				Type: events.BookingReminder, Subject: b.BookingID,
				Data: events.BookingReminderData{Booking: b, Reminder: kind},
			}); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}
