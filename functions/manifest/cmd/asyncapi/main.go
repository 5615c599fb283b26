// Command asyncapi prints the AsyncAPI 3.0 document of Sportello's events,
// for integrators' tooling: a channel per event type on the Broker, each with
// a message for the CloudEvents binary mode and one for the structured mode
// (their payloads are the JSON Schemas of events/schemas), and an operation
// per function that sends or receives it (from package manifest, with each
// Trigger's delivery policy). Nothing in it is written by hand, so it cannot
// drift from the catalog and the wiring; regenerate it with
//
//	go run ./functions/manifest/cmd/asyncapi > events/asyncapi.json
//
// and main_test.go fails while the committed document differs.
//
// Consumes: nothing. Emits: nothing.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
)

// Version is the document's info.version: the version of the events'
// contract, raised when a type is added or a new version of one appears.
const Version = "1.0.0"

// Doc is an AsyncAPI 3.0 document (the parts Sportello uses).
type Doc struct {
	AsyncAPI           string               `json:"asyncapi"`
	ID                 string               `json:"id"`
	Info               Info                 `json:"info"`
	DefaultContentType string               `json:"defaultContentType"`
	Servers            map[string]Server    `json:"servers"`
	Channels           map[string]Channel   `json:"channels"`
	Operations         map[string]Operation `json:"operations"`
	Components         Components           `json:"components"`
}

// Info is the document's info object.
type Info struct {
	Title        string `json:"title"`
	Version      string `json:"version"`
	Description  string `json:"description"`
	ExternalDocs *Link  `json:"externalDocs,omitempty"`
}

// Link is an external documentation object.
type Link struct {
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
}

// Server is where the events travel.
type Server struct {
	Host        string              `json:"host"`
	Pathname    string              `json:"pathname,omitempty"`
	Protocol    string              `json:"protocol"`
	Description string              `json:"description"`
	Variables   map[string]Variable `json:"variables,omitempty"`
}

// Variable is a server variable.
type Variable struct {
	Default     string `json:"default"`
	Description string `json:"description"`
}

// Channel is one event type on the Broker.
type Channel struct {
	Address     string         `json:"address"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Messages    map[string]Ref `json:"messages"`
}

// Ref is a JSON reference.
type Ref struct {
	Ref string `json:"$ref"`
}

// Operation is a function sending or receiving one channel's events.
type Operation struct {
	Action   string            `json:"action"` // send or receive
	Channel  Ref               `json:"channel"`
	Title    string            `json:"title"`
	Summary  string            `json:"summary"`
	Messages []Ref             `json:"messages"`
	Trigger  *manifest.Trigger `json:"x-knative-trigger,omitempty"`
}

// Components holds the schemas and messages the channels refer to.
type Components struct {
	Schemas  map[string]json.RawMessage `json:"schemas"`
	Messages map[string]Message         `json:"messages"`
}

// Message is one way an event travels: binary or structured mode.
type Message struct {
	Name          string         `json:"name"`
	Title         string         `json:"title"`
	Summary       string         `json:"summary"`
	Description   string         `json:"description,omitempty"`
	ContentType   string         `json:"contentType"`
	Headers       map[string]any `json:"headers,omitempty"`
	Payload       any            `json:"payload,omitempty"`
	CorrelationID *Correlation   `json:"correlationId,omitempty"`
	ExternalDocs  *Link          `json:"externalDocs,omitempty"`
}

// Correlation says where the booking (or entity) id is.
type Correlation struct {
	Description string `json:"description"`
	Location    string `json:"location"`
}

// Description is info.description: the envelope and the delivery contract.
const Description = `Every change of a booking, and of the offices' configuration, is announced as a
[CloudEvent](https://cloudevents.io) (spec 1.0) through a Knative Broker. Each channel is one
event type: subscribe with a Knative Trigger whose filter is ` + "`type: <the channel's address>`" + `.

**Modes.** The Broker delivers over HTTP in *binary* mode (the attributes in ` + "`ce-*`" + ` headers,
the data as the ` + "`application/json`" + ` body); an event may also arrive in *structured* mode
(` + "`application/cloudevents+json`" + `: attributes and ` + "`data`" + ` in one JSON object). Every
channel has a message for each mode.

**Attributes.** ` + "`id`" + ` is fixed when the change is written; ` + "`source`" + ` is
` + "`/sportello/<function>`" + `; ` + "`subject`" + ` is the booking id (the changed entity's id for the
administration's events); ` + "`time`" + ` is when the change was committed; ` + "`dataschema`" + ` is the
URL of the data's JSON Schema; ` + "`traceparent`" + ` and ` + "`tracestate`" + ` (the distributed-tracing
extension, when the change was traced) put your handling in the trace of the request that made the change.

**Delivery.** At least once: a redelivery carries the same ` + "`source`" + ` and ` + "`id`" + `, so
deduplicate on the pair, in the same transaction as your side effect. Ordering is not guaranteed,
even for one booking: the booking events carry ` + "`sequence`" + ` in their data (0 when confirmed,
one more at every reschedule or cancellation, like iCalendar's SEQUENCE); keep the highest seen
per ` + "`booking_id`" + ` and ignore older ones. Answer 2xx once the event is handled; a 5xx, 429, 404 or
409 (or no answer) is retried with the Trigger's backoff, any other 4xx is final and the event goes
to the dead letters.

**No personal data** travels in events (no name, address or email).

**Versions.** The schemas are closed (` + "`additionalProperties: false`" + `): a change to a payload
makes a new type with the next ` + "`.v<N>`" + ` suffix, emitted beside the old one for a while.`

func main() {
	b, err := document()
	if err == nil {
		_, err = os.Stdout.Write(b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "asyncapi:", err)
		os.Exit(1)
	}
}

// document is the document as written: indented JSON, < and > as they are.
func document() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err = enc.Encode(d)
	return b.Bytes(), err
}

// key turns io.github.sportello.booking.confirmed.v1 into
// booking.confirmed.v1, and dev.knative.sources.ping into ping.
func key(typ string) string {
	if k, ok := strings.CutPrefix(typ, "io.github.sportello."); ok {
		return k
	}
	return typ[strings.LastIndex(typ, ".")+1:]
}

// build assembles the document from the catalog and the manifest.
func build() (Doc, error) {
	d := Doc{
		AsyncAPI: "3.0.0",
		ID:       "urn:io.github.sportello:events",
		Info: Info{Title: "Sportello events", Version: Version, Description: Description,
			ExternalDocs: &Link{Description: "The catalog, in prose", URL: "https://github.com/sportello/sportello/blob/main/events/README.md"}},
		DefaultContentType: "application/json",
		Servers: map[string]Server{
			"broker": {Host: "broker-ingress.knative-eventing.svc.cluster.local", Pathname: "/{namespace}/{broker}", Protocol: "http",
				Description: "The Knative Broker's ingress in the cluster (the chart's broker.name, in its namespace).",
				Variables: map[string]Variable{
					"namespace": {Default: "sportello", Description: "the namespace Sportello is installed in"},
					"broker":    {Default: "sportello", Description: "the chart's broker.name"},
				}},
			"local": {Host: "127.0.0.1:8081", Pathname: "/", Protocol: "http",
				Description: "The local stack's broker (make run), which honours the same data-plane contract."},
		},
		Channels:   map[string]Channel{},
		Operations: map[string]Operation{},
		Components: Components{Schemas: map[string]json.RawMessage{}, Messages: map[string]Message{}},
	}

	emitters, consumers := map[string][]string{}, map[string][]string{}
	for _, f := range manifest.Functions {
		for _, typ := range f.Emits {
			if _, ok := events.Lookup(typ); !ok {
				return Doc{}, fmt.Errorf("function %s emits %s, which is not in the events catalog", f.Name, typ)
			}
			emitters[typ] = append(emitters[typ], f.Name)
		}
		for _, t := range f.Consumes {
			consumers[t.Filter["type"]] = append(consumers[t.Filter["type"]], f.Name)
		}
	}

	for _, typ := range events.Catalog {
		if len(emitters[typ.Name]) == 0 {
			return Doc{}, fmt.Errorf("no function emits %s", typ.Name)
		}
		if err := d.addType(typ, emitters[typ.Name], consumers[typ.Name]); err != nil {
			return Doc{}, err
		}
	}
	d.addPing(consumers[events.Ping])

	for _, f := range manifest.Functions {
		for _, typ := range f.Emits {
			k := key(typ)
			d.Operations[f.Name+".send."+k] = Operation{Action: "send", Channel: Ref{"#/channels/" + k},
				Title: f.Name + " sends " + k, Summary: f.Name + " (" + f.Doc + ") writes " + typ + " to its outbox; the relay posts it to the Broker after commit.",
				Messages: d.channelMessages(k)}
		}
		for _, t := range f.Consumes {
			typ := t.Filter["type"]
			k := key(typ)
			if _, ok := d.Channels[k]; !ok {
				return Doc{}, fmt.Errorf("function %s consumes %s, which is neither in the events catalog nor the PingSource type", f.Name, typ)
			}
			d.Operations[f.Name+".receive."+k] = Operation{Action: "receive", Channel: Ref{"#/channels/" + k},
				Title: f.Name + " receives " + k, Summary: f.Name + " (" + f.Doc + ") receives " + typ + " through the Trigger " + t.Name + ".",
				Messages: d.channelMessages(k),
				Trigger:  &t}
		}
	}
	return d, nil
}

// channelMessages refers to every message of channel k.
func (d *Doc) channelMessages(k string) []Ref {
	var out []Ref
	for _, mode := range []string{"binary", "structured"} {
		if _, ok := d.Channels[k].Messages[mode]; ok {
			out = append(out, Ref{"#/channels/" + k + "/messages/" + mode})
		}
	}
	return out
}

// addType adds the channel, schema and two messages of a catalog type.
func (d *Doc) addType(typ events.Type, emitters, consumers []string) error {
	k := key(typ.Name)
	raw, err := fs.ReadFile(events.Schemas, "schemas/"+typ.SchemaFile)
	if err != nil {
		return err
	}
	schema, aboutBooking, err := payloadSchema(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", typ.SchemaFile, err)
	}
	d.Components.Schemas[k] = schema

	sources := make([]string, len(emitters))
	for i, f := range emitters {
		sources[i] = "/sportello/" + f
	}
	subject := "The booking id"
	if !aboutBooking {
		subject = "The changed entity's id"
	}
	attrs := attributes(typ.Name, typ.DataSchema(), subject, sources)
	docs := &Link{Description: "The data's JSON Schema (the event's dataschema)", URL: typ.DataSchema()}
	dataRef := map[string]any{"$ref": "#/components/schemas/" + k}

	// Binary mode: the attributes are ce-* headers, the data is the body.
	headers := map[string]any{}
	for name, s := range attrs.props {
		if name == "datacontenttype" {
			headers["content-type"] = s
			continue
		}
		headers["ce-"+name] = s
	}
	var required []string
	for _, name := range attrs.required {
		if name == "datacontenttype" {
			required = append(required, "content-type")
			continue
		}
		required = append(required, "ce-"+name)
	}
	d.Components.Messages[k] = Message{Name: typ.Name, Title: k + " (binary mode)", Summary: typ.Description,
		ContentType: "application/json",
		Headers:     map[string]any{"type": "object", "required": required, "properties": headers},
		Payload:     dataRef,
		CorrelationID: &Correlation{Description: "ce-subject: " + subject,
			Location: "$message.header#/ce-subject"},
		ExternalDocs: docs}

	// Structured mode: one JSON object, the attributes beside data.
	props := map[string]any{"data": dataRef}
	for name, s := range attrs.props {
		props[name] = s
	}
	d.Components.Messages[k+".structured"] = Message{Name: typ.Name, Title: k + " (structured mode)", Summary: typ.Description,
		ContentType: "application/cloudevents+json",
		Payload:     map[string]any{"type": "object", "required": append(attrs.required, "data"), "properties": props},
		CorrelationID: &Correlation{Description: "subject: " + subject,
			Location: "$message.payload#/subject"},
		ExternalDocs: docs}

	desc := "Events of type `" + typ.Name + "`: " + typ.Description + "\n\nEmitted by " + strings.Join(emitters, ", ") + "."
	if len(consumers) > 0 {
		desc += " Consumed within Sportello by " + strings.Join(consumers, ", ") + "."
	}
	d.Channels[k] = Channel{Address: typ.Name, Title: k, Description: desc,
		Messages: map[string]Ref{
			"binary":     {"#/components/messages/" + k},
			"structured": {"#/components/messages/" + k + ".structured"},
		}}
	return nil
}

// addPing adds the PingSource's channel, which only housekeeping consumes.
func (d *Doc) addPing(consumers []string) {
	k := key(events.Ping)
	d.Components.Messages[k] = Message{Name: events.Ping, Title: "ping", ContentType: "application/json",
		Summary:     "A Knative PingSource's periodic event; it drives housekeeping. Its data is ignored.",
		Description: "Not a Sportello event: the chart's PingSource (in the local stack, its ticker) sends it.",
		Headers: map[string]any{"type": "object", "required": []string{"ce-specversion", "ce-id", "ce-source", "ce-type"},
			"properties": map[string]any{"ce-specversion": constant("1.0"), "ce-id": nonEmpty(), "ce-source": nonEmpty(), "ce-type": constant(events.Ping)}}}
	d.Channels[k] = Channel{Address: events.Ping, Title: k,
		Description: "The periodic ticks of a Knative PingSource. Consumed within Sportello by " + strings.Join(consumers, ", ") + ".",
		Messages:    map[string]Ref{"binary": {"#/components/messages/" + k}}}
}

// envelope is the JSON Schemas of an event type's attributes.
type envelope struct {
	props    map[string]any
	required []string
}

// attributes are the CloudEvents attributes every Sportello event carries.
func attributes(typ, dataschema, subject string, sources []string) envelope {
	return envelope{
		props: map[string]any{
			"specversion": constant("1.0"),
			"id": map[string]any{"type": "string", "minLength": 1,
				"description": "Fixed when the change is written: a redelivery carries the same id. Deduplicate on (source, id)."},
			"source":          map[string]any{"type": "string", "enum": sources, "description": "/sportello/<the function that wrote the event>."},
			"type":            constant(typ),
			"subject":         map[string]any{"type": "string", "minLength": 1, "description": subject + "."},
			"time":            map[string]any{"type": "string", "format": "date-time", "description": "When the change was committed."},
			"dataschema":      constant(dataschema),
			"datacontenttype": constant("application/json"),
			// The CloudEvents distributed-tracing extension: optional.
			"traceparent": map[string]any{"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
				"description": "W3C trace context of the span that published the event, itself under the request that made the change (CloudEvents distributed-tracing extension): start your handling's span under it to join the booking's trace. Absent when the change was not traced."},
			"tracestate": map[string]any{"type": "string", "description": "W3C tracestate that goes with traceparent, when there is one."},
		},
		required: []string{"specversion", "id", "source", "type", "subject", "time", "dataschema", "datacontenttype"},
	}
}

func constant(v string) map[string]any { return map[string]any{"type": "string", "const": v} }

func nonEmpty() map[string]any { return map[string]any{"type": "string", "minLength": 1} }

// payloadSchema is a schema file as an AsyncAPI Schema Object: the same
// keywords, without $schema and $id (the document is their base; the
// message's externalDocs names the published file). The schemas use only
// keywords that JSON Schema draft 7, AsyncAPI's default schema format,
// shares with 2020-12. aboutBooking tells whether the data has a
// booking_id (then the subject is the booking's id).
func payloadSchema(raw []byte) (schema json.RawMessage, aboutBooking bool, err error) {
	var s map[string]json.RawMessage
	var props struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, false, err
	}
	delete(s, "$schema")
	delete(s, "$id")
	schema, err = json.Marshal(s)
	_, aboutBooking = props.Properties["booking_id"]
	return schema, aboutBooking, err
}
