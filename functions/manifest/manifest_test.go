package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sportello/sportello/events"
)

func TestRoute(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"/api/offices", "list-services"},
		{"/api/offices/urp", "list-services"},
		{"/api/services/sue", "list-services"},
		{"/api/slots", "query-slots"},
		{"/api/holds", "reserve"},
		{"/api/bookings", "confirm"},
		{"/api/manage", "amend"},
		{"/api/manage/cancel", "amend"},
		{"/api/operator/agenda", "operators"},
		{"/api/operator/admin", "admin"},
		{"/api/operator/admin/offices", "admin"},
		{"/api/operator/administrator", "operators"},
		{"/api/officesX", ""},
		{"/api", ""},
		{"/", ""},
	}
	for _, tc := range tests {
		f, ok := Route(tc.path)
		if got := f.Name; got != tc.want || ok != (tc.want != "") {
			t.Errorf("Route(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
}

// TestFunctionsExist: every listed function has its main package, and
// every event type it emits is in the catalog.
func TestFunctionsExist(t *testing.T) {
	for _, f := range append(Functions, Function{Name: Migrate}) {
		if _, err := os.Stat(filepath.Join("..", f.Name, "main.go")); err != nil {
			t.Errorf("function %s: %v", f.Name, err)
		}
		for _, typ := range f.Emits {
			if _, ok := events.Lookup(typ); !ok {
				t.Errorf("function %s emits %s, which is not in the events catalog", f.Name, typ)
			}
		}
	}
}

// TestTriggers: trigger names are unique, every filtered type is in the
// catalog (or is the PingSource type), and every delivery can retry.
func TestTriggers(t *testing.T) {
	names := map[string]bool{}
	for _, tr := range Triggers() {
		if names[tr.Name] {
			t.Errorf("trigger %s declared twice", tr.Name)
		}
		names[tr.Name] = true
		typ := tr.Filter["type"]
		if _, ok := events.Lookup(typ); !ok && typ != events.Ping {
			t.Errorf("trigger %s filters on unknown type %q", tr.Name, typ)
		}
		if tr.Delivery.Retry < 1 || tr.Delivery.BackoffDelay <= 0 || tr.Delivery.Timeout <= 0 ||
			(tr.Delivery.BackoffPolicy != "exponential" && tr.Delivery.BackoffPolicy != "linear") {
			t.Errorf("trigger %s: delivery %+v", tr.Name, tr.Delivery)
		}
	}
	if !names["send-email-booking-confirmed"] || !names["housekeeping-ping"] {
		t.Errorf("trigger names: %v", names)
	}
}

// TestDocument: the document lists every function and catalog entry, writes
// every list (the chart ranges over them: [] where empty, never null), and
// does not share its lists with Functions.
func TestDocument(t *testing.T) {
	d := NewDocument()
	if len(d.Functions) != len(Functions) || len(d.Events) != len(events.Catalog) {
		t.Fatalf("%d functions and %d events, want %d and %d", len(d.Functions), len(d.Events), len(Functions), len(events.Catalog))
	}
	b, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Functions []map[string]any `json:"functions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Functions {
		for _, key := range []string{"routes", "emits", "consumes"} {
			if _, ok := f[key].([]any); !ok {
				t.Errorf("function %v: %s is %v, want a list", f["name"], key, f[key])
			}
		}
	}
	if !bytes.HasSuffix(b, []byte("}\n")) {
		t.Errorf("the document does not end with a newline")
	}
	for i, f := range d.Functions {
		if len(f.Routes) > 0 && &f.Routes[0] == &Functions[i].Routes[0] {
			t.Errorf("function %s: the document shares its routes with Functions", f.Name)
		}
	}
}

func TestISO8601(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "PT1S"},
		{50 * time.Second, "PT50S"},
		{1500 * time.Millisecond, "PT1.5S"},
	}
	for _, tc := range tests {
		if got := ISO8601(tc.d); got != tc.want {
			t.Errorf("ISO8601(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
