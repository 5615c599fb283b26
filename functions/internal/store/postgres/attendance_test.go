package postgres_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// attend records a session of identity in a booking's room.
func attend(t *testing.T, store *postgres.Store, bookingID, identity, role string, joinedAt time.Time) {
	t.Helper()
	ctx := t.Context()
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		_, err := tx.RecordJoined(ctx, bookingID, identity, role, joinedAt)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

type outcome struct {
	Status  string
	Outcome *string
	At      *time.Time
	By      *string
}

func outcomeOf(t *testing.T, store *postgres.Store, id string) outcome {
	t.Helper()
	var o outcome
	err := store.Pool.QueryRow(t.Context(),
		`SELECT status, outcome, outcome_at, outcome_by::text FROM bookings WHERE id = $1`, id).Scan(&o.Status, &o.Outcome, &o.At, &o.By)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestMarkNoShows: a confirmed booking whose window closed (end + grace)
// with no citizen in its room becomes completed, no_show, with its event,
// once; one the citizen attended, one still in its window and a cancelled
// one stay as they are. An operator alone in the room does not make the
// citizen present.
func TestMarkNoShows(t *testing.T) {
	ctx := t.Context()
	const grace = 15 * time.Minute
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	check := at("2027-03-01", "11:40")

	// Other tests' past bookings are not this test's business: mark them
	// first, while this test's do not exist yet.
	clk.Set(check.Add(24 * time.Hour))
	if _, err := store.MarkNoShows(ctx, grace); err != nil {
		t.Fatal(err)
	}
	clk.Set(monday)

	absent := confirmAt(t, store, svc, at("2027-03-01", "09:00"))       // window closed 09:45
	came := confirmAt(t, store, svc, at("2027-03-01", "09:30"))         // the citizen came
	operatorOnly := confirmAt(t, store, svc, at("2027-03-01", "10:00")) // only the operator came
	cancelled := confirmAt(t, store, svc, at("2027-03-01", "10:30"))    // cancelled
	open := confirmAt(t, store, svc, at("2027-03-01", "11:00"))         // window closes 11:45
	if _, err := store.Cancel(ctx, cancelled.ManageToken); err != nil {
		t.Fatal(err)
	}
	attend(t, store, came.ID, "citizen-"+came.ID, booking.ParticipantCitizen, at("2027-03-01", "09:31"))
	attend(t, store, operatorOnly.ID, "operator-00000000-0000-4000-8000-000000000001", booking.ParticipantOperator, at("2027-03-01", "10:00"))

	if _, err := store.MarkNoShows(ctx, -time.Second); err == nil {
		t.Error("a negative grace was taken")
	}
	clk.Set(check)
	n, err := store.MarkNoShows(ctx, grace)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("marked %d, want 2", n)
	}
	noShow, checkAt := "no_show", check
	wantAfter := func(openStatus string, openOutcome *outcome) map[string]outcome {
		m := map[string]outcome{
			"absent":       {Status: "completed", Outcome: &noShow, At: &checkAt},
			"came":         {Status: "confirmed"},
			"operatorOnly": {Status: "completed", Outcome: &noShow, At: &checkAt},
			"cancelled":    {Status: "cancelled"},
			"open":         {Status: openStatus},
		}
		if openOutcome != nil {
			m["open"] = *openOutcome
		}
		return m
	}
	got := func() map[string]outcome {
		return map[string]outcome{
			"absent": outcomeOf(t, store, absent.ID), "came": outcomeOf(t, store, came.ID),
			"operatorOnly": outcomeOf(t, store, operatorOnly.ID), "cancelled": outcomeOf(t, store, cancelled.ID),
			"open": outcomeOf(t, store, open.ID),
		}
	}
	if diff := cmp.Diff(wantAfter("confirmed", nil), got()); diff != "" {
		t.Errorf("bookings (-want +got):\n%s", diff)
	}
	wantEvent := []events.BookingCompletedData{{
		Booking: events.Booking{BookingID: absent.ID, OfficeID: absent.OfficeID, ServiceID: svc, Desk: absent.Desk,
			Start: absent.Start, End: absent.End, Sequence: absent.Sequence, Locale: "it"},
		Outcome: events.OutcomeNoShow, RecordedBy: "system",
	}}
	if diff := cmp.Diff(wantEvent, pgtest.EventData[events.BookingCompletedData](t, absent.ID, events.BookingCompleted)); diff != "" {
		t.Errorf("event of the absent citizen (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name string
		id   string
		want int
	}{{"operatorOnly", operatorOnly.ID, 1}, {"came", came.ID, 0}, {"cancelled", cancelled.ID, 0}, {"open", open.ID, 0}} {
		if got := len(pgtest.EventData[events.BookingCompletedData](t, c.id, events.BookingCompleted)); got != c.want {
			t.Errorf("%s: %d booking.completed events, want %d", c.name, got, c.want)
		}
	}

	// Once: again at the same moment, nothing.
	if n, err := store.MarkNoShows(ctx, grace); err != nil || n != 0 {
		t.Errorf("second run: %d, %v; want 0, nil", n, err)
	}
	// The last one's window closes at 11:45 sharp.
	clk.Set(at("2027-03-01", "11:45").Add(-time.Microsecond))
	if n, err := store.MarkNoShows(ctx, grace); err != nil || n != 0 {
		t.Errorf("just before the window closed: %d, %v; want 0, nil", n, err)
	}
	closed := at("2027-03-01", "11:45")
	clk.Set(closed)
	if n, err := store.MarkNoShows(ctx, grace); err != nil || n != 1 {
		t.Errorf("when the window closed: %d, %v; want 1, nil", n, err)
	}
	if diff := cmp.Diff(wantAfter("", &outcome{Status: "completed", Outcome: &noShow, At: &closed}), got()); diff != "" {
		t.Errorf("bookings at the end (-want +got):\n%s", diff)
	}
	if got := len(pgtest.EventData[events.BookingCompletedData](t, absent.ID, events.BookingCompleted)); got != 1 {
		t.Errorf("absent: %d booking.completed events, want 1", got)
	}
}
