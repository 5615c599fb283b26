package postgres_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// TestConfirmedEventInTheMunicipalityZone: the booking.confirmed.v1 row and
// the audit row that one statement writes carry the event's data with its
// times in the municipality's zone, from a connection whose session is in
// UTC, and the zone does not outlive the statement on that connection.
func TestConfirmedEventInTheMunicipalityZone(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	utc := onePool(t, "timezone", "UTC")
	onUTC := &postgres.Store{Pool: utc, Clock: store.Clock, Calendar: store.Calendar, Source: store.Source}

	c := confirmAt(t, onUTC, svc, at("2027-03-02", "09:00"))
	want := map[string]any{"booking_id": c.ID, "office_id": office, "service_id": svc, "desk": c.Desk,
		"start": "2027-03-02T09:00:00+01:00", "end": "2027-03-02T09:30:00+01:00", "sequence": 0.0, "locale": "it"}
	var event, detail []byte
	if err := store.Pool.QueryRow(ctx, `SELECT data FROM outbox WHERE subject = $1 AND type = $2`,
		c.ID, events.BookingConfirmed).Scan(&event); err != nil {
		t.Fatal(err)
	}
	if err := store.Pool.QueryRow(ctx, `SELECT detail FROM audit_log WHERE target_id = $1 AND action = 'booking.confirmed' AND actor_kind = 'citizen'`,
		c.ID).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"outbox data": event, "audit detail": detail} {
		var got map[string]any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	var zone string
	if err := utc.QueryRow(ctx, `SHOW TimeZone`).Scan(&zone); err != nil {
		t.Fatal(err)
	}
	if zone != "UTC" {
		t.Errorf("the connection's zone after a confirmation is %q, want UTC", zone)
	}
}
