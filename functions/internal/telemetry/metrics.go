package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sportello/sportello/events"
)

// The instruments, made on first use from the global meter provider (Setup
// installs it; until then, and in unit tests, they record nothing). In the
// Prometheus format a counter gains _total and a unit in seconds _seconds:
// sportello.holds is sportello_holds_total.
type instruments struct {
	holds, bookings, mails, rooms, delivered metric.Int64Counter
}

var (
	once sync.Once
	inst instruments
)

// dropped are the instruments of the libraries that nobody reads but every
// request would pay for: otelhttp's request and response body sizes, of the
// server and of the clients (S3, LiveKit) alike.
var dropped = []sdkmetric.View{
	sdkmetric.NewView(sdkmetric.Instrument{Name: "http.*.body.size"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}),
}

func meter() metric.Meter { return otel.Meter("github.com/sportello/sportello/functions") }

func get() *instruments {
	once.Do(func() {
		m := meter()
		inst.holds, _ = m.Int64Counter("sportello.holds", metric.WithUnit("{hold}"),
			metric.WithDescription("Holds by outcome: taken, refused (with reason), expired, released."))
		inst.bookings, _ = m.Int64Counter("sportello.bookings", metric.WithUnit("{booking}"),
			metric.WithDescription("Bookings by outcome: confirmed, rescheduled, cancelled, completed, no_show."))
		inst.mails, _ = m.Int64Counter("sportello.mails", metric.WithUnit("{mail}"),
			metric.WithDescription("Mails by outcome: sent, failed."))
		inst.rooms, _ = m.Int64Counter("sportello.rooms", metric.WithUnit("{room}"),
			metric.WithDescription("Video rooms' steps: opened, warned, closed."))
		inst.delivered, _ = m.Int64Counter("sportello.events.delivered", metric.WithUnit("{event}"),
			metric.WithDescription("Outbox deliveries to the broker by event type and outcome: delivered, failed."))
	})
	return &inst
}

func outcome(o string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o)))
}

// counted says which counter an event type counts, with which outcome.
var counted = map[string]struct {
	counter func(*instruments) metric.Int64Counter
	outcome string
}{
	events.BookingHeld:        {holdsOf, "taken"},
	events.BookingExpired:     {holdsOf, "expired"},
	events.BookingReleased:    {holdsOf, "released"},
	events.BookingConfirmed:   {bookingsOf, "confirmed"},
	events.BookingRescheduled: {bookingsOf, "rescheduled"},
	events.BookingCancelled:   {bookingsOf, "cancelled"},
	events.BookingCompleted:   {bookingsOf, "completed"}, // or no_show, by its data
}

func holdsOf(m *instruments) metric.Int64Counter    { return m.holds }
func bookingsOf(m *instruments) metric.Int64Counter { return m.bookings }

// Committed counts the state change that an event of type typ with data
// reports, once its transaction has committed: holds taken, expired and
// released; bookings confirmed, rescheduled, cancelled, completed and
// no-shows. Other types count nothing.
func Committed(ctx context.Context, typ string, data any) {
	c, ok := counted[typ]
	if !ok {
		return
	}
	o := c.outcome
	if d, ok := data.(events.BookingCompletedData); ok && d.Outcome == events.OutcomeNoShow {
		o = "no_show"
	}
	c.counter(get()).Add(ctx, 1, outcome(o))
}

// RoomStep counts a step of a video room's life, done and committed:
// opened_at (made in LiveKit as its window opened), closed_at (deleted as
// it closed) or warned_at (its participants told it closes soon), as
// sportello.rooms with outcome opened, closed or warned.
func RoomStep(ctx context.Context, column string) {
	get().rooms.Add(ctx, 1, outcome(strings.TrimSuffix(column, "_at")))
}

// HoldRefused counts a hold not taken, for reason: "taken" (no desk free),
// "rate_limited", "stale" or "lapsed".
func HoldRefused(ctx context.Context, reason string) {
	get().holds.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("outcome", "refused"), attribute.String("reason", reason))))
}

// Mail counts a mail sent (ok) or failed.
func Mail(ctx context.Context, ok bool) {
	o := "failed"
	if ok {
		o = "sent"
	}
	get().mails.Add(ctx, 1, outcome(o))
}

// Delivered counts an outbox row sent to the broker (ok) or refused.
func Delivered(ctx context.Context, typ string, ok bool) {
	o := "failed"
	if ok {
		o = "delivered"
	}
	get().delivered.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("outcome", o), attribute.String("type", typ))))
}

// Backlog reports the outbox: how many events wait for delivery and the age
// of the oldest. Every instance reports the whole table's figures (take
// the max across instances).
type Backlog func(ctx context.Context) (waiting int64, oldest time.Duration, err error)

// ObserveOutbox registers the outbox gauges, read from backlog at each
// collection (each scrape): sportello.outbox.backlog and
// sportello.outbox.oldest.age.
func ObserveOutbox(backlog Backlog) error {
	m := meter()
	waiting, e1 := m.Int64ObservableGauge("sportello.outbox.backlog", metric.WithUnit("{event}"),
		metric.WithDescription("Events written to the outbox and not yet delivered to the broker."))
	age, e2 := m.Float64ObservableGauge("sportello.outbox.oldest.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest event not yet delivered (0 when none)."))
	if err := errors.Join(e1, e2); err != nil {
		return err
	}
	_, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, oldest, err := backlog(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(waiting, n)
		o.ObserveFloat64(age, oldest.Seconds())
		return nil
	}, waiting, age)
	return err
}

// ObservePool registers the database pool's figures: under OpenTelemetry's
// database conventions db.client.connection.count by state (idle, used)
// and db.client.connection.max; and, since pgxpool counts no requests
// waiting now, the cumulative sportello.db.acquire.waits (acquires that
// found no idle connection) and sportello.db.acquire.wait (seconds they
// waited): their rates show a pool too small.
func ObservePool(pool *pgxpool.Pool) error {
	m := meter()
	count, e1 := m.Int64ObservableUpDownCounter("db.client.connection.count", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections of the pool by state."))
	max, e2 := m.Int64ObservableUpDownCounter("db.client.connection.max", metric.WithUnit("{connection}"),
		metric.WithDescription("The most connections the pool opens."))
	waits, e3 := m.Int64ObservableCounter("sportello.db.acquire.waits", metric.WithUnit("{acquire}"),
		metric.WithDescription("Connection acquires that found no idle connection and waited."))
	wait, e4 := m.Float64ObservableCounter("sportello.db.acquire.wait", metric.WithUnit("s"),
		metric.WithDescription("Time spent by those acquires waiting for a connection."))
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return err
	}
	state := func(s string) metric.ObserveOption {
		return metric.WithAttributes(attribute.String("db.client.connection.state", s))
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := pool.Stat()
		o.ObserveInt64(count, int64(st.IdleConns()), state("idle"))
		o.ObserveInt64(count, int64(st.AcquiredConns()), state("used"))
		o.ObserveInt64(max, int64(st.MaxConns()))
		o.ObserveInt64(waits, st.EmptyAcquireCount())
		o.ObserveFloat64(wait, st.EmptyAcquireWaitTime().Seconds())
		return nil
	}, count, max, waits, wait)
	return err
}
