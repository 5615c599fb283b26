package telemetry

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/metrics"
)

// TestContract: what the functions export is what package metrics
// declares, both ways. Every instrument records, through a meter provider
// made as Setup makes it, every value it may take; promExporter's page is
// then read as a scraper reads it: every family but target_info is a
// declared metric, of its kind and description, every series' labels are
// the metric's and a fixed label's value one of its values; and every
// declared metric, label and value is on the page.
func TestContract(t *testing.T) {
	page := scrape(t, recordAll)
	for _, p := range checkContract(metrics.All, page) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("the page:\n%s", page)
	}
}

// TestContractCatches: the check fails on what it is for, a declaration
// and the code apart.
func TestContractCatches(t *testing.T) {
	page := scrape(t, recordAll)
	for _, tc := range []struct {
		name   string
		change func(*metrics.Metric)
		want   []string
	}{
		{"metric renamed", func(m *metrics.Metric) {
			if m.Name == "sportello_holds_total" {
				m.Name = "sportello_hold_total"
			}
		}, []string{"sportello_holds_total: exported, not declared", "sportello_hold_total: declared, not exported"}},
		{"a value not declared", func(m *metrics.Metric) {
			if m.Name == "sportello_holds_total" {
				m.Values["reason"] = []string{"taken"}
			}
		}, []string{`sportello_holds_total{reason="rate_limited"}: exported, not declared`}},
		{"a value never emitted", func(m *metrics.Metric) {
			if m.Name == "sportello_holds_total" {
				m.Values["reason"] = append(m.Values["reason"], "stale")
			}
		}, []string{`sportello_holds_total{reason="stale"}: declared, not exported`}},
		{"a label not declared", func(m *metrics.Metric) {
			if m.Name == "sportello_events_delivered_total" {
				m.Labels = slices.DeleteFunc(m.Labels, func(l string) bool { return l == "type" })
			}
		}, []string{"sportello_events_delivered_total{type}: exported, not declared"}},
		{"a label never exported", func(m *metrics.Metric) {
			if m.Name == "sportello_mails_total" {
				m.Labels = append(m.Labels, "reason")
			}
		}, []string{"sportello_mails_total{reason}: declared, not exported"}},
		{"another kind", func(m *metrics.Metric) {
			if m.Name == "sportello_outbox_backlog" {
				m.Kind = metrics.Counter
			}
		}, []string{"sportello_outbox_backlog: a gauge, declared a counter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			declared := make([]metrics.Metric, len(metrics.All))
			for i, m := range metrics.All {
				m.Labels = slices.Clone(m.Labels)
				m.Values = maps.Clone(m.Values)
				for l, vs := range m.Values {
					m.Values[l] = slices.Clone(vs)
				}
				tc.change(&m)
				declared[i] = m
			}
			got := checkContract(declared, page)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("no %q among %q", w, got)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %q, want only %q", got, tc.want)
			}
		})
	}
}

// recordAll records every value of every instrument of the functions.
func recordAll(t *testing.T, mp *sdkmetric.MeterProvider) {
	ctx := t.Context()
	m := mp.Meter("github.com/sportello/sportello/functions")
	in := newInstruments(m)
	for _, typ := range []string{events.BookingHeld, events.BookingExpired, events.BookingReleased,
		events.BookingConfirmed, events.BookingRescheduled, events.BookingCancelled, events.BookingCompleted} {
		in.committed(ctx, typ, nil)
	}
	in.committed(ctx, events.BookingCompleted, events.BookingCompletedData{Outcome: events.OutcomeNoShow})
	in.holdRefused(ctx, metrics.ReasonTaken)
	in.holdRefused(ctx, metrics.ReasonRateLimited)
	for _, o := range []metrics.Outcome{metrics.Opened, metrics.Warned, metrics.Closed} {
		in.roomStep(ctx, o)
	}
	for _, ok := range []bool{true, false} {
		in.mail(ctx, ok)
		in.delivered(ctx, events.BookingConfirmed, ok)
	}

	backlog := func(context.Context) (int64, time.Duration, error) { return 3, 2 * time.Second, nil }
	if err := observeOutbox(m, backlog); err != nil {
		t.Fatal(err)
	}
	// A pool that dials nothing until asked: its figures are zeros, its
	// series there all the same.
	pool, err := pgxpool.New(ctx, "postgres://contract@127.0.0.1:1/contract")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := observePool(m, pool); err != nil {
		t.Fatal(err)
	}

	// otelhttp's server, as the functions wrap their handlers, for a
	// Host with a port and one without.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/holds", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	handler := otelhttp.NewHandler(mux, "request", otelhttp.WithMeterProvider(mp))
	for _, host := range []string{"sportello.example.org", "sportello.example.org:8080"} {
		r := httptest.NewRequest("POST", "/api/holds", strings.NewReader("{}"))
		r.Host = host
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	// otelhttp's client, as the functions call the broker, S3 and
	// LiveKit: a request answered, and one that finds nobody.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + ln.Addr().String()
	ln.Close()
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithMeterProvider(mp))}
	for _, url := range []string{srv.URL, nobody} {
		res, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err == nil {
			res.Body.Close()
		}
		if (err == nil) != (url == srv.URL) {
			t.Fatalf("POST %s: %v", url, err)
		}
	}
}

// scrape is the page promExporter serves after record.
func scrape(t *testing.T, record func(*testing.T, *sdkmetric.MeterProvider)) string {
	reader := sdkmetric.NewManualReader()
	mp := meterProvider(reader, resource.NewSchemaless(semconv.ServiceName("reserve"), semconv.ServiceNamespace("sportello")))
	defer mp.Shutdown(context.Background())
	record(t, mp)
	rec := httptest.NewRecorder()
	promExporter{reader: reader}.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// scraped is a family of the page: its TYPE, its HELP, and the values its
// series give each label (a histogram's le aside).
type scraped struct {
	kind, help string
	labels     map[string][]string
}

// checkContract compares the page with declared, both ways, and says
// where they differ.
func checkContract(declared []metrics.Metric, page string) []string {
	families, problems := parsePage(page)
	delete(families, "target_info")
	for _, m := range declared {
		f, ok := families[m.Name]
		if !ok {
			problems = append(problems, m.Name+": declared, not exported")
			continue
		}
		delete(families, m.Name)
		if f.kind != string(m.Kind) {
			problems = append(problems, fmt.Sprintf("%s: a %s, declared a %s", m.Name, f.kind, m.Kind))
		}
		if f.help != m.Help {
			problems = append(problems, fmt.Sprintf("%s: described %q, declared %q", m.Name, f.help, m.Help))
		}
		for _, l := range slices.Sorted(maps.Keys(f.labels)) {
			if !slices.Contains(m.Labels, l) {
				problems = append(problems, fmt.Sprintf("%s{%s}: exported, not declared", m.Name, l))
				continue
			}
			fixed, ok := m.Values[l]
			if !ok {
				continue
			}
			for _, v := range f.labels[l] {
				if !slices.Contains(fixed, v) {
					problems = append(problems, fmt.Sprintf("%s{%s=%q}: exported, not declared", m.Name, l, v))
				}
			}
		}
		for _, l := range m.Labels {
			if _, ok := f.labels[l]; !ok {
				problems = append(problems, fmt.Sprintf("%s{%s}: declared, not exported", m.Name, l))
			}
		}
		for _, l := range slices.Sorted(maps.Keys(m.Values)) {
			for _, v := range m.Values[l] {
				if !slices.Contains(f.labels[l], v) {
					problems = append(problems, fmt.Sprintf("%s{%s=%q}: declared, not exported", m.Name, l, v))
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(families)) {
		problems = append(problems, n+": exported, not declared")
	}
	return problems
}

// parsePage reads a page of the Prometheus text format by families, with
// the Prometheus client's own parser: each family's TYPE, HELP and the
// values its series give each label (a histogram's le aside).
func parsePage(page string) (map[string]*scraped, []string) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(page))
	if err != nil {
		return nil, []string{fmt.Sprintf("the page does not parse: %v", err)}
	}
	families := map[string]*scraped{}
	for name, mf := range parsed {
		f := &scraped{kind: strings.ToLower(mf.GetType().String()), help: mf.GetHelp(), labels: map[string][]string{}}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !slices.Contains(f.labels[lp.GetName()], lp.GetValue()) {
					f.labels[lp.GetName()] = append(f.labels[lp.GetName()], lp.GetValue())
				}
			}
		}
		families[name] = f
	}
	return families, nil
}
