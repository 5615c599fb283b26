package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/telemetry"
	"github.com/sportello/sportello/functions/metrics"
)

// TestPrometheusMetrics: the default exporter serves the counters on a
// port of its own, in the Prometheus format, each series labelled with the
// function's name. (Setup installs global providers: one test a process.)
func TestPrometheusMetrics(t *testing.T) {
	port := apitest.FreePort(t)
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", strconv.Itoa(port))
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "") // with-services sets its Jaeger's
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tel, err := telemetry.Setup(ctx, "reserve", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.Tracing {
		t.Fatal("tracing on without an OTLP endpoint")
	}
	if err := tel.Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	telemetry.Committed(ctx, events.BookingHeld, nil)
	telemetry.Committed(ctx, events.BookingHeld, nil)
	telemetry.HoldRefused(ctx, metrics.ReasonTaken)
	telemetry.Committed(ctx, events.BookingCompleted, events.BookingCompletedData{Outcome: events.OutcomeNoShow})
	telemetry.Committed(ctx, events.BookingCompleted, events.BookingCompletedData{Outcome: events.OutcomeCompleted})
	telemetry.Committed(ctx, events.DocumentUploaded, nil) // counts nothing
	telemetry.Mail(ctx, false)
	telemetry.Delivered(ctx, events.BookingConfirmed, true)
	telemetry.RoomStep(ctx, metrics.Opened)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/holds", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	otelhttp.NewHandler(mux, "request").ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/holds", strings.NewReader("{}")))

	res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	text := string(body)
	for _, want := range []string{
		`sportello_holds_total{outcome="taken",service_name="reserve"} 2`,
		`sportello_holds_total{outcome="refused",reason="taken",service_name="reserve"} 1`,
		`sportello_bookings_total{outcome="no_show",service_name="reserve"} 1`,
		`sportello_bookings_total{outcome="completed",service_name="reserve"} 1`,
		`sportello_mails_total{outcome="failed",service_name="reserve"} 1`,
		`sportello_events_delivered_total{outcome="delivered",service_name="reserve",type="` + events.BookingConfirmed + `"} 1`,
		`sportello_rooms_total{outcome="opened",service_name="reserve"} 1`,
		`http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",http_route="/api/holds",network_protocol_name="http",network_protocol_version="1.1",server_address="example.com",service_name="reserve",url_scheme="http"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "body_size") {
		t.Errorf("the body-size histograms are exported:\n%s", text)
	}
	if strings.Contains(text, "document") {
		t.Errorf("an uploaded document counted:\n%s", text)
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestContextTravels: a span's context written out and read back is the
// same span, now remote, and an empty one leaves ctx alone.
func TestContextTravels(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "confirm")
	defer span.End()
	tc := telemetry.ContextOf(ctx)
	if !strings.HasPrefix(tc.TraceParent, "00-"+span.SpanContext().TraceID().String()+"-"+span.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent %q", tc.TraceParent)
	}
	back := trace.SpanContextFromContext(tc.Into(context.Background()))
	if back.TraceID() != span.SpanContext().TraceID() || back.SpanID() != span.SpanContext().SpanID() || !back.IsRemote() || !back.IsSampled() {
		t.Fatalf("read back %+v", back)
	}
	if got := telemetry.ContextOf(context.Background()); got != (telemetry.Context{}) {
		t.Fatalf("no span gave %+v", got)
	}
	if c := (telemetry.Context{TraceParent: "not a traceparent"}).Into(context.Background()); trace.SpanContextFromContext(c).IsValid() {
		t.Fatal("a malformed traceparent gave a span context")
	}
}

// TestLogsCarryTraceIDs: a record logged with a span's context names its
// trace and span; one without does not.
func TestLogsCarryTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler{Handler: slog.NewJSONHandler(&buf, nil)}).With("function", "confirm")
	ctx, span := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "confirm")
	defer span.End()
	log.InfoContext(ctx, "request", "status", 200)
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["trace_id"] != span.SpanContext().TraceID().String() || first["span_id"] != span.SpanContext().SpanID().String() || first["function"] != "confirm" {
		t.Fatalf("first record %v", first)
	}
	if _, ok := second["trace_id"]; ok {
		t.Fatalf("second record %v", second)
	}
}

// TestDefaultSamplerDecidesByTraceID: wherever a trace enters, the default
// sampler keeps it or not by its id alone: a caller's sampled flag does
// not force it, and every function decides alike for one trace.
func TestDefaultSamplerDecidesByTraceID(t *testing.T) {
	kept := trace.TraceID{0: 1}                                                                                  // low half 0: under any ratio
	dropped := trace.TraceID{0: 1, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff} // over it
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(telemetry.DefaultSampler()))
	for _, c := range []struct {
		id     trace.TraceID
		flags  trace.TraceFlags
		record bool
	}{
		{kept, trace.FlagsSampled, true},
		{kept, 0, true},
		{dropped, trace.FlagsSampled, false},
		{dropped, 0, false},
	} {
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: c.id, SpanID: trace.SpanID{7: 1}, TraceFlags: c.flags, Remote: true})
		ctx, span := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "POST /holds")
		if span.IsRecording() != c.record {
			t.Errorf("trace %s flags %s: recording %v, want %v", c.id, c.flags, span.IsRecording(), c.record)
		}
		_, child := tp.Tracer("test").Start(ctx, "query")
		if child.IsRecording() != c.record {
			t.Errorf("trace %s: child recording %v, want its parent's %v", c.id, child.IsRecording(), c.record)
		}
		child.End()
		span.End()
	}
}
