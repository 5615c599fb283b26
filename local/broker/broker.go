// Package broker is the local stack's event broker: a single-process
// stand-in for a Knative Broker with its Triggers, honouring the Knative
// Broker data-plane contract for the single-machine mode (in a cluster,
// Knative Eventing does this).
//
//   - Ingress: POST / accepts one CloudEvent in binary or structured HTTP
//     mode and answers 202 Accepted; what is not a valid event gets 400. The
//     functions' K_SINK points here.
//   - Triggers (from package manifest, the one declaration of the event
//     wiring) select events by exact match of their attributes and deliver
//     each to their function's "/" in binary mode, concurrently, without
//     holding up the ingress.
//   - Delivery follows the trigger's delivery spec: a timeout per attempt,
//     Retry attempts after the first, with exponential (delay·2^n) or linear
//     (delay·n) backoff before the n-th retry. Network errors, timeouts, 5xx,
//     429, 404 and 409 are retried; any other answer outside 2xx is final.
//   - A 2xx answer that carries a CloudEvent is a reply: it is ingested like
//     any other event.
//   - An event whose retries run out, or that gets a final failure, becomes
//     a dead letter: logged (id, type, source, subject, trigger and last
//     status, never the data) and listed at GET /dead-letters.
//
// GET /events lists the events ingested lately (the local stack's event
// log), GET /triggers the triggers and where they deliver. The broker keeps
// everything in memory; deliveries still pending when it stops can be saved
// to a file and resumed by the next run (StateFile, Resume).
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/sportello/sportello/functions/manifest"
)

// Defaults.
const (
	DefaultKeep        = 1000             // events and dead letters kept for the lists
	DefaultMaxInFlight = 64               // concurrent attempts per trigger
	DefaultTimeout     = 30 * time.Second // per attempt, when a trigger sets none
	MaxHops            = 32               // replies to replies before the broker calls it a loop
	maxEventBytes      = 1 << 20
)

// Trigger is one subscription: events whose attributes match Filter go to
// the function Function with the Delivery policy.
type Trigger struct {
	Name     string            `json:"name"`
	Function string            `json:"function"`
	Filter   map[string]string `json:"filter"` // attribute (or extension) name → exact value; "" matches any
	Delivery manifest.Delivery `json:"-"`
}

// ManifestTriggers are the triggers that manifest declares.
func ManifestTriggers() []Trigger {
	var out []Trigger
	for _, t := range manifest.Triggers() {
		out = append(out, Trigger{Name: t.Name, Function: t.Function, Filter: t.Filter, Delivery: t.Delivery})
	}
	return out
}

// Matches reports whether ev passes the trigger's filter.
func (t Trigger) Matches(ev cloudevents.Event) bool {
	for k, want := range t.Filter {
		if want == "" {
			continue
		}
		if got, ok := attribute(ev, k); !ok || got != want {
			return false
		}
	}
	return true
}

// attribute is the string value of a context attribute or extension.
func attribute(ev cloudevents.Event, name string) (string, bool) {
	switch strings.ToLower(name) {
	case "specversion":
		return ev.SpecVersion(), true
	case "id":
		return ev.ID(), true
	case "type":
		return ev.Type(), true
	case "source":
		return ev.Source(), true
	case "subject":
		return ev.Subject(), ev.Subject() != ""
	case "datacontenttype":
		return ev.DataContentType(), ev.DataContentType() != ""
	case "dataschema":
		return ev.DataSchema(), ev.DataSchema() != ""
	case "time":
		if ev.Time().IsZero() {
			return "", false
		}
		return ev.Time().UTC().Format(time.RFC3339Nano), true
	}
	v, ok := ev.Extensions()[strings.ToLower(name)]
	if !ok {
		return "", false
	}
	return fmt.Sprint(v), true
}

// Broker routes events from its ingress to its triggers' subscribers. Set
// the fields before the first use; SetSubscriber may be called any time.
type Broker struct {
	Triggers     []Trigger
	Log          *slog.Logger // nil: no log
	BackoffScale float64      // multiplies every backoff delay (tests use a small one); 1 when 0
	MaxInFlight  int          // concurrent attempts per trigger; DefaultMaxInFlight when 0
	Keep         int          // events and dead letters kept for the lists; DefaultKeep when 0
	Client       *http.Client // for deliveries; a plain client when nil (the timeout is per attempt)
	StateFile    string       // where Close saves the deliveries it abandons, for Resume; "" loses them

	once        sync.Once
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	mux         *http.ServeMux
	sem         map[string]chan struct{} // per trigger name
	mu          sync.Mutex
	closed      bool
	subscribers map[string]*url.URL // function name → its URL
	events      []Event
	dead        []DeadLetter
	abandoned   []Pending
}

// Pending is a delivery the broker abandoned when it stopped, as saved in
// StateFile.
type Pending struct {
	Trigger string            `json:"trigger"`
	Event   cloudevents.Event `json:"event"`
}

func (b *Broker) init() {
	b.once.Do(func() {
		b.ctx, b.cancel = context.WithCancel(context.Background())
		if b.Log == nil {
			b.Log = slog.New(slog.DiscardHandler)
		}
		if b.Client == nil {
			// Connections kept open to each subscriber, up to the
			// deliveries in flight (Go's default keeps two a host).
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
			b.Client = &http.Client{Transport: t}
		}
		n := b.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		b.sem = map[string]chan struct{}{}
		for _, t := range b.Triggers {
			b.sem[t.Name] = make(chan struct{}, n)
		}
		b.subscribers = map[string]*url.URL{}
		mux := http.NewServeMux()
		mux.HandleFunc("/{$}", b.ingress)
		mux.Handle("/events", http.HandlerFunc(b.listEvents))
		mux.Handle("/dead-letters", http.HandlerFunc(b.listDeadLetters))
		mux.Handle("GET /triggers", http.HandlerFunc(b.listTriggers))
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotFound, "not_found", "the broker serves POST / (ingress), GET /events, GET /dead-letters and GET /triggers")
		})
		b.mux = mux
	})
}

// SetSubscriber sets where the triggers of function deliver: POST to u.
// Until it is set, deliveries to that function fail and are retried.
func (b *Broker) SetSubscriber(function, u string) error {
	b.init()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" || parsed.Host == "" {
		return fmt.Errorf("broker: subscriber %q of %s is not an absolute URL", u, function)
	}
	b.mu.Lock()
	b.subscribers[function] = parsed
	b.mu.Unlock()
	return nil
}

func (b *Broker) subscriber(function string) *url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subscribers[function]
}

func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.init()
	b.mux.ServeHTTP(w, r)
}

// EventsHandler serves the event log (GET) and takes events (POST), for a
// gateway to mount elsewhere, as the local stack's /_local/events.
func (b *Broker) EventsHandler() http.Handler {
	b.init()
	return http.HandlerFunc(b.listEvents)
}

// DeadLettersHandler serves the dead letters, for a gateway to mount
// elsewhere.
func (b *Broker) DeadLettersHandler() http.Handler {
	b.init()
	return http.HandlerFunc(b.listDeadLetters)
}

func (b *Broker) ingress(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST a CloudEvent here")
		return
	}
	b.receive(w, r)
}

func (b *Broker) receive(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
	ev, err := cloudevents.NewEventFromHTTPRequest(r)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid", "not a CloudEvent in binary or structured HTTP mode: "+err.Error())
		return
	}
	if err := b.Publish(*ev); err != nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// ErrClosed is what Publish answers once Close has been called.
var ErrClosed = errors.New("broker: stopped")

// Publish ingests ev as the ingress does: it is logged, kept for the event
// log and handed to every matching trigger.
func (b *Broker) Publish(ev cloudevents.Event) error {
	b.init()
	if err := ev.Validate(); err != nil {
		return err
	}
	return b.ingest(ev, 0)
}

// ingest routes ev, which arrived through hops replies.
func (b *Broker) ingest(ev cloudevents.Event, hops int) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.events = keep(b.events, fromCloudEvent(ev), b.keep())
	// Add under the lock that Close takes: no delivery starts after Wait.
	var matched []Trigger
	for _, t := range b.Triggers {
		if t.Matches(ev) {
			matched = append(matched, t)
		}
	}
	b.wg.Add(len(matched))
	b.mu.Unlock()
	b.Log.Info("event", "id", ev.ID(), "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(), "triggers", len(matched))
	for _, t := range matched {
		go func() {
			defer b.wg.Done()
			b.deliver(t, ev, hops)
		}()
	}
	return nil
}

func (b *Broker) keep() int {
	if b.Keep > 0 {
		return b.Keep
	}
	return DefaultKeep
}

func keep[T any](list []T, x T, size int) []T {
	if len(list) >= size {
		list = append(list[:0:0], list[len(list)-size+1:]...)
	}
	return append(list, x)
}

// Close stops taking events and abandons the deliveries still waiting for
// a retry or in flight, then waits for them to end. The abandoned ones are
// logged and, with a StateFile, saved there for Resume: the consumers
// tolerate a second delivery, so the next run delivers them again.
func (b *Broker) Close() error {
	b.init()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	if b.StateFile == "" || len(b.abandoned) == 0 {
		return nil
	}
	data, err := json.Marshal(b.abandoned)
	if err == nil {
		err = os.WriteFile(b.StateFile, data, 0o600)
	}
	if err != nil {
		return fmt.Errorf("broker: save %d pending deliveries: %w", len(b.abandoned), err)
	}
	b.Log.Info("pending deliveries saved for the next start", "count", len(b.abandoned), "file", b.StateFile)
	return nil
}

// Resume delivers again what the last Close saved in StateFile, afresh
// (the full retry budget), and removes the file. It returns how many
// deliveries it resumed.
func (b *Broker) Resume() (int, error) {
	b.init()
	if b.StateFile == "" {
		return 0, nil
	}
	data, err := os.ReadFile(b.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var pending []Pending
	if err := json.Unmarshal(data, &pending); err != nil {
		return 0, fmt.Errorf("broker: %s: %w", b.StateFile, err)
	}
	triggers := map[string]Trigger{}
	for _, t := range b.Triggers {
		triggers[t.Name] = t
	}
	n := 0
	for _, p := range pending {
		t, ok := triggers[p.Trigger]
		if !ok {
			b.Log.Warn("pending delivery dropped: no such trigger any more", "id", p.Event.ID(), "type", p.Event.Type(), "trigger", p.Trigger)
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return n, ErrClosed
		}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.deliver(t, p.Event, 0)
		}()
		n++
	}
	if err := os.Remove(b.StateFile); err != nil {
		return n, err
	}
	if n > 0 {
		b.Log.Info("resumed the deliveries pending at the last stop", "count", n)
	}
	return n, nil
}

// Backoff is the wait before retry n (1 for the first retry) under d,
// scaled by BackoffScale.
func (b *Broker) Backoff(d manifest.Delivery, n int) time.Duration {
	var delay time.Duration
	if d.BackoffPolicy == "linear" {
		delay = d.BackoffDelay * time.Duration(n)
	} else { // exponential, Knative's default
		delay = time.Duration(float64(d.BackoffDelay) * math.Exp2(float64(n)))
	}
	if b.BackoffScale > 0 {
		delay = time.Duration(float64(delay) * b.BackoffScale)
	}
	return delay
}

// Retryable reports whether a delivery that got status (0: no answer) is
// tried again.
func Retryable(status int) bool {
	switch {
	case status == 0, status >= 500:
		return true
	case status == http.StatusNotFound, status == http.StatusConflict, status == http.StatusTooManyRequests:
		return true
	}
	return false
}

// outcome is the result of one attempt.
type outcome struct {
	status int                // 0 when no HTTP answer came
	err    error              // the network error, when status is 0
	reply  *cloudevents.Event // a CloudEvent in a 2xx answer
	bad    error              // a 2xx answer whose event is invalid
}

// deliver sends ev to t's subscriber until it succeeds, fails for good or
// runs out of retries.
func (b *Broker) deliver(t Trigger, ev cloudevents.Event, hops int) {
	attempts := 1 + max(t.Delivery.Retry, 0)
	var last outcome
	for n := 0; n < attempts; n++ {
		if n > 0 {
			wait := time.NewTimer(b.Backoff(t.Delivery, n))
			select {
			case <-wait.C:
			case <-b.ctx.Done():
				wait.Stop()
				b.abandon(t, ev, n, last)
				return
			}
		}
		last = b.attempt(t, ev)
		switch {
		case last.status >= 200 && last.status < 300:
			if last.bad != nil {
				b.deadLetter(t, ev, n+1, last, "invalid reply")
				return
			}
			b.Log.Info("delivered", "id", ev.ID(), "type", ev.Type(), "trigger", t.Name, "status", last.status, "attempts", n+1)
			if last.reply != nil {
				b.reply(t, ev, *last.reply, hops)
			}
			return
		case b.ctx.Err() != nil:
			b.abandon(t, ev, n+1, last)
			return
		case !Retryable(last.status):
			b.deadLetter(t, ev, n+1, last, "not retryable")
			return
		}
		b.Log.Warn("delivery failed", "id", ev.ID(), "type", ev.Type(), "trigger", t.Name, "status", last.status,
			"error", errString(last.err), "attempt", n+1, "of", attempts)
	}
	b.deadLetter(t, ev, attempts, last, "retries exhausted")
}

// reply ingests the event a subscriber answered with.
func (b *Broker) reply(t Trigger, ev, reply cloudevents.Event, hops int) {
	if hops+1 > MaxHops {
		b.deadLetter(t, reply, 1, outcome{}, fmt.Sprintf("reply loop: more than %d replies in a row", MaxHops))
		return
	}
	b.Log.Info("reply", "to", ev.ID(), "id", reply.ID(), "type", reply.Type(), "trigger", t.Name)
	if err := b.ingest(reply, hops+1); err != nil {
		b.Log.Warn("reply lost: the broker is stopping", "id", reply.ID(), "type", reply.Type(), "trigger", t.Name)
	}
}

// attempt makes one delivery of ev to t's subscriber.
func (b *Broker) attempt(t Trigger, ev cloudevents.Event) outcome {
	u := b.subscriber(t.Function)
	if u == nil {
		return outcome{err: fmt.Errorf("%s is not running", t.Function)}
	}
	sem := b.sem[t.Name]
	if sem == nil { // a trigger added after the first use
		sem = make(chan struct{}, 1)
	}
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-b.ctx.Done():
		return outcome{err: b.ctx.Err()}
	}
	timeout := t.Delivery.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return outcome{err: err}
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Prefer", "reply")
	resp, err := b.Client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && b.ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return outcome{err: err}
	}
	defer resp.Body.Close()
	out := outcome{status: resp.StatusCode}
	if out.status < 200 || out.status >= 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxEventBytes))
		return out
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxEventBytes)
	msg := cehttp.NewMessageFromHttpResponse(resp)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		_, _ = io.Copy(io.Discard, resp.Body)
		return out
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		out.bad = err
		return out
	}
	out.reply = reply
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// DeadLetter is an event that could not be delivered to a trigger.
type DeadLetter struct {
	Time       time.Time `json:"time"`
	Trigger    string    `json:"trigger"`
	Subscriber string    `json:"subscriber"` // the function
	Reason     string    `json:"reason"`     // "retries exhausted", "not retryable", "invalid reply", ...
	Attempts   int       `json:"attempts"`
	LastStatus int       `json:"last_status"` // the last HTTP status; 0 when no answer came
	LastError  string    `json:"last_error,omitempty"`
	Event      Event     `json:"event"`
}

func (b *Broker) deadLetter(t Trigger, ev cloudevents.Event, attempts int, last outcome, reason string) {
	d := DeadLetter{Time: time.Now().UTC(), Trigger: t.Name, Subscriber: t.Function, Reason: reason,
		Attempts: attempts, LastStatus: last.status, LastError: errString(last.err), Event: fromCloudEvent(ev)}
	if last.bad != nil {
		d.LastError = "the reply is not a valid CloudEvent: " + last.bad.Error()
	} else if d.LastError == "" && last.status != 0 {
		d.LastError = http.StatusText(last.status)
	}
	b.mu.Lock()
	b.dead = keep(b.dead, d, b.keep())
	b.mu.Unlock()
	b.Log.Error("dead letter", "id", ev.ID(), "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(),
		"trigger", t.Name, "reason", reason, "attempts", attempts, "last_status", last.status, "error", d.LastError)
}

func (b *Broker) abandon(t Trigger, ev cloudevents.Event, attempts int, last outcome) {
	b.mu.Lock()
	b.abandoned = append(b.abandoned, Pending{Trigger: t.Name, Event: ev})
	b.mu.Unlock()
	b.Log.Warn("delivery abandoned: the broker is stopping", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject(),
		"trigger", t.Name, "attempts", attempts, "last_status", last.status)
}

// DeadLetters returns the dead letters kept, oldest first.
func (b *Broker) DeadLetters() []DeadLetter {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]DeadLetter{}, b.dead...)
}

// Event is an event as the lists show it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	Subject    string          `json:"subject"`
	Time       *time.Time      `json:"time"` // null when the event has none
	DataSchema string          `json:"dataschema"`
	Data       json.RawMessage `json:"data"` // null when the event has none
}

// fromCloudEvent converts an event for the lists. JSON data stays JSON; any
// other data becomes a JSON string.
func fromCloudEvent(ev cloudevents.Event) Event {
	e := Event{ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Subject: ev.Subject(), DataSchema: ev.DataSchema()}
	if t := ev.Time(); !t.IsZero() {
		e.Time = &t
	}
	if data := ev.Data(); len(data) > 0 {
		if json.Valid(data) {
			e.Data = json.RawMessage(data)
		} else {
			e.Data, _ = json.Marshal(string(data))
		}
	}
	return e
}

// Events returns the events kept, oldest first, that match every non-empty
// filter.
func (b *Broker) Events(typ, subject, source string) []Event {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Event{}
	for _, e := range b.events {
		if (typ == "" || e.Type == typ) && (subject == "" || e.Subject == subject) && (source == "" || e.Source == source) {
			out = append(out, e)
		}
	}
	return out
}

// listEvents serves GET (the events kept, filtered by ?type=, ?subject=,
// ?source=) and, as the local sink before the broker did, POST (ingest).
func (b *Broker) listEvents(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		writeJSON(w, b.Events(q.Get("type"), q.Get("subject"), q.Get("source")))
	case http.MethodPost:
		b.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here: POST an event or GET the list")
	}
}

// listDeadLetters serves GET: the dead letters kept, oldest first,
// filtered by ?type=, ?subject=, ?trigger=.
func (b *Broker) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	q := r.URL.Query()
	out := []DeadLetter{}
	for _, d := range b.DeadLetters() {
		if (q.Get("type") == "" || d.Event.Type == q.Get("type")) && (q.Get("subject") == "" || d.Event.Subject == q.Get("subject")) &&
			(q.Get("trigger") == "" || d.Trigger == q.Get("trigger")) {
			out = append(out, d)
		}
	}
	writeJSON(w, out)
}

// TriggerStatus is a trigger as GET /triggers shows it.
type TriggerStatus struct {
	Trigger
	Subscriber    string `json:"subscriber"` // "" until the function runs
	Retry         int    `json:"retry"`
	BackoffPolicy string `json:"backoff_policy"`
	BackoffDelay  string `json:"backoff_delay"`
	Timeout       string `json:"timeout"`
}

func (b *Broker) listTriggers(w http.ResponseWriter, r *http.Request) {
	out := []TriggerStatus{}
	for _, t := range b.Triggers {
		d := t.Delivery
		s := TriggerStatus{Trigger: t, Retry: d.Retry, BackoffPolicy: d.BackoffPolicy, BackoffDelay: d.BackoffDelay.String(), Timeout: d.Timeout.String()}
		if u := b.subscriber(t.Function); u != nil {
			s.Subscriber = u.String()
		}
		out = append(out, s)
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// problem is an RFC 9457 problem document, shaped as the functions' own.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "urn:sportello:problem:" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail})
}
