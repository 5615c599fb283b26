package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// PromQL is what tools/promql (Prometheus's own parser, pinned there) says
// of one expression.
type PromQL struct {
	Expr      string `json:"expr"`
	Error     string `json:"error"`
	Selectors []struct {
		Metric   string `json:"metric"`
		Matchers []struct {
			Label string `json:"label"`
			Op    string `json:"op"`
			Value string `json:"value"`
		} `json:"matchers"`
	} `json:"selectors"`
	Grouping []string `json:"grouping"`
}

// parsePromQL parses exprs with tools/promql, built (from the build cache
// once warm) into a temporary folder.
func parsePromQL(t *testing.T, exprs []string) []PromQL {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "promql")
	if err := goBuild(filepath.Join(root(t), "deploy", "test", "tools", "promql"), bin, "."); err != nil {
		t.Fatalf("building tools/promql: %v", err)
	}
	in, err := json.Marshal(exprs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools/promql: %v\n%s", err, stderr.String())
	}
	var res []PromQL
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != len(exprs) {
		t.Fatalf("tools/promql answered %d expressions of %d", len(res), len(exprs))
	}
	return res
}

// grafanaVariables are what Grafana puts in place of the dashboards'
// variables before a query leaves it.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m", "$__range", "3h", "$__interval", "30s",
	"$namespace", ".*", "$dead_letters", "dead-letters",
)

// checkPromQL reports an expression that does not parse, or names a
// metric, a label or an outcome not in metrics (metrics_test.go).
func checkPromQL(t errorer, where string, q PromQL) {
	t.Helper()
	if q.Error != "" {
		t.Errorf("%s: %s\n  %s", where, q.Error, q.Expr)
		return
	}
	if len(q.Selectors) == 0 {
		t.Errorf("%s: selects no series: %s", where, q.Expr)
	}
	labels := slices.Clone(targetLabels)
	for _, s := range q.Selectors {
		m, ok := lookupMetric(s.Metric)
		if !ok {
			t.Errorf("%s: %q is no metric of the contract nor Knative's (metrics_test.go): %s", where, s.Metric, q.Expr)
			continue
		}
		labels = append(labels, m.Labels...)
		for _, mt := range s.Matchers {
			if !slices.Contains(m.Labels, mt.Label) && !slices.Contains(targetLabels, mt.Label) {
				t.Errorf("%s: %s has no label %s: %s", where, s.Metric, mt.Label, q.Expr)
			}
			allowed, fixed := m.Values[mt.Label]
			if !fixed || (mt.Op != "=" && mt.Op != "=~") {
				continue
			}
			for _, v := range strings.Split(mt.Value, "|") {
				if !slices.Contains(allowed, v) {
					t.Errorf("%s: %s{%s} takes %v, not %q: %s", where, s.Metric, mt.Label, allowed, v, q.Expr)
				}
			}
		}
	}
	for _, g := range q.Grouping {
		if !slices.Contains(labels, g) {
			t.Errorf("%s: groups by %s, a label of none of its metrics: %s", where, g, q.Expr)
		}
	}
}

// TestPromQL: every expression of the alerts (with the chart's dead-letter
// sink and without) and of the dashboards parses with Prometheus's parser
// and names only metrics, labels and outcomes of metrics_test.go.
func TestPromQL(t *testing.T) {
	type query struct{ where, expr string }
	var qs []query
	for _, args := range [][]string{renderings(t)["production, monitoring"], append(slices.Clone(renderings(t)["production, monitoring"]), "--set", "deadLetters.uri=http://store.example.org/")} {
		objs, err := helmTemplate(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range alertRules(t, objs) {
			qs = append(qs, query{"alert " + rule.Alert, rule.Expr})
		}
	}
	for name, d := range dashboards(t) {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				qs = append(qs, query{fmt.Sprintf("dashboard %s, panel %q", name, p.Title), grafanaVariables.Replace(tg.Expr)})
			}
		}
		for _, v := range d.Templating.List {
			if q, ok := v.Query.(map[string]any); ok && q["query"] != nil {
				// label_values(metric, label): the metric and the label.
				var metric, label string
				if _, err := fmt.Sscanf(strings.NewReplacer("(", " ", ",", " ", ")", " ").Replace(fmt.Sprint(q["query"])), "label_values %s %s", &metric, &label); err != nil {
					t.Errorf("dashboard %s, variable %s: %v", name, v.Name, err)
					continue
				}
				qs = append(qs, query{fmt.Sprintf("dashboard %s, variable %s", name, v.Name), fmt.Sprintf("count by (%s) (%s)", label, metric)})
			}
		}
	}
	exprs := make([]string, len(qs))
	for i, q := range qs {
		exprs[i] = q.expr
	}
	named := map[string]bool{}
	for i, res := range parsePromQL(t, exprs) {
		checkPromQL(t, qs[i].where, res)
		for _, s := range res.Selectors {
			named[s.Metric] = true
		}
	}
	t.Logf("%d expressions parsed, naming %d series names", len(qs), len(named))
	if !named["sportello_outbox_oldest_age_seconds"] || !named["revision_request_count"] {
		t.Errorf("the outbox's age or the dead letters are named nowhere")
	}
}

// TestPromQLCatches: the checks above fail on what they are for.
func TestPromQLCatches(t *testing.T) {
	bad := map[string]string{
		"does not parse":     `sum(rate(sportello_mails_total[5m])`,
		"unknown metric":     `rate(sportello_mail_total[5m])`,
		"unknown label":      `rate(sportello_mails_total{route="x"}[5m])`,
		"unknown outcome":    `rate(sportello_holds_total{outcome="confirmed"}[5m])`,
		"reason not emitted": `rate(sportello_holds_total{outcome="refused",reason="stale"}[5m])`,
		"unknown grouping":   `sum by (trigger_name) (rate(sportello_mails_total[5m]))`,
		"not a histogram":    `rate(sportello_mails_total_bucket[5m])`,
	}
	var names, exprs []string
	for n, e := range bad {
		names, exprs = append(names, n), append(exprs, e)
	}
	for i, res := range parsePromQL(t, exprs) {
		var errs errorCount
		checkPromQL(&errs, names[i], res)
		if errs == 0 {
			t.Errorf("%s: %s passes", names[i], exprs[i])
		}
	}
}

// errorer is the part of testing.T the checks report to.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// errorCount counts the errors reported to it.
type errorCount int

func (*errorCount) Helper()                 {}
func (n *errorCount) Errorf(string, ...any) { *n++ }
