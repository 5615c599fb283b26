// Package telemetry sets up what the ops teams see of a function: traces and
// metrics with OpenTelemetry, configured by OpenTelemetry's own environment
// variables.
//
// Traces: exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and OTEL_TRACES_EXPORTER is not
// "none"; sampled by OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, by
// default DefaultSampler (one trace in ten, by trace id). Without an endpoint no span is recorded (the tracer is
// OpenTelemetry's no-op) and the W3C trace context of a request still
// travels on.
//
// Metrics: OTEL_METRICS_EXPORTER picks the exporter: "prometheus" (the
// default) serves GET /metrics in the Prometheus text format on
// OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT (0.0.0.0:9464),
// a port of its own, apart from the function's; "otlp" pushes them over
// OTLP/HTTP every OTEL_METRIC_EXPORT_INTERVAL to
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else to OTEL_EXPORTER_OTLP_ENDPOINT
// followed by /v1/metrics (see metricExporter); "none" records nothing.
// Every series carries the function's name: as the label service_name in
// the Prometheus format, as the resource attribute service.name over OTLP
// (which the backend names: VictoriaMetrics keeps service.name and
// sportello.holds as they are, and makes them service_name and
// sportello_holds_total with -opentelemetry.usePrometheusNaming). What
// the functions export, with the values of outcome and reason, is declared
// once in package metrics (functions/metrics): the instruments are made
// from it and a test checks the exported page against it.
//
// The encoders are ours: the OTLP requests are written with protowire
// (wire.go, otlptrace.go, otlpmetric.go) and the Prometheus text by
// promExporter (prometheus.go, promname.go), not by OpenTelemetry's
// exporters and the generated protobuf types. Any use of protobuf's
// generated (reflective) code links its internal/descfmt, which calls
// reflect.Value.MethodByName: the linker then keeps every exported method
// of every reachable type. With the S3 SDK that took documents, operators
// and housekeeping from about 19 to 28.5 MiB stripped (reserve 16.9 to
// 22.6 MiB), past the 25 MB an image may weigh. protowire alone uses no
// reflection. The tests decode what we send with the generated types.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/kelseyhightower/envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Config is OpenTelemetry's environment, as far as Sportello reads it
// (the OTLP clients read the headers themselves, see otlpHTTP).
type Config struct {
	ServiceName     string `envconfig:"OTEL_SERVICE_NAME"`
	Endpoint        string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint  string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	MetricsEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"`
	TracesExporter  string `envconfig:"OTEL_TRACES_EXPORTER" default:"otlp"`
	Timeout         int    `envconfig:"OTEL_EXPORTER_OTLP_TIMEOUT"` // milliseconds
	Sampler         string `envconfig:"OTEL_TRACES_SAMPLER"`
	MetricsExporter string `envconfig:"OTEL_METRICS_EXPORTER" default:"prometheus"`
	PrometheusHost  string `envconfig:"OTEL_EXPORTER_PROMETHEUS_HOST" default:"0.0.0.0"`
	PrometheusPort  int    `envconfig:"OTEL_EXPORTER_PROMETHEUS_PORT" default:"9464"`
}

// DefaultRatio is the share of traces kept when OTEL_TRACES_SAMPLER is not
// set.
const DefaultRatio = 0.1

// DefaultSampler keeps DefaultRatio of the traces, deciding by the trace id
// alone wherever a trace enters a function — a new request, a request
// carrying a traceparent (the site's booking journey), an event carrying
// the extension — so every function makes the same decision for a trace,
// and a client's sampled flag cannot make the server record more; spans
// within a function follow their parent.
func DefaultSampler() sdktrace.Sampler {
	ratio := sdktrace.TraceIDRatioBased(DefaultRatio)
	return sdktrace.ParentBased(ratio, sdktrace.WithRemoteParentSampled(ratio), sdktrace.WithRemoteParentNotSampled(ratio))
}

// Telemetry is a function's running trace and metric pipelines.
type Telemetry struct {
	// Tracing tells whether spans are exported: when false, the store
	// does not stamp the trace context on outbox rows.
	Tracing bool
	// Metrics serves /metrics (Prometheus exporter only), else nil.
	Metrics http.Handler
	// MetricsAddr is where Serve listens for Metrics.
	MetricsAddr string

	shutdown []func(context.Context) error
}

// Setup reads the environment and installs the global tracer provider,
// meter provider and W3C propagators for the function called name; the
// pipelines' own failures are logged to log.
func Setup(ctx context.Context, name string, log *slog.Logger) (*Telemetry, error) {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return nil, err
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = name
	}
	// The pipelines' own failures (an export refused, a collector away)
	// go to the function's log, not the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry", "err", err) }))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceNamespace("sportello"))
	t := &Telemetry{}

	if (cfg.Endpoint != "" || cfg.TracesEndpoint != "") && cfg.TracesExporter != "none" {
		exp, err := newTraceExporter(cfg)
		if err != nil {
			return nil, fmt.Errorf("traces exporter: %w", err)
		}
		opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
		if cfg.Sampler == "" { // otherwise the SDK reads OTEL_TRACES_SAMPLER itself
			opts = append(opts, sdktrace.WithSampler(DefaultSampler()))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		otel.SetTracerProvider(tp)
		t.Tracing = true
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}

	switch cfg.MetricsExporter {
	case "none":
	case "otlp":
		exp, err := newMetricExporter(cfg)
		if err != nil {
			return nil, fmt.Errorf("metrics exporter: %w", err)
		}
		mp := meterProvider(sdkmetric.NewPeriodicReader(exp), res)
		otel.SetMeterProvider(mp)
		t.shutdown = append(t.shutdown, mp.Shutdown)
	case "prometheus":
		reader := sdkmetric.NewManualReader()
		mp := meterProvider(reader, res)
		otel.SetMeterProvider(mp)
		t.shutdown = append(t.shutdown, mp.Shutdown)
		t.Metrics = promExporter{reader: reader}
		t.MetricsAddr = net.JoinHostPort(cfg.PrometheusHost, strconv.Itoa(cfg.PrometheusPort))
	default:
		return nil, fmt.Errorf("OTEL_METRICS_EXPORTER: %q is none of prometheus, otlp, none", cfg.MetricsExporter)
	}
	return t, nil
}

// meterProvider is a function's meter provider: read by reader, every
// series carrying res, the libraries' instruments nobody reads dropped.
func meterProvider(reader sdkmetric.Reader, res *resource.Resource) *sdkmetric.MeterProvider {
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res), sdkmetric.WithView(dropped...))
}

// Serve serves GET /metrics on MetricsAddr until ctx ends or Shutdown
// (which closes the listener before it returns); it does nothing when the
// exporter is not Prometheus.
func (t *Telemetry) Serve(ctx context.Context, log *slog.Logger) error {
	if t.Metrics == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.Metrics)
	srv := &http.Server{Addr: t.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", t.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	// Closed first at Shutdown, so that the port is free once the
	// function has stopped (a process, or a test, may start again on it).
	t.shutdown = append([]func(context.Context) error{func(context.Context) error { return srv.Close() }}, t.shutdown...)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return nil
}

// Shutdown flushes what is buffered (spans not yet exported, the last
// metrics of an OTLP push) and stops the pipelines.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
