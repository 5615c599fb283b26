package deploy

import (
	"slices"

	contract "github.com/sportello/sportello/functions/metrics"
)

// Metric is one metric the alerts and dashboards may name, as it appears in
// the Prometheus format: its Name, Kind (a histogram is named with _bucket,
// _count and _sum), Labels, the Values some labels take where they are
// fixed (outcome), and its Source, who exports it. The functions declare
// theirs in package metrics; Knative's are written below in the same type.
type Metric = contract.Metric

// targetLabels are the labels a scrape adds (the Prometheus Operator's
// ServiceMonitor and PodMonitor) and the histograms' bucket bound.
var targetLabels = []string{"namespace", "pod", "container", "service", "endpoint", "job", "instance", "le"}

// metrics are every metric the chart's alerts and dashboards may name: the
// functions' telemetry contract (contract.All, which a test of
// functions/internal/telemetry checks against what the functions export;
// every series carries service_name) and Knative's, as Knative Serving
// 1.15's queue-proxy, activator and autoscaler and Eventing 1.15's broker
// filter export them (OpenCensus views in knative.dev/serving v0.42.2 and
// knative.dev/eventing v0.42.3, named <component>_<view>).
var metrics = slices.Concat(contract.All, knative)

// knative are Knative's metrics.
var knative = []Metric{
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
