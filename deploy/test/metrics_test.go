package deploy

// Metric is one metric the alerts and dashboards may name, as it appears in
// the Prometheus format.
type Metric struct {
	Name string
	// Kind: counter, gauge or histogram (named with _bucket, _count and
	// _sum).
	Kind   string
	Labels []string
	// Values are the values some labels take (outcome), where they are
	// fixed.
	Values map[string][]string
	// Source says who exports it.
	Source string
}

// targetLabels are the labels a scrape adds (the Prometheus Operator's
// ServiceMonitor and PodMonitor) and the histograms' bucket bound.
var targetLabels = []string{"namespace", "pod", "container", "service", "endpoint", "job", "instance", "le"}

// metrics are every metric the chart's alerts and dashboards may name: the
// functions' telemetry contract (functions/internal/telemetry; every
// series carries service_name; as main's telemetry package exports them,
// which differs from the first contract in the rooms' outcomes and the pool's
// waits) and Knative's, as Knative Serving 1.15's
// queue-proxy, activator and autoscaler and Eventing 1.15's broker filter
// export them (OpenCensus views in knative.dev/serving v0.42.2 and
// knative.dev/eventing v0.42.3, named <component>_<view>).
var metrics = []Metric{
	// The functions (OpenTelemetry).
	{Name: "http_server_request_duration_seconds", Kind: "histogram", Source: "functions",
		Labels: []string{"service_name", "http_request_method", "http_route", "http_response_status_code"}},
	{Name: "sportello_holds_total", Kind: "counter", Source: "reserve", Labels: []string{"service_name", "outcome", "reason"},
		Values: map[string][]string{"outcome": {"taken", "refused", "expired", "released"}, "reason": {"taken", "rate_limited", "stale", "lapsed"}}},
	{Name: "sportello_bookings_total", Kind: "counter", Source: "functions", Labels: []string{"service_name", "outcome"},
		Values: map[string][]string{"outcome": {"confirmed", "rescheduled", "cancelled", "completed", "no_show"}}},
	{Name: "sportello_mails_total", Kind: "counter", Source: "send-email", Labels: []string{"service_name", "outcome"},
		Values: map[string][]string{"outcome": {"sent", "failed"}}},
	{Name: "sportello_rooms_total", Kind: "counter", Source: "provision-room, housekeeping", Labels: []string{"service_name", "outcome"},
		Values: map[string][]string{"outcome": {"opened", "closed", "warned"}}},
	{Name: "sportello_events_delivered_total", Kind: "counter", Source: "outbox relay", Labels: []string{"service_name", "outcome", "type"},
		Values: map[string][]string{"outcome": {"delivered", "failed"}}},
	{Name: "sportello_outbox_backlog", Kind: "gauge", Source: "outbox relay", Labels: []string{"service_name"}},
	{Name: "sportello_outbox_oldest_age_seconds", Kind: "gauge", Source: "outbox relay", Labels: []string{"service_name"}},
	{Name: "db_client_connection_count", Kind: "gauge", Source: "pgx pool", Labels: []string{"service_name", "db_client_connection_state"},
		Values: map[string][]string{"db_client_connection_state": {"idle", "used"}}},
	{Name: "db_client_connection_max", Kind: "gauge", Source: "pgx pool", Labels: []string{"service_name"}},
	// pgxpool counts no waiting requests: acquires that found no idle
	// connection, and the seconds they waited.
	{Name: "sportello_db_acquire_waits_total", Kind: "counter", Source: "pgx pool", Labels: []string{"service_name"}},
	{Name: "sportello_db_acquire_wait_seconds_total", Kind: "counter", Source: "pgx pool", Labels: []string{"service_name"}},

	// Knative Serving's queue-proxy, beside every function (port
	// http-usermetric); latencies in milliseconds.
	{Name: "revision_request_count", Kind: "counter", Source: "queue-proxy", Labels: append(revisionLabels, "response_code", "response_code_class", "route_tag")},
	{Name: "revision_request_latencies", Kind: "histogram", Source: "queue-proxy", Labels: append(revisionLabels, "response_code", "response_code_class", "route_tag")},
	{Name: "revision_app_request_count", Kind: "counter", Source: "queue-proxy", Labels: append(revisionLabels, "response_code", "response_code_class")},
	{Name: "revision_app_request_latencies", Kind: "histogram", Source: "queue-proxy", Labels: append(revisionLabels, "response_code", "response_code_class")},
	{Name: "revision_queue_depth", Kind: "gauge", Source: "queue-proxy", Labels: revisionLabels},
	// The activator, in front of a function scaled to zero (or below its
	// burst capacity).
	{Name: "activator_request_count", Kind: "counter", Source: "activator", Labels: append(revisionLabels, "response_code", "response_code_class")},
	{Name: "activator_request_latencies", Kind: "histogram", Source: "activator", Labels: append(revisionLabels, "response_code", "response_code_class")},
	{Name: "activator_request_concurrency", Kind: "gauge", Source: "activator", Labels: revisionLabels},
	// The autoscaler, per revision.
	{Name: "autoscaler_desired_pods", Kind: "gauge", Source: "autoscaler", Labels: revisionLabels},
	{Name: "autoscaler_actual_pods", Kind: "gauge", Source: "autoscaler", Labels: revisionLabels},
	{Name: "autoscaler_stable_request_concurrency", Kind: "gauge", Source: "autoscaler", Labels: revisionLabels},
	{Name: "autoscaler_panic_mode", Kind: "gauge", Source: "autoscaler", Labels: revisionLabels},
	// Eventing's broker filter: each attempt to deliver to a Trigger's
	// subscriber. An event sent to a dead-letter sink is not told apart.
	{Name: "mt_broker_filter_event_count", Kind: "counter", Source: "broker filter",
		Labels: []string{"namespace_name", "broker_name", "trigger_name", "filter_type", "filter_request_type", "filter_request_scheme", "response_code", "response_code_class", "container_name", "unique_name"}},
	{Name: "mt_broker_filter_event_dispatch_latencies", Kind: "histogram", Source: "broker filter",
		Labels: []string{"namespace_name", "broker_name", "trigger_name", "filter_type", "filter_request_type", "filter_request_scheme", "response_code", "response_code_class", "container_name", "unique_name"}},
}

// revisionLabels are the labels of Knative Serving's per-revision metrics.
var revisionLabels = []string{"namespace_name", "service_name", "configuration_name", "revision_name", "pod_name", "container_name"}

// lookupMetric finds the metric a series name belongs to (a histogram's
// _bucket, _count and _sum series are its own).
func lookupMetric(series string) (Metric, bool) {
	for _, m := range metrics {
		if m.Name == series {
			return m, m.Kind != "histogram"
		}
		if m.Kind == "histogram" {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if series == m.Name+suffix {
					return m, true
				}
			}
		}
	}
	return Metric{}, false
}
