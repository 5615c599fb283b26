// This file holds the HTTP side: the ingress, the lists of events, dead
// letters and triggers, and the handlers a gateway mounts elsewhere.

package broker

import (
	"net/http"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/local/httpjson"
)

// ServeHTTP serves the ingress and the lists (see the package comment).
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
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST a CloudEvent here")
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
		httpjson.WriteProblem(w, http.StatusBadRequest, "invalid", "not a CloudEvent in binary or structured HTTP mode: "+err.Error())
		return
	}
	if err := b.ingest(*ev, traceOf(r.Header), 0); err != nil {
		httpjson.WriteProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// listEvents serves GET (the events kept, filtered by ?type=, ?subject=,
// ?source=) and POST, which ingests an event as the ingress does.
func (b *Broker) listEvents(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		httpjson.Write(w, b.Events(q.Get("type"), q.Get("subject"), q.Get("source")))
	case http.MethodPost:
		b.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here: POST an event or GET the list")
	}
}

// listDeadLetters serves GET: the dead letters kept, oldest first,
// filtered by ?type=, ?subject=, ?trigger=.
func (b *Broker) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
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
	httpjson.Write(w, out)
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
	httpjson.Write(w, out)
}

// traceContext is the W3C trace context (https://www.w3.org/TR/trace-context/)
// of the request that brought an event: the broker passes it on to every
// delivery of the event unchanged, as it passes the event's ce-* headers
// (among them the CloudEvents distributed-tracing extension, ce-traceparent
// and ce-tracestate).
type traceContext struct {
	Parent string `json:"traceparent,omitempty"`
	State  string `json:"tracestate,omitempty"`
}

// traceOf is the trace context of h; the tracestate of several header
// lines is their comma-separated list, as the standard joins them.
func traceOf(h http.Header) traceContext {
	return traceContext{Parent: h.Get("Traceparent"), State: strings.Join(h.Values("Tracestate"), ",")}
}

// set puts tc into h.
func (tc traceContext) set(h http.Header) {
	if tc.Parent != "" {
		h.Set("Traceparent", tc.Parent)
	}
	if tc.State != "" {
		h.Set("Tracestate", tc.State)
	}
}
