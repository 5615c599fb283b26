package outbox_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// sink is a CloudEvents receiver that records what it accepts and can be
// told to fail.
type sink struct {
	mu      sync.Mutex
	got     []cloudevents.Event
	headers []http.Header // of the requests of got
	status  atomic.Int32  // answered status; 0 means 202
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st := s.status.Load(); st != 0 {
		w.WriteHeader(int(st))
		return
	}
	ev, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, *ev)
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// newSink is a sink listening at url until the test ends.
func newSink(t *testing.T) (s *sink, url string) {
	s = &sink{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// monday is a clock fixed at 2027-03-01 08:00 UTC.
func monday() *clock.Fixed { return clock.NewFixed(time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)) }

func (s *sink) events() []cloudevents.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cloudevents.Event(nil), s.got...)
}

// header is the header of the request that brought the i-th event.
func (s *sink) header(i int) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers[i]
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func write(t *testing.T, clk clock.Clock, subject string, commit bool) string {
	t.Helper()
	ctx := t.Context()
	tx, err := pgtest.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	id, err := outbox.Write(ctx, tx, "/sportello/test", clk.Now(), outbox.Event{
		Type: events.BookingConfirmed, Subject: subject,
		Data: events.BookingConfirmedData{Booking: events.Booking{BookingID: subject, OfficeID: "urp", ServiceID: "urp-informazioni",
			Desk: "Postazione 1", Start: clk.Now().Add(48 * time.Hour), End: clk.Now().Add(49 * time.Hour), Locale: "it"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func pending(t *testing.T) int {
	t.Helper()
	var n int
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE delivered_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newRelay(t *testing.T, url string, clk clock.Clock) *outbox.Relay {
	t.Helper()
	r, err := outbox.NewRelay(pgtest.Pool(t), url, clk, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The tests share one outbox table, so they run one after another and each
// starts by delivering what an earlier one left.
func drain(t *testing.T) {
	t.Helper()
	if _, err := pgtest.Pool(t).Exec(t.Context(), `UPDATE outbox SET delivered_at = now() WHERE delivered_at IS NULL`); err != nil {
		t.Fatal(err)
	}
}

// TestRelayDeliversCommittedEventsOnly: a committed event reaches the sink
// with its CloudEvents attributes; a rolled-back one never exists.
func TestRelayDeliversCommittedEventsOnly(t *testing.T) {
	drain(t)
	clk := monday()
	s, url := newSink(t)

	id := write(t, clk, "booking-1", true)
	write(t, clk, "booking-rolled-back", false)

	n, err := newRelay(t, url, clk).DeliverPending(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v; want 1, nil", n, err)
	}
	got := s.events()
	if len(got) != 1 {
		t.Fatalf("sink got %d events, want 1", len(got))
	}
	ev := got[0]
	typ, _ := events.Lookup(events.BookingConfirmed)
	if ev.ID() != id || ev.Type() != events.BookingConfirmed || ev.Source() != "/sportello/test" ||
		ev.Subject() != "booking-1" || ev.DataSchema() != typ.DataSchema() || ev.DataContentType() != "application/json" {
		t.Fatalf("event attributes: %s", ev.String())
	}
	var data events.BookingConfirmedData
	if err := ev.DataAs(&data); err != nil || data.BookingID != "booking-1" || data.Desk != "Postazione 1" {
		t.Fatalf("event data: %+v, %v", data, err)
	}
	if p := pending(t); p != 0 {
		t.Fatalf("%d events still pending", p)
	}
}

// TestRelayRetriesUntilTheSinkAccepts: a failing sink leaves the event
// pending with a growing backoff; once the sink recovers and the backoff has
// passed, the event is delivered exactly once, with the same id.
func TestRelayRetriesUntilTheSinkAccepts(t *testing.T) {
	drain(t)
	clk := monday()
	s, url := newSink(t)
	s.status.Store(http.StatusServiceUnavailable)
	relay := newRelay(t, url, clk)

	id := write(t, clk, "booking-2", true)
	for i := 0; i < 3; i++ {
		if i > 0 {
			clk.Advance(time.Hour) // past any backoff
		}
		if n, err := relay.DeliverPending(t.Context()); err != nil || n != 0 {
			t.Fatalf("attempt %d: %d, %v", i, n, err)
		}
	}
	var attempts int
	var lastErr string
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT attempts, last_error FROM outbox WHERE id = $1`, id).Scan(&attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 || lastErr == "" {
		t.Fatalf("attempts %d, last error %q; want 3 and a reason", attempts, lastErr)
	}

	// The sink is back. The failed event waits for its backoff (4 s after a
	// third failure): a relay right now sends only the new event.
	s.status.Store(0)
	write(t, clk, "booking-3", true)
	if n, err := relay.DeliverPending(t.Context()); err != nil || n != 1 {
		t.Fatalf("before the backoff: delivered %d, %v; want only the new event", n, err)
	}
	clk.Advance(5 * time.Second)
	if n, err := relay.DeliverPending(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the backoff: delivered %d, %v; want the retried event", n, err)
	}
	if n, err := relay.DeliverPending(t.Context()); err != nil || n != 0 {
		t.Fatalf("nothing left: delivered %d, %v", n, err)
	}
	count := map[string]int{}
	for _, ev := range s.events() {
		count[ev.ID()]++
	}
	if count[id] != 1 || len(count) != 2 {
		t.Fatalf("deliveries by id: %v; want the retried event once and the other once", count)
	}
}

// TestConcurrentRelaysDeliverOnce: four relays sweeping the same outbox at
// once deliver each of 200 events exactly once.
func TestConcurrentRelaysDeliverOnce(t *testing.T) {
	drain(t)
	clk := monday()
	s, url := newSink(t)
	for i := 0; i < 200; i++ {
		write(t, clk, "booking-many", true)
	}
	var wg sync.WaitGroup
	var total atomic.Int64
	var errs []error
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRelay(t, url, clk)
			r.Batch = 7
			n, err := r.DeliverPending(t.Context())
			total.Add(int64(n))
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range s.events() {
		seen[ev.ID()]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if len(seen) != 200 || dups != 0 || total.Load() != 200 {
		t.Fatalf("distinct %d, duplicated %d, reported %d; want 200, 0, 200", len(seen), dups, total.Load())
	}
}

// TestRelayReusesItsConnections: batch after batch, the relay's deliveries
// run over the connections the first batch opened, as many as deliveries
// under way at once, instead of opening new ones each time (Go's default
// transport keeps two idle connections a host and closes the rest).
func TestRelayReusesItsConnections(t *testing.T) {
	drain(t)
	clk := monday()
	s := &sink{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // so that a batch's deliveries overlap
		s.ServeHTTP(w, r)
	}))
	var opened atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	const parallel, rounds = 8, 4
	r := newRelay(t, srv.URL, clk)
	r.Batch, r.Parallel = parallel, parallel
	for round := range rounds {
		for range parallel {
			write(t, clk, "booking-reuse", true)
		}
		if n, err := r.DeliverPending(t.Context()); err != nil || n != parallel {
			t.Fatalf("round %d: delivered %d, %v; want %d, nil", round, n, err, parallel)
		}
	}
	if got := len(s.events()); got != parallel*rounds {
		t.Fatalf("the sink got %d events; want %d", got, parallel*rounds)
	}
	if n := opened.Load(); n > parallel {
		t.Fatalf("%d connections opened for %d batches of %d; want at most %d", n, rounds, parallel, parallel)
	}
}

// TestRelayWithoutSinkKeepsEvents: with no K_SINK nothing is sent or lost.
func TestRelayWithoutSinkKeepsEvents(t *testing.T) {
	drain(t)
	clk := monday()
	write(t, clk, "booking-4", true)
	n, err := newRelay(t, "", clk).DeliverPending(t.Context())
	if err != nil || n != 0 || pending(t) != 1 {
		t.Fatalf("no sink: delivered %d, err %v, pending %d; want 0, nil, 1", n, err, pending(t))
	}
}

// TestWriteRefusesUnknownTypes: only catalogued event types can be written.
func TestWriteRefusesUnknownTypes(t *testing.T) {
	ctx := t.Context()
	tx, err := pgtest.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := outbox.Write(ctx, tx, "/sportello/test", time.Now(), outbox.Event{Type: "com.example.unknown.v1", Subject: "x", Data: 1}); err == nil {
		t.Fatal("an unknown event type was written")
	}
}
