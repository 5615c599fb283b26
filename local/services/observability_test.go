package services

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventually calls f every 100ms until it reports done or timeout passes,
// then fails the test with f's last complaint.
func eventually(t *testing.T, timeout time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, why := f()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getJSON GETs u and decodes its JSON body into out; it returns the status.
func getJSON(u string, out any) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// otlpSpan is one span of service in the OTLP/HTTP JSON encoding.
func otlpSpan(service, traceID, spanID, name string) string {
	now := time.Now()
	return fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},
"scopeSpans":[{"scope":{"name":"test"},"spans":[{"traceId":%q,"spanId":%q,"name":%q,"kind":2,
"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, service, traceID, spanID, name, now.Add(-5*time.Millisecond).UnixNano(), now.UnixNano())
}

// TestJaeger: a span sent over OTLP/HTTP to the endpoint of Env comes back
// from the query API under its trace id; nothing listens beyond loopback.
func TestJaeger(t *testing.T) {
	j := &Jaeger{Dir: t.TempDir()}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Stop()
	env := j.Env()
	if want := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:" + strconv.Itoa(j.OTLPPort), "JAEGER_URL=http://127.0.0.1:" + strconv.Itoa(j.QueryPort)}; !slices.Equal(env, want) {
		t.Errorf("Env() = %v, want %v", env, want)
	}
	for _, p := range j.ports() {
		if !strings.Contains(j.Config(), "127.0.0.1:"+strconv.Itoa(*p)) {
			t.Errorf("port %d is not bound to loopback in the config", *p)
		}
	}

	const traceID, spanID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	endpoint := strings.TrimPrefix(env[0], "OTEL_EXPORTER_OTLP_ENDPOINT=")
	resp, err := http.Post(endpoint+"/v1/traces", "application/json", strings.NewReader(otlpSpan("reserve", traceID, spanID, "POST /holds")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %s", resp.Status)
	}
	type trace struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		var got struct{ Data []trace }
		status, err := getJSON(j.URL()+"/api/traces/"+traceID, &got)
		if err != nil || status != http.StatusOK || len(got.Data) != 1 || len(got.Data[0].Spans) != 1 {
			return false, fmt.Sprintf("GET /api/traces/%s: %d %v %+v", traceID, status, err, got)
		}
		tr := got.Data[0]
		s := tr.Spans[0]
		if tr.TraceID != traceID || s.SpanID != spanID || s.OperationName != "POST /holds" || tr.Processes[s.ProcessID].ServiceName != "reserve" {
			t.Fatalf("trace = %+v, want reserve's span POST /holds", tr)
		}
		return true, ""
	})
	// Another trace id is not there.
	if status, _ := getJSON(j.URL()+"/api/traces/00000000000000000000000000000001", &struct{}{}); status != http.StatusNotFound {
		t.Errorf("an unknown trace: %d, want 404", status)
	}

	j.Stop()
	for _, p := range j.ports() {
		closedPort(t, *p)
	}
}

// TestVictoriaMetrics: a target listed in a file_sd file of the targets
// folder is scraped, with the file's labels, and the query API returns its
// metric; a target dropped from the file is no longer scraped.
func TestVictoriaMetrics(t *testing.T) {
	v := &VictoriaMetrics{Dir: t.TempDir(), ScrapeInterval: time.Second}
	if err := v.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer v.Stop()
	if want := []string{"METRICS_URL=http://127.0.0.1:" + strconv.Itoa(v.Port), "METRICS_TARGETS_DIR=" + v.TargetsDir()}; !slices.Equal(v.Env(), want) {
		t.Errorf("Env() = %v, want %v", v.Env(), want)
	}

	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# TYPE sportello_holds_total counter")
		fmt.Fprintln(w, `sportello_holds_total{outcome="taken"} 42`)
	}))
	defer target.Close()
	addr := strings.TrimPrefix(target.URL, "http://")
	if err := WriteTargets(v.TargetsDir(), "probe", []TargetGroup{{Targets: []string{addr}, Labels: map[string]string{"job": "reserve"}}}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(v.TargetsDir(), ".*")); len(left) != 0 {
		t.Errorf("temporary files left in the targets folder: %v", left)
	}

	type result struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	query := func(q string) (result, error) {
		var r result
		_, err := getJSON(v.URL()+"/api/v1/query?query="+url.QueryEscape(q), &r)
		return r, err
	}
	// A new series becomes searchable at VictoriaMetrics' next refresh of
	// its index of the current hour (every 10s).
	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := query(`sportello_holds_total{job="reserve"}`)
		if err != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return false, fmt.Sprintf("query: %v %+v", err, r)
		}
		m := r.Data.Result[0]
		if m.Metric["outcome"] != "taken" || m.Metric["instance"] != addr || m.Value[1] != "42" {
			t.Fatalf("series = %+v, want outcome taken, instance %s, 42", m, addr)
		}
		return true, ""
	})

	// Listed nowhere, the target is dropped: its "up" series goes.
	if err := os.Remove(TargetsFile(v.TargetsDir(), "probe")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		var targets struct {
			Data struct{ ActiveTargets []any } `json:"data"`
		}
		if _, err := getJSON(v.URL()+"/api/v1/targets", &targets); err != nil {
			return false, err.Error()
		}
		return len(targets.Data.ActiveTargets) == 0, fmt.Sprintf("active targets after the file went: %v", targets.Data.ActiveTargets)
	})

	v.Stop()
	closedPort(t, v.Port)
}

// TestWriteTargetsReplaces: a second write replaces the first whole.
func TestWriteTargetsReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, groups := range [][]TargetGroup{
		{{Targets: []string{"127.0.0.1:1"}, Labels: map[string]string{"job": "a"}}, {Targets: []string{"127.0.0.1:2"}}},
		{{Targets: []string{"127.0.0.1:3"}, Labels: map[string]string{"job": "b"}}},
	} {
		if err := WriteTargets(dir, "functions", groups); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(TargetsFile(dir, "functions"))
		if err != nil {
			t.Fatal(err)
		}
		var got []TargetGroup
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(groups) {
			t.Errorf("file = %v, want %v", got, groups)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("files = %v, want functions.json only", names)
	}
}
