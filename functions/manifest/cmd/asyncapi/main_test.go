package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
)

// committed is the document in the repository, events/asyncapi.json.
var committed = filepath.Join("..", "..", "..", "..", "events", "asyncapi.json")

const regenerate = "go run ./functions/manifest/cmd/asyncapi > events/asyncapi.json"

// TestDocumentIsCurrent: the committed document is what the catalog and the
// manifest make now.
func TestDocumentIsCurrent(t *testing.T) {
	want, err := document()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v: generate it with\n\t%s", err, regenerate)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("events/asyncapi.json is stale (the events catalog or the manifest changed); regenerate it from the repository's root with\n\t%s", regenerate)
	}
}

// TestEveryEventTypeIsInTheDocument reads the committed document: every
// catalogued type is a channel with a binary and a structured message whose
// data is its schema, every type a function emits is one of its send
// operations and every trigger one of its receive operations.
func TestEveryEventTypeIsInTheDocument(t *testing.T) {
	raw, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	var d struct { // Doc, but for the triggers' names only
		Channels   map[string]Channel
		Components Components
		Operations map[string]struct {
			Action  string
			Trigger *struct{ Name string } `json:"x-knative-trigger"`
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, typ := range events.Catalog {
		k := key(typ.Name)
		ch, ok := d.Channels[k]
		if !ok || ch.Address != typ.Name {
			t.Errorf("%s has no channel %s in events/asyncapi.json (add it to the catalog, then %s)", typ.Name, k, regenerate)
			continue
		}
		if ch.Messages["binary"].Ref != "#/components/messages/"+k || ch.Messages["structured"].Ref != "#/components/messages/"+k+".structured" {
			t.Errorf("channel %s: messages %v", k, ch.Messages)
		}
		if _, ok := d.Components.Schemas[k]; !ok {
			t.Errorf("%s has no schema", typ.Name)
		}
		for _, m := range []string{k, k + ".structured"} {
			if msg := d.Components.Messages[m]; msg.Name != typ.Name || msg.ExternalDocs == nil || msg.ExternalDocs.URL != typ.DataSchema() {
				t.Errorf("message %s: name %q, docs %v", m, msg.Name, msg.ExternalDocs)
			}
		}
	}
	for _, f := range manifest.Functions {
		for _, typ := range f.Emits {
			if op, ok := d.Operations[f.Name+".send."+key(typ)]; !ok || op.Action != "send" {
				t.Errorf("%s emits %s, but the document has no such send operation", f.Name, typ)
			}
		}
		for _, tr := range f.Consumes {
			op, ok := d.Operations[f.Name+".receive."+key(tr.Filter["type"])]
			if !ok || op.Action != "receive" || op.Trigger == nil || op.Trigger.Name != tr.Name {
				t.Errorf("%s consumes %s (trigger %s), but the document has no such receive operation", f.Name, tr.Filter["type"], tr.Name)
			}
		}
	}
}
