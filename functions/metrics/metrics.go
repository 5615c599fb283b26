// Package metrics is the functions' metric contract: every metric they
// export, as OpenTelemetry records it (instrument, unit, description) and
// as the Prometheus format names it (name, kind, labels), with the fixed
// values some labels take (outcome, reason).
//
// It is declared once, here. The telemetry package
// (functions/internal/telemetry) makes its instruments from these
// declarations and records only the values below, and a test of it
// scrapes what it exports and compares it with All, both ways; the
// deployment tests (deploy/test) check every expression of the chart's
// alerts and dashboards against All. The package imports nothing, so
// anything may import it.
package metrics

// Kind is a metric's type in the Prometheus format.
type Kind string

const (
	Counter Kind = "counter"
	Gauge   Kind = "gauge"
	// Histogram is exported as the series <name>_bucket (with le),
	// <name>_sum and <name>_count.
	Histogram Kind = "histogram"
)

// Metric is one metric of the functions.
type Metric struct {
	// Name is its name in the Prometheus format: sportello_holds_total.
	Name string
	// Kind is its type in the Prometheus format: an OpenTelemetry counter
	// is a counter, a gauge or up-down counter a gauge.
	Kind Kind
	// Labels are its labels in the Prometheus format, service_name (the
	// function's name) included.
	Labels []string
	// Values are the values a label takes where they are fixed, by label.
	Values map[string][]string
	// Source says who records it.
	Source string

	// Instrument is its name in OpenTelemetry (sportello.holds), Unit its
	// unit (UCUM: s, or an annotation such as {hold}) and Help its
	// description, the HELP of the Prometheus format.
	Instrument, Unit, Help string
}

// Outcome is the value of a counter's outcome label.
type Outcome struct{ value string }

func (o Outcome) String() string { return o.value }

// The outcomes, by counter (Failed is both mails' and deliveries').
var (
	// sportello_holds_total: a hold taken, refused (see Reason), expired
	// (lapsed after its time) or released (given back by its citizen). A
	// hold that the same client's next one replaces is released inside
	// hold_slot, which tells the function nothing of it: it is counted
	// only as a delivered event (sportello_events_delivered_total, type
	// io.github.sportello.booking.released.v1, which counts both).
	Taken    = Outcome{"taken"}
	Refused  = Outcome{"refused"}
	Expired  = Outcome{"expired"}
	Released = Outcome{"released"}

	// sportello_bookings_total.
	Confirmed   = Outcome{"confirmed"}
	Rescheduled = Outcome{"rescheduled"}
	Cancelled   = Outcome{"cancelled"}
	Completed   = Outcome{"completed"}
	NoShow      = Outcome{"no_show"}

	// sportello_mails_total.
	Sent   = Outcome{"sent"}
	Failed = Outcome{"failed"}

	// sportello_events_delivered_total: Delivered or Failed.
	Delivered = Outcome{"delivered"}

	// sportello_rooms_total: a room made in LiveKit as its window opened,
	// its participants told it closes soon, deleted as it closed.
	Opened = Outcome{"opened"}
	Warned = Outcome{"warned"}
	Closed = Outcome{"closed"}
)

// Reason is why a hold was refused: the reason label of
// sportello_holds_total{outcome="refused"}.
type Reason struct{ value string }

func (r Reason) String() string { return r.value }

var (
	// ReasonTaken: no desk free at that time (409).
	ReasonTaken = Reason{"taken"}
	// ReasonRateLimited: the client or its address over its limits (429).
	ReasonRateLimited = Reason{"rate_limited"}
)

// ConnectionState is the value of db_client_connection_count's
// db_client_connection_state label.
type ConnectionState struct{ value string }

func (s ConnectionState) String() string { return s.value }

var (
	Idle = ConnectionState{"idle"}
	Used = ConnectionState{"used"}
)

// The metrics.
var (
	// HTTPServerDuration is otelhttp's, around every function's handler
	// (server_port only when the Host names one other than the scheme's).
	HTTPServerDuration = Metric{Name: "http_server_request_duration_seconds", Kind: Histogram, Source: "functions (otelhttp)",
		Labels: []string{"service_name", "http_request_method", "http_route", "http_response_status_code",
			"url_scheme", "server_address", "server_port", "network_protocol_name", "network_protocol_version"},
		Instrument: "http.server.request.duration", Unit: "s", Help: "Duration of HTTP server requests."}
	// HTTPClientDuration is otelhttp's, around the functions' calls: the
	// broker (outbox relay), S3 and LiveKit (error_type when no response
	// came, or its status was 400 or more).
	HTTPClientDuration = Metric{Name: "http_client_request_duration_seconds", Kind: Histogram, Source: "functions (otelhttp)",
		Labels: []string{"service_name", "http_request_method", "http_response_status_code", "error_type",
			"url_scheme", "server_address", "server_port", "network_protocol_name", "network_protocol_version"},
		Instrument: "http.client.request.duration", Unit: "s", Help: "Duration of HTTP client requests."}

	Holds = Metric{Name: "sportello_holds_total", Kind: Counter, Source: "reserve, housekeeping",
		Labels:     []string{"service_name", "outcome", "reason"},
		Values:     map[string][]string{"outcome": texts(Taken, Refused, Expired, Released), "reason": texts(ReasonTaken, ReasonRateLimited)},
		Instrument: "sportello.holds", Unit: "{hold}", Help: "Holds by outcome: taken, refused (with reason), expired, released."}
	Bookings = Metric{Name: "sportello_bookings_total", Kind: Counter, Source: "functions",
		Labels:     []string{"service_name", "outcome"},
		Values:     map[string][]string{"outcome": texts(Confirmed, Rescheduled, Cancelled, Completed, NoShow)},
		Instrument: "sportello.bookings", Unit: "{booking}", Help: "Bookings by outcome: confirmed, rescheduled, cancelled, completed, no_show."}
	Mails = Metric{Name: "sportello_mails_total", Kind: Counter, Source: "send-email",
		Labels:     []string{"service_name", "outcome"},
		Values:     map[string][]string{"outcome": texts(Sent, Failed)},
		Instrument: "sportello.mails", Unit: "{mail}", Help: "Mails by outcome: sent, failed."}
	Rooms = Metric{Name: "sportello_rooms_total", Kind: Counter, Source: "provision-room, housekeeping",
		Labels:     []string{"service_name", "outcome"},
		Values:     map[string][]string{"outcome": texts(Opened, Warned, Closed)},
		Instrument: "sportello.rooms", Unit: "{room}", Help: "Video rooms' steps: opened, warned, closed."}
	// EventsDelivered: its type label is the event's CloudEvents type.
	EventsDelivered = Metric{Name: "sportello_events_delivered_total", Kind: Counter, Source: "outbox relay",
		Labels:     []string{"service_name", "outcome", "type"},
		Values:     map[string][]string{"outcome": texts(Delivered, Failed)},
		Instrument: "sportello.events.delivered", Unit: "{event}", Help: "Outbox deliveries to the broker by event type and outcome: delivered, failed."}

	// OutboxBacklog and OutboxOldestAge: every instance reports the whole
	// table's figures (take the max across instances).
	OutboxBacklog = Metric{Name: "sportello_outbox_backlog", Kind: Gauge, Source: "outbox relay",
		Labels:     []string{"service_name"},
		Instrument: "sportello.outbox.backlog", Unit: "{event}", Help: "Events written to the outbox and not yet delivered to the broker."}
	OutboxOldestAge = Metric{Name: "sportello_outbox_oldest_age_seconds", Kind: Gauge, Source: "outbox relay",
		Labels:     []string{"service_name"},
		Instrument: "sportello.outbox.oldest.age", Unit: "s", Help: "Age of the oldest event not yet delivered (0 when none)."}

	// The database pool, under OpenTelemetry's database conventions.
	DBConnections = Metric{Name: "db_client_connection_count", Kind: Gauge, Source: "pgx pool",
		Labels:     []string{"service_name", "db_client_connection_state"},
		Values:     map[string][]string{"db_client_connection_state": texts(Idle, Used)},
		Instrument: "db.client.connection.count", Unit: "{connection}", Help: "Connections of the pool by state."}
	DBConnectionsMax = Metric{Name: "db_client_connection_max", Kind: Gauge, Source: "pgx pool",
		Labels:     []string{"service_name"},
		Instrument: "db.client.connection.max", Unit: "{connection}", Help: "The most connections the pool opens."}
	// DBAcquireWaits and DBAcquireWait, since pgxpool counts no requests
	// waiting now: acquires that found no idle connection, and the seconds
	// they waited. Their rates show a pool too small.
	DBAcquireWaits = Metric{Name: "sportello_db_acquire_waits_total", Kind: Counter, Source: "pgx pool",
		Labels:     []string{"service_name"},
		Instrument: "sportello.db.acquire.waits", Unit: "{acquire}", Help: "Connection acquires that found no idle connection and waited."}
	DBAcquireWait = Metric{Name: "sportello_db_acquire_wait_seconds_total", Kind: Counter, Source: "pgx pool",
		Labels:     []string{"service_name"},
		Instrument: "sportello.db.acquire.wait", Unit: "s", Help: "Time spent by those acquires waiting for a connection."}
)

// All are every metric the functions export, besides target_info (the
// resource's attributes).
var All = []Metric{
	HTTPServerDuration, HTTPClientDuration,
	Holds, Bookings, Mails, Rooms, EventsDelivered,
	OutboxBacklog, OutboxOldestAge,
	DBConnections, DBConnectionsMax, DBAcquireWaits, DBAcquireWait,
}

// texts are the values' texts.
func texts[V interface{ String() string }](values ...V) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.String()
	}
	return out
}
