package outbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// TestEventCarriesTraceOfItsWriter: the outbox row keeps the trace context
// of the request that wrote it, and the relay publishes the event in a
// span of that trace, sending the span's context both as the CloudEvents
// distributed-tracing extension and as the W3C traceparent header.
func TestEventCarriesTraceOfItsWriter(t *testing.T) {
	drain(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	var mu sync.Mutex
	var header http.Header
	s := &sink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		header = r.Header.Clone()
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /holds/{id}/confirm")
	clk := monday()
	tx, err := pgtest.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := outbox.Write(ctx, tx, "/sportello/test", clk.Now(), outbox.Event{Type: events.BookingConfirmed, Subject: "booking-traced",
		Data: events.BookingConfirmedData{Booking: events.Booking{BookingID: "booking-traced", OfficeID: "urp", ServiceID: "urp-informazioni",
			Start: clk.Now().Add(time.Hour), End: clk.Now().Add(2 * time.Hour), Locale: "it"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	request.End()

	var stored string
	if err := pgtest.Pool(t).QueryRow(ctx, `SELECT traceparent FROM outbox WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := telemetry.ContextOf(ctx).TraceParent; stored != want {
		t.Fatalf("stored traceparent %q, want the writer's %q", stored, want)
	}

	if n, err := newRelay(t, srv.URL, clk).DeliverPending(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v", n, err)
	}
	traceID := request.SpanContext().TraceID().String()
	var publish sdktrace.ReadOnlySpan
	for _, sp := range spans.Ended() {
		if sp.Name() == "publish booking.confirmed" {
			publish = sp
		}
	}
	if publish == nil {
		t.Fatalf("no publish span among %d", len(spans.Ended()))
	}
	if publish.SpanContext().TraceID() != request.SpanContext().TraceID() || publish.Parent().SpanID() != request.SpanContext().SpanID() {
		t.Fatalf("publish span %s under %s, want under the writer's span %s", publish.SpanContext().SpanID(), publish.Parent().SpanID(), request.SpanContext().SpanID())
	}
	got := s.events()
	if len(got) != 1 {
		t.Fatalf("sink got %d events", len(got))
	}
	ext := outbox.TraceOf(got[0])
	if !strings.Contains(ext.TraceParent, traceID) || !strings.Contains(ext.TraceParent, publish.SpanContext().SpanID().String()) {
		t.Fatalf("event's traceparent extension %q, want the publish span of trace %s", ext.TraceParent, traceID)
	}
	mu.Lock()
	defer mu.Unlock()
	if h := header.Get("Traceparent"); !strings.Contains(h, traceID) {
		t.Fatalf("traceparent header %q, want trace %s", h, traceID)
	}
	if h := header.Get("Ce-Traceparent"); h != ext.TraceParent {
		t.Fatalf("ce-traceparent header %q, want %q", h, ext.TraceParent)
	}
}

// TestUntracedEventCarriesNoTraceContext: with tracing off (OpenTelemetry's
// no-op provider, as when no OTLP endpoint is set) the row's columns stay
// empty, and neither the event nor its request carries a trace context.
func TestUntracedEventCarriesNoTraceContext(t *testing.T) {
	drain(t)
	otel.SetTracerProvider(noop.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	s, url := newSink(t)
	clk := monday()
	deliverUntraced(t, newRelay(t, url, clk), write(t, clk, "booking-untraced", true))
	if ext := outbox.TraceOf(s.events()[0]); ext.TraceParent != "" {
		t.Errorf("untraced event carries %q", ext.TraceParent)
	}
	if h := s.header(0).Get("Traceparent"); h != "" {
		t.Errorf("untraced event's request carries traceparent %q", h)
	}
}

// TestRowWithoutTraceStartsNone: with tracing on and every new trace kept,
// a row written with no trace (hold_slot's, for a request whose trace is
// not sampled) is published by spans that are not recorded — the relay's
// and its HTTP client's — and the event carries no trace context: the
// relay starts no trace of its own.
func TestRowWithoutTraceStartsNone(t *testing.T) {
	drain(t)
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	s, url := newSink(t)
	clk := monday()
	relay := newRelay(t, url, clk)
	relay.Traced = true
	deliverUntraced(t, relay, write(t, clk, "booking-no-trace", true))
	if got := spans.Ended(); len(got) != 0 {
		t.Errorf("the relay recorded %d spans for a row without a trace, the first %q", len(got), got[0].Name())
	}
	if ext := outbox.TraceOf(s.events()[0]); ext.TraceParent != "" {
		t.Errorf("an event written without a trace carries %q", ext.TraceParent)
	}
	if h := s.header(0).Get("Traceparent"); !strings.HasSuffix(h, "-00") {
		t.Errorf("its request's traceparent %q, want one not sampled (-00)", h)
	}
}

// deliverUntraced checks that the row id was stored with no trace context,
// then delivers it, the only pending row, with relay.
func deliverUntraced(t *testing.T, relay *outbox.Relay, id string) {
	t.Helper()
	var stored *string
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT traceparent FROM outbox WHERE id = $1`, id).Scan(&stored); err != nil || stored != nil {
		t.Fatalf("traceparent = %v, %v; want NULL", stored, err)
	}
	if n, err := relay.DeliverPending(t.Context()); err != nil || n != 1 {
		t.Fatalf("DeliverPending = %d, %v", n, err)
	}
}
