package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// The package's tests run at pgtest's moments: monday is 2027-03-01 08:00
// in Rome, an ordinary Monday; at(day, hhmm) a moment of a day in Rome.
var (
	rome   = pgtest.Rome
	monday = pgtest.Monday
	at     = pgtest.At
)

func newStore(t *testing.T, now time.Time) (*postgres.Store, *clock.Fixed) {
	t.Helper()
	patron, _ := schedule.ParsePatronDay("12-06", "San Nicola")
	clk := clock.NewFixed(now)
	return &postgres.Store{
		Pool:     pgtest.Pool(t),
		Clock:    clk,
		Calendar: &schedule.Calendar{Location: rome, Holidays: schedule.NewHolidays(patron)},
		Source:   "/sportello/test",
	}, clk
}

func citizen() booking.Citizen {
	return booking.Citizen{Applicant: booking.Applicant{GivenName: "Maria", FamilyName: "Rossi", Address: "Via Sparano 1, Bari",
		Email: "maria.rossi@example.it"}, PrivacyConsent: true}
}

// overlaps counts pairs of active bookings on one desk whose blocked times
// overlap: the invariant says there are none.
func overlaps(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `
		SELECT count(*) FROM bookings a JOIN bookings b
		  ON a.desk_id = b.desk_id AND a.id < b.id AND a.blocks && b.blocks
		WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func activeAt(t *testing.T, pool *pgxpool.Pool, serviceID string, start time.Time) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `SELECT count(*) FROM bookings
		WHERE service_id = $1 AND starts_at = $2 AND status IN ('held', 'confirmed')`, serviceID, start).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReserveRace: 120 citizens race for one slot of a 3-desk service.
// Exactly three win; everyone else gets a conflict; no desk is double-booked.
// Twice: every refusal from the database, and with the times found full
// remembered (TakenSlots), as reserve ships.
func TestReserveRace(t *testing.T) {
	remembering := &postgres.TakenSlots{}
	remembering.MaxAge = time.Minute
	for _, tc := range []struct {
		taken       *postgres.TakenSlots
		least, most int // hold_slot's calls
	}{
		{nil, 120, 120},
		// Three holds for the time ask at once (it has three desks), and
		// win; of the three after, those that ask before one of them finds
		// it full find it full too; the others are refused from memory.
		{remembering, 4, 6},
	} {
		t.Run(fmt.Sprintf("remembering taken times %v", tc.taken != nil), func(t *testing.T) {
			store, _ := newStore(t, monday)
			asked := countingPool(t, "hold_slot(")
			store.Pool, store.Taken = asked.pool, tc.taken
			reserveRace(t, store)
			if n := asked.count.Load(); n < int64(tc.least) || n > int64(tc.most) {
				t.Errorf("hold_slot called %d times for 120 holds of one time, want %d to %d", n, tc.least, tc.most)
			}
		})
	}
}

// counted is a pool of the test database that counts the statements it
// sends whose SQL contains a string, and tells of each wait for one of its
// connections as it begins.
type counted struct {
	pool     *pgxpool.Pool
	sql      string
	count    atomic.Int64
	acquires chan struct{} // one for each Acquire begun, while it has room
}

func (c *counted) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	select {
	case c.acquires <- struct{}{}:
	default:
	}
	return ctx
}

func (c *counted) TraceAcquireEnd(context.Context, *pgxpool.Pool, pgxpool.TraceAcquireEndData) {}

func (c *counted) TraceQueryStart(ctx context.Context, _ *pgx.Conn, q pgx.TraceQueryStartData) context.Context {
	if strings.Contains(q.SQL, c.sql) {
		c.count.Add(1)
	}
	return ctx
}

func (c *counted) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countingPool is a pool of the test database counting the statements
// whose SQL contains sql; closed when the test ends.
func countingPool(t *testing.T, sql string) *counted {
	t.Helper()
	return countingPoolOf(t, sql, 0)
}

// countingPoolOf is countingPool with at most conns connections (0: the
// test URL's).
func countingPoolOf(t *testing.T, sql string, conns int32) *counted {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if conns > 0 {
		cfg.MaxConns = conns
	}
	c := &counted{sql: sql, acquires: make(chan struct{}, 64)}
	cfg.ConnConfig.Tracer = c
	if c.pool, err = pgxpool.NewWithConfig(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.pool.Close)
	return c
}

// TestTakenWhileWaitingForAConnection: a hold that waited for a
// connection looks at the memory again before it asks the database, so
// that a time found full while it waited (on a click day every connection
// is busy) is refused without a round trip; a time nobody found full is
// held once the connection comes.
func TestTakenWhileWaitingForAConnection(t *testing.T) {
	for _, found := range []bool{true, false} {
		t.Run(fmt.Sprintf("found full while waiting %v", found), func(t *testing.T) {
			store, clk := newStore(t, monday)
			asked := countingPoolOf(t, "hold_slot(", 1)
			store.Pool = asked.pool
			store.Taken = &postgres.TakenSlots{}
			store.Taken.MaxAge = time.Minute
			_, svc := pgtest.NewService(t, pgtest.Pool(t), pgtest.Service{Desks: 1})
			start := at("2027-03-02", "09:30")
			// The service read once and kept, as the functions keep it: the
			// hold's only wait for a connection is its statement's.
			store.Services = &postgres.Services{}
			store.Services.MaxAge = time.Minute
			if _, err := store.Reserve(t.Context(), svc, start.Add(time.Hour), "it"); err != nil {
				t.Fatal(err)
			}

			busy, err := asked.pool.Acquire(t.Context()) // every connection busy
			if err != nil {
				t.Fatal(err)
			}
			for len(asked.acquires) > 0 {
				<-asked.acquires
			}
			done := make(chan error, 1)
			go func() {
				_, err := store.Reserve(t.Context(), svc, start, "it")
				done <- err
			}()
			select {
			case <-asked.acquires: // the hold waits for the connection
			case err := <-done:
				t.Fatalf("the hold did not wait for the busy connection: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("the hold never asked for a connection")
			}
			before := asked.count.Load()
			if found {
				store.Taken.Remember(svc, start, clk.Now()) // another hold found it full meanwhile
			}
			busy.Release()
			err = <-done
			calls := asked.count.Load() - before
			held := pgtest.Column[int64](t, `SELECT count(*) FROM bookings WHERE service_id = $1 AND starts_at = $2`, svc, start)[0]
			if found {
				if !apperr.Is(err, apperr.Conflict) || calls != 0 || held != 0 {
					t.Errorf("a time found full while the hold waited: %v, hold_slot called %d times, %d holds; want a conflict from memory, no call, no hold", err, calls, held)
				}
				return
			}
			if err != nil || calls != 1 || held != 1 {
				t.Errorf("a free time after the wait: %v, hold_slot called %d times, %d holds; want it held in one call", err, calls, held)
			}
		})
	}
}

func reserveRace(t *testing.T, store *postgres.Store) {
	pool := store.Pool
	_, svc := pgtest.NewService(t, pool, pgtest.Service{Desks: 3})
	start := at("2027-03-02", "10:00")

	const racers = 120
	var (
		wg        sync.WaitGroup
		ready     = make(chan struct{})
		mu        sync.Mutex
		won       []booking.Hold
		conflicts int
		others    []error
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			h, err := store.Reserve(t.Context(), svc, start, "it")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, h)
			case apperr.Is(err, apperr.Conflict):
				conflicts++
			default:
				others = append(others, err)
			}
		}()
	}
	close(ready)
	wg.Wait()

	if len(others) > 0 {
		t.Fatalf("unexpected errors: %v", others[0])
	}
	if len(won) != 3 || conflicts != racers-3 {
		t.Fatalf("won %d, conflicts %d; want 3 and %d", len(won), conflicts, racers-3)
	}
	if n := overlaps(t, pool); n != 0 {
		t.Fatalf("%d overlapping active bookings", n)
	}
	var desks int
	if err := pool.QueryRow(t.Context(), `SELECT count(DISTINCT desk_id) FROM bookings WHERE service_id = $1`, svc).Scan(&desks); err != nil {
		t.Fatal(err)
	}
	if desks != 3 {
		t.Fatalf("winners used %d desks, want 3", desks)
	}
	var held int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE type = $1 AND subject = ANY($2)`,
		events.BookingHeld, []string{won[0].ID, won[1].ID, won[2].ID}).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 3 {
		t.Fatalf("%d held events in the outbox, want 3 (one per winner)", held)
	}
}

func confirmAt(t *testing.T, store *postgres.Store, svc string, start time.Time) booking.Confirmation {
	t.Helper()
	h, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatalf("reserve %s: %v", start, err)
	}
	c, err := store.Confirm(t.Context(), h.ID, h.Secret, citizen())
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return c
}

// TestRescheduleRacesReservations: two confirmed bookings move to slot B
// while 60 citizens try to reserve slot B on a 2-desk service. Slot B ends
// with exactly two active bookings; a booking whose move lost is intact.
func TestRescheduleRacesReservations(t *testing.T) {
	store, _ := newStore(t, monday)
	pool := store.Pool
	_, svc := pgtest.NewService(t, pool, pgtest.Service{Desks: 2})
	a, b := at("2027-03-03", "09:00"), at("2027-03-03", "11:00")
	mine := []booking.Confirmation{confirmAt(t, store, svc, a), confirmAt(t, store, svc, a)}

	var (
		wg          sync.WaitGroup
		ready       = make(chan struct{})
		mu          sync.Mutex
		moved, held int
		others      []error
	)
	record := func(err error, ok *int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			*ok++
		case apperr.Is(err, apperr.Conflict):
		default:
			others = append(others, err)
		}
	}
	for _, c := range mine {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			_, err := store.Reschedule(t.Context(), c.ManageToken, b)
			record(err, &moved)
		}()
	}
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			_, err := store.Reserve(t.Context(), svc, b, "it")
			record(err, &held)
		}()
	}
	close(ready)
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("unexpected error: %v", others[0])
	}
	if moved+held != 2 {
		t.Fatalf("%d moved + %d held = %d successes for slot B, want 2", moved, held, moved+held)
	}
	if n := activeAt(t, pool, svc, b); n != 2 {
		t.Fatalf("slot B has %d active bookings, want 2", n)
	}
	if n := activeAt(t, pool, svc, a); n != 2-moved {
		t.Fatalf("slot A has %d active bookings, want %d (those that did not move)", n, 2-moved)
	}
	for _, c := range mine {
		got, err := store.Booking(t.Context(), c.ManageToken)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != booking.Confirmed || !(got.Start.Equal(a) || got.Start.Equal(b)) {
			t.Fatalf("booking after race: %s at %s", got.Status, got.Start)
		}
	}
	if n := overlaps(t, pool); n != 0 {
		t.Fatalf("%d overlapping active bookings", n)
	}
}

// TestExpiredHoldStopsBlocking: a lapsed hold frees its slot at once, with
// no cleanup job, and can no longer be confirmed.
func TestExpiredHoldStopsBlocking(t *testing.T) {
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	start := at("2027-03-02", "09:30")
	first, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reserve(t.Context(), svc, start, "it"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second hold while the first is live: %v, want conflict", err)
	}
	_, free, err := store.FreeSlots(t.Context(), svc, schedule.DateOf(start), schedule.DateOf(start))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range free {
		if s.Start.Equal(start) {
			t.Fatalf("held slot listed as free: %+v", s)
		}
	}

	clk.Advance(10*time.Minute + time.Second)
	_, free, err = store.FreeSlots(t.Context(), svc, schedule.DateOf(start), schedule.DateOf(start))
	if err != nil {
		t.Fatal(err)
	}
	if !containsStart(free, start) {
		t.Fatal("slot of a lapsed hold not listed as free")
	}
	if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Fatalf("hold after the first lapsed: %v", err)
	}
	_, err = store.Confirm(t.Context(), first.ID, first.Secret, citizen())
	if !apperr.Is(err, apperr.Gone) {
		t.Fatalf("confirm of a lapsed hold: %v, want gone", err)
	}
	var status string
	var expiredEvents int
	if err := store.Pool.QueryRow(t.Context(), `SELECT status,
		(SELECT count(*) FROM outbox WHERE subject = $1::text AND type = $2) FROM bookings WHERE id = $1::uuid`,
		first.ID, events.BookingExpired).Scan(&status, &expiredEvents); err != nil {
		t.Fatal(err)
	}
	if status != "expired" || expiredEvents != 1 {
		t.Fatalf("lapsed hold: status %s with %d expired events; want expired and 1", status, expiredEvents)
	}
}

// TestLapsedHoldOnTheLeastBusyDesk: a desk whose only booking at a time is
// a lapsed hold is free there, but the hold cannot be placed on it until
// the lapsed one is marked expired; with another desk free, the hold goes
// there at once. The lapsed desk is the least busy, so it is tried first.
func TestLapsedHoldOnTheLeastBusyDesk(t *testing.T) {
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	start := at("2027-03-02", "09:30")
	desk := func(id string) (d int64) {
		t.Helper()
		if err := store.Pool.QueryRow(t.Context(), `SELECT desk_id FROM bookings WHERE id = $1::uuid`, id).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	lapsing, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatal(err)
	}
	lapsedDesk := desk(lapsing.ID)
	// The other desk gets three holds later that day: the busier one.
	for _, hhmm := range []string{"10:30", "11:00", "11:30"} {
		h, err := store.Reserve(t.Context(), svc, at("2027-03-02", hhmm), "it")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Pool.Exec(t.Context(), `UPDATE bookings SET desk_id = (SELECT id FROM desks WHERE service_id = $2 AND id <> $3)
			WHERE id = $1::uuid`, h.ID, svc, lapsedDesk); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(10*time.Minute + time.Second) // every hold so far has lapsed
	again, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatalf("hold beside a lapsed one: %v", err)
	}
	if d := desk(again.ID); d == lapsedDesk {
		t.Errorf("the hold went to the desk of the lapsed hold (%d)", d)
	}
	if n := overlaps(t, store.Pool); n != 0 {
		t.Fatalf("%d overlapping active bookings", n)
	}
	// Both desks now taken at that time, one by the lapsed hold: once
	// that is marked expired the time is free on its desk again.
	if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Fatalf("hold where the only booking left is a lapsed hold: %v", err)
	}
	var status string
	if err := store.Pool.QueryRow(t.Context(), `SELECT status FROM bookings WHERE id = $1::uuid`, lapsing.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "expired" {
		t.Errorf("the lapsed hold in the way is %s, want expired", status)
	}
	if n := overlaps(t, store.Pool); n != 0 {
		t.Fatalf("%d overlapping active bookings", n)
	}
}

// TestExpireHolds: the sweep marks every lapsed hold, once, with its event,
// and leaves live holds and bookings alone.
func TestExpireHolds(t *testing.T) {
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	// Expire what earlier tests left, an hour on, then come back.
	clk.Set(monday.Add(time.Hour))
	if _, err := store.ExpireHolds(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Set(monday)
	a, _ := store.Reserve(t.Context(), svc, at("2027-03-02", "09:00"), "it")
	b, _ := store.Reserve(t.Context(), svc, at("2027-03-02", "09:30"), "en")
	kept := confirmAt(t, store, svc, at("2027-03-02", "10:00"))
	clk.Advance(11 * time.Minute)
	live, err := store.Reserve(t.Context(), svc, at("2027-03-02", "10:30"), "it")
	if err != nil {
		t.Fatal(err)
	}
	n, err := store.ExpireHolds(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("ExpireHolds = %d, %v; want 2", n, err)
	}
	if n, err := store.ExpireHolds(t.Context()); err != nil || n != 0 {
		t.Fatalf("second ExpireHolds = %d, %v; want 0", n, err)
	}
	rows, err := store.Pool.Query(t.Context(), `SELECT id::text, status FROM bookings WHERE service_id = $1 ORDER BY starts_at`, svc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var id, st string
		_ = rows.Scan(&id, &st)
		got[id] = st
	}
	want := map[string]string{a.ID: "expired", b.ID: "expired", kept.ID: "confirmed", live.ID: "held"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	var locale string
	if err := store.Pool.QueryRow(t.Context(), `SELECT data->>'locale' FROM outbox WHERE subject = $1 AND type = $2`, b.ID, events.BookingExpired).Scan(&locale); err != nil || locale != "en" {
		t.Fatalf("expired event of b: locale %q, %v", locale, err)
	}
}

func containsStart(free []booking.FreeSlot, start time.Time) bool {
	for _, s := range free {
		if s.Start.Equal(start) {
			return true
		}
	}
	return false
}

// TestFreeSlotsCapacity: each slot reports its free desks.
func TestFreeSlotsCapacity(t *testing.T) {
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 3, Buffer: 10,
		Hours: map[int][][2]string{2: {{"09:00", "10:30"}}}})
	day := schedule.Date{Year: 2027, Month: 3, Day: 2}
	confirmAt(t, store, svc, at("2027-03-02", "09:00"))
	confirmAt(t, store, svc, at("2027-03-02", "09:00"))
	confirmAt(t, store, svc, at("2027-03-02", "09:40"))
	_, free, err := store.FreeSlots(t.Context(), svc, day, day)
	if err != nil {
		t.Fatal(err)
	}
	type slot struct {
		Start string
		Free  int
	}
	var got []slot
	for _, s := range free {
		got = append(got, slot{s.Start.In(rome).Format("15:04"), s.Free})
	}
	// Grid: 30-minute meetings every 40 minutes (10-minute buffer), until 10:30.
	want := []slot{{"09:00", 1}, {"09:40", 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("free slots (-want +got):\n%s", diff)
	}
}

// TestDesksSpreadLoad: six bookings on a 3-desk service in one day go two
// to each desk, not six to the first.
func TestDesksSpreadLoad(t *testing.T) {
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 3})
	for _, hhmm := range []string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30"} {
		if _, err := store.Reserve(t.Context(), svc, at("2027-03-02", hhmm), "it"); err != nil {
			t.Fatal(err)
		}
	}
	counts := pgtest.Column[int](t, `SELECT count(*) FROM bookings WHERE service_id = $1 GROUP BY desk_id`, svc)
	if diff := cmp.Diff([]int{2, 2, 2}, counts); diff != "" {
		t.Fatalf("bookings per desk (-want +got):\n%s", diff)
	}
}

// TestRescheduleKeepsOriginalOnFailure: moving to a taken slot fails and
// leaves the booking where it was, with the same sequence.
func TestRescheduleKeepsOriginalOnFailure(t *testing.T) {
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	mine := confirmAt(t, store, svc, at("2027-03-02", "09:00"))
	confirmAt(t, store, svc, at("2027-03-02", "10:00"))
	_, err := store.Reschedule(t.Context(), mine.ManageToken, at("2027-03-02", "10:00"))
	if !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("move to a taken slot: %v, want conflict", err)
	}
	got, err := store.Booking(t.Context(), mine.ManageToken)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Start.Equal(mine.Start) || got.Sequence != 0 || got.Status != booking.Confirmed {
		t.Fatalf("after a failed move: %s seq %d %s", got.Start, got.Sequence, got.Status)
	}
	moved, err := store.Reschedule(t.Context(), mine.ManageToken, at("2027-03-02", "09:30"))
	if err != nil {
		t.Fatal(err)
	}
	if moved.Sequence != 1 || !moved.Start.Equal(at("2027-03-02", "09:30")) {
		t.Fatalf("after a move: %s seq %d", moved.Start, moved.Sequence)
	}
	if _, free, _ := store.FreeSlots(t.Context(), svc, schedule.DateOf(mine.Start), schedule.DateOf(mine.Start)); !containsStart(free, mine.Start) {
		t.Fatal("the old slot is not free after the move")
	}
}

// TestCancelCutoff: changes are refused inside the cutoff; a cancelled
// booking frees its slot, and cancelling it again answers it unchanged.
func TestCancelCutoff(t *testing.T) {
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1, Cutoff: 24 * 60})
	start := at("2027-03-03", "09:00")
	mine := confirmAt(t, store, svc, start)

	clk.Set(start.Add(-23 * time.Hour))
	if _, err := store.Cancel(t.Context(), mine.ManageToken); !apperr.Is(err, apperr.Unprocessable) {
		t.Fatalf("cancel inside the cutoff: %v, want unprocessable", err)
	}
	if _, err := store.Reschedule(t.Context(), mine.ManageToken, at("2027-03-04", "09:00")); !apperr.Is(err, apperr.Unprocessable) {
		t.Fatalf("reschedule inside the cutoff: %v, want unprocessable", err)
	}
	clk.Set(start.Add(-25 * time.Hour))
	got, err := store.Cancel(t.Context(), mine.ManageToken)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != booking.Cancelled || got.Sequence != 1 {
		t.Fatalf("after cancel: %s seq %d", got.Status, got.Sequence)
	}
	// A second cancel, even past the cutoff now, is a retry: the cancelled
	// booking, and no second event.
	clk.Set(start.Add(-time.Hour))
	var events int
	count := func() int {
		_ = store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE subject = $1`, mine.ID).Scan(&events)
		return events
	}
	before := count()
	again, err := store.Cancel(t.Context(), mine.ManageToken)
	if err != nil || again.Status != booking.Cancelled || again.Sequence != 1 {
		t.Fatalf("second cancel: %v (%s seq %d), want the cancelled booking", err, again.Status, again.Sequence)
	}
	if after := count(); after != before {
		t.Errorf("a second cancel wrote %d events", after-before)
	}
	if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Fatalf("reserve a cancelled slot: %v", err)
	}
}

// TestEventsWrittenWithStateChanges: every state change leaves exactly its
// event in the outbox, with the booking as subject and a growing sequence.
func TestEventsWrittenWithStateChanges(t *testing.T) {
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	mine := confirmAt(t, store, svc, at("2027-03-02", "09:00"))
	if _, err := store.Reschedule(t.Context(), mine.ManageToken, at("2027-03-02", "10:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Cancel(t.Context(), mine.ManageToken); err != nil {
		t.Fatal(err)
	}
	rows, err := store.Pool.Query(t.Context(), `
		SELECT type, source, (data->>'sequence')::int FROM outbox WHERE subject = $1 ORDER BY time, type`, mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Type, Source string
		Seq          int
	}
	var got []ev
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.Type, &e.Source, &e.Seq); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	// All four share the fixed clock's time, so they sort by type.
	want := []ev{
		{events.BookingCancelled, "/sportello/test", 2},
		{events.BookingConfirmed, "/sportello/test", 0},
		{events.BookingHeld, "/sportello/test", 0},
		{events.BookingRescheduled, "/sportello/test", 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outbox (-want +got):\n%s", diff)
	}
}

// TestConfirmRefusals: wrong secrets and ids are a plain not-found, a
// second confirmation a conflict, bad data invalid; none of them writes.
func TestConfirmRefusals(t *testing.T) {
	store, _ := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	h, err := store.Reserve(t.Context(), svc, at("2027-03-02", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := store.Reserve(t.Context(), svc, at("2027-03-02", "09:30"), "it")
	bad := citizen()
	bad.Email = "not-an-email"
	tests := []struct {
		name       string
		id, secret string
		c          booking.Citizen
		code       apperr.Code
		field      string
	}{
		{"wrong secret", h.ID, other.Secret, citizen(), apperr.NotFound, "hold_id"},
		{"malformed secret", h.ID, "abc", citizen(), apperr.NotFound, "hold_id"},
		{"unknown id", "0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00", h.Secret, citizen(), apperr.NotFound, "hold_id"},
		{"bad email", h.ID, h.Secret, bad, apperr.Invalid, "citizen.email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.Confirm(t.Context(), tc.id, tc.secret, tc.c)
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("got %v, want %s on %s", err, tc.code, tc.field)
			}
		})
	}
	var confirmed int
	_ = store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM bookings WHERE service_id = $1 AND status <> 'held'`, svc).Scan(&confirmed)
	if confirmed != 0 {
		t.Fatalf("%d bookings changed by refused confirmations", confirmed)
	}
	first, err := store.Confirm(t.Context(), h.ID, h.Secret, citizen())
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same data answers the same booking with a new token.
	again, err := store.Confirm(t.Context(), h.ID, h.Secret, citizen())
	if err != nil || again.ID != first.ID || again.ManageToken == first.ManageToken {
		t.Fatalf("second confirm: %v (booking %s, first %s)", err, again.ID, first.ID)
	}
	moved := citizen()
	moved.Address = "Via Argiro 2, Bari"
	if _, err := store.Confirm(t.Context(), h.ID, h.Secret, moved); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("confirm with other data: %v, want conflict", err)
	}
}

// TestClosuresFromTheDatabase: an office's closure and a closure of every
// office both remove their days; another office's closure does not.
func TestClosuresFromTheDatabase(t *testing.T) {
	store, _ := newStore(t, monday)
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	other, _ := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	pgtest.Close(t, store.Pool, office, "2027-03-02", "2027-03-03", "Inventario")
	pgtest.Close(t, store.Pool, other, "2027-03-04", "2027-03-04", "Altro ufficio")
	pgtest.Close(t, store.Pool, "", "2027-03-05", "2027-03-05", "Sciopero")
	_, free, err := store.FreeSlots(t.Context(), svc, schedule.Date{Year: 2027, Month: 3, Day: 2}, schedule.Date{Year: 2027, Month: 3, Day: 6})
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]int{}
	for _, s := range free {
		days[s.Start.In(rome).Format(time.DateOnly)]++
	}
	want := map[string]int{"2027-03-04": 8, "2027-03-06": 8}
	if diff := cmp.Diff(want, days); diff != "" {
		t.Fatalf("slots per day (-want +got):\n%s", diff)
	}
	_, err = store.Reserve(t.Context(), svc, at("2027-03-03", "09:00"), "it")
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid || e.Field != "start" {
		t.Fatalf("reserve on a closed day: %v, want invalid start", err)
	}
}

// TestDemoData: the phase-1 offices and services of Bari load, twice
// without harm, and the demo services have free slots.
func TestDemoData(t *testing.T) {
	store, _ := newStore(t, monday)
	for i := 0; i < 2; i++ {
		if err := postgres.LoadDemo(t.Context(), store.Pool); err != nil {
			t.Fatalf("load %d: %v", i+1, err)
		}
	}
	offices, err := store.Offices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	services := map[string][]string{}
	for _, o := range offices {
		for _, s := range o.Services {
			if o.ID == "urp" || o.ID == "ambiente" || o.ID == "urbanistica" {
				services[o.ID] = append(services[o.ID], s.ID)
			}
		}
	}
	want := map[string][]string{
		"urp":         {"urp-informazioni"},
		"ambiente":    {"scia-ambientale-fumi", "acque-reflue"},
		"urbanistica": {"sue", "piani-lottizzazione", "paesaggio", "controllo-territorio"},
	}
	if diff := cmp.Diff(want, services); diff != "" {
		t.Fatalf("demo services (-want +got):\n%s", diff)
	}
	svc, free, err := store.FreeSlots(t.Context(), "sue", schedule.Date{Year: 2027, Month: 3, Day: 2}, schedule.Date{Year: 2027, Month: 3, Day: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Tuesday: 09:00-12:30 and 15:30-17:30 with 30-minute meetings every 40 minutes.
	if svc.DurationMinutes != 30 || svc.Desks != 3 || len(free) != 8 || free[0].Free != 3 {
		t.Fatalf("sue on a Tuesday: duration %d, desks %d, %d slots %+v", svc.DurationMinutes, svc.Desks, len(free), free)
	}
}

// TestReserveFollowsTheConfiguration: holds are checked against the
// service as cached, but never against an outdated one: a closure added
// after the service was read refuses the next hold at once, and opening
// hours added make their slots bookable at once.
func TestReserveFollowsTheConfiguration(t *testing.T) {
	store, _ := pgtest.Store(t, monday)
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	ctx := t.Context()
	if _, err := store.Reserve(ctx, svc, at("2027-03-02", "09:00"), "it"); err != nil {
		t.Fatal(err) // the service is now in the cache
	}
	pgtest.Close(t, store.Pool, office, "2027-03-02", "2027-03-02", "Inventario")
	_, err := store.Reserve(ctx, svc, at("2027-03-02", "10:00"), "it")
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Reason != apperr.Closed {
		t.Fatalf("hold on a day closed after the service was cached: %v, want invalid (closed)", err)
	}
	if _, err := store.Reserve(ctx, svc, at("2027-03-03", "14:00"), "it"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("hold outside the hours: %v, want invalid", err)
	}
	if _, err := store.Pool.Exec(ctx, `INSERT INTO opening_hours (service_id, weekday, opens, closes) VALUES ($1, 3, '14:00', '15:00')`, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reserve(ctx, svc, at("2027-03-03", "14:00"), "it"); err != nil {
		t.Fatalf("hold in hours added after the service was cached: %v", err)
	}
}

// TestConfirmFindsTheHoldByItsKey: a confirmation reads its hold through
// the primary key, whatever plan PostgreSQL keeps for confirm_hold. Its
// generic plan (forced here; plpgsql keeps one after five calls) once
// chose the index of live holds by expiry when the statistics were taken
// with few holds — then every confirmation read every live hold, thousands
// on a click day. The index's reads are counted around the confirmations.
func TestConfirmFindsTheHoldByItsKey(t *testing.T) {
	ctx := t.Context()
	store, _ := newStore(t, monday)
	if _, err := store.Pool.Exec(ctx, `ANALYZE bookings`); err != nil { // statistics from before the holds
		t.Fatal(err)
	}
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 3})
	var holds []booking.Hold
	for day := 2; day <= 20; day++ {
		for _, hhmm := range []string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"} {
			for range 3 {
				h, err := store.Reserve(ctx, svc, at(fmt.Sprintf("2027-03-%02d", day), hhmm), "it")
				if apperr.Is(err, apperr.Invalid) {
					continue // a day another test closed
				}
				if err != nil {
					t.Fatal(err)
				}
				holds = append(holds, h)
			}
		}
	}
	generic := onePool(t, "plan_cache_mode", "force_generic_plan")
	reads := func() int64 {
		t.Helper()
		var n int64
		if _, err := store.Pool.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
		if err := store.Pool.QueryRow(ctx, `SELECT coalesce(sum(idx_tup_read), 0)::bigint FROM pg_stat_user_indexes
			WHERE indexrelname = 'bookings_holds_by_expiry'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	flush := func() {
		t.Helper()
		if _, err := generic.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if _, err := generic.Exec(ctx, `SELECT 1`); err != nil { // the flush happens when this transaction ends
			t.Fatal(err)
		}
	}
	flush()
	before := reads()
	onGeneric := &postgres.Store{Pool: generic, Clock: store.Clock, Calendar: store.Calendar, Source: store.Source}
	for _, h := range holds[:10] {
		if _, err := onGeneric.Confirm(ctx, h.ID, h.Secret, citizen()); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if after := reads(); after != before {
		t.Errorf("10 confirmations read %d entries of bookings_holds_by_expiry (%d live holds), want none", after-before, len(holds)-10)
	}
}

// onePool is a pool of one connection to the test database whose session
// has the run-time parameter set to value; closed when the test ends.
func onePool(t *testing.T, param, value string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams[param] = value
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestTakenRefusedFromMemory: with the store's TakenSlots, a time a hold
// found full is refused without asking the database for its MaxAge, even
// if it was freed meanwhile elsewhere (a release in another instance,
// here a second store on the same database) — then held again once MaxAge
// has passed. A hold given back through the same store frees its time at
// once. No refusal ever places a hold, and no two holds overlap.
func TestTakenRefusedFromMemory(t *testing.T) {
	store, clk := newStore(t, monday)
	store.Taken = &postgres.TakenSlots{}
	store.Taken.MaxAge = time.Second
	other, _ := newStore(t, monday) // another instance: no memory of its own here
	other.Clock = clk
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	start := at("2027-03-02", "09:30")

	first, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatal(err)
	}
	// The database refuses the second, and the store remembers it.
	if _, err := store.Reserve(t.Context(), svc, start, "it"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second hold: %v, want conflict", err)
	}
	// Given back through the other instance: this one does not know.
	if err := other.Release(t.Context(), first.ID, first.Secret); err != nil {
		t.Fatal(err)
	}
	clk.Advance(999 * time.Millisecond)
	_, err = store.Reserve(t.Context(), svc, start, "it")
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Conflict || e.Field != "start" {
		t.Fatalf("hold within MaxAge of the refusal: %v, want a conflict on start, from memory", err)
	}
	if n := pgtest.Column[int64](t, `SELECT count(*) FROM bookings WHERE service_id = $1 AND status = 'held'`, svc); n[0] != 0 {
		t.Fatalf("%d holds placed by refusals", n[0])
	}
	// Past MaxAge the database is asked again, and the time is free.
	clk.Advance(time.Millisecond)
	second, err := store.Reserve(t.Context(), svc, start, "it")
	if err != nil {
		t.Fatalf("hold once MaxAge passed: %v", err)
	}

	// Full again, found so; given back through this store: free at once.
	if _, err := store.Reserve(t.Context(), svc, start, "it"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("hold of the time held again: %v, want conflict", err)
	}
	if err := store.Release(t.Context(), second.ID, second.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Fatalf("hold right after this store gave the time back: %v", err)
	}
	if n := overlaps(t, store.Pool); n != 0 {
		t.Fatalf("%d overlapping bookings", n)
	}
}
