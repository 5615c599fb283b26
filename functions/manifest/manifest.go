// Package manifest is the one list of Sportello's functions: each one's
// directory (its main package under functions/), the HTTP routes it serves
// behind the public /api prefix, the event types it emits, and the event
// wiring: which events it consumes, with which delivery policy.
//
// The local stack builds and starts what is listed here, routes /api
// requests by these prefixes, and its broker builds its triggers from
// Consumes; the Kubernetes chart's Triggers are checked against it.
package manifest

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/sportello/sportello/events"
)

// Function is one Knative function.
type Function struct {
	Name     string    `json:"name"` // also its directory under functions/
	Doc      string    `json:"doc"`
	Routes   []string  `json:"routes"`   // path prefixes it serves, longest match wins
	Emits    []string  `json:"emits"`    // CloudEvents types it writes to the outbox
	Consumes []Trigger `json:"consumes"` // its subscriptions; events arrive as POST / (binary or structured mode)
}

// Trigger is one subscription of a function to the broker, in the shape of
// a Knative Trigger: attributes that must match exactly, and how delivery
// is retried. Events that exhaust their retries go to the dead letters.
type Trigger struct {
	Name     string            `json:"name"`   // unique; the Trigger's name in the cluster
	Filter   map[string]string `json:"filter"` // exact-match CloudEvents attributes, e.g. {"type": ...}
	Delivery Delivery          `json:"delivery"`
}

// Delivery is a Knative delivery spec: Retry attempts after the first,
// BackoffDelay doubling (exponential) or growing by itself (linear) between
// them, and a Timeout per attempt.
type Delivery struct {
	Retry         int
	BackoffPolicy string // "exponential" or "linear"
	BackoffDelay  time.Duration
	Timeout       time.Duration
}

// MarshalJSON writes d as Knative's delivery spec does, with the durations
// in ISO 8601 (PT1S), for the JSON forms of the manifest (Document,
// asyncapi).
func (d Delivery) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Retry         int    `json:"retry"`
		BackoffPolicy string `json:"backoffPolicy"`
		BackoffDelay  string `json:"backoffDelay"`
		Timeout       string `json:"timeout"`
	}{d.Retry, d.BackoffPolicy, ISO8601(d.BackoffDelay), ISO8601(d.Timeout)})
}

// ISO8601 writes d as PT<seconds>S, with a fraction when needed.
func ISO8601(d time.Duration) string {
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}

// Delivery policies. Mail waits out an SMTP outage of several minutes
// (1+2+…+256 s ≈ 8.5 minutes over 9 attempts); rooms and housekeeping retry
// less, since the next event or tick repeats their work.
var (
	MailDelivery = Delivery{Retry: 8, BackoffPolicy: "exponential", BackoffDelay: time.Second, Timeout: 30 * time.Second}
	RoomDelivery = Delivery{Retry: 5, BackoffPolicy: "exponential", BackoffDelay: time.Second, Timeout: 10 * time.Second}
	TickDelivery = Delivery{Retry: 2, BackoffPolicy: "linear", BackoffDelay: 5 * time.Second, Timeout: 50 * time.Second}
)

func on(name string, types []string, d Delivery) []Trigger {
	var out []Trigger
	for _, t := range types {
		out = append(out, Trigger{Name: name + "-" + short(t), Filter: map[string]string{"type": t}, Delivery: d})
	}
	return out
}

// short turns io.github.sportello.booking.confirmed.v1 into booking-confirmed.
func short(typ string) string {
	parts := strings.Split(typ, ".")
	if len(parts) >= 6 && parts[0] == "io" {
		return parts[3] + "-" + parts[4]
	}
	return strings.ReplaceAll(strings.TrimPrefix(typ, "dev.knative.sources."), ".", "-")
}

// Migrate is the one-shot step that applies the schema (and, with -demo,
// loads the demo data) before the functions start.
const Migrate = "migrate"

// Site is the small service that serves the built website in a cluster
// (functions/site); the local stack's gateway serves it itself. It is not
// a function of the event chain: it has no routes under /api.
const Site = "site"

// Functions are the long-running HTTP functions.
var Functions = []Function{
	{Name: "list-services", Routes: []string{"/api/offices", "/api/services"}, Doc: "offices with their services and durations"},
	{Name: "query-slots", Routes: []string{"/api/slots"}, Doc: "free slots of a service over a date range"},
	{Name: "reserve", Routes: []string{"/api/holds"}, Emits: []string{events.BookingHeld, events.BookingExpired, events.BookingReleased}, Doc: "holds a slot (one a client), gives a hold back"},
	{Name: "waiting-room", Routes: []string{"/api/queue"}, Doc: "the virtual waiting room: a queue per service when more citizens come than its counter admits"},
	{Name: "confirm", Routes: []string{"/api/bookings"}, Emits: []string{events.BookingConfirmed}, Doc: "turns a hold into a booking"},
	{Name: "amend", Routes: []string{"/api/manage"}, Emits: []string{events.BookingRescheduled, events.BookingCancelled, events.BookingExpired}, Doc: "view, reschedule or cancel with the manage token"},
	{Name: "send-email", Doc: "mails the confirmation, changes, cancellation and reminders with a calendar invite",
		Consumes: on("send-email", []string{events.BookingConfirmed, events.BookingRescheduled, events.BookingCancelled, events.BookingReminder}, MailDelivery)},
	{Name: "provision-room", Emits: []string{events.RoomProvisioned, events.RoomDeleted}, Doc: "creates and removes the LiveKit room of each booking",
		Consumes: on("provision-room", []string{events.BookingConfirmed, events.BookingRescheduled, events.BookingCancelled}, RoomDelivery)},
	{Name: "join", Routes: []string{"/api/join"}, Doc: "mints a LiveKit token for the booking's room inside its window"},
	{Name: "documents", Routes: []string{"/api/documents"}, Emits: []string{events.DocumentUploaded}, Doc: "presigned uploads and downloads of a booking's documents"},
	{Name: "livekit-webhook", Routes: []string{"/api/livekit/webhook"}, Emits: []string{events.ParticipantJoined, events.ParticipantLeft, events.RoomFinished}, Doc: "records attendance in the video rooms from LiveKit's signed webhooks"},
	{Name: "operators", Routes: []string{"/api/operator"}, Emits: []string{events.BookingCompleted, events.BookingRescheduled, events.BookingCancelled, events.DocumentUploaded}, Doc: "operators' sign-in and sessions, agenda, booking detail, joining the call, documents, outcome, reschedule and cancellation on the citizen's behalf"},
	{Name: "operator-oidc", Routes: []string{"/api/operator/oidc"}, Doc: "operators' sign-in through the municipality's OpenID Connect identity provider"},
	{Name: "admin", Routes: []string{"/api/operator/admin"}, Emits: []string{events.OfficeChanged, events.ServiceChanged, events.ClosureAdded, events.ClosureRemoved, events.DeskChanged, events.OperatorChanged, events.BookingCancelled, events.BookingExpired}, Doc: "administration: offices, services, hours, closures, desks, operators and the audit log"},
	{Name: "housekeeping", Emits: []string{events.BookingExpired, events.BookingCompleted, events.BookingReminder, events.BookingPurged}, Doc: "expires holds, queues reminders, redelivers the outbox, purges old personal data",
		Consumes: on("housekeeping", []string{events.Ping}, TickDelivery)},
}

// Triggers returns every trigger of every function, with its function.
func Triggers() []struct {
	Function string
	Trigger
} {
	var out []struct {
		Function string
		Trigger
	}
	for _, f := range Functions {
		for _, t := range f.Consumes {
			out = append(out, struct {
				Function string
				Trigger
			}{f.Name, t})
		}
	}
	return out
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
