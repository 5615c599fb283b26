package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxTraces is how many traces the local Jaeger keeps in memory, the
// oldest dropped beyond.
const DefaultMaxTraces = 10000

// Jaeger is a Jaeger v2 all-in-one server (an OpenTelemetry Collector
// distribution) on 127.0.0.1: it takes spans over OTLP (HTTP and gRPC),
// keeps them in memory and serves them at its query API and UI.
type Jaeger struct {
	OTLPPort      int       // OTLP over HTTP, what the functions export to; 0: a free port
	OTLPGRPCPort  int       // OTLP over gRPC; 0: a free port
	QueryPort     int       // the query API and the UI; 0: a free port
	QueryGRPCPort int       // the query gRPC API; 0: a free port
	HealthPort    int       // the health check, ready once every pipeline runs; 0: a free port
	Dir           string    // where its config file is written (required)
	MaxTraces     int       // traces kept in memory; DefaultMaxTraces when 0
	Bin           string    // the jaeger binary; the pinned build when ""
	Log           io.Writer // its output; nil discards it

	base
}

// Config is the YAML configuration Start writes: the OTLP receivers, a
// batch processor, in-memory storage, the query extension and the health
// check, all on loopback. Jaeger does not trace itself nor serve its own
// metrics.
func (j *Jaeger) Config() string {
	maxTraces := j.MaxTraces
	if maxTraces <= 0 {
		maxTraces = DefaultMaxTraces
	}
	return fmt.Sprintf(`# Written by the Sportello local stack: Jaeger v2 all-in-one on loopback, traces in memory.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: %d
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, j.HealthPort, maxTraces, j.QueryPort, j.QueryGRPCPort, j.OTLPGRPCPort, j.OTLPPort)
}

func (j *Jaeger) ports() []*int {
	return []*int{&j.OTLPPort, &j.OTLPGRPCPort, &j.QueryPort, &j.QueryGRPCPort, &j.HealthPort}
}

// Start writes the configuration, starts Jaeger and waits until its health
// check says every pipeline runs.
func (j *Jaeger) Start(ctx context.Context) error {
	return withFreePorts(j.ports(), func() error { return j.start(ctx) })
}

func (j *Jaeger) start(ctx context.Context) error {
	if j.Dir == "" {
		return errors.New("jaeger: no folder for its configuration")
	}
	bin, err := prepare("jaeger", j.Bin, "jaeger", j.ports()...)
	if err != nil {
		return err
	}
	conf, err := writeConfig(j.Dir, "jaeger.yaml", j.Config())
	if err != nil {
		return err
	}
	// OTEL_* variables configure an OpenTelemetry SDK: ours (the functions'
	// exporter, pointing at this very server) are not for Jaeger.
	c := command{name: "jaeger", bin: bin, args: []string{"--config", "file:" + conf}, drop: prefix("OTEL_"), log: j.Log}
	return j.launch(ctx, c, "http://127.0.0.1:"+strconv.Itoa(j.HealthPort)+"/status")
}

// OTLPEndpoint is where spans go over OTLP/HTTP (the SDK adds /v1/traces).
func (j *Jaeger) OTLPEndpoint() string { return "http://127.0.0.1:" + strconv.Itoa(j.OTLPPort) }

// URL is the query API's and the UI's address.
func (j *Jaeger) URL() string { return "http://127.0.0.1:" + strconv.Itoa(j.QueryPort) }

// Env is OTEL_EXPORTER_OTLP_ENDPOINT and JAEGER_URL.
func (j *Jaeger) Env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.OTLPEndpoint(), "JAEGER_URL=" + j.URL()}
}
