package telemetry

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestOTLPReachesJaeger: spans exported by otlpHTTP (OTLP/HTTP, protobuf)
// arrive in a real Jaeger (with-services starts one) with their service,
// names and parentage.
func TestOTLPReachesJaeger(t *testing.T) {
	endpoint, jaeger := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), os.Getenv("JAEGER_URL")
	if endpoint == "" || jaeger == "" {
		t.Skip("no Jaeger: run under with-services")
	}
	exp, err := newTraceExporter(Config{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "POST /api/bookings")
	_, child := tp.Tracer("test").Start(ctx, "smtp send")
	child.End()
	parent.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	id := parent.SpanContext().TraceID().String()
	var got struct {
		Data []struct {
			Spans []struct {
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				References    []struct {
					SpanID string `json:"spanID"`
				} `json:"references"`
			} `json:"spans"`
		} `json:"data"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		res, err := http.Get(jaeger + "/api/traces/" + id)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err == nil && len(got.Data) == 1 && len(got.Data[0].Spans) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not in Jaeger: %+v", id, got)
		}
	}
	for _, sp := range got.Data[0].Spans {
		if sp.OperationName == "smtp send" && (len(sp.References) != 1 || sp.References[0].SpanID != parent.SpanContext().SpanID().String()) {
			t.Fatalf("child span's references %+v, want its parent %s", sp.References, parent.SpanContext().SpanID())
		}
	}
}

// TestOTLPHeadersAndRefusal: the endpoint's path, the headers of
// OTEL_EXPORTER_OTLP_HEADERS, a refusal reported as an error, nothing
// posted for no spans, and nothing exported after Shutdown.
func TestOTLPHeadersAndRefusal(t *testing.T) {
	var path, auth, ctype string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth, ctype = r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		w.WriteHeader(status)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc,broken")
	exp, err := newTraceExporter(Config{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("test").Start(context.Background(), "one")
	span.End()
	if path != "/v1/traces" || auth != "Bearer abc" || ctype != "application/x-protobuf" {
		t.Fatalf("posted to %q with Authorization %q, Content-Type %q", path, auth, ctype)
	}
	status = http.StatusServiceUnavailable
	if err := exp.ExportSpans(t.Context(), []sdktrace.ReadOnlySpan{span.(sdktrace.ReadOnlySpan)}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503 gave %v", err)
	}
	path = ""
	if err := exp.ExportSpans(t.Context(), nil); err != nil || path != "" {
		t.Fatalf("no spans gave %v, posted to %q", err, path)
	}
	if err := exp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(t.Context(), []sdktrace.ReadOnlySpan{span.(sdktrace.ReadOnlySpan)}); err == nil {
		t.Fatal("exported after Shutdown")
	}
	if _, err := newTraceExporter(Config{TracesEndpoint: "not a url"}); err == nil {
		t.Fatal("a malformed endpoint was taken")
	}
}
