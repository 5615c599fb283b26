// Package outbox makes events reliable: Write stores a CloudEvent in the
// transaction of the state change it reports, and a Relay delivers stored
// events to the sink (Knative's K_SINK) after commit, retrying with backoff
// until the sink acknowledges them.
//
// Consumes: nothing. Emits: whatever was written, as CloudEvents in binary
// mode over HTTP, at least once; the id is fixed at write time so consumers
// deduplicate on (source, id).
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// Event is an event to write: its type (from package events), subject and
// payload. The id, source and time are set by Write.
type Event struct {
	Type    string
	Subject string
	Data    any
}

// Row is an event ready to be stored: its fixed id, its data schema and its
// data as JSON. A statement that writes the outbox row itself (a
// server-side function) takes these.
type Row struct {
	ID         string
	Type       string
	DataSchema string
	Data       []byte
}

// Prepare checks ev's type against the events catalog, fixes its id and
// encodes its data.
func Prepare(ev Event) (Row, error) {
	t, ok := events.Lookup(ev.Type)
	if !ok {
		return Row{}, fmt.Errorf("outbox: event type %q is not in the events catalog", ev.Type)
	}
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return Row{}, fmt.Errorf("outbox: encode %s: %w", ev.Type, err)
	}
	return Row{ID: uuid.NewString(), Type: ev.Type, DataSchema: t.DataSchema(), Data: data}, nil
}

// Write stores ev in tx, with the trace context of ctx's span. It is
// delivered only if tx commits.
func Write(ctx context.Context, tx pgx.Tx, source string, now time.Time, ev Event) (string, error) {
	r, err := Prepare(ev)
	if err != nil {
		return "", err
	}
	tc := telemetry.ContextOf(ctx)
	_, err = tx.Exec(ctx, `
		INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at, traceparent, tracestate)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $6, NULLIF($8, ''), NULLIF($9, ''))`,
		r.ID, r.Type, source, ev.Subject, r.DataSchema, now, r.Data, tc.TraceParent, tc.TraceState)
	if err != nil {
		return "", fmt.Errorf("outbox: write %s: %w", ev.Type, err)
	}
	return r.ID, nil
}

// Relay delivers pending outbox rows to Sink. Several relays, in one process
// or many, can run at once: each row is claimed with SKIP LOCKED.
type Relay struct {
	Pool       *pgxpool.Pool
	Sink       string // K_SINK; when empty the relay does nothing and events wait
	Client     cloudevents.Client
	Clock      clock.Clock
	Log        *slog.Logger
	Batch      int           // rows per claim; default 50
	Parallel   int           // deliveries under way at once; default 8 (NewRelay's client keeps 8 connections to the sink between batches)
	Timeout    time.Duration // per delivery; default 5s
	MaxBackoff time.Duration // default 5m
	// Traced: spans are exported (telemetry's Tracing). A row written
	// with no trace is then sent under untraced, so that it starts none.
	Traced bool

	kick chan struct{}
	once sync.Once
}

// NewRelay returns a relay to sink. An empty sink gives a relay that
// delivers nothing.
func NewRelay(pool *pgxpool.Pool, sink string, clk clock.Clock, log *slog.Logger) (*Relay, error) {
	r := &Relay{Pool: pool, Sink: sink, Clock: clk, Log: log}
	if sink == "" {
		return r, nil
	}
	// A connection to the sink for each delivery under way, kept between
	// batches: Go's default transport keeps two a host, so six deliveries
	// in eight opened a connection and closed it (26 connections for 32
	// events in TestRelayReusesItsConnections).
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = defaultParallel
	// The HTTP client span of each delivery carries the W3C traceparent
	// header, besides the event's own extension.
	c, err := cloudevents.NewClientHTTP(cehttp.WithRoundTripper(otelhttp.NewTransport(t)))
	if err != nil {
		return nil, fmt.Errorf("outbox: cloudevents client: %w", err)
	}
	r.Client = c
	return r, nil
}

func (r *Relay) init() {
	r.once.Do(func() { r.kick = make(chan struct{}, 1) })
}

// Kick asks a running relay to deliver now. It never blocks.
func (r *Relay) Kick() {
	r.init()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run delivers on every Kick and every sweep interval until ctx ends.
func (r *Relay) Run(ctx context.Context, sweep time.Duration) {
	r.init()
	if r.Sink == "" {
		r.Log.Warn("K_SINK is not set: events stay in the outbox until a relay with a sink delivers them")
		return
	}
	t := time.NewTicker(sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-t.C:
		}
		if _, err := r.DeliverPending(ctx); err != nil && ctx.Err() == nil {
			r.Log.Error("outbox delivery", "err", err)
		}
	}
}

type row struct {
	id, typ, source, subject, dataschema string
	time                                 time.Time
	data                                 []byte
	attempts                             int
	trace                                telemetry.Context
}

// columns are a row's columns, as scan reads them.
const columns = `id, type, source, subject, dataschema, time, data, attempts, coalesce(traceparent, ''), coalesce(tracestate, '')`

func (x *row) scan(r pgx.Row) error {
	return r.Scan(&x.id, &x.typ, &x.source, &x.subject, &x.dataschema, &x.time, &x.data, &x.attempts, &x.trace.TraceParent, &x.trace.TraceState)
}

// DeliverPending delivers every row that is due, batch by batch, and
// returns how many were acknowledged by the sink.
func (r *Relay) DeliverPending(ctx context.Context) (int, error) {
	if r.Sink == "" {
		return 0, nil
	}
	total := 0
	for {
		n, claimed, err := r.deliverBatch(ctx)
		total += n
		if err != nil || claimed < r.batch() {
			return total, err
		}
	}
}

// defaultParallel is how many deliveries are under way at once, unless
// Parallel says otherwise.
const defaultParallel = 8

func (r *Relay) parallel() int {
	if r.Parallel <= 0 {
		return defaultParallel
	}
	return r.Parallel
}

func (r *Relay) batch() int {
	if r.Batch <= 0 {
		return 50
	}
	return r.Batch
}

func (r *Relay) deliverBatch(ctx context.Context) (delivered, claimed int, err error) {
	now := r.Clock.Now()
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `
		SELECT `+columns+`
		FROM outbox
		WHERE delivered_at IS NULL AND next_attempt_at <= $1
		ORDER BY next_attempt_at, time
		LIMIT $2
		FOR UPDATE SKIP LOCKED`, now, r.batch())
	if err != nil {
		return 0, 0, err
	}
	var due []row
	for rows.Next() {
		var x row
		if err := x.scan(rows); err != nil {
			rows.Close()
			return 0, 0, err
		}
		due = append(due, x)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	// Send the batch a few at a time (the sink takes them in no fixed
	// order anyway), then record the deliveries in one statement.
	errs := make([]error, len(due))
	slots := make(chan struct{}, r.parallel())
	var wg sync.WaitGroup
	for i, x := range due {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs[i] = r.send(ctx, x)
		}()
	}
	wg.Wait()
	var sent []string
	for i, x := range due {
		if errs[i] == nil {
			sent = append(sent, x.id)
			continue
		}
		next := r.Clock.Now().Add(r.backoff(x.attempts + 1))
		r.Log.Warn("event not delivered", "event_id", x.id, "type", x.typ, "attempt", x.attempts+1, "next_attempt_at", next, "err", errs[i])
		if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1`,
			x.id, next, truncate(errs[i].Error(), 500)); err != nil {
			return 0, len(due), err
		}
	}
	if len(sent) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)`,
			sent, r.Clock.Now()); err != nil {
			return 0, len(due), err
		}
	}
	delivered = len(sent)
	return delivered, len(due), tx.Commit(ctx)
}

// backoff doubles from one second up to MaxBackoff.
func (r *Relay) backoff(attempt int) time.Duration {
	max := r.MaxBackoff
	if max <= 0 {
		max = 5 * time.Minute
	}
	d := time.Second
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// event is the CloudEvent of a stored row.
func (x row) event() (cloudevents.Event, error) {
	ev := cloudevents.NewEvent()
	ev.SetID(x.id)
	ev.SetType(x.typ)
	ev.SetSource(x.source)
	ev.SetSubject(x.subject)
	ev.SetTime(x.time)
	ev.SetDataSchema(x.dataschema)
	if x.trace.TraceParent != "" {
		ev.SetExtension(extTraceParent, x.trace.TraceParent)
		if x.trace.TraceState != "" {
			ev.SetExtension(extTraceState, x.trace.TraceState)
		}
	}
	return ev, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(x.data))
}

// Latest is the latest stored event of a type about subject, as the relay
// delivers it (for tests and diagnostics).
func Latest(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, subject, typ string) (cloudevents.Event, error) {
	var x row
	err := x.scan(q.QueryRow(ctx, `
		SELECT `+columns+` FROM outbox
		WHERE subject = $1 AND type = $2 ORDER BY time DESC, id LIMIT 1`, subject, typ))
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("outbox: %s of %s: %w", typ, subject, err)
	}
	return x.event()
}

// The CloudEvents distributed-tracing extension's attributes.
const (
	extTraceParent = "traceparent"
	extTraceState  = "tracestate"
)

// TraceOf is the trace context an event carries in its distributed-tracing
// extension (the zero Context when none).
func TraceOf(ev cloudevents.Event) telemetry.Context {
	ext := ev.Extensions()
	tp, _ := ext[extTraceParent].(string)
	ts, _ := ext[extTraceState].(string)
	return telemetry.Context{TraceParent: tp, TraceState: ts}
}

// send delivers x in a producer span under the trace of the request that
// wrote it; the event carries that span's context as its extension, so its
// consumers' spans join the trace. A row written with no trace is sent,
// when tracing is on, under untraced: it starts no trace, and its event
// carries no extension (the HTTP request's traceparent header says "not
// sampled").
func (r *Relay) send(ctx context.Context, x row) (err error) {
	parent := x.trace.Into(ctx)
	if x.trace.TraceParent == "" && r.Traced {
		parent = untraced(ctx, x.id)
	}
	ctx, span := telemetry.Tracer().Start(parent, "publish "+audit.ShortName(x.typ),
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("messaging.system", "cloudevents"), attribute.String("messaging.message.id", x.id),
			attribute.String("cloudevents.event_type", x.typ)))
	defer func() {
		telemetry.Delivered(ctx, x.typ, err == nil)
		telemetry.End(span, err)
	}()
	if x.trace.TraceParent != "" && span.SpanContext().IsValid() {
		x.trace = telemetry.ContextOf(ctx)
	}
	ev, err := x.event()
	if err != nil {
		return err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := r.Client.Send(cloudevents.ContextWithTarget(ctx, r.Sink), ev)
	if !cloudevents.IsACK(res) {
		return fmt.Errorf("sink refused: %w", res)
	}
	return nil
}

// untraced is ctx under a local parent span that is not sampled, its ids
// the event's id. A row written with no trace (hold_slot's, for a request
// whose trace is not sampled: nine holds in ten) is then published by spans
// that are not recorded, the relay's and its HTTP client's, as their
// parent is not, instead of starting a trace of its own that the sampler
// would keep one time in ten.
func untraced(ctx context.Context, eventID string) context.Context {
	id, err := uuid.Parse(eventID)
	if err != nil {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID(id), SpanID: trace.SpanID(id[8:]),
	}))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Backlog counts the events not yet delivered and tells the age of the
// oldest (0 when none): the outbox gauges of package telemetry.
func (r *Relay) Backlog(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest *time.Time
	if err := r.Pool.QueryRow(ctx, `SELECT count(*), min(time) FROM outbox WHERE delivered_at IS NULL`).Scan(&n, &oldest); err != nil {
		return 0, 0, err
	}
	if oldest == nil {
		return n, 0, nil
	}
	return n, max(r.Clock.Now().Sub(*oldest), 0), nil
}
