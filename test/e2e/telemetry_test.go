package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/clienttest"
)

// TestOneBookingOneTrace: a booking whose requests carry one trace context
// (as the site's booking page sends them) is one trace in Jaeger, holding
// the spans of reserve and confirm and of what the confirmation's event
// then caused in send-email and provision-room, each under its parent; and
// the functions' metrics, scraped by VictoriaMetrics, count the hold, the
// booking, the mail and the requests.
func TestOneBookingOneTrace(t *testing.T) {
	s := startStack(t, stackOptions{Args: []string{"-jaeger-port", "0", "-jaeger-otlp-port", "0", "-metrics-port", "0"}})
	env := s.services(t)
	jaeger, metrics := env["JAEGER_URL"], env["METRICS_URL"]
	if jaeger == "" || metrics == "" {
		t.Fatalf("/_local/services names no JAEGER_URL or METRICS_URL: %v", env)
	}

	traceID := randomHex(t, 16)
	sl, _ := s.freeSlots(t, "sue")
	picks := sl.after(time.Now().Add(25 * time.Hour))
	if len(picks) == 0 {
		t.Fatal("no free slot")
	}
	r := s.traced(t, traceID, "POST", "/api/holds", map[string]string{"service_id": "sue", "start": picks[0].Start.Format(time.RFC3339)})
	expect(t, "POST /api/holds", r, http.StatusCreated)
	var h hold
	r.json(t, &h)
	who := citizen{GivenName: "Tracciata", FamilyName: "Rossi", Address: "Via Sparano 1, Bari", Email: "traccia." + randomHex(t, 4) + "@example.it", PrivacyConsent: true}
	r = s.traced(t, traceID, "POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret, "citizen": who})
	expect(t, "POST /api/bookings", r, http.StatusCreated)

	// The trace, once every function has exported its spans (batched:
	// within about five seconds of the mail).
	want := map[string][]string{
		"reserve":        {"POST /api/holds", "publish booking.held"},
		"confirm":        {"POST /api/bookings", "publish booking.confirmed"},
		"send-email":     {"POST /{$}", "process booking.confirmed", "smtp send", "INSERT"},
		"provision-room": {"POST /{$}", "process booking.confirmed", "publish room.provisioned"},
	}
	var tr jaegerTrace
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if tr = fetchTrace(t, jaeger, traceID); tr.has(want) {
			break
		}
	}
	if missing := tr.missing(want); len(missing) > 0 {
		t.Fatalf("trace %s lacks %v; it has %v", traceID, missing, tr.names())
	}
	// PostgreSQL's statements are spans of the requests that ran them.
	for _, fn := range []string{"reserve", "confirm", "send-email", "provision-room"} {
		if tr.statements(fn) == 0 {
			t.Errorf("no PostgreSQL span of %s: %v", fn, tr.names())
		}
	}
	// The chain: each consumer's handling is under confirm's publish span,
	// which is under the confirmation request.
	confirmReq := tr.span(t, "confirm", "POST /api/bookings")
	publish := tr.span(t, "confirm", "publish booking.confirmed")
	if publish.parent() != confirmReq.SpanID {
		t.Errorf("publish's parent %s, want the confirmation request %s", publish.parent(), confirmReq.SpanID)
	}
	for _, fn := range []string{"send-email", "provision-room"} {
		if p := tr.span(t, fn, "process booking.confirmed").parent(); p != publish.SpanID {
			t.Errorf("%s's handling is under %s, want the publish span %s", fn, p, publish.SpanID)
		}
	}

	// The metrics, as VictoriaMetrics scraped them (new series become
	// searchable within about ten seconds).
	for q, min := range map[string]float64{
		`sum(sportello_holds_total{outcome="taken",service_name="reserve"})`:                                                                                            1,
		`sum(sportello_bookings_total{outcome="confirmed",service_name="confirm"})`:                                                                                     1,
		`sum(sportello_mails_total{outcome="sent",service_name="send-email"})`:                                                                                          1,
		`sum(sportello_events_delivered_total{outcome="delivered",service_name="confirm"})`:                                                                             1,
		`sum(http_server_request_duration_seconds_count{service_name="confirm",http_request_method="POST",http_route="/api/bookings",http_response_status_code="201"})`: 1,
		`max(db_client_connection_max{service_name="reserve"})`:                                                                                                         1,
	} {
		clienttest.Eventually(t, 60*time.Second, q, func() bool { return queryMetric(t, metrics, q) >= min })
	}
	if v := queryMetric(t, metrics, `max(sportello_outbox_backlog)`); v != 0 {
		clienttest.Eventually(t, 30*time.Second, "the outbox drained", func() bool { return queryMetric(t, metrics, `max(sportello_outbox_backlog)`) == 0 })
	}
	s.stopClean(t, []string{who.Email, h.HoldSecret})
}

// traced sends a request through the gateway in trace traceID, as the
// site's booking page does.
func (s *localStack) traced(t *testing.T, traceID, method, path string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.gateway+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+randomHex(t, 8)+"-01")
	return fromClient(clienttest.Do(t, req))
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	Tags          []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	References []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
}

func (sp jaegerSpan) parent() string {
	for _, r := range sp.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

type jaegerTrace struct {
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// fetchTrace reads a trace from Jaeger's query API (empty while unknown).
func fetchTrace(t *testing.T, jaeger, traceID string) jaegerTrace {
	t.Helper()
	resp, err := http.Get(jaeger + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return jaegerTrace{}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Data) != 1 {
		t.Fatalf("GET /api/traces/%s: %d traces, %v", traceID, len(out.Data), err)
	}
	return out.Data[0]
}

func (tr jaegerTrace) service(sp jaegerSpan) string { return tr.Processes[sp.ProcessID].ServiceName }

func (tr jaegerTrace) names() []string {
	var out []string
	for _, sp := range tr.Spans {
		out = append(out, tr.service(sp)+": "+sp.OperationName)
	}
	slices.Sort(out)
	return out
}

func (tr jaegerTrace) count(service, name string) int {
	n := 0
	for _, sp := range tr.Spans {
		if tr.service(sp) == service && sp.OperationName == name {
			n++
		}
	}
	return n
}

// statements counts service's spans of PostgreSQL statements.
func (tr jaegerTrace) statements(service string) int {
	n := 0
	for _, sp := range tr.Spans {
		for _, tag := range sp.Tags {
			if tr.service(sp) == service && tag.Key == "db.system.name" && tag.Value == "postgresql" {
				n++
			}
		}
	}
	return n
}

func (tr jaegerTrace) missing(want map[string][]string) []string {
	var out []string
	for svc, names := range want {
		for _, n := range names {
			if tr.count(svc, n) == 0 {
				out = append(out, svc+": "+n)
			}
		}
	}
	return out
}

func (tr jaegerTrace) has(want map[string][]string) bool { return len(tr.missing(want)) == 0 }

// span is the one span of service called name.
func (tr jaegerTrace) span(t *testing.T, service, name string) jaegerSpan {
	t.Helper()
	if n := tr.count(service, name); n != 1 {
		t.Fatalf("%d spans %q of %s in the trace, want 1: %v", n, name, service, tr.names())
	}
	for _, sp := range tr.Spans {
		if tr.service(sp) == service && sp.OperationName == name {
			return sp
		}
	}
	panic("unreachable")
}

// queryMetric answers an instant PromQL query's single value from
// VictoriaMetrics (-1 when it has no value yet).
func queryMetric(t *testing.T, metrics, q string) float64 {
	t.Helper()
	resp, err := http.Get(metrics + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("query %s: %v: %s", q, err, body)
	}
	if len(out.Data.Result) != 1 {
		return -1
	}
	v, err := strconv.ParseFloat(fmt.Sprint(out.Data.Result[0].Value[1]), 64)
	if err != nil {
		t.Fatalf("query %s: value %v", q, out.Data.Result[0].Value)
	}
	return v
}
