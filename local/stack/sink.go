package stack

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// DefaultSinkSize is how many events the sink keeps.
const DefaultSinkSize = 1000

// maxEventBytes bounds the body of one delivered event.
const maxEventBytes = 1 << 20

// Sink is the local stand-in for the Knative Broker's ingress: the
// functions' K_SINK. POST accepts one CloudEvent in binary or structured
// HTTP mode and answers 202; GET lists the events kept, oldest first,
// optionally filtered with ?type=, ?subject= and ?source=. It keeps the last
// Size events in memory and logs one line per event without its data, which
// may one day carry what a log must not.
//
// It delivers to nobody: a later local broker will route events to their
// consumers.
type Sink struct {
	Size int          // events kept; DefaultSinkSize when 0
	Log  *slog.Logger // nil: no log

	mu     sync.Mutex
	events []Event
}

// Event is an event as the sink lists it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	Subject    string          `json:"subject"`
	Time       *time.Time      `json:"time"` // null when the event has none
	DataSchema string          `json:"dataschema"`
	Data       json.RawMessage `json:"data"` // null when the event has none
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.receive(w, r)
	case http.MethodGet, http.MethodHead:
		s.list(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here: POST an event or GET the list")
	}
}

func (s *Sink) receive(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
	ev, err := cloudevents.NewEventFromHTTPRequest(r)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid", "not a CloudEvent in binary or structured HTTP mode: "+err.Error())
		return
	}
	s.Add(fromCloudEvent(ev))
	w.WriteHeader(http.StatusAccepted)
}

// fromCloudEvent converts an event for the list. JSON data stays JSON; any
// other data becomes a JSON string.
func fromCloudEvent(ev *cloudevents.Event) Event {
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

// Add keeps e, dropping the oldest event when the sink is full.
func (s *Sink) Add(e Event) {
	size := s.Size
	if size <= 0 {
		size = DefaultSinkSize
	}
	s.mu.Lock()
	if len(s.events) >= size {
		s.events = s.events[len(s.events)-size+1:]
	}
	s.events = append(s.events, e)
	s.mu.Unlock()
	if s.Log != nil {
		s.Log.Info("event", "id", e.ID, "type", e.Type, "source", e.Source, "subject", e.Subject)
	}
}

// Events returns the events kept, oldest first, that match every non-empty
// filter.
func (s *Sink) Events(typ, subject, source string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Event{}
	for _, e := range s.events {
		if (typ == "" || e.Type == typ) && (subject == "" || e.Subject == subject) && (source == "" || e.Source == source) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Sink) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	evs := s.Events(q.Get("type"), q.Get("subject"), q.Get("source"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(evs)
}
