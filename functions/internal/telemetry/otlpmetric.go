package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// metricExporter pushes the SDK's metrics over OTLP/HTTP in protobuf (see
// otlpHTTP for the variables it reads), in cumulative temporality — what
// Prometheus-compatible backends want — with the default aggregations. It
// stands in for otlpmetrichttp, which links gRPC (see otlpHTTP); the
// conversion into OTLP's messages follows the SDK's own (its
// internal/transform package). Sums, gauges, explicit-bucket histograms
// and their exemplars are converted; exponential histograms and summaries,
// which our views and instruments do not produce, are dropped with an
// error naming them.
type metricExporter struct {
	client *otlpHTTP
	closed atomic.Bool
}

var errExporterClosed = errors.New("OTLP metrics: exporter shut down")

// newMetricExporter returns the OTLP/HTTP metric exporter the environment
// asks for.
func newMetricExporter(cfg Config) (*metricExporter, error) {
	c, err := newOTLPHTTP(cfg, "metrics", cfg.MetricsEndpoint)
	if err != nil {
		return nil, err
	}
	return &metricExporter{client: c}, nil
}

func (*metricExporter) Temporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.CumulativeTemporality
}

func (*metricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

// Export posts rm as an ExportMetricsServiceRequest. What cannot be
// converted is left out and reported in the error, after the rest is sent.
func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.closed.Load() {
		return errExporterClosed
	}
	m, convErr := resourceMetrics(rm)
	body, err := exportRequest([]*metricpb.ResourceMetrics{m})
	if err != nil {
		return err
	}
	return errors.Join(e.client.post(ctx, body), convErr)
}

// ForceFlush has nothing to flush: Export holds nothing back.
func (*metricExporter) ForceFlush(ctx context.Context) error { return ctx.Err() }

func (e *metricExporter) Shutdown(ctx context.Context) error {
	e.closed.Store(true)
	return ctx.Err()
}

// resourceMetrics converts the SDK's metrics of a resource into OTLP's.
func resourceMetrics(rm *metricdata.ResourceMetrics) (*metricpb.ResourceMetrics, error) {
	var errs []error
	out := &metricpb.ResourceMetrics{
		Resource:  &resourcepb.Resource{Attributes: keyValues(rm.Resource.Attributes())},
		SchemaUrl: rm.Resource.SchemaURL(),
	}
	for _, sm := range rm.ScopeMetrics {
		s := &metricpb.ScopeMetrics{
			Scope: &commonpb.InstrumentationScope{
				Name:       sm.Scope.Name,
				Version:    sm.Scope.Version,
				Attributes: keyValues(sm.Scope.Attributes.ToSlice()),
			},
			SchemaUrl: sm.Scope.SchemaURL,
		}
		for _, m := range sm.Metrics {
			pm, err := otlpMetric(m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.Metrics = append(s.Metrics, pm)
		}
		out.ScopeMetrics = append(out.ScopeMetrics, s)
	}
	return out, errors.Join(errs...)
}

func otlpMetric(m metricdata.Metrics) (*metricpb.Metric, error) {
	out := &metricpb.Metric{Name: m.Name, Description: m.Description, Unit: m.Unit}
	switch a := m.Data.(type) {
	case metricdata.Sum[int64]:
		out.Data = sum(a)
	case metricdata.Sum[float64]:
		out.Data = sum(a)
	case metricdata.Gauge[int64]:
		out.Data = &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: numberPoints(a.DataPoints)}}
	case metricdata.Gauge[float64]:
		out.Data = &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: numberPoints(a.DataPoints)}}
	case metricdata.Histogram[int64]:
		out.Data = histogram(a)
	case metricdata.Histogram[float64]:
		out.Data = histogram(a)
	default:
		return nil, fmt.Errorf("OTLP metrics: %s: aggregation %T not exported", m.Name, a)
	}
	return out, nil
}

func temporality(t metricdata.Temporality) metricpb.AggregationTemporality {
	switch t {
	case metricdata.CumulativeTemporality:
		return metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	case metricdata.DeltaTemporality:
		return metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	}
	return metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_UNSPECIFIED
}

func sum[N int64 | float64](s metricdata.Sum[N]) *metricpb.Metric_Sum {
	return &metricpb.Metric_Sum{Sum: &metricpb.Sum{
		DataPoints:             numberPoints(s.DataPoints),
		AggregationTemporality: temporality(s.Temporality),
		IsMonotonic:            s.IsMonotonic,
	}}
}

func numberPoints[N int64 | float64](points []metricdata.DataPoint[N]) []*metricpb.NumberDataPoint {
	out := make([]*metricpb.NumberDataPoint, 0, len(points))
	for _, p := range points {
		np := &metricpb.NumberDataPoint{
			Attributes:        keyValues(p.Attributes.ToSlice()),
			StartTimeUnixNano: unixNano(p.StartTime),
			TimeUnixNano:      unixNano(p.Time),
			Exemplars:         exemplars(p.Exemplars),
		}
		if v, ok := any(p.Value).(int64); ok {
			np.Value = &metricpb.NumberDataPoint_AsInt{AsInt: v}
		} else {
			np.Value = &metricpb.NumberDataPoint_AsDouble{AsDouble: float64(p.Value)}
		}
		out = append(out, np)
	}
	return out
}

func histogram[N int64 | float64](h metricdata.Histogram[N]) *metricpb.Metric_Histogram {
	points := make([]*metricpb.HistogramDataPoint, 0, len(h.DataPoints))
	for _, p := range h.DataPoints {
		hp := &metricpb.HistogramDataPoint{
			Attributes:        keyValues(p.Attributes.ToSlice()),
			StartTimeUnixNano: unixNano(p.StartTime),
			TimeUnixNano:      unixNano(p.Time),
			Count:             p.Count,
			Sum:               float(p.Sum, true),
			BucketCounts:      p.BucketCounts,
			ExplicitBounds:    p.Bounds,
			Exemplars:         exemplars(p.Exemplars),
		}
		hp.Min = float(p.Min.Value())
		hp.Max = float(p.Max.Value())
		points = append(points, hp)
	}
	return &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{
		DataPoints:             points,
		AggregationTemporality: temporality(h.Temporality),
	}}
}

// float is v as an optional field of OTLP's: nil when not ok.
func float[N int64 | float64](v N, ok bool) *float64 {
	if !ok {
		return nil
	}
	f := float64(v)
	return &f
}

func exemplars[N int64 | float64](es []metricdata.Exemplar[N]) []*metricpb.Exemplar {
	if len(es) == 0 {
		return nil
	}
	out := make([]*metricpb.Exemplar, 0, len(es))
	for _, e := range es {
		pe := &metricpb.Exemplar{
			FilteredAttributes: keyValues(e.FilteredAttributes),
			TimeUnixNano:       unixNano(e.Time),
			SpanId:             e.SpanID,
			TraceId:            e.TraceID,
		}
		if v, ok := any(e.Value).(int64); ok {
			pe.Value = &metricpb.Exemplar_AsInt{AsInt: v}
		} else {
			pe.Value = &metricpb.Exemplar_AsDouble{AsDouble: float64(e.Value)}
		}
		out = append(out, pe)
	}
	return out
}

// unixNano is t in nanoseconds since the Unix epoch, 0 for the zero time.
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// anyValue converts an attribute's value; an empty one is an AnyValue with
// no value set.
func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRING:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case attribute.BYTESLICE:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}}
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return array(v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}}
	}
	return &commonpb.AnyValue{}
}

func array[T any](items []T, value func(T) attribute.Value) *commonpb.AnyValue {
	a := &commonpb.ArrayValue{Values: make([]*commonpb.AnyValue, 0, len(items))}
	for _, it := range items {
		a.Values = append(a.Values, anyValue(value(it)))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: a}}
}
