package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/encoding/protowire"
)

// metricExporter pushes the SDK's metrics over OTLP/HTTP in protobuf (see
// otlpHTTP for the variables it reads), in cumulative temporality — what
// Prometheus-compatible backends want — with the default aggregations. It
// stands in for otlpmetrichttp, which links gRPC (see otlpHTTP); the
// encoding of OTLP's messages follows the SDK's conversion (its
// internal/transform package). Sums, gauges, explicit-bucket histograms
// and their exemplars are converted; exponential histograms and summaries,
// which our views and instruments do not produce, are dropped with an
// error naming them.
type metricExporter struct{ *otlpHTTP }

// newMetricExporter returns the OTLP/HTTP metric exporter the environment
// asks for.
func newMetricExporter(cfg Config) (*metricExporter, error) {
	c, err := newOTLPHTTP(cfg, "metrics", cfg.MetricsEndpoint)
	if err != nil {
		return nil, err
	}
	return &metricExporter{c}, nil
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
	var errs []error
	body := appendMessage(nil, 1, func(b []byte) []byte { // ExportMetricsServiceRequest.resource_metrics
		b = appendResource(b, 1, rm.Resource) // ResourceMetrics.resource
		for _, sm := range rm.ScopeMetrics {
			b = appendMessage(b, 2, func(b []byte) []byte { // .scope_metrics
				b = appendScope(b, 1, sm.Scope) // ScopeMetrics.scope
				for _, m := range sm.Metrics {
					if !exported(m.Data) {
						errs = append(errs, fmt.Errorf("OTLP metrics: %s: aggregation %T not exported", m.Name, m.Data))
						continue
					}
					b = appendMessage(b, 2, func(b []byte) []byte { return appendMetric(b, m) }) // .metrics
				}
				return appendString(b, 3, sm.Scope.SchemaURL) // .schema_url
			})
		}
		return appendString(b, 3, rm.Resource.SchemaURL()) // .schema_url
	})
	return errors.Join(e.post(ctx, body), errors.Join(errs...))
}

// ForceFlush has nothing to flush: Export holds nothing back.
func (*metricExporter) ForceFlush(ctx context.Context) error { return ctx.Err() }

// exported says whether appendMetric converts an aggregation.
func exported(a metricdata.Aggregation) bool {
	switch a.(type) {
	case metricdata.Sum[int64], metricdata.Sum[float64], metricdata.Gauge[int64], metricdata.Gauge[float64],
		metricdata.Histogram[int64], metricdata.Histogram[float64]:
		return true
	}
	return false
}

// appendMetric appends the body of a Metric.
func appendMetric(b []byte, m metricdata.Metrics) []byte {
	b = appendString(b, 1, m.Name)        // Metric.name
	b = appendString(b, 2, m.Description) // .description
	b = appendString(b, 3, m.Unit)        // .unit
	switch a := m.Data.(type) {
	case metricdata.Sum[int64]:
		return appendSum(b, a)
	case metricdata.Sum[float64]:
		return appendSum(b, a)
	case metricdata.Gauge[int64]:
		return appendMessage(b, 5, func(b []byte) []byte { return appendNumberPoints(b, a.DataPoints) }) // .gauge
	case metricdata.Gauge[float64]:
		return appendMessage(b, 5, func(b []byte) []byte { return appendNumberPoints(b, a.DataPoints) })
	case metricdata.Histogram[int64]:
		return appendHistogram(b, a)
	case metricdata.Histogram[float64]:
		return appendHistogram(b, a)
	}
	return b
}

// temporality is OTLP's number of an AggregationTemporality.
func temporality(t metricdata.Temporality) uint64 {
	switch t {
	case metricdata.DeltaTemporality:
		return 1
	case metricdata.CumulativeTemporality:
		return 2
	}
	return 0
}

func appendSum[N int64 | float64](b []byte, s metricdata.Sum[N]) []byte {
	return appendMessage(b, 7, func(b []byte) []byte { // Metric.sum
		b = appendNumberPoints(b, s.DataPoints)                        // Sum.data_points
		b = appendVarint(b, 2, temporality(s.Temporality))             // .aggregation_temporality
		return appendVarint(b, 3, protowire.EncodeBool(s.IsMonotonic)) // .is_monotonic
	})
}

// appendNumberPoints appends points as field 1 (Sum's and Gauge's
// data_points), each a NumberDataPoint.
func appendNumberPoints[N int64 | float64](b []byte, points []metricdata.DataPoint[N]) []byte {
	for _, p := range points {
		b = appendMessage(b, 1, func(b []byte) []byte {
			b = appendFixed64(b, 2, unixNano(p.StartTime))       // NumberDataPoint.start_time_unix_nano
			b = appendFixed64(b, 3, unixNano(p.Time))            // .time_unix_nano
			b = appendNumber(b, 4, 6, p.Value)                   // .as_double, .as_int
			b = appendExemplars(b, 5, p.Exemplars)               // .exemplars
			return appendKeyValues(b, 7, p.Attributes.ToSlice()) // .attributes
		})
	}
	return b
}

// appendNumber appends v as the oneof of a double (field asDouble) or an
// int64 (field asInt, sfixed64).
func appendNumber[N int64 | float64](b []byte, asDouble, asInt protowire.Number, v N) []byte {
	if i, ok := any(v).(int64); ok {
		b = protowire.AppendTag(b, asInt, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, uint64(i))
	}
	return appendDouble(b, asDouble, float64(v))
}

func appendHistogram[N int64 | float64](b []byte, h metricdata.Histogram[N]) []byte {
	return appendMessage(b, 9, func(b []byte) []byte { // Metric.histogram
		for _, p := range h.DataPoints {
			b = appendMessage(b, 1, func(b []byte) []byte { // Histogram.data_points
				b = appendFixed64(b, 2, unixNano(p.StartTime))                             // HistogramDataPoint.start_time_unix_nano
				b = appendFixed64(b, 3, unixNano(p.Time))                                  // .time_unix_nano
				b = appendFixed64(b, 4, p.Count)                                           // .count
				b = appendDouble(b, 5, float64(p.Sum))                                     // .sum
				b = appendPacked(b, 6, p.BucketCounts, func(c uint64) uint64 { return c }) // .bucket_counts
				b = appendPacked(b, 7, p.Bounds, math.Float64bits)                         // .explicit_bounds
				b = appendExemplars(b, 8, p.Exemplars)                                     // .exemplars
				b = appendKeyValues(b, 9, p.Attributes.ToSlice())                          // .attributes
				if v, ok := p.Min.Value(); ok {
					b = appendDouble(b, 11, float64(v)) // .min
				}
				if v, ok := p.Max.Value(); ok {
					b = appendDouble(b, 12, float64(v)) // .max
				}
				return b
			})
		}
		return appendVarint(b, 2, temporality(h.Temporality)) // .aggregation_temporality
	})
}

// appendPacked appends vs as a packed repeated field of fixed64s.
func appendPacked[T any](b []byte, num protowire.Number, vs []T, bits func(T) uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, bits(v))
	}
	return b
}

// appendExemplars appends each of es as field num, an Exemplar.
func appendExemplars[N int64 | float64](b []byte, num protowire.Number, es []metricdata.Exemplar[N]) []byte {
	for _, e := range es {
		b = appendMessage(b, num, func(b []byte) []byte {
			b = appendFixed64(b, 2, unixNano(e.Time))          // Exemplar.time_unix_nano
			b = appendNumber(b, 3, 6, e.Value)                 // .as_double, .as_int
			b = appendBytes(b, 4, e.SpanID)                    // .span_id
			b = appendBytes(b, 5, e.TraceID)                   // .trace_id
			return appendKeyValues(b, 7, e.FilteredAttributes) // .filtered_attributes
		})
	}
	return b
}
