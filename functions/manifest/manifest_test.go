package manifest

import (
	"os"
	"path/filepath"
	"testing"

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
