package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

func TestValidateHours(t *testing.T) {
	h := func(wd int, opens, closes string) booking.Hours {
		return booking.Hours{Weekday: wd, Opens: opens, Closes: closes}
	}
	for _, tc := range []struct {
		name   string
		hours  []booking.Hours
		fields []string
	}{
		{"empty week", nil, nil},
		{"two periods a day, to midnight", []booking.Hours{h(1, "09:00", "12:30"), h(1, "15:30", "24:00"), h(7, "00:00", "01:00")}, nil},
		{"touching periods", []booking.Hours{h(2, "09:00", "10:00"), h(2, "10:00", "11:00")}, nil},
		{"bad weekday and times", []booking.Hours{h(0, "9:00", "24:01")}, []string{"hours[0].weekday", "hours[0].opens", "hours[0].closes"}},
		{"closes before opens", []booking.Hours{h(3, "12:00", "12:00")}, []string{"hours[0].closes"}},
		{"overlap found in any order", []booking.Hours{h(4, "11:00", "13:00"), h(5, "09:00", "10:00"), h(4, "09:00", "11:30")}, []string{"hours[0].opens"}},
		{"opens at 24:00", []booking.Hours{h(4, "24:00", "24:00")}, []string{"hours[0].opens"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := admin.ValidateHours("hours", tc.hours); err != nil {
				e := err.(*apperr.Error)
				for _, f := range e.Fields {
					got = append(got, f.Field)
				}
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRescheduleRacesClosure: a reschedule that starts while a closure is
// being made waits for it (the configuration lock), then finds the day
// closed: refused, and the booking stays where it was.
func TestRescheduleRacesClosure(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	c := confirmAt(t, store, svc, at("2027-03-02", "09:00"))
	err := pgtest.CloseUnderLock(t, store.Pool, office, "2027-03-03", "the reschedule", func() error {
		_, err := store.Reschedule(ctx, c.ManageToken, at("2027-03-03", "10:00"))
		return err
	})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("the reschedule onto the closed day: %v, want invalid (closed)", err)
	}
	b, err := store.Booking(ctx, c.ManageToken)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Start.Equal(at("2027-03-02", "09:00")) || b.Status.String() != "confirmed" {
		t.Errorf("the booking moved: %s %s", b.Start, b.Status)
	}
}
