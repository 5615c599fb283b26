package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sportello/sportello/functions/manifest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// TestChartTelemetry: every function gets the OpenTelemetry variables of
// the telemetry values, its name as OTEL_SERVICE_NAME, and its own env
// entry where it has one.
func TestChartTelemetry(t *testing.T) {
	m := manifest.NewDocument()
	base := map[string]string{"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "9464"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want map[string]string            // every function's OTEL_* (and OTEL_SERVICE_NAME its name)
		own  map[string]map[string]string // a function's differences
	}{
		{"defaults: tracing off, Sportello's sampler, Prometheus on its port", nil, base, nil},
		{"traces to a collector, all sampled, metrics pushed",
			[]string{"--set", "telemetry.otlpEndpoint=http://collector.observability:4318", "--set", "telemetry.traces.sampler=always_on",
				"--set", "telemetry.traces.samplerArg=1", "--set", "telemetry.metrics.exporter=otlp"},
			with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.observability:4318", "OTEL_TRACES_SAMPLER", "always_on",
				"OTEL_TRACES_SAMPLER_ARG", "1", "OTEL_METRICS_EXPORTER", "otlp", "OTEL_EXPORTER_PROMETHEUS_PORT", ""), nil},
		{"no metrics, another port ignored", []string{"--set", "telemetry.metrics.exporter=none", "--set", "telemetry.metrics.port=9500"},
			with("OTEL_METRICS_EXPORTER", "none", "OTEL_EXPORTER_PROMETHEUS_PORT", ""), nil},
		{"a function's own env wins", []string{"--set", "functions.send-email.env.OTEL_TRACES_SAMPLER=always_on", "--set", "functions.send-email.env.OTEL_SERVICE_NAME=mailer"},
			base, map[string]map[string]string{"send-email": {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_SERVICE_NAME": "mailer"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := helmTemplate(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			r := decodeAll(t, objs)
			for _, f := range m.Functions {
				s, ok := r.Services[f.Name]
				if !ok {
					t.Errorf("no Knative Service %s", f.Name)
					continue
				}
				want := map[string]string{"OTEL_SERVICE_NAME": f.Name}
				for k, v := range tc.want {
					want[k] = v
				}
				for k, v := range tc.own[f.Name] {
					want[k] = v
				}
				got := map[string]string{}
				for _, e := range s.Spec.Template.Spec.Containers[0].Env {
					if strings.HasPrefix(e.Name, "OTEL_") {
						if _, dup := got[e.Name]; dup {
							t.Errorf("%s: %s set twice", f.Name, e.Name)
						}
						got[e.Name] = e.Value
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: OTEL_* variables (-want +got):\n%s", f.Name, diff)
				}
			}
		})
	}
}

// TestMetricsPortNotDeclarable is why the metrics port is reached through a
// Service of our own: Serving's validation refuses a second container port
// on a Knative Service, so a PodMonitor (which selects declared ports) has
// nothing to find.
func TestMetricsPortNotDeclarable(t *testing.T) {
	objs, err := helmTemplate(t)
	if err != nil {
		t.Fatal(err)
	}
	r := decodeAll(t, objs)
	s := r.Services["reserve"].DeepCopy()
	c := &s.Spec.Template.Spec.Containers[0]
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 9464})
	err = fieldErr(s.Validate(validationContext(t)))
	if err == nil || !strings.Contains(err.Error(), "more than one container port is set") {
		t.Fatalf("a Knative Service with a second port: %v, want Serving's refusal", err)
	}
	t.Logf("refused: %v", err)
}

// Monitor is what the checks read of a ServiceMonitor, a PodMonitor or a
// PrometheusRule (TestKube checks them against the CRDs).
type Monitor struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port string `json:"port"`
		} `json:"endpoints"`
		PodMetricsEndpoints []struct {
			Port string `json:"port"`
		} `json:"podMetricsEndpoints"`
		Groups []struct {
			Name  string `json:"name"`
			Rules []Rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func monitor(t *testing.T, objs []Object, kind string) []Monitor {
	t.Helper()
	var out []Monitor
	for _, o := range objs {
		if o.Kind == kind && o.APIVersion == "monitoring.coreos.com/v1" {
			var m Monitor
			if err := json.Unmarshal(o.Raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// alertRules are the alerting rules of a rendering's PrometheusRules.
func alertRules(t *testing.T, objs []Object) []Rule {
	t.Helper()
	var out []Rule
	for _, m := range monitor(t, objs, "PrometheusRule") {
		for _, g := range m.Spec.Groups {
			out = append(out, g.Rules...)
		}
	}
	return out
}

// Alerts are the chart's alerts; SportelloDeadLetter only with its own
// dead-letter sink.
var Alerts = []string{"SportelloDatabasePoolExhausted", "SportelloDeadLetter", "SportelloHoldRefusalsSurging",
	"SportelloMailDown", "SportelloMailFailing", "SportelloOutboxStuck", "SportelloServerErrors"}

// TestChartMonitoring: with monitoring on, the metrics Service selects
// exactly the functions' pods on the metrics port and the ServiceMonitor
// selects it by its port's name; the PodMonitor reads queue-proxy's port;
// the alerts are all there, each with a severity and a runbook in
// docs/operations.md; the dashboards are one ConfigMap each, as in
// dashboards/, labelled for Grafana's sidecar. Off (the default), none of
// them renders.
func TestChartMonitoring(t *testing.T) {
	m := manifest.NewDocument()
	args := renderings(t)["production, monitoring"]
	objs, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	r := decodeAll(t, objs)

	svc, ok := r.KubeServices["sportello-metrics"]
	if !ok {
		t.Fatal("no metrics Service")
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.IntValue() != 9464 {
		t.Errorf("metrics Service: clusterIP %q, ports %+v; want headless, one port to 9464", svc.Spec.ClusterIP, svc.Spec.Ports)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var selected []string
	for name, s := range r.Services {
		if sel.Matches(labels.Set(s.Spec.Template.Labels)) {
			selected = append(selected, name)
		}
	}
	var functions []string
	for _, f := range m.Functions {
		functions = append(functions, f.Name)
	}
	sort.Strings(selected)
	sort.Strings(functions)
	if diff := cmp.Diff(functions, selected); diff != "" {
		t.Errorf("the metrics Service selects other pods than the functions' (-functions +selected):\n%s", diff)
	}
	sms := monitor(t, objs, "ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(sms))
	}
	if !labels.SelectorFromSet(sms[0].Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
		t.Errorf("the ServiceMonitor's selector %v does not select the metrics Service %v", sms[0].Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sms[0].Spec.Endpoints) != 1 || sms[0].Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("the ServiceMonitor's endpoints %+v, want the port %s", sms[0].Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	if sms[0].Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("the ServiceMonitor's labels %v lack the values' ones", sms[0].Metadata.Labels)
	}
	pms := monitor(t, objs, "PodMonitor")
	if len(pms) != 1 || len(pms[0].Spec.PodMetricsEndpoints) != 1 || pms[0].Spec.PodMetricsEndpoints[0].Port != servingv1.UserQueueMetricsPortName {
		t.Errorf("PodMonitors %+v, want one on queue-proxy's %s", pms, servingv1.UserQueueMetricsPortName)
	}

	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(doc))
	var alerts []string
	for _, rule := range alertRules(t, objs) {
		alerts = append(alerts, rule.Alert)
		if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q", rule.Alert, s)
		}
		if rule.Annotations["summary"] == "" || rule.Annotations["description"] == "" {
			t.Errorf("%s: no summary or description", rule.Alert)
		}
		_, anchor, _ := strings.Cut(rule.Annotations["runbook_url"], "/docs/operations.md#")
		if !anchors[anchor] {
			t.Errorf("%s: runbook_url %q: no such heading in docs/operations.md", rule.Alert, rule.Annotations["runbook_url"])
		}
		if !strings.Contains(string(doc), rule.Alert) {
			t.Errorf("%s: not explained in docs/operations.md", rule.Alert)
		}
	}
	sort.Strings(alerts)
	if diff := cmp.Diff(Alerts, alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}

	files, err := filepath.Glob(filepath.Join(root(t), "charts", "sportello", "dashboards", "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("dashboards: %v %v, want 3", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		cm, ok := r.ConfigMaps["sportello-dashboard-"+name]
		if !ok {
			t.Errorf("dashboard %s: no ConfigMap", name)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(cm.Data[filepath.Base(f)]) != strings.TrimSpace(string(b)) {
			t.Errorf("dashboard %s: the ConfigMap's JSON is not the file's", name)
		}
		if cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != "Sportello" {
			t.Errorf("dashboard %s: labels %v, annotations %v", name, cm.Labels, cm.Annotations)
		}
	}

	t.Run("own dead-letter sink", func(t *testing.T) {
		objs, err := helmTemplate(t, append(slices.Clone(args), "--set", "deadLetters.uri=http://store.example.org/")...)
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range alertRules(t, objs) {
			if rule.Alert == "SportelloDeadLetter" {
				t.Errorf("SportelloDeadLetter rendered with a dead-letter sink the chart does not run")
			}
		}
	})
	t.Run("off by default", func(t *testing.T) {
		objs, err := helmTemplate(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.APIVersion == "monitoring.coreos.com/v1" || (o.APIVersion == "v1" && o.Kind == "Service") || strings.Contains(o.Metadata.Name, "dashboard") {
				t.Errorf("%s rendered with monitoring off", o)
			}
		}
	})
}

// markdownAnchors are the anchors GitHub makes of a Markdown file's
// headings.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	strip := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(strip.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// Dashboard is what the checks read of a Grafana dashboard.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is one panel (a row holds panels when collapsed).
type Panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Desc    string  `json:"description"`
	Panels  []Panel `json:"panels"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func (d Dashboard) allPanels() []Panel {
	var out []Panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// dashboards reads charts/sportello/dashboards/*.json.
func dashboards(t *testing.T) map[string]Dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), "charts", "sportello", "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = d
	}
	return out
}

// TestDashboards: the three dashboards are Grafana's JSON model at schema
// version 39 or later, with unique uids, a Prometheus datasource variable
// every query uses (no datasource uid written in), unique panel ids,
// panels inside the 24-column grid, each with a description and, but rows,
// a query.
func TestDashboards(t *testing.T) {
	ds := dashboards(t)
	var names []string
	for n := range ds {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"click-day", "event-chain", "video"}, names); diff != "" {
		t.Errorf("dashboards (-want +got):\n%s", diff)
	}
	uids := map[string]bool{}
	for _, name := range names {
		d := ds[name]
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d", name, d.SchemaVersion)
		}
		if d.UID == "" || uids[d.UID] {
			t.Errorf("%s: uid %q empty or taken", name, d.UID)
		}
		uids[d.UID] = true
		hasDS := false
		for _, v := range d.Templating.List {
			if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
				hasDS = true
			}
		}
		if !hasDS {
			t.Errorf("%s: no Prometheus datasource variable", name)
		}
		b, err := os.ReadFile(filepath.Join(root(t), "charts", "sportello", "dashboards", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		walkDatasources(raw, func(uid string) {
			if uid != "${datasource}" && uid != "-- Grafana --" {
				t.Errorf("%s: a datasource uid written in: %q", name, uid)
			}
		})
		ids := map[int]bool{}
		for _, p := range d.allPanels() {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", name, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
				t.Errorf("%s, %q: gridPos %+v outside the grid", name, p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Desc == "" || len(p.Targets) == 0 {
				t.Errorf("%s, %q: no description or no query", name, p.Title)
			}
		}
		t.Logf("%s: %d panels", name, len(ids))
	}
}

// walkDatasources calls f with the uid of every datasource reference.
func walkDatasources(v any, f func(uid string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if ds, ok := c.(map[string]any); ok && k == "datasource" {
				uid, _ := ds["uid"].(string)
				f(uid)
			}
			walkDatasources(c, f)
		}
	case []any:
		for _, c := range v {
			walkDatasources(c, f)
		}
	}
}
