package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

func newEvent(t *testing.T, id, typ, subject string, data any) cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetType(typ)
	ev.SetSource("/sportello/reserve")
	ev.SetSubject(subject)
	ev.SetTime(time.Date(2027, 3, 2, 9, 30, 0, 0, time.UTC))
	ev.SetDataSchema("https://example.org/schemas/" + typ + ".json")
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return ev
}

func listEvents(t *testing.T, url string) []Event {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var evs []Event
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSinkBinaryMode(t *testing.T) {
	var log bytes.Buffer
	sink := &Sink{Log: slog.New(slog.NewTextHandler(&log, nil))}
	srv := httptest.NewServer(sink)
	defer srv.Close()

	// The way the outbox relay sends: the SDK's HTTP client, binary mode.
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvent(t, "e1", "io.github.sportello.booking.held.v1", "b1", map[string]string{"booking_id": "b1", "secret": "do-not-log"})
	if res := c.Send(cloudevents.ContextWithTarget(context.Background(), srv.URL), ev); !cloudevents.IsACK(res) {
		t.Fatalf("send: %v", res)
	}
	evs := listEvents(t, srv.URL)
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	got := evs[0]
	if got.ID != "e1" || got.Type != ev.Type() || got.Source != "/sportello/reserve" || got.Subject != "b1" ||
		got.DataSchema != ev.DataSchema() || got.Time == nil || !got.Time.Equal(ev.Time()) {
		t.Errorf("event = %+v", got)
	}
	var data map[string]string
	if err := json.Unmarshal(got.Data, &data); err != nil || data["booking_id"] != "b1" {
		t.Errorf("data = %s (%v)", got.Data, err)
	}
	if line := log.String(); !strings.Contains(line, "id=e1") || !strings.Contains(line, "subject=b1") || strings.Contains(line, "do-not-log") {
		t.Errorf("log line %q: want id and subject, never the data", line)
	}
}

func TestSinkStructuredMode(t *testing.T) {
	sink := &Sink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()

	ev := newEvent(t, "e2", "io.github.sportello.booking.confirmed.v1", "b2", map[string]int{"sequence": 0})
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL, "application/cloudevents+json; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST structured: %d, want 202", resp.StatusCode)
	}
	evs := listEvents(t, srv.URL)
	var data bytes.Buffer
	if len(evs) == 1 {
		_ = json.Compact(&data, evs[0].Data)
	}
	if len(evs) != 1 || evs[0].ID != "e2" || evs[0].Subject != "b2" || data.String() != `{"sequence":0}` {
		t.Errorf("events = %+v", evs)
	}
}

func TestSinkRefusesWhatIsNotAnEvent(t *testing.T) {
	sink := &Sink{}
	for _, tc := range []struct {
		name, contentType, body string
		header                  map[string]string
	}{
		{"plain JSON", "application/json", `{"hello":"world"}`, nil},
		{"structured without id", "application/cloudevents+json", `{"specversion":"1.0","type":"t","source":"/s"}`, nil},
		{"binary without type", "application/json", `{}`, map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/_local/events", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			sink.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("got %d %s, want 400 problem", rec.Code, rec.Header().Get("Content-Type"))
			}
		})
	}
	if n := len(sink.Events("", "", "")); n != 0 {
		t.Errorf("kept %d events, want 0", n)
	}
	rec := httptest.NewRecorder()
	sink.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/_local/events", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d, want 405", rec.Code)
	}
}

func TestSinkFiltersAndBound(t *testing.T) {
	sink := &Sink{Size: 3}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	send := func(id, typ, subject string) {
		t.Helper()
		ev := newEvent(t, id, typ, subject, map[string]string{"id": id})
		if res := c.Send(cloudevents.ContextWithTarget(context.Background(), srv.URL), ev); !cloudevents.IsACK(res) {
			t.Fatalf("send %s: %v", id, res)
		}
	}
	send("1", "held", "a")
	send("2", "held", "b")
	send("3", "confirmed", "a")
	send("4", "cancelled", "a")

	ids := func(evs []Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"", "2,3,4"}, // the oldest was dropped
		{"?subject=a", "3,4"},
		{"?type=held", "2"},
		{"?type=held&subject=a", ""},
		{"?subject=a&type=cancelled", "4"},
		{"?source=/sportello/reserve", "2,3,4"},
		{"?source=/sportello/amend", ""},
	} {
		if got := ids(listEvents(t, srv.URL+tc.query)); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.query, got, tc.want)
		}
	}
	// An empty answer is an empty array, not null.
	resp, err := http.Get(srv.URL + "?type=none")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("empty list = %q, want []", body)
	}
}
