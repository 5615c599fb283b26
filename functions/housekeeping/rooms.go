package main

import (
	"context"
	"time"

	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// roomsPerTick bounds the rooms each step handles in one tick: the
// appointments that begin or end in a minute.
const roomsPerTick = 500

// keepRooms keeps the video rooms just in time (see the package comment):
// it deletes the rooms whose window has closed, opens those whose window
// has opened, and warns those about to close. It returns how many rooms it
// opened, warned and closed.
func (h *Housekeeper) keepRooms(ctx context.Context) (opened, warned, closed int, err error) {
	if h.LiveKit == nil {
		return 0, 0, 0, nil
	}
	lk := h.LiveKit
	steps := []struct {
		step postgres.RoomStep
		n    *int
		do   func(ctx context.Context, r postgres.RoomDue, now time.Time) error
	}{
		{postgres.CloseRoom, &closed, func(ctx context.Context, r postgres.RoomDue, _ time.Time) error {
			return lk.Delete(ctx, r.Name)
		}},
		{postgres.OpenRoom, &opened, func(ctx context.Context, r postgres.RoomDue, now time.Time) error {
			_, err := lk.Ensure(ctx, r.Name, r.Window, now)
			return err
		}},
		{postgres.WarnRoom, &warned, func(ctx context.Context, r postgres.RoomDue, _ time.Time) error {
			return lk.Warn(ctx, r.Name, r.Window.ClosesAt.In(h.Store.Calendar.Location))
		}},
	}
	for _, st := range steps {
		for *st.n < roomsPerTick {
			done, err := h.roomStep(ctx, st.step, st.do)
			if err != nil {
				return opened, warned, closed, err
			}
			if !done {
				break
			}
			*st.n++
		}
	}
	return opened, warned, closed, nil
}

// roomStep takes one room due for step, that no other tick holds, does it
// and marks it done, in one transaction. It reports whether there was one.
func (h *Housekeeper) roomStep(ctx context.Context, step postgres.RoomStep, do func(context.Context, postgres.RoomDue, time.Time) error) (bool, error) {
	found := false
	err := h.Store.InTx(ctx, func(tx *postgres.Tx) error {
		r, ok, err := tx.DueRoom(ctx, step, h.LiveKit.Config.ClosingWarning)
		if err != nil || !ok {
			return err
		}
		found = true
		if err := do(ctx, r, tx.Now); err != nil {
			return err
		}
		return tx.RoomDone(ctx, step, r.BookingID)
	})
	return found, err
}
