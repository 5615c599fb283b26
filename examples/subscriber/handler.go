package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sportello/sportello/events"
)

// Handled are the event types this subscriber handles; its Triggers
// (config/trigger.yaml) select them.
var Handled = []string{events.BookingConfirmed, events.BookingCancelled}

// Handler receives CloudEvents over HTTP, in binary or structured mode.
//
// It answers 200 to an event it handled or had handled before, 200 to a
// type it does not handle (nothing to do: it is not an error), and 400 to
// what is not a valid CloudEvent or whose data its schema refuses: the
// Broker does not retry a 400 and keeps the event as a dead letter, where
// it can be looked at. A 500 (the journal could not be written) makes the
// Broker retry.
type Handler struct {
	journal *Journal
	schemas map[string]*jsonschema.Schema // by event type
	log     *slog.Logger
}

// NewHandler compiles the JSON Schemas of the handled types, from the
// events module (github.com/sportello/sportello/events embeds them).
func NewHandler(j *Journal, log *slog.Logger) (*Handler, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time and uuid are checked, not only noted
	h := &Handler{journal: j, schemas: map[string]*jsonschema.Schema{}, log: log}
	for _, name := range Handled {
		typ, ok := events.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%s is not in the events catalog", name)
		}
		raw, err := fs.ReadFile(events.Schemas, "schemas/"+typ.SchemaFile)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typ.SchemaFile, err)
		}
		if err := c.AddResource(typ.DataSchema(), doc); err != nil {
			return nil, err
		}
		if h.schemas[name], err = c.Compile(typ.DataSchema()); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Line is what the journal records of an event: its identity and what a
// records system needs. Sequence orders the events of one booking, which
// may arrive in any order.
type Line struct {
	Source      string    `json:"source"`
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	BookingID   string    `json:"booking_id"`
	OfficeID    string    `json:"office_id"`
	ServiceID   string    `json:"service_id"`
	Start       time.Time `json:"start"`
	Sequence    int       `json:"sequence"`
	CancelledBy string    `json:"cancelled_by,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	ev, err := cloudevents.NewEventFromHTTPRequest(r)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		h.refuse(w, nil, "not a CloudEvent: "+err.Error())
		return
	}
	schema, ok := h.schemas[ev.Type()]
	if !ok {
		h.log.Info("ignored", "type", ev.Type(), "source", ev.Source(), "id", ev.ID())
		w.WriteHeader(http.StatusOK)
		return
	}
	if ct := ev.DataContentType(); ct != cloudevents.ApplicationJSON {
		h.refuse(w, ev, "datacontenttype "+ct+", want application/json")
		return
	}
	data, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev.Data()))
	if err == nil {
		err = schema.Validate(data)
	}
	if err != nil {
		h.refuse(w, ev, "data does not match "+ev.Type()+": "+err.Error())
		return
	}
	var d events.BookingCancelledData // confirmed's fields, and cancelled_by
	if err := json.Unmarshal(ev.Data(), &d); err != nil {
		h.refuse(w, ev, err.Error())
		return
	}
	line := Line{Source: ev.Source(), ID: ev.ID(), Type: ev.Type(), BookingID: d.BookingID, OfficeID: d.OfficeID,
		ServiceID: d.ServiceID, Start: d.Start, Sequence: d.Sequence, CancelledBy: d.CancelledBy, ReceivedAt: time.Now().UTC()}
	first, err := h.journal.Record(line)
	if err != nil {
		h.log.Error("journal", "type", ev.Type(), "source", ev.Source(), "id", ev.ID(), "err", err)
		http.Error(w, "could not record the event", http.StatusInternalServerError)
		return
	}
	h.log.Info("received", "type", ev.Type(), "source", ev.Source(), "id", ev.ID(), "booking", d.BookingID, "duplicate", !first)
	w.WriteHeader(http.StatusOK)
}

// refuse answers 400: the Broker will not retry, the event becomes a dead
// letter. The log names the event, never its data.
func (h *Handler) refuse(w http.ResponseWriter, ev *cloudevents.Event, why string) {
	if ev != nil {
		h.log.Warn("refused", "type", ev.Type(), "source", ev.Source(), "id", ev.ID(), "reason", why)
	} else {
		h.log.Warn("refused", "reason", why)
	}
	http.Error(w, why, http.StatusBadRequest)
}
