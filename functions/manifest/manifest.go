// Package manifest is the one list of Sportello's functions: each one's
// directory (its main package under functions/), the HTTP routes it serves
// behind the public /api prefix, and the event types it emits.
//
// The local stack builds and starts what is listed here and routes /api
// requests by these prefixes; the Kubernetes chart (a later issue) is checked
// against it.
package manifest

import "github.com/sportello/sportello/events"

// Function is one Knative function.
type Function struct {
	Name   string   // also its directory under functions/
	Routes []string // path prefixes it serves, longest match wins
	Emits  []string // CloudEvents types it writes to the outbox
	Doc    string
}

// Migrate is the one-shot step that applies the schema (and, with -demo,
// loads the demo data) before the functions start.
const Migrate = "migrate"

// Functions are the long-running HTTP functions.
var Functions = []Function{
	{Name: "list-services", Routes: []string{"/api/offices", "/api/services"}, Doc: "offices with their services and durations"},
	{Name: "query-slots", Routes: []string{"/api/slots"}, Doc: "free slots of a service over a date range"},
	{Name: "reserve", Routes: []string{"/api/holds"}, Emits: []string{events.BookingHeld, events.BookingExpired}, Doc: "holds a slot"},
	{Name: "confirm", Routes: []string{"/api/bookings"}, Emits: []string{events.BookingConfirmed}, Doc: "turns a hold into a booking"},
	{Name: "amend", Routes: []string{"/api/manage"}, Emits: []string{events.BookingRescheduled, events.BookingCancelled, events.BookingExpired}, Doc: "view, reschedule or cancel with the manage token"},
}

// Route returns the function serving path, by longest prefix.
func Route(path string) (Function, bool) {
	var best Function
	n := -1
	for _, f := range Functions {
		for _, r := range f.Routes {
			if (path == r || len(path) > len(r) && path[:len(r)] == r && path[len(r)] == '/') && len(r) > n {
				best, n = f, len(r)
			}
		}
	}
	return best, n >= 0
}
