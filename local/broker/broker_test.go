package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/syncbuf"
)

// fast is a delivery policy for tests: quick retries, a short timeout.
var fast = manifest.Delivery{Retry: 3, BackoffPolicy: "exponential", BackoffDelay: 5 * time.Millisecond, Timeout: 2 * time.Second}

func newEvent(t *testing.T, id, typ, subject string, data any) cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetType(typ)
	ev.SetSource("/sportello/confirm")
	ev.SetSubject(subject)
	ev.SetTime(time.Date(2027, 3, 2, 9, 30, 0, 0, time.UTC))
	ev.SetDataSchema("https://example.org/schemas/" + typ + ".json")
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return ev
}

// subscriber is a function stand-in: it records what it receives and
// answers with answer(attempt, w) (attempt counts from 1 per event id);
// 202 when answer is nil.
type subscriber struct {
	*httptest.Server
	answer func(attempt int, ev *cloudevents.Event, w http.ResponseWriter)

	mu       sync.Mutex
	received []cloudevents.Event
	headers  []http.Header
	attempts map[string]int
}

func newSubscriber(t *testing.T, answer func(int, *cloudevents.Event, http.ResponseWriter)) *subscriber {
	s := &subscriber{answer: answer, attempts: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			t.Errorf("subscriber got %s %s, want POST /", r.Method, r.URL.Path)
		}
		ev, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			t.Errorf("subscriber got no event: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.received = append(s.received, *ev)
		s.headers = append(s.headers, r.Header.Clone())
		s.attempts[ev.ID()]++
		n := s.attempts[ev.ID()]
		s.mu.Unlock()
		if s.answer == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		s.answer(n, ev, w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *subscriber) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.received {
		out = append(out, e.ID())
	}
	return out
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start serves b on a real server and closes both at the end of the test.
func start(t *testing.T, b *Broker) (*httptest.Server, *syncbuf.Buffer) {
	t.Helper()
	log := &syncbuf.Buffer{}
	if b.Log == nil {
		b.Log = slog.New(slog.NewTextHandler(log, nil))
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return srv, log
}

// serveTo serves a broker whose one trigger, named t, delivers to the
// function f that s serves.
func serveTo(t *testing.T, s *subscriber, tr Trigger) (*Broker, *httptest.Server) {
	t.Helper()
	tr.Name, tr.Function = "t", "f"
	b := &Broker{Triggers: []Trigger{tr}}
	srv, _ := start(t, b)
	b.SetSubscriber("f", s.URL)
	return b, srv
}

// send posts ev to the ingress in binary mode with the SDK's client, as the
// outbox relay does.
func send(t *testing.T, ingress string, ev cloudevents.Event) {
	t.Helper()
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	res := c.Send(cloudevents.ContextWithTarget(context.Background(), ingress), ev)
	if !cloudevents.IsACK(res) {
		t.Fatalf("send %s: %v", ev.ID(), res)
	}
}

func TestDeliveryFollowsTheFilters(t *testing.T) {
	confirmed, cancelled := newSubscriber(t, nil), newSubscriber(t, nil)
	b := &Broker{Triggers: []Trigger{
		{Name: "mail-confirmed", Function: "mail", Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: fast},
		{Name: "room-cancelled", Function: "room", Filter: map[string]string{"type": events.BookingCancelled, "source": "/sportello/amend"}, Delivery: fast},
	}}
	srv, _ := start(t, b)
	for fn, s := range map[string]*subscriber{"mail": confirmed, "room": cancelled} {
		if err := b.SetSubscriber(fn, s.URL); err != nil {
			t.Fatal(err)
		}
	}

	ev := newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{"booking_id": "b1"})
	send(t, srv.URL, ev)
	wrongSource := newEvent(t, "e2", events.BookingCancelled, "b1", map[string]string{"booking_id": "b1"}) // from confirm
	send(t, srv.URL, wrongSource)
	right := newEvent(t, "e3", events.BookingCancelled, "b1", map[string]string{"booking_id": "b1"})
	right.SetSource("/sportello/amend")
	send(t, srv.URL, right)
	send(t, srv.URL, newEvent(t, "e4", events.BookingHeld, "b1", map[string]string{})) // nobody's

	eventually(t, "both deliveries", func() bool { return confirmed.count() == 1 && cancelled.count() == 1 })
	time.Sleep(50 * time.Millisecond) // nothing else arrives
	if diff := cmp.Diff([]string{"e1"}, confirmed.ids()); diff != "" {
		t.Errorf("mail got (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"e3"}, cancelled.ids()); diff != "" {
		t.Errorf("room got (-want +got):\n%s", diff)
	}
	// Delivered whole, in binary mode.
	got := confirmed.received[0]
	if got.Type() != ev.Type() || got.Source() != ev.Source() || got.Subject() != "b1" || !got.Time().Equal(ev.Time()) ||
		got.DataSchema() != ev.DataSchema() || string(got.Data()) != string(ev.Data()) {
		t.Errorf("delivered %v, want %v", got, ev)
	}
	if h := confirmed.headers[0]; h.Get("Ce-Id") != "e1" || h.Get("Content-Type") != "application/json" {
		t.Errorf("delivery headers %v: want binary mode", h)
	}
	// Every event is in the log, delivered or not.
	if n := len(b.Events("", "", "")); n != 4 {
		t.Errorf("event log holds %d events, want 4", n)
	}
	if n := len(b.DeadLetters()); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
}

func TestMatches(t *testing.T) {
	ev := newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{})
	ev.SetExtension("office", "urp")
	for _, tc := range []struct {
		filter map[string]string
		want   bool
	}{
		{nil, true},
		{map[string]string{"type": events.BookingConfirmed}, true},
		{map[string]string{"type": events.BookingCancelled}, false},
		{map[string]string{"type": events.BookingConfirmed, "subject": "b1"}, true},
		{map[string]string{"type": events.BookingConfirmed, "subject": "b2"}, false},
		{map[string]string{"type": ""}, true}, // "" matches any, as in Knative
		{map[string]string{"office": "urp"}, true},
		{map[string]string{"office": "sue"}, false},
		{map[string]string{"missing": "x"}, false},
		{map[string]string{"source": "/sportello/confirm", "id": "e1", "specversion": "1.0"}, true},
	} {
		if got := (Trigger{Filter: tc.filter}).Matches(ev); got != tc.want {
			t.Errorf("filter %v: %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestStructuredIngress(t *testing.T) {
	s := newSubscriber(t, nil)
	_, srv := serveTo(t, s, Trigger{Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: fast})

	ev := newEvent(t, "s1", events.BookingConfirmed, "b2", map[string]int{"sequence": 0})
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
	eventually(t, "the delivery", func() bool { return s.count() == 1 })
	if got := s.received[0]; got.ID() != "s1" || string(got.Data()) != `{"sequence":0}` {
		t.Errorf("delivered %v", got)
	}
}

func TestIngressRefusesWhatIsNotAnEvent(t *testing.T) {
	b := &Broker{}
	srv, _ := start(t, b)
	for _, tc := range []struct {
		name, contentType, body string
		header                  map[string]string
	}{
		{"plain JSON", "application/json", `{"hello":"world"}`, nil},
		{"structured without id", "application/cloudevents+json", `{"specversion":"1.0","type":"t","source":"/s"}`, nil},
		{"binary without type", "application/json", `{}`, map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("got %d %s, want 400 problem", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
	if n := len(b.Events("", "", "")); n != 0 {
		t.Errorf("kept %d events, want 0", n)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/events", http.StatusMethodNotAllowed},
		{http.MethodPost, "/dead-letters", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nothing", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	s := newSubscriber(t, func(n int, _ *cloudevents.Event, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	d := manifest.Delivery{Retry: 3, BackoffPolicy: "exponential", BackoffDelay: 10 * time.Millisecond, Timeout: time.Second}
	b, srv := serveTo(t, s, Trigger{Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: d})

	begin := time.Now()
	send(t, srv.URL, newEvent(t, "r1", events.BookingConfirmed, "b1", map[string]string{}))
	eventually(t, "three attempts", func() bool { return s.count() == 3 })
	// Retry 1 waits 10ms·2, retry 2 waits 10ms·4.
	if took := time.Since(begin); took < 60*time.Millisecond {
		t.Errorf("three attempts took %s, want at least the 60ms of backoff", took)
	}
	time.Sleep(100 * time.Millisecond)
	if n := s.count(); n != 3 {
		t.Errorf("%d attempts, want 3 (no more after the success)", n)
	}
	if n := len(b.DeadLetters()); n != 0 {
		t.Errorf("%d dead letters after a success", n)
	}
}

func TestWhichAnswersAreRetried(t *testing.T) {
	for _, tc := range []struct {
		status  int
		retried bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusNotFound, true},
		{http.StatusConflict, true},
		{http.StatusTooManyRequests, true},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusGone, false},
		{http.StatusUnprocessableEntity, false},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			if got := Retryable(tc.status); got != tc.retried {
				t.Errorf("Retryable(%d) = %v, want %v", tc.status, got, tc.retried)
			}
			s := newSubscriber(t, func(n int, _ *cloudevents.Event, w http.ResponseWriter) {
				if n == 1 {
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			})
			b, srv := serveTo(t, s, Trigger{Delivery: fast})
			send(t, srv.URL, newEvent(t, "x", events.BookingConfirmed, "b1", map[string]string{}))
			if tc.retried {
				eventually(t, "the retry", func() bool { return s.count() == 2 })
				if n := len(b.DeadLetters()); n != 0 {
					t.Errorf("%d dead letters after a successful retry", n)
				}
				return
			}
			eventually(t, "the dead letter", func() bool { return len(b.DeadLetters()) == 1 })
			time.Sleep(50 * time.Millisecond)
			if n := s.count(); n != 1 {
				t.Errorf("%d attempts, want 1 (no retry)", n)
			}
			d := b.DeadLetters()[0]
			if d.Reason != "not retryable" || d.LastStatus != tc.status || d.Attempts != 1 || d.Trigger != "t" || d.Event.ID != "x" {
				t.Errorf("dead letter = %+v", d)
			}
		})
	}
}

func TestNoRetryOn400BecomesADeadLetter(t *testing.T) {
	s := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":"invalid","detail":"booking_id: not a UUID"}`)
	})
	b := &Broker{Triggers: []Trigger{{Name: "send-email-booking-confirmed", Function: "send-email", Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: fast}}}
	srv, log := start(t, b)
	b.SetSubscriber("send-email", s.URL)
	send(t, srv.URL, newEvent(t, "bad1", events.BookingConfirmed, "b9", map[string]string{"email": "do-not-log@example.it"}))
	eventually(t, "the dead letter", func() bool { return len(b.DeadLetters()) == 1 })

	resp, err := http.Get(srv.URL + "/dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var listed []DeadLetter
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 {
		t.Fatalf("GET /dead-letters = %+v", listed)
	}
	d := listed[0]
	want := DeadLetter{Trigger: "send-email-booking-confirmed", Subscriber: "send-email", Reason: "not retryable", Attempts: 1,
		LastStatus: 400, LastError: "Bad Request"}
	if diff := cmp.Diff(want, d, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Time" || p.String() == "Event" }, cmp.Ignore())); diff != "" {
		t.Errorf("dead letter (-want +got):\n%s", diff)
	}
	if d.Event.ID != "bad1" || d.Event.Subject != "b9" || d.Time.IsZero() {
		t.Errorf("dead letter event = %+v at %s", d.Event, d.Time)
	}
	// Counted for the metrics store (the stack lists the broker as a target).
	m, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	text, _ := io.ReadAll(m.Body)
	if want := `sportello_broker_dead_letters_total{reason="not retryable",subscriber="send-email",trigger="send-email-booking-confirmed"} 1`; !strings.Contains(string(text), want) {
		t.Errorf("GET /metrics lacks %s:\n%s", want, text)
	}
	line := log.String()
	for _, want := range []string{"dead letter", "id=bad1", "type=" + events.BookingConfirmed, "source=/sportello/confirm", "subject=b9",
		"trigger=send-email-booking-confirmed", "last_status=400"} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "do-not-log") || strings.Contains(line, "not a UUID") {
		t.Errorf("the log carries the event's data or the answer's body:\n%s", line)
	}
}

func TestRetriesExhaustedBecomeADeadLetter(t *testing.T) {
	s := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	d := manifest.Delivery{Retry: 2, BackoffPolicy: "linear", BackoffDelay: 5 * time.Millisecond, Timeout: time.Second}
	b, srv := serveTo(t, s, Trigger{Delivery: d})
	send(t, srv.URL, newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{}))
	eventually(t, "the dead letter", func() bool { return len(b.DeadLetters()) == 1 })
	if n := s.count(); n != 3 {
		t.Errorf("%d attempts, want 1 + Retry = 3", n)
	}
	if dl := b.DeadLetters()[0]; dl.Reason != "retries exhausted" || dl.Attempts != 3 || dl.LastStatus != 500 {
		t.Errorf("dead letter = %+v", dl)
	}
}

func TestTimeoutsAndNetworkErrorsAreRetried(t *testing.T) {
	release := make(chan struct{})
	slow := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) {
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	defer close(release)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused from now on

	d := manifest.Delivery{Retry: 1, BackoffPolicy: "exponential", BackoffDelay: time.Millisecond, Timeout: 50 * time.Millisecond}
	b := &Broker{Triggers: []Trigger{
		{Name: "slow", Function: "slow", Delivery: d},
		{Name: "gone", Function: "gone", Delivery: d},
		{Name: "absent", Function: "absent", Delivery: d}, // never given a URL
	}}
	srv, _ := start(t, b)
	b.SetSubscriber("slow", slow.URL)
	b.SetSubscriber("gone", gone.URL)
	send(t, srv.URL, newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{}))
	eventually(t, "three dead letters", func() bool { return len(b.DeadLetters()) == 3 })
	for _, dl := range b.DeadLetters() {
		if dl.Reason != "retries exhausted" || dl.Attempts != 2 || dl.LastStatus != 0 || dl.LastError == "" {
			t.Errorf("dead letter = %+v", dl)
		}
		if dl.Trigger == "slow" && !strings.Contains(dl.LastError, "no answer within 50ms") {
			t.Errorf("slow: last error %q", dl.LastError)
		}
		if dl.Trigger == "absent" && !strings.Contains(dl.LastError, "not running") {
			t.Errorf("absent: last error %q", dl.LastError)
		}
	}
	if n := slow.count(); n != 2 {
		t.Errorf("slow got %d attempts, want 2", n)
	}
}

func TestSubscriberStartingLateStillGetsTheEvent(t *testing.T) {
	s := newSubscriber(t, nil)
	d := manifest.Delivery{Retry: 5, BackoffPolicy: "linear", BackoffDelay: 20 * time.Millisecond, Timeout: time.Second}
	b := &Broker{Triggers: []Trigger{{Name: "t", Function: "f", Delivery: d}}}
	srv, _ := start(t, b)
	send(t, srv.URL, newEvent(t, "early", events.BookingConfirmed, "b1", map[string]string{}))
	time.Sleep(30 * time.Millisecond)
	b.SetSubscriber("f", s.URL)
	eventually(t, "the late delivery", func() bool { return s.count() == 1 })
}

func TestRepliesAreIngested(t *testing.T) {
	for _, mode := range []string{"binary", "structured"} {
		t.Run(mode, func(t *testing.T) {
			replier := newSubscriber(t, func(_ int, in *cloudevents.Event, w http.ResponseWriter) {
				out := newEvent(t, "reply-to-"+in.ID(), events.RoomProvisioned, in.Subject(), map[string]string{"room": in.Subject()})
				out.SetSource("/sportello/provision-room")
				if mode == "structured" {
					w.Header().Set("Content-Type", "application/cloudevents+json")
					w.WriteHeader(http.StatusOK)
					json.NewEncoder(w).Encode(out)
					return
				}
				w.Header().Set("Ce-Specversion", "1.0")
				w.Header().Set("Ce-Id", out.ID())
				w.Header().Set("Ce-Type", out.Type())
				w.Header().Set("Ce-Source", out.Source())
				w.Header().Set("Ce-Subject", out.Subject())
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				w.Write(out.Data())
			})
			downstream := newSubscriber(t, nil)
			b := &Broker{Triggers: []Trigger{
				{Name: "provision", Function: "provision-room", Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: fast},
				{Name: "notify", Function: "notify", Filter: map[string]string{"type": events.RoomProvisioned}, Delivery: fast},
			}}
			srv, _ := start(t, b)
			b.SetSubscriber("provision-room", replier.URL)
			b.SetSubscriber("notify", downstream.URL)
			send(t, srv.URL, newEvent(t, "c1", events.BookingConfirmed, "b7", map[string]string{}))
			eventually(t, "the reply's delivery", func() bool { return downstream.count() == 1 })
			got := downstream.received[0]
			if got.ID() != "reply-to-c1" || got.Type() != events.RoomProvisioned || got.Subject() != "b7" || string(got.Data()) != `{"room":"b7"}` {
				t.Errorf("reply delivered as %v", got)
			}
			if evs := b.Events(events.RoomProvisioned, "", ""); len(evs) != 1 || evs[0].Source != "/sportello/provision-room" {
				t.Errorf("event log: %+v", evs)
			}
		})
	}
}

func TestAnInvalidReplyIsADeadLetter(t *testing.T) {
	s := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) {
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Ce-Id", "r") // no type, no source
		w.WriteHeader(http.StatusOK)
	})
	b, srv := serveTo(t, s, Trigger{Delivery: fast})
	send(t, srv.URL, newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{}))
	eventually(t, "the dead letter", func() bool { return len(b.DeadLetters()) == 1 })
	if d := b.DeadLetters()[0]; d.Reason != "invalid reply" || d.LastStatus != 200 || s.count() != 1 {
		t.Errorf("dead letter = %+v after %d attempts", d, s.count())
	}
}

func TestReplyLoopIsCut(t *testing.T) {
	// A subscriber that answers every event with a new event of the same
	// type would feed itself for ever.
	var mu sync.Mutex
	n := 0
	s := newSubscriber(t, func(_ int, in *cloudevents.Event, w http.ResponseWriter) {
		mu.Lock()
		n++
		id := "loop-" + strings.Repeat("x", n)
		mu.Unlock()
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Ce-Id", id)
		w.Header().Set("Ce-Type", in.Type())
		w.Header().Set("Ce-Source", "/loop")
		w.WriteHeader(http.StatusOK)
	})
	b, srv := serveTo(t, s, Trigger{Delivery: fast})
	send(t, srv.URL, newEvent(t, "seed", events.BookingConfirmed, "b1", map[string]string{}))
	eventually(t, "the loop's dead letter", func() bool { return len(b.DeadLetters()) == 1 })
	if d := b.DeadLetters()[0]; !strings.Contains(d.Reason, "reply loop") {
		t.Errorf("dead letter = %+v", d)
	}
	if got := s.count(); got != MaxHops+1 {
		t.Errorf("%d deliveries, want %d", got, MaxHops+1)
	}
}

func TestDeliveriesDoNotHoldUpTheIngress(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most := 0, 0
	s := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	b := &Broker{MaxInFlight: 4, Triggers: []Trigger{{Name: "t", Function: "f", Delivery: manifest.Delivery{Timeout: 10 * time.Second}}}}
	srv, _ := start(t, b)
	b.SetSubscriber("f", s.URL)
	begin := time.Now()
	for i := range 10 {
		send(t, srv.URL, newEvent(t, "c"+string(rune('a'+i)), events.BookingConfirmed, "b1", map[string]string{}))
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("ten events took %s to be accepted while the subscriber hangs", took)
	}
	eventually(t, "four deliveries in flight", func() bool { mu.Lock(); defer mu.Unlock(); return inFlight == 4 })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if most != 4 {
		t.Errorf("at most %d deliveries in flight, want MaxInFlight = 4", most)
	}
	mu.Unlock()
	close(release)
	eventually(t, "every delivery", func() bool { return s.count() == 10 })
}

func TestCloseAbandonsPendingRetries(t *testing.T) {
	s := newSubscriber(t, func(_ int, _ *cloudevents.Event, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	d := manifest.Delivery{Retry: 5, BackoffPolicy: "exponential", BackoffDelay: time.Hour, Timeout: time.Second}
	log := &syncbuf.Buffer{}
	state := filepath.Join(t.TempDir(), "pending.json")
	triggers := []Trigger{{Name: "t", Function: "f", Delivery: d}, {Name: "u", Function: "f", Filter: map[string]string{"type": "other"}, Delivery: d}}
	b := &Broker{Log: slog.New(slog.NewTextHandler(log, nil)), StateFile: state, Triggers: triggers}
	srv := httptest.NewServer(b)
	defer srv.Close()
	b.SetSubscriber("f", s.URL)
	send(t, srv.URL, newEvent(t, "e1", events.BookingConfirmed, "b1", map[string]string{"booking_id": "b1"}))
	eventually(t, "the first attempt", func() bool { return s.count() == 1 })

	done := make(chan error)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for an hour-long backoff")
	}
	if !strings.Contains(log.String(), "delivery abandoned") || !strings.Contains(log.String(), "id=e1") {
		t.Errorf("log lacks the abandoned delivery:\n%s", log)
	}
	if err := b.Publish(newEvent(t, "e2", events.BookingConfirmed, "b1", map[string]string{})); err != ErrClosed {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	resp, err := http.Post(srv.URL, "application/cloudevents+json", strings.NewReader(`{"specversion":"1.0","id":"e3","type":"t","source":"/s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("ingress after Close: %d, want 503", resp.StatusCode)
	}

	// The next broker on the same state file delivers it again, once.
	ok := newSubscriber(t, nil)
	next := &Broker{StateFile: state, Triggers: triggers}
	defer next.Close()
	next.SetSubscriber("f", ok.URL)
	n, err := next.Resume()
	if err != nil || n != 1 {
		t.Fatalf("Resume = %d, %v; want 1", n, err)
	}
	eventually(t, "the resumed delivery", func() bool { return ok.count() == 1 })
	if got := ok.received[0]; got.ID() != "e1" || string(got.Data()) != `{"booking_id":"b1"}` {
		t.Errorf("resumed %v", got)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after Resume: %v", err)
	}
	if n, err := next.Resume(); n != 0 || err != nil {
		t.Errorf("second Resume = %d, %v; want nothing", n, err)
	}
}

func TestBackoff(t *testing.T) {
	exp := manifest.Delivery{BackoffPolicy: "exponential", BackoffDelay: time.Second}
	lin := manifest.Delivery{BackoffPolicy: "linear", BackoffDelay: 5 * time.Second}
	for _, tc := range []struct {
		d     manifest.Delivery
		scale float64
		n     int
		want  time.Duration
	}{
		{exp, 0, 1, 2 * time.Second}, // Knative: delay·2^n
		{exp, 0, 2, 4 * time.Second},
		{exp, 0, 8, 256 * time.Second},
		{lin, 0, 1, 5 * time.Second}, // Knative: delay·n
		{lin, 0, 3, 15 * time.Second},
		{exp, 0.001, 3, 8 * time.Millisecond},
		{lin, 0.5, 2, 5 * time.Second},
	} {
		if got := (&Broker{BackoffScale: tc.scale}).Backoff(tc.d, tc.n); got != tc.want {
			t.Errorf("%s %s, scale %g, retry %d: %s, want %s", tc.d.BackoffPolicy, tc.d.BackoffDelay, tc.scale, tc.n, got, tc.want)
		}
	}
}

func TestEventLogFiltersAndBound(t *testing.T) {
	b := &Broker{Keep: 3}
	srv, _ := start(t, b)
	send(t, srv.URL, newEvent(t, "1", "held", "a", map[string]string{"id": "1"}))
	send(t, srv.URL, newEvent(t, "2", "held", "b", map[string]string{"id": "2"}))
	send(t, srv.URL, newEvent(t, "3", "confirmed", "a", map[string]string{"id": "3"}))
	send(t, srv.URL, newEvent(t, "4", "cancelled", "a", map[string]string{"id": "4"}))

	list := func(query string) string {
		resp, err := http.Get(srv.URL + "/events" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET /events%s: headers %v", query, resp.Header)
		}
		var evs []Event
		if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
			t.Fatal(err)
		}
		if evs == nil {
			t.Errorf("GET /events%s: null, want a list", query)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return strings.Join(ids, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"", "2,3,4"}, // the oldest was dropped
		{"?subject=a", "3,4"},
		{"?type=held", "2"},
		{"?type=held&subject=a", ""},
		{"?source=/sportello/confirm", "2,3,4"},
		{"?source=/sportello/amend", ""},
	} {
		if got := list(tc.query); got != tc.want {
			t.Errorf("GET /events%s = %q, want %q", tc.query, got, tc.want)
		}
	}
	// The gateway's mount takes events too, as the old sink did.
	h := b.EventsHandler()
	body, _ := json.Marshal(newEvent(t, "5", "held", "c", map[string]string{}))
	req := httptest.NewRequest(http.MethodPost, "/_local/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || list("?subject=c") != "5" {
		t.Errorf("POST through EventsHandler: %d", rec.Code)
	}
}

func TestManifestTriggers(t *testing.T) {
	got := ManifestTriggers()
	if len(got) != len(manifest.Triggers()) || len(got) == 0 {
		t.Fatalf("%d triggers, want the manifest's %d", len(got), len(manifest.Triggers()))
	}
	names := map[string]bool{}
	for _, tr := range got {
		if names[tr.Name] {
			t.Errorf("trigger name %s twice", tr.Name)
		}
		names[tr.Name] = true
		if tr.Function == "" || tr.Filter["type"] == "" || tr.Delivery.Retry == 0 || tr.Delivery.Timeout == 0 {
			t.Errorf("trigger %+v", tr)
		}
	}
	// A confirmed booking reaches its consumers, each once.
	ev := newEvent(t, "m1", events.BookingConfirmed, "b1", map[string]string{})
	var consumers []string
	for _, tr := range got {
		if tr.Matches(ev) {
			consumers = append(consumers, tr.Function)
		}
	}
	var want []string
	for _, f := range manifest.Functions {
		for _, tr := range f.Consumes {
			if tr.Filter["type"] == events.BookingConfirmed {
				want = append(want, f.Name)
			}
		}
	}
	slices.Sort(consumers)
	slices.Sort(want)
	if diff := cmp.Diff(want, consumers); diff != "" {
		t.Errorf("consumers of booking.confirmed (-want +got):\n%s", diff)
	}
}

func TestTriggersList(t *testing.T) {
	b := &Broker{Triggers: []Trigger{{Name: "t", Function: "f", Filter: map[string]string{"type": "x"}, Delivery: manifest.MailDelivery}}}
	srv, _ := start(t, b)
	b.SetSubscriber("f", "http://127.0.0.1:9/")
	if err := b.SetSubscriber("g", "not a url"); err == nil {
		t.Error("SetSubscriber took a relative URL")
	}
	resp, err := http.Get(srv.URL + "/triggers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"name": "t", "function": "f", "filter": map[string]any{"type": "x"}, "subscriber": "http://127.0.0.1:9/",
		"retry": float64(8), "backoff_policy": "exponential", "backoff_delay": "1s", "timeout": "30s"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /triggers (-want +got):\n%s", diff)
	}
}

// TestTraceHeadersPassUnchanged: the W3C trace context of the request that
// brought an event (traceparent, tracestate) and every ce-* header, the
// CloudEvents distributed-tracing extension among them, reach the
// subscriber as they came, on a retry too.
func TestTraceHeadersPassUnchanged(t *testing.T) {
	s := newSubscriber(t, func(n int, _ *cloudevents.Event, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	_, srv := serveTo(t, s, Trigger{Filter: map[string]string{"type": events.BookingConfirmed}, Delivery: fast})
	in := http.Header{
		"Ce-Specversion":      {"1.0"},
		"Ce-Id":               {"e1"},
		"Ce-Type":             {events.BookingConfirmed},
		"Ce-Source":           {"/sportello/confirm"},
		"Ce-Subject":          {"b1"},
		"Ce-Time":             {"2027-03-02T09:30:00Z"},
		"Ce-Traceparent":      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"Ce-Tracestate":       {"sportello=confirm,vendor=x"},
		"Ce-Partitionkey":     {"b1"},
		"Content-Type":        {"application/json"},
		"Traceparent":         {"00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"},
		"Tracestate":          {"sportello=relay"},
		"X-Not-Forwarded-Hdr": {"x"},
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"booking_id":"b1"}`))
	req.Header = in.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingress: %s", resp.Status)
	}
	eventually(t, "the second attempt", func() bool { return s.count() == 2 })
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, got := range s.headers {
		for k, v := range in {
			if !strings.HasPrefix(k, "Ce-") && k != "Traceparent" && k != "Tracestate" {
				continue
			}
			if !slices.Equal(got.Values(k), v) {
				t.Errorf("attempt %d: %s = %q, want %q", i+1, k, got.Values(k), v)
			}
		}
		for k := range got {
			if strings.HasPrefix(k, "Ce-") && in.Get(k) == "" {
				t.Errorf("attempt %d: %s added", i+1, k)
			}
		}
	}
}

func TestRingKeepsTheLast(t *testing.T) {
	for n := 0; n <= 8; n++ {
		var r ring[int]
		var want []int
		for i := 1; i <= n; i++ {
			r.add(i, 3)
			want = append(want, i)
		}
		want = want[max(0, len(want)-3):]
		if got := r.all(); !slices.Equal(got, want) {
			t.Errorf("after %d added: %v, want %v", n, got, want)
		}
	}
}
