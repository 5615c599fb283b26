package telemetry

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/metrics"
)

// instruments are the counters the functions record, made from a meter by
// their declarations (package metrics). In the Prometheus format a counter
// gains _total and a unit in seconds _seconds: sportello.holds is
// sportello_holds_total.
type instruments struct {
	holds, bookings, mails, rooms, deliveries metric.Int64Counter
}

// global are the instruments of the global meter provider, made on first
// use (Setup installs it; until then, and in unit tests, they record
// nothing).
var global = sync.OnceValue(func() *instruments { return newInstruments(meter()) })

// dropped are the instruments of the libraries that nobody reads but every
// request would pay for: otelhttp's request and response body sizes, of the
// server and of the clients (S3, LiveKit) alike.
var dropped = []sdkmetric.View{
	sdkmetric.NewView(sdkmetric.Instrument{Name: "http.*.body.size"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}),
}

func meter() metric.Meter { return otel.Meter("github.com/sportello/sportello/functions") }

func newInstruments(m metric.Meter) *instruments {
	counter := func(d metrics.Metric) metric.Int64Counter {
		c, _ := m.Int64Counter(declared(d))
		return c // a no-op counter if the name were invalid
	}
	return &instruments{
		holds:      counter(metrics.Holds),
		bookings:   counter(metrics.Bookings),
		mails:      counter(metrics.Mails),
		rooms:      counter(metrics.Rooms),
		deliveries: counter(metrics.EventsDelivered),
	}
}

// declared are the name, unit and description of d's instrument, as
// arguments of the meter's methods.
func declared(d metrics.Metric) (string, metric.InstrumentOption, metric.InstrumentOption) {
	return d.Instrument, metric.WithUnit(d.Unit), metric.WithDescription(d.Help)
}

// The attributes' keys: the Prometheus format's labels as they are, but
// the pool's state, there db_client_connection_state.
const (
	outcomeKey = "outcome"
	reasonKey  = "reason"
	typeKey    = "type"
	stateKey   = "db.client.connection.state"
)

func outcome(o metrics.Outcome) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(outcomeKey, o.String())))
}

// Committed counts the state change that an event of type typ with data
// reports, once its transaction has committed: holds taken, expired and
// released; bookings confirmed, rescheduled, cancelled, completed and
// no-shows. Other types count nothing.
func Committed(ctx context.Context, typ string, data any) { global().committed(ctx, typ, data) }

func (in *instruments) committed(ctx context.Context, typ string, data any) {
	var c metric.Int64Counter
	var o metrics.Outcome
	switch typ {
	case events.BookingHeld:
		c, o = in.holds, metrics.Taken
	case events.BookingExpired:
		c, o = in.holds, metrics.Expired
	case events.BookingReleased:
		c, o = in.holds, metrics.Released
	case events.BookingConfirmed:
		c, o = in.bookings, metrics.Confirmed
	case events.BookingRescheduled:
		c, o = in.bookings, metrics.Rescheduled
	case events.BookingCancelled:
		c, o = in.bookings, metrics.Cancelled
	case events.BookingCompleted:
		c, o = in.bookings, metrics.Completed
		if d, ok := data.(events.BookingCompletedData); ok && d.Outcome == events.OutcomeNoShow {
			o = metrics.NoShow
		}
	default:
		return
	}
	c.Add(ctx, 1, outcome(o))
}

// RoomStep counts a step of a video room's life, done and committed, as
// sportello.rooms with its outcome: metrics.Opened (made in LiveKit as its
// window opened), metrics.Warned (its participants told it closes soon) or
// metrics.Closed (deleted as it closed).
func RoomStep(ctx context.Context, o metrics.Outcome) { global().roomStep(ctx, o) }

func (in *instruments) roomStep(ctx context.Context, o metrics.Outcome) {
	in.rooms.Add(ctx, 1, outcome(o))
}

// HoldRefused counts a hold not taken, for reason: no desk free
// (metrics.ReasonTaken) or the client or its address over its limits
// (metrics.ReasonRateLimited).
func HoldRefused(ctx context.Context, reason metrics.Reason) { global().holdRefused(ctx, reason) }

func (in *instruments) holdRefused(ctx context.Context, reason metrics.Reason) {
	in.holds.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String(outcomeKey, metrics.Refused.String()), attribute.String(reasonKey, reason.String()))))
}

// Mail counts a mail sent (ok) or failed.
func Mail(ctx context.Context, ok bool) { global().mail(ctx, ok) }

func (in *instruments) mail(ctx context.Context, ok bool) {
	o := metrics.Failed
	if ok {
		o = metrics.Sent
	}
	in.mails.Add(ctx, 1, outcome(o))
}

// Delivered counts an outbox row sent to the broker (ok) or refused.
func Delivered(ctx context.Context, typ string, ok bool) { global().delivered(ctx, typ, ok) }

func (in *instruments) delivered(ctx context.Context, typ string, ok bool) {
	o := metrics.Failed
	if ok {
		o = metrics.Delivered
	}
	in.deliveries.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String(outcomeKey, o.String()), attribute.String(typeKey, typ))))
}

// Backlog reports the outbox: how many events wait for delivery and the age
// of the oldest. Every instance reports the whole table's figures (take
// the max across instances).
type Backlog func(ctx context.Context) (waiting int64, oldest time.Duration, err error)

// ObserveOutbox registers the outbox gauges, read from backlog at each
// collection (each scrape): sportello.outbox.backlog and
// sportello.outbox.oldest.age.
func ObserveOutbox(backlog Backlog) error { return observeOutbox(meter(), backlog) }

func observeOutbox(m metric.Meter, backlog Backlog) error {
	waiting, e1 := m.Int64ObservableGauge(declared(metrics.OutboxBacklog))
	age, e2 := m.Float64ObservableGauge(declared(metrics.OutboxOldestAge))
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
func ObservePool(pool *pgxpool.Pool) error { return observePool(meter(), pool) }

func observePool(m metric.Meter, pool *pgxpool.Pool) error {
	count, e1 := m.Int64ObservableUpDownCounter(declared(metrics.DBConnections))
	max, e2 := m.Int64ObservableUpDownCounter(declared(metrics.DBConnectionsMax))
	waits, e3 := m.Int64ObservableCounter(declared(metrics.DBAcquireWaits))
	wait, e4 := m.Float64ObservableCounter(declared(metrics.DBAcquireWait))
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return err
	}
	state := func(s metrics.ConnectionState) metric.ObserveOption {
		return metric.WithAttributes(attribute.String(stateKey, s.String()))
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := pool.Stat()
		o.ObserveInt64(count, int64(st.IdleConns()), state(metrics.Idle))
		o.ObserveInt64(count, int64(st.AcquiredConns()), state(metrics.Used))
		o.ObserveInt64(max, int64(st.MaxConns()))
		o.ObserveInt64(waits, st.EmptyAcquireCount())
		o.ObserveFloat64(wait, st.EmptyAcquireWaitTime().Seconds())
		return nil
	}, count, max, waits, wait)
	return err
}
