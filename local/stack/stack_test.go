package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
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
	if _, body := get("/"); !strings.Contains(body, `href="http://127.0.0.1:8025/"`) || !strings.Contains(body, `href="/_local/dead-letters"`) {
		t.Errorf("index lacks the local tools:\n%s", body)
	}
}
