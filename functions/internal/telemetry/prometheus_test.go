package telemetry

import (
	"compress/gzip"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// promCases record through a meter and expect promExporter's page, as
// OpenTelemetry's Prometheus exporter (v0.69.0, with client_golang's
// promhttp) wrote it byte for byte, target_info aside.
var promCases = []struct {
	name   string
	record func(context.Context, metric.Meter)
	want   string
}{
	{"counters: _total, units, series by labels, escaping", func(ctx context.Context, m metric.Meter) {
		holds, _ := m.Int64Counter("sportello.holds", metric.WithUnit("{hold}"), metric.WithDescription("Holds \\ by\noutcome \"q\"."))
		holds.Add(ctx, 2, metric.WithAttributes(attribute.String("outcome", "taken")))
		holds.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "refused"), attribute.String("reason", "taken")))
		holds.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "a\"b\\c\nd"), attribute.StringSlice("tags", []string{"a", "b"}),
			attribute.Bool("ok", true), attribute.Float64("f", 1.5e20), attribute.Int("n", -3)))
		holds.Add(ctx, 1)
		wait, _ := m.Float64Counter("sportello.db.acquire.wait", metric.WithUnit("s"))
		wait.Add(ctx, 0.125)
		requests, _ := m.Int64Counter("requests.total", metric.WithUnit("1"))
		requests.Add(ctx, 1e6)
	}, `# HELP requests_total 
# TYPE requests_total counter
requests_total{service_name="reserve"} 1e+06
# HELP sportello_db_acquire_wait_seconds_total 
# TYPE sportello_db_acquire_wait_seconds_total counter
sportello_db_acquire_wait_seconds_total{service_name="reserve"} 0.125
# HELP sportello_holds_total Holds \\ by\noutcome "q".
# TYPE sportello_holds_total counter
sportello_holds_total{service_name="reserve"} 1
sportello_holds_total{outcome="taken",service_name="reserve"} 2
sportello_holds_total{outcome="refused",reason="taken",service_name="reserve"} 1
sportello_holds_total{f="1.5e+20",n="-3",ok="true",outcome="a\"b\\c\nd",service_name="reserve",tags="[\"a\",\"b\"]"} 1
`},
	{"gauges and up-down counters: plain, _ratio, per", func(ctx context.Context, m metric.Meter) {
		conns, _ := m.Int64UpDownCounter("db.client.connection.count", metric.WithUnit("{connection}"))
		conns.Add(ctx, 3, metric.WithAttributes(attribute.String("db.client.connection.state", "idle")))
		conns.Add(ctx, -1, metric.WithAttributes(attribute.String("db.client.connection.state", "used")))
		age, _ := m.Float64Gauge("sportello.outbox.oldest.age", metric.WithUnit("s"))
		age.Record(ctx, 12.5)
		cpu, _ := m.Float64Gauge("cpu.utilization", metric.WithUnit("1"))
		cpu.Record(ctx, 0.25)
		share, _ := m.Float64UpDownCounter("share", metric.WithUnit("1"))
		share.Add(ctx, 0.5)
		rate, _ := m.Int64Gauge("net.io.rate", metric.WithUnit("By/s"))
		rate.Record(ctx, 2048)
	}, `# HELP cpu_utilization_ratio 
# TYPE cpu_utilization_ratio gauge
cpu_utilization_ratio{service_name="reserve"} 0.25
# HELP db_client_connection_count 
# TYPE db_client_connection_count gauge
db_client_connection_count{db_client_connection_state="idle",service_name="reserve"} 3
db_client_connection_count{db_client_connection_state="used",service_name="reserve"} -1
# HELP net_io_rate_bytes_per_second 
# TYPE net_io_rate_bytes_per_second gauge
net_io_rate_bytes_per_second{service_name="reserve"} 2048
# HELP share 
# TYPE share gauge
share{service_name="reserve"} 0.5
# HELP sportello_outbox_oldest_age_seconds 
# TYPE sportello_outbox_oldest_age_seconds gauge
sportello_outbox_oldest_age_seconds{service_name="reserve"} 12.5
`},
	{"histograms: cumulative buckets, +Inf, _sum, _count", func(ctx context.Context, m metric.Meter) {
		d, _ := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 0.1, 1))
		for _, v := range []float64{0.003, 0.3, 0.4, 20} {
			d.Record(ctx, v, metric.WithAttributes(attribute.String("http.route", "/api/holds"), attribute.Int("http.response.status_code", 201)))
		}
		d.Record(ctx, 0.1, metric.WithAttributes(attribute.String("http.route", "/api/a")))
		sizes, _ := m.Int64Histogram("sizes", metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(100, 1e6))
		sizes.Record(ctx, 5000000)
	}, `# HELP http_server_request_duration_seconds 
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_route="/api/a",service_name="reserve",le="0.005"} 0
http_server_request_duration_seconds_bucket{http_route="/api/a",service_name="reserve",le="0.1"} 1
http_server_request_duration_seconds_bucket{http_route="/api/a",service_name="reserve",le="1"} 1
http_server_request_duration_seconds_bucket{http_route="/api/a",service_name="reserve",le="+Inf"} 1
http_server_request_duration_seconds_sum{http_route="/api/a",service_name="reserve"} 0.1
http_server_request_duration_seconds_count{http_route="/api/a",service_name="reserve"} 1
http_server_request_duration_seconds_bucket{http_response_status_code="201",http_route="/api/holds",service_name="reserve",le="0.005"} 1
http_server_request_duration_seconds_bucket{http_response_status_code="201",http_route="/api/holds",service_name="reserve",le="0.1"} 1
http_server_request_duration_seconds_bucket{http_response_status_code="201",http_route="/api/holds",service_name="reserve",le="1"} 3
http_server_request_duration_seconds_bucket{http_response_status_code="201",http_route="/api/holds",service_name="reserve",le="+Inf"} 4
http_server_request_duration_seconds_sum{http_response_status_code="201",http_route="/api/holds",service_name="reserve"} 20.703
http_server_request_duration_seconds_count{http_response_status_code="201",http_route="/api/holds",service_name="reserve"} 4
# HELP sizes_bytes 
# TYPE sizes_bytes histogram
sizes_bytes_bucket{service_name="reserve",le="100"} 0
sizes_bytes_bucket{service_name="reserve",le="1e+06"} 0
sizes_bytes_bucket{service_name="reserve",le="+Inf"} 1
sizes_bytes_sum{service_name="reserve"} 5e+06
sizes_bytes_count{service_name="reserve"} 1
`},
	{"label names: one underscore a run, same names joined, leading digit", func(ctx context.Context, m metric.Meter) {
		c, _ := m.Int64Counter("9lives")
		c.Add(ctx, 1, metric.WithAttributes(attribute.String("a.b", "2"), attribute.String("a_b", "1"), attribute.String("7.x", "y"), attribute.String("città", "Bari")))
	}, `# HELP _9lives_total 
# TYPE _9lives_total counter
_9lives_total{a_b="1;2",citt_="Bari",key_7_x="y",service_name="reserve"} 1
`},
}

const promTargetInfo = `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="reserve",service_namespace="sportello"} 1
`

// TestPromExporter: each case's metrics as a scrape reads them.
func TestPromExporter(t *testing.T) {
	for _, tc := range promCases {
		t.Run(tc.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
				sdkmetric.WithResource(resource.NewSchemaless(semconv.ServiceName("reserve"), semconv.ServiceNamespace("sportello"))))
			tc.record(t.Context(), mp.Meter("github.com/sportello/sportello/functions"))
			rec := httptest.NewRecorder()
			promExporter{reader: reader}.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" {
				t.Errorf("Content-Type %q", ct)
			}
			got, _ := io.ReadAll(rec.Body)
			if d := cmp.Diff(tc.want+promTargetInfo, string(got)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestPromGzip: a scraper that takes gzip gets the same page compressed;
// one that refuses it (q=0) or says nothing gets it plain.
func TestPromGzip(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(resource.Empty()))
	c, _ := mp.Meter("test").Int64Counter("sportello.holds")
	c.Add(t.Context(), 3)
	scrape := func(accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		promExporter{reader: reader}.ServeHTTP(rec, req)
		return rec
	}
	plain := scrape("").Body.String()
	if !strings.Contains(plain, "sportello_holds_total 3") {
		t.Fatalf("plain page:\n%s", plain)
	}
	for _, accept := range []string{"gzip", "deflate, gzip;q=1.0, *;q=0.5", "GZIP"} {
		rec := scrape(accept)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", accept, rec.Header().Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if string(got) != plain {
			t.Fatalf("Accept-Encoding %q: the page unzipped differs:\n%s", accept, got)
		}
	}
	for _, accept := range []string{"gzip;q=0", "br", "identity"} {
		if rec := scrape(accept); rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != plain {
			t.Fatalf("Accept-Encoding %q: encoded %q", accept, rec.Header().Get("Content-Encoding"))
		}
	}
}

// TestPromName: OpenTelemetry's names and units as Prometheus' names.
func TestPromName(t *testing.T) {
	for _, c := range []struct {
		name, unit     string
		counter, ratio bool
		want           string
	}{
		{"sportello.holds", "{hold}", true, false, "sportello_holds_total"},
		{"sportello.events.delivered", "{event}", true, false, "sportello_events_delivered_total"},
		{"sportello.outbox.backlog", "{event}", false, false, "sportello_outbox_backlog"},
		{"sportello.db.acquire.wait", "s", true, false, "sportello_db_acquire_wait_seconds_total"},
		{"http.server.request.duration", "s", false, false, "http_server_request_duration_seconds"},
		{"request.seconds", "s", false, false, "request_seconds"},          // the unit's word already there
		{"requests.total.count", "1", true, false, "requests_count_total"}, // total moved last
		{"disk.usage", "1", false, true, "disk_usage_ratio"},
		{"io", "By/s", false, false, "io_bytes_per_second"},
		{"calls", "{call}/min", false, false, "calls_per_min"},
		{"latency", "ms", false, false, "latency_milliseconds"},
		{"7days", "", false, false, "_7days"},
	} {
		if got := promName(c.name, c.unit, c.counter, c.ratio); got != c.want {
			t.Errorf("promName(%q, %q, %v, %v) = %q, want %q", c.name, c.unit, c.counter, c.ratio, got, c.want)
		}
	}
}

// TestPromTypeClash: a metric whose name another of a different type took
// is left out, the scrape still served.
func TestPromTypeClash(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(resource.Empty()))
	m := mp.Meter("test")
	c, _ := m.Int64UpDownCounter("queue")
	c.Add(t.Context(), 2)
	h, _ := m.Float64Histogram("queue")
	h.Record(t.Context(), 1)
	rec := httptest.NewRecorder()
	promExporter{reader: reader}.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got, _ := io.ReadAll(rec.Body)
	want := "# HELP queue \n# TYPE queue gauge\nqueue 2\n# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info 1\n"
	if rec.Code != 200 || string(got) != want {
		t.Fatalf("%d:\n%s", rec.Code, got)
	}
}
