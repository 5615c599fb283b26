package postgres

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
)

// FreeSlots returns the slots of a service between two days (both included)
// that still have a free desk, each with the number of free desks. Holds past
// their expiry do not count, whether or not housekeeping has marked them.
func (s *Store) FreeSlots(ctx context.Context, serviceID string, from, to schedule.Date) (booking.Service, []booking.FreeSlot, error) {
	svc, err := s.Service(ctx, nil, serviceID, "service_id")
	if err != nil {
		return svc, nil, err
	}
	now := s.Clock.Now()
	slots := s.Calendar.Slots(svc.Rules(), from, to, now)
	out := []booking.FreeSlot{}
	if len(slots) == 0 || svc.Desks == 0 {
		return svc, out, nil
	}
	buffer := svc.Buffer()
	rows, err := s.Pool.Query(ctx, `
		SELECT b.desk_id, lower(b.blocks), upper(b.blocks)
		FROM bookings b JOIN desks d ON d.id = b.desk_id AND d.active
		WHERE b.service_id = $1
		  AND b.status IN ('held', 'confirmed')
		  AND (b.status <> 'held' OR b.hold_expires_at > $2)
		  AND b.blocks && tstzrange($3, $4)
		ORDER BY lower(b.blocks)`,
		serviceID, now, slots[0].Start, slots[len(slots)-1].End.Add(buffer))
	if err != nil {
		return svc, nil, err
	}
	type taken struct {
		desk       int64
		start, end time.Time
	}
	var busy []taken
	var t taken
	if _, err := pgx.ForEachRow(rows, []any{&t.desk, &t.start, &t.end}, func() error {
		busy = append(busy, t)
		return nil
	}); err != nil {
		return svc, nil, err
	}
	// Both lists are in time order; each slot looks at the bookings that
	// start before its blocked interval ends, from the first one that can
	// still overlap. Bookings are short, so the window is small.
	sort.Slice(busy, func(i, j int) bool { return busy[i].start.Before(busy[j].start) })
	lo := 0
	for _, sl := range slots {
		blockEnd := sl.End.Add(buffer)
		for lo < len(busy) && !busy[lo].end.After(sl.Start) && busy[lo].start.Before(sl.Start) {
			lo++
		}
		desks := map[int64]bool{}
		for i := lo; i < len(busy) && busy[i].start.Before(blockEnd); i++ {
			if busy[i].end.After(sl.Start) {
				desks[busy[i].desk] = true
			}
		}
		if free := svc.Desks - len(desks); free > 0 {
			out = append(out, booking.FreeSlot{Start: sl.Start, End: sl.End, Free: free})
		}
	}
	return svc, out, nil
}
