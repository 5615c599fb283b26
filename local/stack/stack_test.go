package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/services"
)

func TestPingEvent(t *testing.T) {
	now := time.Date(2027, 3, 2, 9, 30, 0, 0, time.UTC)
	a, b := PingEvent(now), PingEvent(now)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.Type() != events.Ping || a.Source() != "/local/pingsource/housekeeping" || !a.Time().Equal(now) ||
		a.DataContentType() != "application/json" || string(a.Data()) != `{"job":"all"}` {
		t.Errorf("ping = %v", a)
	}
	if a.ID() == "" || a.ID() == b.ID() {
		t.Errorf("ids %q and %q: want distinct ids", a.ID(), b.ID())
	}
	// Housekeeping's trigger takes it.
	var takers []string
	for _, tr := range triggersOf(manifest.Functions) {
		if tr.Matches(a) {
			takers = append(takers, tr.Function)
		}
	}
	if diff := cmp.Diff([]string{"housekeeping"}, takers); diff != "" {
		t.Errorf("consumers of the ping (-want +got):\n%s", diff)
	}
}

func TestOrigins(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Port: 8080}, []string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{Config{Port: 8080, PublicURL: "http://localhost:8080/"}, []string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{Config{Port: 9090, PublicURL: "https://sportello.example.it/"}, []string{"http://127.0.0.1:9090", "http://localhost:9090", "https://sportello.example.it"}},
	} {
		s := New(Config{Port: tc.cfg.Port, PublicURL: tc.cfg.PublicURL, Out: io.Discard, Data: t.TempDir()})
		if diff := cmp.Diff(tc.want, s.origins()); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.cfg, diff)
		}
		if got := s.minio.CORSOrigins; !cmp.Equal(got, tc.want) {
			t.Errorf("MinIO's CORS origins = %v", got)
		}
	}
	if got := New(Config{Port: 8080, Out: io.Discard}).publicURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("default public URL = %s", got)
	}
}

func TestAFunctionSubset(t *testing.T) {
	var subset []manifest.Function
	for _, f := range manifest.Functions {
		if f.Name == "reserve" || f.Name == "housekeeping" {
			subset = append(subset, f)
		}
	}
	s := New(Config{Port: 8080, Out: io.Discard, Functions: subset})
	var names []string
	for _, tr := range s.broker.Triggers {
		names = append(names, tr.Function)
	}
	if diff := cmp.Diff([]string{"housekeeping"}, names); diff != "" {
		t.Errorf("triggers of the subset (-want +got):\n%s", diff)
	}
	srv := httptest.NewServer(s.gw)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h Health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if len(h.Functions) != 2 || h.Functions["reserve"] != "not started" {
		t.Errorf("health of the subset: %+v", h)
	}
	// Routes of functions left out are unknown.
	resp, err = http.Get(srv.URL + "/api/offices")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/offices without list-services: %d, want 404", resp.StatusCode)
	}
}

func TestGatewayLocalTools(t *testing.T) {
	s := New(Config{Port: 8080, Out: io.Discard})
	srv := httptest.NewServer(s.gw)
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The broker's event log and dead letters, through the gateway.
	ev := PingEvent(time.Now())
	body, _ := json.Marshal(ev)
	resp, err := http.Post(srv.URL+"/_local/events", "application/cloudevents+json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /_local/events: %d", resp.StatusCode)
	}
	if code, body := get("/_local/events?type=" + events.Ping); code != http.StatusOK || !strings.Contains(body, ev.ID()) {
		t.Errorf("GET /_local/events: %d %s", code, body)
	}
	if code, body := get("/_local/dead-letters"); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("GET /_local/dead-letters: %d %s", code, body)
	}
	// Before the start, the services are unknown; after it, each variable
	// the functions get is listed.
	if code, body := get("/_local/services"); code != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Errorf("GET /_local/services before the start: %d %s", code, body)
	}
	s.mu.Lock()
	s.env = []string{"DATABASE_URL=postgres://x", "K_SINK=" + s.brokerURL(), "SMTP_PORT=1025"}
	s.mu.Unlock()
	_, listed := get("/_local/services")
	var got map[string]string
	if err := json.Unmarshal([]byte(listed), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DATABASE_URL": "postgres://x", "K_SINK": s.brokerURL(), "SMTP_PORT": "1025",
		"BROKER_URL": strings.TrimSuffix(s.brokerURL(), "/"), "MINIO_CONSOLE_URL": s.minio.ConsoleURL()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /_local/services (-want +got):\n%s", diff)
	}
	s.gw.SetLinks([]Link{{"Mailpit", "http://127.0.0.1:8025/", "every mail"}})
	for _, path := range []string{"/", "/_local/"} {
		if _, body := get(path); !strings.Contains(body, `href="http://127.0.0.1:8025/"`) || !strings.Contains(body, `href="/_local/dead-letters"`) ||
			!strings.Contains(body, `then open <a href="/_local/traces">`) {
			t.Errorf("%s lacks the local tools:\n%s", path, body)
		}
	}
	// The traces' pages, through the gateway: Jaeger is not started yet.
	for _, path := range []string{"/_local/traces", "/_local/traces/5b8efff798038103d269b633813fc60c"} {
		if code, body := get(path); code != http.StatusServiceUnavailable || !strings.Contains(body, "Jaeger is not running") {
			t.Errorf("GET %s before Jaeger runs: %d %s", path, code, body)
		}
	}
	if code, body := get("/_local/traces/not-a-trace"); code != http.StatusBadRequest || !strings.Contains(body, "Not a trace id") {
		t.Errorf("GET /_local/traces/not-a-trace: %d %s", code, body)
	}
}

// TestTelemetryEnv: every function is told where its spans go, that every
// trace is kept, its own service name and its own loopback metrics port;
// the servers' addresses are in the shared environment.
func TestTelemetryEnv(t *testing.T) {
	s := New(Config{Port: 8080, Out: io.Discard, Data: t.TempDir(), JaegerPort: 16686, JaegerOTLPPort: 4318, MetricsPort: 8428})
	env := map[string]string{}
	for _, kv := range s.serviceEnv() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"OTEL_TRACES_SAMPLER":         "parentbased_always_on",
		"JAEGER_URL":                  "http://127.0.0.1:16686",
		"METRICS_URL":                 "http://127.0.0.1:8428",
		"METRICS_TARGETS_DIR":         filepath.Join(s.cfg.Data, "victoria-metrics", "targets"),
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	// A sampler set in the stack's environment is the functions' (they
	// inherit the stack's environment): the stack sets none of its own.
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	for _, kv := range s.serviceEnv() {
		if strings.HasPrefix(kv, "OTEL_TRACES_SAMPLER=") {
			t.Errorf("with OTEL_TRACES_SAMPLER in the stack's environment, the functions get %s", kv)
		}
	}
	want := []string{"PORT=8101", "OTEL_SERVICE_NAME=reserve", "OTEL_EXPORTER_PROMETHEUS_HOST=127.0.0.1", "OTEL_EXPORTER_PROMETHEUS_PORT=9101"}
	if diff := cmp.Diff(want, functionEnv("reserve", 8101, 9101, "")); diff != "" {
		t.Errorf("a function's own variables (-want +got):\n%s", diff)
	}
	want = append(want, "CPU_PROFILE="+filepath.Join("/tmp/p", "reserve.pprof"))
	if diff := cmp.Diff(want, functionEnv("reserve", 8101, 9101, "/tmp/p")); diff != "" {
		t.Errorf("a function's own variables with -profiles (-want +got):\n%s", diff)
	}
}

// TestMetricsTargets: the targets file lists the broker's address
// (job=broker) and every started function's metrics address with
// job=<function>, follows a restart on another port, and goes when the
// stack stops.
func TestMetricsTargets(t *testing.T) {
	s := New(Config{Port: 8080, BrokerPort: 8081, Out: io.Discard, Data: t.TempDir()})
	dir := s.metrics.TargetsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	read := func() []services.TargetGroup {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "functions.json"))
		if err != nil {
			t.Fatal(err)
		}
		var got []services.TargetGroup
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		return got
	}
	s.procs = []*process{{name: "reserve", metricsPort: 9101}, nil, {name: "send-email", metricsPort: 9103}}
	if err := s.writeTargets(); err != nil {
		t.Fatal(err)
	}
	want := []services.TargetGroup{
		{Targets: []string{"127.0.0.1:8081"}, Labels: map[string]string{"job": "broker"}},
		{Targets: []string{"127.0.0.1:9101"}, Labels: map[string]string{"job": "reserve"}},
		{Targets: []string{"127.0.0.1:9103"}, Labels: map[string]string{"job": "send-email"}},
	}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	s.procs[0] = &process{name: "reserve", metricsPort: 9201} // started again
	if err := s.writeTargets(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got[1].Targets[0] != "127.0.0.1:9201" {
		t.Errorf("after a restart: %v", got)
	}
	s.removeTargets()
	if _, err := os.Stat(filepath.Join(dir, "functions.json")); !os.IsNotExist(err) {
		t.Errorf("the targets file after the stop: %v", err)
	}
}
