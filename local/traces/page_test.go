package traces

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/local/services"
)

// otlpSpan is a span to send to Jaeger over OTLP/HTTP.
type otlpSpan struct {
	service, traceID, spanID, parentID, name string
	start, end                               time.Time
	failure                                  string // the error status's description; "" for an unset status
	attributes                               map[string]string
}

// sendSpans posts spans to Jaeger's OTLP/HTTP endpoint in the JSON
// encoding, one resource (service) each.
func sendSpans(t *testing.T, endpoint string, spans ...otlpSpan) {
	t.Helper()
	type value struct {
		StringValue string `json:"stringValue"`
	}
	type attribute struct {
		Key   string `json:"key"`
		Value value  `json:"value"`
	}
	var resources []any
	for _, s := range spans {
		span := map[string]any{"traceId": s.traceID, "spanId": s.spanID, "parentSpanId": s.parentID, "name": s.name, "kind": 2,
			"startTimeUnixNano": strconv.FormatInt(s.start.UnixNano(), 10), "endTimeUnixNano": strconv.FormatInt(s.end.UnixNano(), 10)}
		if s.failure != "" {
			span["status"] = map[string]any{"code": 2, "message": s.failure}
		}
		var attrs []attribute
		for k, v := range s.attributes {
			attrs = append(attrs, attribute{k, value{v}})
		}
		span["attributes"] = attrs
		resources = append(resources, map[string]any{
			"resource":   map[string]any{"attributes": []attribute{{"service.name", value{s.service}}}},
			"scopeSpans": []any{map[string]any{"scope": map[string]string{"name": "test"}, "spans": []any{span}}},
		})
	}
	body, err := json.Marshal(map[string]any{"resourceSpans": resources})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(endpoint+"/v1/traces", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %s", resp.Status)
	}
}

// startJaeger starts a Jaeger for the test.
func startJaeger(t *testing.T) *services.Jaeger {
	t.Helper()
	j := &services.Jaeger{Dir: t.TempDir()}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Stop() })
	return j
}

// page GETs u; it returns the status, the body and the answer's headers.
func page(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

const (
	bookingTrace = "5b8efff798038103d269b633813fc60c"
	holdSpan     = "eee19b7ec3c1b174"
	mailSpan     = "aaa19b7ec3c1b175"
	olderTrace   = "0af7651916cd43dd8448eb211c80319c"
)

// TestTracePages: with a real Jaeger, a trace of two services (reserve's
// span, and under it send-email's, which failed) and an older one of
// housekeeping, the list shows both, newest first, and the booking's page
// shows its spans as a tree with the failure said in words; the filters
// work; bad input is a 4xx page.
func TestTracePages(t *testing.T) {
	j := startJaeger(t)
	now := time.Now()
	sendSpans(t, j.OTLPEndpoint(),
		otlpSpan{service: "housekeeping", traceID: olderTrace, spanID: "b7ad6b7169203331", name: "ping",
			start: now.Add(-time.Minute), end: now.Add(-time.Minute + 3*time.Millisecond)},
		otlpSpan{service: "reserve", traceID: bookingTrace, spanID: holdSpan, name: "POST /api/holds",
			start: now.Add(-20 * time.Millisecond), end: now, attributes: map[string]string{"http.route": "/api/holds"}},
		otlpSpan{service: "send-email", traceID: bookingTrace, spanID: mailSpan, parentID: holdSpan, name: "smtp send",
			start: now.Add(-15 * time.Millisecond), end: now.Add(-5 * time.Millisecond), failure: "connection refused",
			attributes: map[string]string{"server.address": "127.0.0.1"}},
	)
	h := &Handler{}
	h.SetJaeger(j.URL())
	srv := httptest.NewServer(h)
	defer srv.Close()

	// Jaeger batches what it takes in: wait until the list has both.
	var list string
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, _ := page(t, srv.URL+Path)
		list = body
		if status == http.StatusOK && strings.Contains(body, bookingTrace) && strings.Contains(body, olderTrace) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the list lacks the traces after 10s: %d\n%s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	booking := strings.Index(list, `href="/_local/traces/`+bookingTrace+`"`)
	older := strings.Index(list, `href="/_local/traces/`+olderTrace+`"`)
	if booking < 0 || older < 0 || booking > older {
		t.Errorf("the list does not link the booking's trace before the older one:\n%s", list)
	}
	row := list[booking:older]
	for _, want := range []string{"reserve: POST /api/holds", `<td class="num">2</td>`, "reserve, send-email", "20.0 ms", "error (1 span)"} {
		if !strings.Contains(row, want) {
			t.Errorf("the booking's row lacks %q:\n%s", want, row)
		}
	}
	if rest := list[older:]; !strings.Contains(rest, "housekeeping: ping") || strings.Contains(rest, "error") {
		t.Errorf("the older trace's row: want housekeeping's ping, no error:\n%s", rest)
	}

	// The waterfall: reserve's span, then send-email's under it.
	status, trace, header := page(t, srv.URL+Path+"/"+bookingTrace)
	if status != http.StatusOK {
		t.Fatalf("the trace's page: %d\n%s", status, trace)
	}
	rows := regexp.MustCompile(`<tr class="span( error)?" id="span-([0-9a-f]+)" data-depth="(\d+)">`).FindAllStringSubmatch(trace, -1)
	var tree []string
	for _, r := range rows {
		tree = append(tree, r[2]+" depth "+r[3]+" error "+strconv.FormatBool(r[1] != ""))
	}
	if want := []string{holdSpan + " depth 0 error false", mailSpan + " depth 1 error true"}; strings.Join(tree, "; ") != strings.Join(want, "; ") {
		t.Errorf("the span rows = %v, want %v", tree, want)
	}
	for _, want := range []string{
		"<h1>reserve: POST /api/holds</h1>", "smtp send", "(under reserve: POST /api/holds)", "<td>send-email</td>",
		`<span class="err">error: connection refused</span>`, "+5.00 ms", "10.0 ms", // the child's start and duration
		"<th scope=\"row\">server.address</th><td>127.0.0.1</td>", "<th scope=\"row\">http.route</th><td>/api/holds</td>",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace's page lacks %q", want)
		}
	}
	// The page's one script is the one its CSP allows; nothing else loads.
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(trace, -1)
	if len(script) != 1 {
		t.Fatalf("%d scripts, want 1", len(script))
	}
	sum := sha256.Sum256([]byte(script[0][1]))
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		!strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not allow the page's script alone", csp)
	}
	if cc := header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}

	for _, tc := range []struct {
		name, path string
		status     int
		want, not  string
	}{
		{"one service", "?service=send-email", 200, bookingTrace, olderTrace},
		{"another", "?service=housekeeping&since=15m&limit=5", 200, olderTrace, bookingTrace},
		{"limit 1: the newest", "?limit=1", 200, bookingTrace, olderTrace},
		{"no such service", "?service=nobody", 200, "No trace of nobody started in the last 1h", bookingTrace},
		{"a period not offered", "?since=2y", 400, "?since= is one of 1h, 15m, 6h, 24h", bookingTrace},
		{"a limit of 0", "?limit=0", 400, "?limit= is a number from 1 to 200", bookingTrace},
		{"a limit not a number", "?limit=many", 400, "not &#34;many&#34;", bookingTrace},
		{"an unknown trace", "/00000000000000000000000000abcdef", 404, "No such trace", "<script>"},
		{"not hexadecimal", "/not-a-trace", 400, "Not a trace id", "<script>"},
		{"too long", "/" + bookingTrace + "0", 400, "Not a trace id", "<script>"},
		{"markup in the id", "/%3Cb%3Ex", 400, "&#34;&lt;b&gt;x&#34; is not one", "<b>x"},
		{"the folder", "/", 301, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, header := page(t, srv.URL+Path+tc.path)
			if status != tc.status || !strings.Contains(body, tc.want) || tc.not != "" && strings.Contains(body, tc.not) {
				t.Errorf("GET %s: %d, want %d with %q and without %q:\n%s", tc.path, status, tc.status, tc.want, tc.not, body)
			}
			if ct := header.Get("Content-Type"); status != 301 && ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if status == 301 && header.Get("Location") != Path {
				t.Errorf("Location = %q, want %s", header.Get("Location"), Path)
			}
		})
	}
}

// TestTracePagesWithoutJaeger: before the stack has started Jaeger the pages
// say so with a 503; when Jaeger stops answering, with a 502.
func TestTracePagesWithoutJaeger(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{Path, Path + "/" + bookingTrace} {
		if status, body, _ := page(t, srv.URL+path); status != http.StatusServiceUnavailable || !strings.Contains(body, "Jaeger is not running") {
			t.Errorf("GET %s before SetJaeger: %d\n%s", path, status, body)
		}
	}
	// A malformed id is refused before Jaeger is asked.
	if status, _, _ := page(t, srv.URL+Path+"/xyz"); status != http.StatusBadRequest {
		t.Errorf("a malformed id without Jaeger: %d, want 400", status)
	}

	j := startJaeger(t)
	h.SetJaeger(j.URL())
	if status, body, _ := page(t, srv.URL+Path); status != http.StatusOK || !strings.Contains(body, "No trace started in the last 1h") {
		t.Errorf("an empty Jaeger: %d\n%s", status, body)
	}
	if err := j.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{Path, Path + "/" + bookingTrace} {
		status, body, _ := page(t, srv.URL+path)
		if status != http.StatusBadGateway || !strings.Contains(body, "Jaeger is not answering") || !strings.Contains(body, j.URL()) {
			t.Errorf("GET %s with Jaeger stopped: %d\n%s", path, status, body)
		}
	}
}
