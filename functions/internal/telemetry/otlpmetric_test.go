package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// receiver is an OTLP/HTTP metrics endpoint that keeps what it is sent,
// decoded with the collector's own request type (a test import: the
// functions' binaries do not link its gRPC service).
type receiver struct {
	path, auth, ctype string
	got               *collectorpb.ExportMetricsServiceRequest
	err               error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.path, rc.auth, rc.ctype = r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type")
	body, _ := io.ReadAll(r.Body)
	rc.got = &collectorpb.ExportMetricsServiceRequest{}
	rc.err = proto.Unmarshal(body, rc.got)
}

// TestMetricExportConversion: each aggregation the SDK makes for our
// instruments reaches an OTLP receiver field by field, under its resource
// and scope; an aggregation we do not convert is left out and reported,
// and the rest is still sent.
func TestMetricExportConversion(t *testing.T) {
	start := time.Date(2026, 3, 29, 1, 59, 0, 0, time.UTC)
	now := start.Add(90 * time.Second)
	attrs := attribute.NewSet(
		attribute.String("outcome", "taken"), attribute.Int("desk", 3), attribute.Float64("ratio", 0.5), attribute.Bool("late", true),
		attribute.StringSlice("tags", []string{"a", "b"}), attribute.IntSlice("ids", []int{1, 2}),
		attribute.Float64Slice("fs", []float64{1.5}), attribute.BoolSlice("bs", []bool{false}))
	wantAttrs := []*commonpb.KeyValue{ // attribute.Set sorts by key
		kv("bs", arrayV([]*commonpb.AnyValue{boolV(false)})),
		kv("desk", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}),
		kv("fs", arrayV([]*commonpb.AnyValue{{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}})),
		kv("ids", arrayV([]*commonpb.AnyValue{{Value: &commonpb.AnyValue_IntValue{IntValue: 1}}, {Value: &commonpb.AnyValue_IntValue{IntValue: 2}}})),
		kv("late", boolV(true)),
		kv("outcome", str("taken")),
		kv("ratio", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.5}}),
		kv("tags", arrayV([]*commonpb.AnyValue{str("a"), str("b")})),
	}
	one := attribute.NewSet(attribute.String("outcome", "taken"))
	wantOne := []*commonpb.KeyValue{kv("outcome", str("taken"))}
	startNs, nowNs := uint64(start.UnixNano()), uint64(now.UnixNano())
	cumulative := metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	traceID, spanID := []byte("0123456789abcdef"), []byte("01234567")
	ptr := func(f float64) *float64 { return &f }

	for _, tc := range []struct {
		name string
		data metricdata.Aggregation
		want *metricpb.Metric // Name, Unit and Description added below
	}{
		{"monotonic int sum with attributes and an exemplar", metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: start, Time: now, Value: 7,
				Exemplars: []metricdata.Exemplar[int64]{{FilteredAttributes: []attribute.KeyValue{attribute.String("office", "bari")}, Time: now, Value: 2, TraceID: traceID, SpanID: spanID}}}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Sum{Sum: &metricpb.Sum{AggregationTemporality: cumulative, IsMonotonic: true,
			DataPoints: []*metricpb.NumberDataPoint{{Attributes: wantAttrs, StartTimeUnixNano: startNs, TimeUnixNano: nowNs, Value: &metricpb.NumberDataPoint_AsInt{AsInt: 7},
				Exemplars: []*metricpb.Exemplar{{FilteredAttributes: []*commonpb.KeyValue{kv("office", str("bari"))}, TimeUnixNano: nowNs, Value: &metricpb.Exemplar_AsInt{AsInt: 2}, TraceId: traceID, SpanId: spanID}}}}}}}},
		{"up-down float sum", metricdata.Sum[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints:  []metricdata.DataPoint[float64]{{Attributes: one, StartTime: start, Time: now, Value: -2.5}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Sum{Sum: &metricpb.Sum{AggregationTemporality: cumulative,
			DataPoints: []*metricpb.NumberDataPoint{{Attributes: wantOne, StartTimeUnixNano: startNs, TimeUnixNano: nowNs, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: -2.5}}}}}}},
		{"int gauge, no attributes, no start", metricdata.Gauge[int64]{
			DataPoints: []metricdata.DataPoint[int64]{{Time: now, Value: 42}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{
			DataPoints: []*metricpb.NumberDataPoint{{TimeUnixNano: nowNs, Value: &metricpb.NumberDataPoint_AsInt{AsInt: 42}}}}}}},
		{"float gauge, two series", metricdata.Gauge[float64]{
			DataPoints: []metricdata.DataPoint[float64]{{Attributes: one, Time: now, Value: 12.5}, {Time: now, Value: 0}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: []*metricpb.NumberDataPoint{
			{Attributes: wantOne, TimeUnixNano: nowNs, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: 12.5}},
			{TimeUnixNano: nowNs, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: 0}}}}}}},
		{"float histogram with min and max", metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{{Attributes: one, StartTime: start, Time: now,
				Count: 3, Sum: 1.75, Bounds: []float64{0.1, 1}, BucketCounts: []uint64{1, 1, 1},
				Min: metricdata.NewExtrema(0.05), Max: metricdata.NewExtrema(1.2),
				Exemplars: []metricdata.Exemplar[float64]{{Time: now, Value: 1.2, TraceID: traceID, SpanID: spanID}}}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{AggregationTemporality: cumulative,
			DataPoints: []*metricpb.HistogramDataPoint{{Attributes: wantOne, StartTimeUnixNano: startNs, TimeUnixNano: nowNs,
				Count: 3, Sum: ptr(1.75), ExplicitBounds: []float64{0.1, 1}, BucketCounts: []uint64{1, 1, 1}, Min: ptr(0.05), Max: ptr(1.2),
				Exemplars: []*metricpb.Exemplar{{TimeUnixNano: nowNs, Value: &metricpb.Exemplar_AsDouble{AsDouble: 1.2}, TraceId: traceID, SpanId: spanID}}}}}}}},
		{"int histogram without min and max", metricdata.Histogram[int64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[int64]{{StartTime: start, Time: now,
				Count: 2, Sum: 300, Bounds: []float64{100}, BucketCounts: []uint64{0, 2}}},
		}, &metricpb.Metric{Data: &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{AggregationTemporality: cumulative,
			DataPoints: []*metricpb.HistogramDataPoint{{StartTimeUnixNano: startNs, TimeUnixNano: nowNs,
				Count: 2, Sum: ptr(300), ExplicitBounds: []float64{100}, BucketCounts: []uint64{0, 2}}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			exp, err := newMetricExporter(Config{MetricsEndpoint: srv.URL + "/otlp/metrics"})
			if err != nil {
				t.Fatal(err)
			}
			res := resource.NewSchemaless(attribute.String("service.name", "reserve"))
			scope := instrumentation.Scope{Name: "github.com/sportello/sportello/functions", Version: "1.2.3"}
			err = exp.Export(t.Context(), &metricdata.ResourceMetrics{Resource: res, ScopeMetrics: []metricdata.ScopeMetrics{{Scope: scope,
				Metrics: []metricdata.Metrics{{Name: "sportello.test", Description: "A test.", Unit: "s", Data: tc.data}}}}})
			if err != nil {
				t.Fatal(err)
			}
			if rc.err != nil {
				t.Fatalf("the body is no ExportMetricsServiceRequest: %v", rc.err)
			}
			tc.want.Name, tc.want.Description, tc.want.Unit = "sportello.test", "A test.", "s"
			want := &collectorpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", str("reserve"))}},
				ScopeMetrics: []*metricpb.ScopeMetrics{{
					Scope:   &commonpb.InstrumentationScope{Name: scope.Name, Version: scope.Version},
					Metrics: []*metricpb.Metric{tc.want},
				}},
			}}}
			if d := cmp.Diff(want, rc.got, protocmp.Transform()); d != "" {
				t.Fatalf("received (-want +got):\n%s", d)
			}
			if rc.path != "/otlp/metrics" || rc.ctype != "application/x-protobuf" {
				t.Fatalf("posted to %q as %q", rc.path, rc.ctype)
			}
		})
	}
}

// TestMetricExporterEdges: the metrics' own endpoint and headers, an
// aggregation we do not convert (reported, the rest sent), a refusal, and
// Export after Shutdown.
func TestMetricExporterEdges(t *testing.T) {
	rc := &receiver{}
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.ServeHTTP(w, r)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Basic%20xyz")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "Authorization=Bearer%20abc")
	exp, err := newMetricExporter(Config{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := exp.Temporality(sdkmetric.InstrumentKindUpDownCounter); got != metricdata.CumulativeTemporality {
		t.Fatalf("temporality %v", got)
	}
	if got := exp.Aggregation(sdkmetric.InstrumentKindHistogram); got == nil {
		t.Fatal("no aggregation for a histogram")
	}
	rm := &metricdata.ResourceMetrics{Resource: resource.Empty(), ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "exponential", Data: metricdata.ExponentialHistogram[float64]{}},
		{Name: "kept", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Value: 1}}}},
	}}}}
	err = exp.Export(t.Context(), rm)
	if err == nil || !strings.Contains(err.Error(), "exponential") {
		t.Fatalf("an exponential histogram gave %v", err)
	}
	if rc.path != "/v1/metrics" || rc.auth != "Bearer abc" {
		t.Fatalf("posted to %q with Authorization %q", rc.path, rc.auth)
	}
	if ms := rc.got.GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics(); len(ms) != 1 || ms[0].Name != "kept" {
		t.Fatalf("sent %v, want only kept", ms)
	}
	status = http.StatusBadRequest
	if err := exp.Export(t.Context(), &metricdata.ResourceMetrics{Resource: resource.Empty()}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a 400 gave %v", err)
	}
	if err := exp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(t.Context(), &metricdata.ResourceMetrics{Resource: resource.Empty()}); err == nil {
		t.Fatal("exported after Shutdown")
	}
	if _, err := newMetricExporter(Config{MetricsEndpoint: "localhost:4318/v1/metrics"}); err == nil {
		t.Fatal("an endpoint without scheme was taken")
	}
}

// TestOTLPMetricsReachVictoriaMetrics: a counter, a gauge and a histogram
// pushed through the SDK and metricExporter into a real VictoriaMetrics
// (with-services starts one), which keeps OTLP's names as they are (dots
// included, no _total, no unit: it runs without
// -opentelemetry.usePrometheusNaming), adds _count, _sum and _bucket{le}
// to a histogram's, and makes labels of the attributes, of the resource's
// (service.name) and of the scope (scope.name, scope.version).
func TestOTLPMetricsReachVictoriaMetrics(t *testing.T) {
	vm := os.Getenv("METRICS_URL")
	if vm == "" {
		t.Skip("no VictoriaMetrics: run under with-services")
	}
	exp, err := newMetricExporter(Config{MetricsEndpoint: vm + "/opentelemetry/v1/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	service := "otlp-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) // a series of its own per run
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	m := mp.Meter("github.com/sportello/sportello/functions", metric.WithInstrumentationVersion("1.2.3"))
	holds, _ := m.Int64Counter("sportello.holds", metric.WithUnit("{hold}"))
	age, _ := m.Float64Gauge("sportello.outbox.oldest.age", metric.WithUnit("s"))
	duration, _ := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	ctx := context.Background()
	taken := metric.WithAttributes(attribute.String("outcome", "taken"))
	holds.Add(ctx, 2, taken)
	holds.Add(ctx, 1, taken)
	holds.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "refused"), attribute.String("reason", "taken")))
	age.Record(ctx, 12.5)
	for _, d := range []float64{0.05, 0.3, 0.4} {
		duration.Record(ctx, d, metric.WithAttributes(attribute.String("http.route", "/api/holds")))
	}
	if err := mp.Shutdown(t.Context()); err != nil { // the last push
		t.Fatal(err)
	}

	sel := `"service.name"="` + service + `"`
	for _, c := range []struct {
		query  string
		labels map[string]string
		value  float64
	}{
		{`{__name__="sportello.holds",` + sel + `,outcome="taken"}`,
			map[string]string{"scope.name": "github.com/sportello/sportello/functions", "scope.version": "1.2.3"}, 3},
		{`{__name__="sportello.holds",` + sel + `,outcome="refused"}`, map[string]string{"reason": "taken"}, 1},
		{`{__name__="sportello.outbox.oldest.age",` + sel + `}`, nil, 12.5},
		{`{__name__="http.server.request.duration_count",` + sel + `}`, map[string]string{"http.route": "/api/holds"}, 3},
		{`{__name__="http.server.request.duration_sum",` + sel + `}`, nil, 0.75},
		{`{__name__="http.server.request.duration_bucket",` + sel + `,le="0.1"}`, nil, 1},
		{`{__name__="http.server.request.duration_bucket",` + sel + `,le="1"}`, nil, 3},
		{`{__name__="http.server.request.duration_bucket",` + sel + `,le="+Inf"}`, nil, 3},
	} {
		labels, value := queryVM(t, vm, c.query)
		if value != c.value {
			t.Errorf("%s = %v, want %v", c.query, value, c.value)
		}
		for k, v := range c.labels {
			if labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q (labels %v)", c.query, k, labels[k], v, labels)
			}
		}
	}
}

// queryVM polls VictoriaMetrics' Prometheus query API until query has one
// series (a new series takes some seconds to be searchable), and returns
// its labels and value.
func queryVM(t *testing.T, vm, query string) (map[string]string, float64) {
	t.Helper()
	var got struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		res, err := http.Get(vm + "/api/v1/query?query=" + url.QueryEscape(query))
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err == nil && len(got.Data.Result) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d series in VictoriaMetrics after 30s (err %v)", query, len(got.Data.Result), err)
		}
	}
	r := got.Data.Result[0]
	s, _ := r.Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: value %v", query, r.Value)
	}
	return r.Metric, v
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func boolV(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}

func arrayV(vs []*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}

// TestSetupOTLPMetrics: OTEL_METRICS_EXPORTER=otlp takes the metrics'
// endpoint from OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (a bad one fails Setup
// before any provider is installed).
func TestSetupOTLPMetrics(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "") // no traces
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "collector:4318")
	_, err := Setup(t.Context(), "reserve", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `"collector:4318"`) {
		t.Fatalf("Setup with a bad metrics endpoint gave %v", err)
	}
}
