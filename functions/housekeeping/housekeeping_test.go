package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// sink is a CloudEvents receiver standing for the broker (K_SINK).
type sink struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int                 // what it answers
	attempts int                 // every delivery, refused or not
	accepted []cloudevents.Event // the events it acknowledged
}

func newSink(t *testing.T) *sink {
	s := &sink{status: http.StatusAccepted}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			t.Errorf("sink: not a CloudEvent: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.attempts++
		if s.status < 300 {
			s.accepted = append(s.accepted, *ev)
		}
		w.WriteHeader(s.status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// counts returns how many deliveries it saw and how many it accepted.
func (s *sink) counts() (attempts, accepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, len(s.accepted)
}

func (s *sink) answer(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// ids returns the ids of the accepted events of one type, in order.
func (s *sink) ids(typ string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.accepted {
		if ev.Type() == typ {
			out = append(out, ev.ID())
		}
	}
	return out
}

// TestNoShows: a confirmed booking nobody joined becomes a no-show
// NO_SHOW_AFTER past its end, not before; one the citizen joined stays
// for the operator to record; each no-show is announced once and audited
// as the system's doing.
func TestNoShows(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	absent := f.book(t, apitest.At("2027-03-02", "09:00"))
	present := f.book(t, apitest.At("2027-03-02", "09:30"))
	if _, err := f.store.Pool.Exec(t.Context(), `
		INSERT INTO attendance (booking_id, identity, role, joined_at) VALUES ($1::uuid, 'citizen-' || $1::text, 'citizen', $2)`,
		present.ID, apitest.At("2027-03-02", "09:31")); err != nil {
		t.Fatal(err)
	}
	status := func(id string) string {
		t.Helper()
		var s string
		if err := f.store.Pool.QueryRow(t.Context(),
			`SELECT status || ':' || coalesce(outcome, '') FROM bookings WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// 30-minute appointments: the absent citizen's ends at 09:30, so it is
	// a no-show from 09:45.
	f.clk.Set(apitest.At("2027-03-02", "09:44"))
	f.tick(t)
	if got := status(absent.ID); got != "confirmed:" {
		t.Fatalf("before NO_SHOW_AFTER: %s", got)
	}
	f.clk.Set(apitest.At("2027-03-02", "10:30"))
	f.tick(t)
	f.tick(t)
	if diff := cmp.Diff([]string{"completed:no_show", "confirmed:"}, []string{status(absent.ID), status(present.ID)}); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	ids := outboxIDs(t, events.BookingCompleted, "")
	if len(ids) != 1 {
		t.Fatalf("%d completed events, want 1", len(ids))
	}
	var d events.BookingCompletedData
	decode(t, ids[0], &d)
	if d.BookingID != absent.ID || d.Outcome != events.OutcomeNoShow || d.RecordedBy != "system" {
		t.Errorf("completed event %+v", d)
	}
	var actor, action string
	if err := f.store.Pool.QueryRow(t.Context(), `
		SELECT actor_kind, action FROM audit_log WHERE target_id = $1 ORDER BY id DESC LIMIT 1`, absent.ID).Scan(&actor, &action); err != nil {
		t.Fatal(err)
	}
	if actor != "system" || action != "booking.completed" {
		t.Errorf("audit: %s %s", actor, action)
	}
}

// fixture is housekeeping behind its CloudEvents handler, on the package's
// database (emptied of bookings and events) and the real object store,
// with a fixed clock shared with a booking store that stands for the
// other functions.
type fixture struct {
	h       http.Handler
	hk      *Housekeeper
	store   *postgres.Store // makes bookings, as reserve and confirm do
	clk     *clock.Fixed
	objects *storage.Store
	sink    *sink
	svc     string
}

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	store, clk := pgtest.Store(t, now)
	if _, err := store.Pool.Exec(t.Context(), `TRUNCATE bookings, outbox, processed_events CASCADE`); err != nil {
		t.Fatal(err)
	}
	objects := s3test.Store(t)
	snk := newSink(t)
	relay, err := outbox.NewRelay(store.Pool, snk.srv.URL, clk, apitest.Discard)
	if err != nil {
		t.Fatal(err)
	}
	hs := *store
	hs.Source = "/sportello/housekeeping"
	hk := &Housekeeper{Store: &hs, Relay: relay, Objects: objects, Log: apitest.Discard,
		Retention: 720 * time.Hour, InboxRetention: 720 * time.Hour, PurgeBatch: 500, NoShowAfter: 15 * time.Minute}
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 10})
	return &fixture{h: function.Events(apitest.Discard, hk.Handle), hk: hk, store: store, clk: clk, objects: objects, sink: snk, svc: svc}
}

// book makes a confirmed booking at start, at the clock's time.
func (f *fixture) book(t *testing.T, start time.Time) booking.Confirmation {
	t.Helper()
	return pgtest.Book(t, f.store, f.svc, start)
}

// pingRequest is a PingSource's event in binary mode with data as body.
func pingRequest(typ, data string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(data))
	r.Header.Set("Ce-Specversion", "1.0")
	r.Header.Set("Ce-Id", uuid.NewString())
	r.Header.Set("Ce-Source", "/apis/v1/namespaces/sportello/pingsources/housekeeping")
	r.Header.Set("Ce-Type", typ)
	r.Header.Set("Content-Type", "application/json")
	return r
}

// tick delivers one ping and requires it to be acknowledged.
func (f *fixture) tick(t *testing.T) {
	t.Helper()
	rec := apitest.Deliver(f.h, pingRequest(events.Ping, `{"message": "tick"}`))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("tick at %s: status %d: %s", f.clk.Now(), rec.Code, rec.Body)
	}
}

// outboxIDs returns the ids of the outbox rows of one type and subject
// ("" for any), in order of writing.
func outboxIDs(t *testing.T, typ, subject string) []string {
	t.Helper()
	return pgtest.Column[string](t,
		`SELECT id::text FROM outbox WHERE type = $1 AND ($2 = '' OR subject = $2) ORDER BY time, id`, typ, subject)
}

// TestPing: the ping's data are informational: any body, even one that is
// not JSON, runs the tick. Other events are refused without retry (400).
func TestPing(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	for _, data := range []string{`{"message": "tick"}`, `{not json`, ``, `"x"`} {
		rec := apitest.Deliver(f.h, pingRequest(events.Ping, data))
		if rec.Code != http.StatusAccepted {
			t.Errorf("ping with data %q: status %d: %s", data, rec.Code, rec.Body)
		}
	}
	// Structured mode, as a broker may also deliver.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(
		`{"specversion": "1.0", "id": "1", "source": "/local/ticker", "type": "`+events.Ping+`", "data": 42}`))
	r.Header.Set("Content-Type", "application/cloudevents+json")
	rec := apitest.Deliver(f.h, r)
	if rec.Code != http.StatusAccepted {
		t.Errorf("structured ping: status %d: %s", rec.Code, rec.Body)
	}

	for name, r := range map[string]*http.Request{
		"another type":     pingRequest(events.BookingConfirmed, `{}`),
		"not a CloudEvent": httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)),
	} {
		rec := apitest.Deliver(f.h, r)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, rec.Code, rec.Body)
		}
	}
}

// TestHoldsExpire: a hold past its expiry is marked expired with its
// event, which the same tick delivers; a second tick changes nothing.
func TestHoldsExpire(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	hold, err := f.store.Reserve(t.Context(), f.svc, apitest.At("2027-03-02", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	live, err := f.store.Reserve(t.Context(), f.svc, apitest.At("2027-03-02", "10:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * time.Minute)
	// The second hold was taken 5 minutes later: it lasts until +15.
	if _, err := f.store.Pool.Exec(t.Context(), `UPDATE bookings SET hold_expires_at = $2 WHERE id = $1`,
		live.ID, f.clk.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * time.Minute)
	for range 2 {
		f.tick(t)
	}
	status := func(id string) string {
		var s string
		if err := f.store.Pool.QueryRow(t.Context(), `SELECT status FROM bookings WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(hold.ID); s != "expired" {
		t.Errorf("lapsed hold is %s, want expired", s)
	}
	if s := status(live.ID); s != "held" {
		t.Errorf("live hold is %s, want held", s)
	}
	ids := outboxIDs(t, events.BookingExpired, hold.ID)
	if len(ids) != 1 {
		t.Fatalf("%d expired events, want 1", len(ids))
	}
	if diff := cmp.Diff(ids, f.sink.ids(events.BookingExpired)); diff != "" {
		t.Errorf("delivered expired events (-outbox +sink):\n%s", diff)
	}
	if n := len(outboxIDs(t, events.BookingExpired, live.ID)); n != 0 {
		t.Errorf("%d expired events for the live hold", n)
	}
}

// TestOutboxRedelivery: events another function left in the outbox (its
// sink was down) are delivered by the tick once the sink is back — the
// same ids, once each.
func TestOutboxRedelivery(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	f.sink.answer(http.StatusServiceUnavailable)
	c := f.book(t, apitest.At("2027-03-05", "11:00"))
	want := append(outboxIDs(t, events.BookingHeld, c.ID), outboxIDs(t, events.BookingConfirmed, c.ID)...)
	if len(want) != 2 {
		t.Fatalf("outbox holds %v, want a held and a confirmed event", want)
	}

	f.tick(t) // the sink refuses: a failed delivery is the relay's business, not a failed tick
	if attempts, accepted := f.sink.counts(); attempts == 0 || accepted != 0 {
		t.Fatalf("sink down: %d attempts, %d accepted", attempts, accepted)
	}
	var pending int
	if err := f.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND attempts > 0`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 2 {
		t.Errorf("%d events waiting after a failed attempt, want 2", pending)
	}

	f.sink.answer(http.StatusAccepted)
	f.clk.Advance(time.Minute) // past the backoff
	f.tick(t)
	f.clk.Advance(time.Minute)
	f.tick(t)
	got := append(f.sink.ids(events.BookingHeld), f.sink.ids(events.BookingConfirmed)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-outbox +sink):\n%s", diff)
	}
	if err := f.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE delivered_at IS NULL`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d events still pending", pending)
	}
	// The sink saw the events as they were written.
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	for _, ev := range f.sink.accepted {
		if ev.Subject() != c.ID || ev.Source() != "/sportello/test" {
			t.Errorf("event %s: subject %q, source %q", ev.ID(), ev.Subject(), ev.Source())
		}
	}
}

// TestInboxForgotten: consumers' records of processed events are kept for
// INBOX_RETENTION, then deleted.
func TestInboxForgotten(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	now := f.clk.Now()
	for id, at := range map[string]time.Time{"old": now.Add(-31 * 24 * time.Hour), "recent": now.Add(-29 * 24 * time.Hour)} {
		if _, err := f.store.Pool.Exec(t.Context(), `
			INSERT INTO processed_events (consumer, source, id, type, processed_at) VALUES ('send-email', '/sportello/confirm', $1, $2, $3)`,
			id, events.BookingConfirmed, at); err != nil {
			t.Fatal(err)
		}
	}
	f.tick(t)
	left := pgtest.Column[string](t, `SELECT id FROM processed_events ORDER BY id`)
	if diff := cmp.Diff([]string{"recent"}, left); diff != "" {
		t.Errorf("processed events left (-want +got):\n%s", diff)
	}
}

// TestDeliveredEventsForgotten: the outbox's events are kept for
// OUTBOX_RETENTION (30 days unless set) after their delivery, then
// deleted; an event never delivered stays, however old.
func TestDeliveredEventsForgotten(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	now := f.clk.Now()
	add := func(subject string, created time.Time, delivered *time.Time) {
		t.Helper()
		// An undelivered event's next attempt is an hour away: this tick's
		// relay leaves it alone.
		if _, err := f.store.Pool.Exec(t.Context(), `
			INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at, delivered_at, attempts)
			VALUES ($1, $2, '/sportello/confirm', $3, 'x', $4, '{}', $5, $6, 1)`,
			uuid.NewString(), events.BookingConfirmed, subject, created, now.Add(time.Hour), delivered); err != nil {
			t.Fatal(err)
		}
	}
	old, recent := now.Add(-31*24*time.Hour), now.Add(-29*24*time.Hour)
	add("delivered 31 days ago", old, &old)
	add("delivered 29 days ago", old, &recent)
	add("never delivered", now.Add(-90*24*time.Hour), nil)

	f.tick(t)
	left := pgtest.Column[string](t, `SELECT subject FROM outbox ORDER BY subject`)
	if diff := cmp.Diff([]string{"delivered 29 days ago", "never delivered"}, left); diff != "" {
		t.Errorf("events left (-want +got):\n%s", diff)
	}

	// A shorter retention, set: the 29-day-old delivery goes too.
	f.hk.OutboxRetention = 7 * 24 * time.Hour
	f.tick(t)
	left = pgtest.Column[string](t, `SELECT subject FROM outbox ORDER BY subject`)
	if diff := cmp.Diff([]string{"never delivered"}, left); diff != "" {
		t.Errorf("events left with a 7-day retention (-want +got):\n%s", diff)
	}
}

// TestIdempotencyKeysForgotten: the answers kept for Idempotency-Keys (a
// booking with its citizen's data, maybe) are deleted after a day, the
// request counters of past minutes and the ended windows of failed sign-ins
// per address at once.
func TestIdempotencyKeysForgotten(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	now := f.clk.Now()
	for key, at := range map[string]time.Time{"old": now.Add(-25 * time.Hour), "recent": now.Add(-23 * time.Hour)} {
		if _, err := f.store.Pool.Exec(t.Context(), `
			INSERT INTO idempotency_keys (scope, key, request_hash, created_at, status, body) VALUES ('confirm:x', $1, '\x00', $2, 201, '{}')`,
			key, at); err != nil {
			t.Fatal(err)
		}
	}
	for key, at := range map[string]time.Time{"client:old": now.Add(-3 * time.Minute), "client:now": now} {
		if _, err := f.store.Pool.Exec(t.Context(), `INSERT INTO rate_counters (key, window_start, n) VALUES ($1, date_trunc('minute', $2::timestamptz), 1)`, key, at); err != nil {
			t.Fatal(err)
		}
	}
	for address, ends := range map[string]time.Time{"192.0.2.1": now.Add(-3 * time.Minute), "192.0.2.2": now.Add(time.Minute)} {
		if _, err := f.store.Pool.Exec(t.Context(), `INSERT INTO sign_in_failures (address, n, ends_at) VALUES ($1, 1, $2)`, address, ends); err != nil {
			t.Fatal(err)
		}
	}
	f.tick(t)
	addresses := pgtest.Column[string](t, `SELECT address FROM sign_in_failures WHERE address LIKE '192.0.2.%' ORDER BY address`)
	if diff := cmp.Diff([]string{"192.0.2.2"}, addresses); diff != "" {
		t.Errorf("failed sign-in windows left (-want +got):\n%s", diff)
	}
	counters := pgtest.Column[string](t, `SELECT key FROM rate_counters WHERE key LIKE 'client:%' ORDER BY key`)
	if diff := cmp.Diff([]string{"client:now"}, counters); diff != "" {
		t.Errorf("request counters left (-want +got):\n%s", diff)
	}
	left := pgtest.Column[string](t, `SELECT key FROM idempotency_keys WHERE scope = 'confirm:x' ORDER BY key`)
	if diff := cmp.Diff([]string{"recent"}, left); diff != "" {
		t.Errorf("keys left (-want +got):\n%s", diff)
	}
}

// TestFailingJobDoesNotStopTheOthers: with the object store unreachable the
// purge fails, the tick answers 503 (the broker retries it), and the other
// jobs still did their work.
func TestFailingJobDoesNotStopTheOthers(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	old := f.book(t, apitest.At("2027-03-02", "09:00"))
	dead, err := storage.New(storage.Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", AccessKey: "x", SecretKey: "y", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	f.hk.Objects = dead
	f.clk.Set(apitest.At("2027-04-10", "08:00")) // past the retention of old
	hold, err := f.store.Reserve(t.Context(), f.svc, apitest.At("2027-04-11", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rec := apitest.Deliver(f.h, pingRequest(events.Ping, `{}`).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("tick with the object store down: status %d, want 503", rec.Code)
	}
	if n := len(outboxIDs(t, events.BookingExpired, hold.ID)); n != 1 {
		t.Errorf("%d expired events, want 1: the other jobs must run", n)
	}
	if n := len(f.sink.ids(events.BookingExpired)); n != 1 {
		t.Errorf("%d expired events delivered, want 1", n)
	}
	var given *string
	if err := f.store.Pool.QueryRow(t.Context(), `SELECT given_name FROM bookings WHERE id = $1`, old.ID).Scan(&given); err != nil {
		t.Fatal(err)
	}
	if given == nil || len(outboxIDs(t, events.BookingPurged, old.ID)) != 0 {
		t.Error("a booking was purged although its objects could not be deleted")
	}
}

// decode reads the data of the outbox row with id.
func decode(t *testing.T, id string, v any) {
	t.Helper()
	var data []byte
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT data FROM outbox WHERE id = $1`, id).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
