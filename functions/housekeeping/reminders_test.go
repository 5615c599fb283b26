package main

import (
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
)

// reminder is one queued reminder, by the test's name for its booking.
type reminder struct {
	Booking, Kind, Start string
}

// reminders returns the queued reminders, by booking, start and kind, and
// checks that each has exactly
// one event, with the booking as it is and the kind, delivered to the sink.
func (f *fixture) reminders(t *testing.T, names map[string]string) []reminder {
	t.Helper()
	rows, err := f.store.Pool.Query(t.Context(), `
		SELECT booking_id::text, kind, starts_at FROM reminders ORDER BY queued_at, starts_at, kind`)
	if err != nil {
		t.Fatal(err)
	}
	var out []reminder
	for rows.Next() {
		var id, kind string
		var start time.Time
		if err := rows.Scan(&id, &kind, &start); err != nil {
			t.Fatal(err)
		}
		out = append(out, reminder{names[id], kind, start.In(apitest.Rome).Format("01-02 15:04")})
	}
	var got []reminder
	delivered := map[string]bool{}
	for _, id := range f.sink.ids(events.BookingReminder) {
		delivered[id] = true
	}
	for _, id := range outboxIDs(t, events.BookingReminder, "") {
		var d events.BookingReminderData
		decode(t, id, &d)
		got = append(got, reminder{names[d.BookingID], d.Reminder, d.Start.In(apitest.Rome).Format("01-02 15:04")})
		if !delivered[id] {
			t.Errorf("reminder event %s was not delivered", id)
		}
		if d.OfficeID == "" || d.ServiceID != f.svc || d.Desk == "" || d.Locale != "it" || !d.End.After(d.Start) {
			t.Errorf("reminder event %s: incomplete booking %+v", id, d.Booking)
		}
	}
	byBooking := func(l []reminder) {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Booking != l[j].Booking {
				return l[i].Booking < l[j].Booking
			}
			if l[i].Start != l[j].Start {
				return l[i].Start < l[j].Start
			}
			return l[i].Kind < l[j].Kind
		})
	}
	byBooking(out)
	byBooking(got)
	if diff := cmp.Diff(out, got); diff != "" {
		t.Errorf("reminder events do not match the queued reminders (-reminders +events):\n%s", diff)
	}
	return out
}

// TestReminders: through a week of ticks (each delivered twice), every
// confirmed booking gets its 1h reminder and, when booked more than a day
// ahead, its 24h one — once each; a rescheduled booking gets them again
// for its new time; cancelled bookings and bookings made at the last
// moment get none beyond what is due.
func TestReminders(t *testing.T) {
	f := newFixture(t, apitest.Monday) // Monday 1 March 2027, 08:00
	at := apitest.At
	a := f.book(t, at("2027-03-04", "10:00")) // Thursday, 74 hours ahead
	b := f.book(t, at("2027-03-01", "12:00")) // today, 4 hours ahead: no 24h reminder
	c := f.book(t, at("2027-03-01", "09:30")) // 90 minutes ahead: the 1h reminder only
	d := f.book(t, at("2027-03-01", "09:00")) // exactly 1 hour ahead: none
	e := f.book(t, at("2027-03-02", "09:00")) // tomorrow, 25 hours ahead: both
	x := f.book(t, at("2027-03-04", "11:00")) // cancelled: none
	if _, err := f.store.Cancel(t.Context(), x.ManageToken); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{a.ID: "a", b.ID: "b", c.ID: "c", d.ID: "d", e.ID: "e", x.ID: "x"}

	twice := func(when time.Time) {
		t.Helper()
		f.clk.Set(when)
		f.tick(t)
		f.tick(t)
	}
	twice(at("2027-03-01", "08:00"))
	if got := f.reminders(t, names); len(got) != 0 {
		t.Errorf("nothing is due yet, got %v", got)
	}
	twice(at("2027-03-01", "08:45"))
	twice(at("2027-03-01", "09:10"))
	twice(at("2027-03-01", "11:05"))
	twice(at("2027-03-02", "08:15"))
	twice(at("2027-03-03", "10:30"))
	// a moves to 12:00 the day after, more than 24 hours ahead.
	f.clk.Set(at("2027-03-03", "10:40"))
	if _, err := f.store.Reschedule(t.Context(), a.ManageToken, at("2027-03-04", "12:00")); err != nil {
		t.Fatal(err)
	}
	twice(at("2027-03-03", "12:30"))
	twice(at("2027-03-04", "11:10"))
	twice(at("2027-03-04", "12:00")) // it starts: nothing more

	want := []reminder{
		{"a", "24h", "03-04 10:00"}, // Wednesday 10:30
		{"a", "1h", "03-04 12:00"},  // Thursday 11:10
		{"a", "24h", "03-04 12:00"}, // Wednesday 12:30, after the move
		{"b", "1h", "03-01 12:00"},  // Monday 11:05
		{"c", "1h", "03-01 09:30"},  // Monday 08:45
		{"e", "1h", "03-02 09:00"},  // Tuesday 08:15
		{"e", "24h", "03-02 09:00"}, // Monday 09:10
	}
	if diff := cmp.Diff(want, f.reminders(t, names)); diff != "" {
		t.Errorf("reminders (-want +got):\n%s", diff)
	}
	// The last event about a carries the booking as it is now.
	ids := outboxIDs(t, events.BookingReminder, a.ID)
	var last events.BookingReminderData
	decode(t, ids[len(ids)-1], &last)
	if last.Sequence != 1 || !last.Start.Equal(at("2027-03-04", "12:00")) || last.Reminder != events.Reminder1h {
		t.Errorf("a's last reminder: %+v", last)
	}
}

// TestLateTick: when ticks stop for a while, a booking whose 24h window
// passed unseen gets only its 1h reminder, never both at once.
func TestLateTick(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	late := f.book(t, apitest.At("2027-03-02", "12:00")) // 28 hours ahead
	f.clk.Set(apitest.At("2027-03-02", "11:15"))
	f.tick(t)
	f.tick(t)
	want := []reminder{{"late", "1h", "03-02 12:00"}}
	if diff := cmp.Diff(want, f.reminders(t, map[string]string{late.ID: "late"})); diff != "" {
		t.Errorf("reminders (-want +got):\n%s", diff)
	}
}
