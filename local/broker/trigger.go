// This file holds the triggers: what they select and how they show.

package broker

import (
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/functions/manifest"
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
