package manifest

import (
	"encoding/json"

	"github.com/sportello/sportello/events"
)

// Document is the manifest as JSON, for what is not Go: the Helm chart
// embeds it as charts/sportello/files/manifest.json (cmd/manifest-json
// prints it), and the deployment tests (deploy/test) compare the chart and
// skaffold.yaml with it. Every list is written, empty as [].
type Document struct {
	Migrate   string     `json:"migrate"`
	Site      string     `json:"site"`
	Functions []Function `json:"functions"`
	Events    []Event    `json:"events"`
}

// Event is an entry of the event catalog (package events), for the chart:
// it makes a Knative EventType of it for each function that emits it.
type Event struct{ events.Type }

// MarshalJSON writes the entry's type, description and dataschema (the
// payload example is not written).
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type        string `json:"type"`
		Description string `json:"description"`
		Schema      string `json:"schema"`
	}{e.Name, e.Description, e.DataSchema()})
}

// NewDocument returns Functions and the event catalog as a Document.
func NewDocument() Document {
	d := Document{Migrate: Migrate, Site: Site, Functions: []Function{}, Events: []Event{}}
	for _, f := range Functions {
		f.Routes = append([]string{}, f.Routes...)
		f.Emits = append([]string{}, f.Emits...)
		f.Consumes = append([]Trigger{}, f.Consumes...)
		d.Functions = append(d.Functions, f)
	}
	for _, t := range events.Catalog {
		d.Events = append(d.Events, Event{t})
	}
	return d
}

// JSON returns d indented, ending with a newline: the bytes of the chart's
// files/manifest.json.
func (d Document) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
