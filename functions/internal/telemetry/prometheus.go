package telemetry

import (
	"cmp"
	"compress/gzip"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// promExporter serves the metrics that reader collects at each scrape in
// the Prometheus text exposition format 0.0.4, as OpenTelemetry's
// Prometheus exporter did before it (without scope labels): names and
// labels as promName and promLabel make them; every series labelled with
// the resource's service.name as service_name; counters (monotonic sums)
// as counter, gauges and other sums as gauge, explicit-bucket histograms
// as histogram (cumulative _bucket{le} series, _sum, _count); and
// target_info, the resource's attributes. Exponential histograms and
// summaries, which our views and instruments do not make, are left out.
type promExporter struct {
	reader *sdkmetric.ManualReader
}

const promContentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

func (p promExporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rm := metricdata.ResourceMetrics{Resource: resource.Empty()}
	if err := p.reader.Collect(r.Context(), &rm); err != nil {
		otel.Handle(err) // a callback failed, say: what was collected is served
	}
	w.Header().Set("Content-Type", promContentType)
	w.Header().Add("Vary", "Accept-Encoding")
	body := promText(&rm)
	if !acceptsGzip(r) {
		_, _ = w.Write(body)
		return
	}
	// Scrapers ask for gzip (Prometheus, VictoriaMetrics): the page is
	// mostly repeated label names, a tenth of its size compressed.
	w.Header().Set("Content-Encoding", "gzip")
	gz := gzip.NewWriter(w)
	_, _ = gz.Write(body)
	_ = gz.Close()
}

// acceptsGzip tells whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// promFamily is a metric's series, under one name.
type promFamily struct {
	name, help, typ string
	series          []promSeries
}

// promSeries is a data point: its labels, sorted by name, and its value or
// (a histogram's) its buckets' upper bounds, cumulative counts, sum and
// count.
type promSeries struct {
	labels []promPair
	value  float64
	bounds []float64
	counts []uint64
	count  uint64
}

type promPair struct{ name, value string }

// promText writes rm's metrics, the families sorted by name and their
// series by labels (as the Prometheus client's registry sorts them). A
// metric whose name another of a different type has taken is left out.
func promText(rm *metricdata.ResourceMetrics) []byte {
	name, _ := rm.Resource.Set().Filter(func(kv attribute.KeyValue) bool { return kv.Key == semconv.ServiceNameKey })
	service := promLabels(name, nil)
	families := map[string]*promFamily{
		"target_info": {name: "target_info", help: "Target metadata", typ: "gauge",
			series: []promSeries{{labels: promLabels(*rm.Resource.Set(), nil), value: 1}}},
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			f := promMetric(m, service)
			if f == nil {
				continue
			}
			if have, ok := families[f.name]; !ok {
				families[f.name] = f
			} else if have.typ != f.typ {
				otel.Handle(fmt.Errorf("prometheus: %s (%s) is %s already: left out", m.Name, f.typ, have.typ))
			} else {
				have.series = append(have.series, f.series...)
			}
		}
	}
	var b []byte
	for _, n := range slices.Sorted(maps.Keys(families)) {
		b = families[n].append(b)
	}
	return b
}

// promMetric is the family of m, nil if its aggregation is not exported.
func promMetric(m metricdata.Metrics, service []promPair) *promFamily {
	f := &promFamily{help: m.Description, typ: "gauge"}
	ratio := false
	switch a := m.Data.(type) {
	case metricdata.Sum[int64]:
		f.series = numberSeries(a.DataPoints, service)
		f.typ = counterOr(a.IsMonotonic)
	case metricdata.Sum[float64]:
		f.series = numberSeries(a.DataPoints, service)
		f.typ = counterOr(a.IsMonotonic)
	case metricdata.Gauge[int64]:
		f.series, ratio = numberSeries(a.DataPoints, service), m.Unit == "1"
	case metricdata.Gauge[float64]:
		f.series, ratio = numberSeries(a.DataPoints, service), m.Unit == "1"
	case metricdata.Histogram[int64]:
		f.series, f.typ = histogramSeries(a.DataPoints, service), "histogram"
	case metricdata.Histogram[float64]:
		f.series, f.typ = histogramSeries(a.DataPoints, service), "histogram"
	default:
		return nil
	}
	f.name = promName(m.Name, m.Unit, f.typ == "counter", ratio)
	return f
}

func counterOr(monotonic bool) string {
	if monotonic {
		return "counter"
	}
	return "gauge"
}

func numberSeries[N int64 | float64](points []metricdata.DataPoint[N], service []promPair) []promSeries {
	out := make([]promSeries, 0, len(points))
	for _, p := range points {
		out = append(out, promSeries{labels: promLabels(p.Attributes, service), value: float64(p.Value)})
	}
	return out
}

func histogramSeries[N int64 | float64](points []metricdata.HistogramDataPoint[N], service []promPair) []promSeries {
	out := make([]promSeries, 0, len(points))
	for _, p := range points {
		s := promSeries{labels: promLabels(p.Attributes, service), value: float64(p.Sum), bounds: p.Bounds, count: p.Count}
		var cumulative uint64
		for i := range p.Bounds {
			cumulative += p.BucketCounts[i]
			s.counts = append(s.counts, cumulative)
		}
		out = append(out, s)
	}
	return out
}

// promLabels are the labels of attrs and then extra, sorted by name. Keys
// that make the same name have their values sorted and joined by ";"; an
// extra label does not replace an attribute's.
func promLabels(attrs attribute.Set, extra []promPair) []promPair {
	values := map[string][]string{}
	for _, kv := range attrs.ToSlice() {
		if n, ok := promLabel(string(kv.Key)); ok {
			values[n] = append(values[n], kv.Value.String())
		}
	}
	for _, l := range extra {
		if _, ok := values[l.name]; !ok {
			values[l.name] = []string{l.value}
		}
	}
	out := make([]promPair, 0, len(values))
	for n, vs := range values {
		slices.Sort(vs)
		out = append(out, promPair{n, strings.Join(vs, ";")})
	}
	slices.SortFunc(out, func(a, b promPair) int { return strings.Compare(a.name, b.name) })
	return out
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// append writes f: # HELP, # TYPE, and its series (fewer labels first,
// then by the labels' values in order).
func (f *promFamily) append(b []byte) []byte {
	b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, helpEscaper.Replace(f.help), f.name, f.typ)
	slices.SortFunc(f.series, func(x, y promSeries) int {
		if c := cmp.Compare(len(x.labels), len(y.labels)); c != 0 {
			return c
		}
		for i := range x.labels {
			if c := strings.Compare(x.labels[i].value, y.labels[i].value); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, s := range f.series {
		if f.typ != "histogram" {
			b = appendSample(b, f.name, s.labels, promPair{}, s.value)
			continue
		}
		for i, bound := range s.bounds {
			b = appendSample(b, f.name+"_bucket", s.labels, promPair{"le", promFloat(bound)}, float64(s.counts[i]))
		}
		b = appendSample(b, f.name+"_bucket", s.labels, promPair{"le", "+Inf"}, float64(s.count))
		b = appendSample(b, f.name+"_sum", s.labels, promPair{}, s.value)
		b = appendSample(b, f.name+"_count", s.labels, promPair{}, float64(s.count))
	}
	return b
}

// appendSample writes a line: name{labels,last} value (last, a bucket's
// le, when its name is set).
func appendSample(b []byte, name string, labels []promPair, last promPair, v float64) []byte {
	b = append(b, name...)
	if last.name != "" {
		labels = append(labels[:len(labels):len(labels)], last)
	}
	for i, l := range labels {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, l.name...)
		b = append(b, `="`...)
		b = append(b, valueEscaper.Replace(l.value)...)
		b = append(b, '"')
	}
	if len(labels) > 0 {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, promFloat(v)...)
	return append(b, '\n')
}

// promFloat writes v as the format wants: shortest, +Inf, -Inf, NaN.
func promFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
