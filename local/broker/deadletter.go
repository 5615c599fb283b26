// This file holds the dead letters: the events a trigger could not
// deliver, kept for GET /dead-letters.

package broker

import (
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

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
	b.dead.add(d, b.keep())
	b.mu.Unlock()
	b.deadTotal.WithLabelValues(t.Name, t.Function, reason).Inc()
	b.Log.Error("dead letter", "id", ev.ID(), "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(),
		"trigger", t.Name, "reason", reason, "attempts", attempts, "last_status", last.status, "error", d.LastError)
}

// DeadLetters returns the dead letters kept, oldest first.
func (b *Broker) DeadLetters() []DeadLetter {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dead.all()
}
