// Command manifest-json prints the function manifest (package manifest) as
// JSON, for what is not Go: the Helm chart embeds its output as
// charts/sportello/files/manifest.json (regenerate it with
// `go run ./functions/manifest/cmd/manifest-json > charts/sportello/files/manifest.json`),
// and the deployment tests (deploy/test, a module outside the workspace)
// compare the chart and skaffold.yaml with it.
//
// It also lists the event catalog (package events), for the chart's
// EventTypes.
//
// Durations are ISO 8601 (PT1S), as Knative's delivery spec writes them.
//
// Consumes: nothing. Emits: nothing.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
)

// Manifest is the JSON document.
type Manifest struct {
	Migrate   string     `json:"migrate"`
	Site      string     `json:"site"`
	Functions []Function `json:"functions"`
	Events    []Event    `json:"events"`
}

// Event is one event type of the catalog (package events): the chart makes
// a Knative EventType of it for each function that emits it.
type Event struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Schema      string `json:"schema"`
}

// Function is one function.
type Function struct {
	Name     string             `json:"name"`
	Doc      string             `json:"doc"`
	Routes   []string           `json:"routes"`
	Emits    []string           `json:"emits"`
	Consumes []manifest.Trigger `json:"consumes"`
}

func build() Manifest {
	m := Manifest{Migrate: manifest.Migrate, Site: manifest.Site, Functions: []Function{}, Events: []Event{}}
	for _, f := range manifest.Functions {
		out := Function{Name: f.Name, Doc: f.Doc, Routes: f.Routes, Emits: f.Emits, Consumes: []manifest.Trigger{}}
		if out.Routes == nil {
			out.Routes = []string{}
		}
		if out.Emits == nil {
			out.Emits = []string{}
		}
		out.Consumes = append(out.Consumes, f.Consumes...)
		m.Functions = append(m.Functions, out)
	}
	for _, e := range events.Catalog {
		m.Events = append(m.Events, Event{Type: e.Name, Description: e.Description, Schema: e.DataSchema()})
	}
	return m
}

func main() {
	b, err := json.MarshalIndent(build(), "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(b, '\n'))
}
