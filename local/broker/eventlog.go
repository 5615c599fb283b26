// This file holds the event log: the events ingested lately, as GET
// /events lists them.

package broker

import (
	"encoding/json"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

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
	for _, e := range b.events.all() {
		if (typ == "" || e.Type == typ) && (subject == "" || e.Subject == subject) && (source == "" || e.Source == source) {
			out = append(out, e)
		}
	}
	return out
}
