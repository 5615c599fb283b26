package postgres_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
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

// TestConfirmationsRace: 96 holds are confirmed at once through one store,
// each by two citizens' requests racing: a retry with the same data, a
// second confirmation with other data, or a stranger with another hold's
// secret. Confirmations that wait together go in one statement, so each
// answer must come from its own row of it: every request answers its own
// hold's booking, with its own citizen and a manage token of its own that
// finds that booking; the retry answers the same booking, the other data a
// conflict, the stranger not found. Each booking has exactly one event and
// one audit row, and fewer statements were sent than confirmations.
func TestConfirmationsRace(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	store.Confirmations = &postgres.Confirmations{}
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 3})
	var holds []booking.Hold
	for day := 2; len(holds) < 96; day++ {
		for _, hhmm := range []string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"} {
			for range 3 {
				h, err := store.Reserve(ctx, svc, at(fmt.Sprintf("2027-03-%02d", day), hhmm), "it")
				if err != nil {
					t.Fatal(err)
				}
				holds = append(holds, h)
			}
		}
	}
	type answer struct {
		c   booking.Confirmation
		err error
	}
	citizenOf := func(i, k int) booking.Citizen {
		c := citizen()
		c.Email = fmt.Sprintf("c%d@example.it", i)
		if i%3 == 1 && k == 1 {
			c.Address = "Via Argiro 2, Bari" // other data
		}
		return c
	}
	answers := make([][2]answer, len(holds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, h := range holds {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				secret := h.Secret
				if i%3 == 2 && k == 1 {
					secret = holds[(i+1)%len(holds)].Secret // a stranger
				}
				<-start
				c, err := store.Confirm(ctx, h.ID, secret, citizenOf(i, k))
				answers[i][k] = answer{c, err}
			}()
		}
	}
	close(start)
	wg.Wait()

	for i, h := range holds {
		var won []int
		for k, a := range answers[i] {
			switch {
			case a.err == nil:
				won = append(won, k)
				if a.c.ID != h.ID {
					t.Fatalf("hold %d, request %d: answered booking %s", i, k, a.c.ID)
				}
				b, err := store.Booking(ctx, a.c.ManageToken)
				if err != nil || b.ID != h.ID || b.Citizen.Email != citizenOf(i, k).Email || b.Status != booking.Confirmed {
					t.Fatalf("hold %d, request %d: its token finds %+v, %v", i, k, b, err)
				}
			case i%3 == 1 && apperr.Is(a.err, apperr.Conflict):
			case i%3 == 2 && k == 1 && apperr.Is(a.err, apperr.NotFound):
			default:
				t.Fatalf("hold %d, request %d: %v", i, k, a.err)
			}
		}
		switch i % 3 {
		case 0:
			if len(won) != 2 || answers[i][0].c.ManageToken == answers[i][1].c.ManageToken {
				t.Fatalf("hold %d, confirmed twice with the same data: %d answered, the same token: %t", i, len(won), answers[i][0].c.ManageToken == answers[i][1].c.ManageToken)
			}
		case 1:
			if len(won) != 1 {
				t.Fatalf("hold %d, confirmed twice with other data: %d answered", i, len(won))
			}
			if b, _ := store.Booking(ctx, answers[i][won[0]].c.ManageToken); b.Citizen.Address != citizenOf(i, won[0]).Address {
				t.Fatalf("hold %d: the booking has the address %q, not the winner's", i, b.Citizen.Address)
			}
		case 2:
			if len(won) != 1 || won[0] != 0 {
				t.Fatalf("hold %d, confirmed by its citizen and a stranger: requests %v answered", i, won)
			}
		}
	}
	var confirmedEvents, audits, mixed int
	if err := store.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM outbox o JOIN bookings b ON b.id::text = o.subject AND o.type = $2 WHERE b.service_id = $1),
		       (SELECT count(*) FROM audit_log a JOIN bookings b ON b.id::text = a.target_id AND a.action = 'booking.confirmed' WHERE b.service_id = $1),
		       (SELECT count(*) FROM outbox o JOIN bookings b ON b.id::text = o.subject AND o.type = $2
		         WHERE b.service_id = $1 AND o.data->>'booking_id' <> b.id::text)`,
		svc, events.BookingConfirmed).Scan(&confirmedEvents, &audits, &mixed); err != nil {
		t.Fatal(err)
	}
	if confirmedEvents != len(holds) || audits != len(holds) || mixed != 0 {
		t.Fatalf("%d events (%d of another booking) and %d audit rows for %d bookings", confirmedEvents, mixed, audits, len(holds))
	}
	statements, sent := postgres.ConfirmStatements(store)
	if statements >= sent {
		t.Fatalf("%d confirmations went in %d statements: none gathered", sent, statements)
	}
	t.Logf("%d confirmations in %d statements", sent, statements)
}

// TestConfirmationsPlannedOnce: confirmLive's statement runs on its
// generic plan, planned once on each connection, not planned again for
// every confirmation (a custom plan: PostgreSQL's own choice for it, which
// cost as much as the confirmation itself); that plan reads bookings by
// the primary key, not the whole table, though it is made while the
// table is small; and the settings that make it so do not outlive the
// confirmation's transaction.
func TestConfirmationsPlannedOnce(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	one := onePool(t, "plan_cache_mode", "auto")
	onOne := &postgres.Store{Pool: one, Clock: store.Clock, Calendar: store.Calendar, Source: store.Source}
	seqScans := func() int64 {
		t.Helper()
		var n int64
		if _, err := one.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if _, err := one.Exec(ctx, `SELECT 1`); err != nil { // the flush happens when this transaction ends
			t.Fatal(err)
		}
		if _, err := one.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
		if err := one.QueryRow(ctx, `SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'bookings'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var holds []booking.Hold
	for _, hhmm := range []string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"} {
		h, err := store.Reserve(ctx, svc, at("2027-03-02", hhmm), "it")
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, h)
	}
	before := seqScans()
	for _, h := range holds {
		if _, err := onOne.Confirm(ctx, h.ID, h.Secret, citizen()); err != nil {
			t.Fatal(err)
		}
	}
	if after := seqScans(); after != before {
		t.Errorf("8 confirmations read the whole bookings table %d times, want none", after-before)
	}
	var generic, custom int
	if err := one.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%INSERT INTO manage_tokens%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic != 8 {
		t.Errorf("8 confirmations: %d on the generic plan, %d planned again (custom), want 8 and 0", generic, custom)
	}
	for param, want := range map[string]string{"plan_cache_mode": "auto", "enable_seqscan": "on"} {
		var got string
		if err := one.QueryRow(ctx, `SELECT current_setting($1)`, param).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("the connection's %s after the confirmations is %q, want %q", param, got, want)
		}
	}
}

// TestConfirmationsFailAlone: a statement of several confirmations that
// fails (here the database refuses one's locale) is sent again one
// confirmation at a time: the others are confirmed, the one refused is
// answered its error and stays a hold.
func TestConfirmationsFailAlone(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	var ids, secrets []string
	for _, hhmm := range []string{"09:00", "09:30", "10:00"} {
		h, err := store.Reserve(ctx, svc, at("2027-03-02", hhmm), "it")
		if err != nil {
			t.Fatal(err)
		}
		ids, secrets = append(ids, h.ID), append(secrets, h.Secret)
	}
	errs, confirmed := postgres.ConfirmTogether(ctx, store, ids, secrets, []string{"it", "xx", "en"})
	for i, want := range []bool{true, false, true} {
		if confirmed[i] != want || (errs[i] == nil) != want {
			t.Errorf("confirmation %d: confirmed %t, error %v; want confirmed %t", i, confirmed[i], errs[i], want)
		}
	}
	for i, want := range []string{"confirmed", "held", "confirmed"} {
		var status string
		if err := store.Pool.QueryRow(ctx, `SELECT status FROM bookings WHERE id = $1`, ids[i]).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status != want {
			t.Errorf("booking %d is %s, want %s", i, status, want)
		}
	}
}
