package traces

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// span is a span of process p starting at start (µs after 1000) lasting
// duration (µs), with references "CHILD_OF:<id>" or "FOLLOWS_FROM:<id>"
// and tags "key=value" (a value that is JSON stays JSON).
func span(id, p string, start, duration int64, refsAndTags ...string) Span {
	s := Span{SpanID: id, OperationName: "op " + id, ProcessID: p, StartTime: 1000 + start, Duration: duration}
	for _, x := range refsAndTags {
		if kind, ref, ok := strings.Cut(x, ":"); ok {
			s.References = append(s.References, Reference{RefType: kind, SpanID: ref})
			continue
		}
		k, v, _ := strings.Cut(x, "=")
		raw := json.RawMessage(v)
		if !json.Valid(raw) {
			raw, _ = json.Marshal(v)
		}
		s.Tags = append(s.Tags, KeyValue{Key: k, Value: raw})
	}
	return s
}

var processes = map[string]Process{"p1": {ServiceName: "reserve"}, "p2": {ServiceName: "send-email"}}

// shape is a waterfall's rows as "id depth left width status", plus
// "orphan" and the parent when there is one.
func shape(w Waterfall) []string {
	var out []string
	for _, r := range w.Rows {
		s := fmt.Sprintf("%s %d %.1f %.1f %s", r.Span.SpanID, r.Depth, r.Left, r.Width, r.Status)
		if r.Orphan {
			s += " orphan"
		}
		if r.Parent != "" {
			s += " under " + r.Parent
		}
		out = append(out, s)
	}
	return out
}

func TestNewWaterfall(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spans    []Span
		want     []string
		services string
		errors   int
		duration time.Duration
	}{
		{
			name: "a parent and two children, given out of order",
			spans: []Span{
				span("c2", "p2", 50, 50, "CHILD_OF:a", "otel.status_code=ERROR", "otel.status_description=refused"),
				span("a", "p1", 0, 100),
				span("c1", "p1", 10, 20, "CHILD_OF:a"),
			},
			want:     []string{"a 0 0.0 100.0 ok", "c1 1 10.0 20.0 ok under reserve: op a", "c2 1 50.0 50.0 error: refused under reserve: op a"},
			services: "reserve, send-email", errors: 1, duration: 100 * time.Microsecond,
		},
		{
			name: "a grandchild; error=true alone is an error",
			spans: []Span{
				span("a", "p1", 0, 1000),
				span("b", "p2", 100, 800, "CHILD_OF:a"),
				span("c", "p2", 200, 1, "CHILD_OF:b", "error=true"),
			},
			want:     []string{"a 0 0.0 100.0 ok", "b 1 10.0 80.0 ok under reserve: op a", "c 2 20.0 0.5 error under send-email: op b"},
			services: "reserve, send-email", errors: 1, duration: time.Millisecond,
		},
		{
			name: "a parent not arrived: its child is an orphan root; FOLLOWS_FROM is a parent too",
			spans: []Span{
				span("a", "p1", 0, 10),
				span("x", "p2", 20, 10, "CHILD_OF:missing"),
				span("y", "p2", 25, 5, "FOLLOWS_FROM:x"),
			},
			want:     []string{"a 0 0.0 33.3 ok", "x 0 66.7 33.3 ok orphan", "y 1 83.3 16.7 ok under send-email: op x"},
			services: "reserve, send-email", duration: 30 * time.Microsecond,
		},
		{
			name: "CHILD_OF wins over an earlier FOLLOWS_FROM; a bar at the end stays within the line; a root's tree comes whole",
			spans: []Span{
				span("a", "p1", 0, 1000),
				span("b", "p1", 0, 10),
				span("c", "p2", 1000, 0, "FOLLOWS_FROM:b", "CHILD_OF:a", "error=false", "otel.status_code=OK"),
			},
			want:     []string{"a 0 0.0 100.0 ok", "c 1 99.5 0.5 ok under reserve: op a", "b 0 0.0 1.0 ok"},
			services: "reserve, send-email", duration: time.Millisecond,
		},
		{
			name: "a cycle (bad data) still shows every span once",
			spans: []Span{
				span("a", "p1", 0, 10, "CHILD_OF:b"),
				span("b", "p1", 5, 10, "CHILD_OF:a"),
			},
			want:     []string{"a 0 0.0 66.7 ok orphan", "b 1 33.3 66.7 ok under reserve: op a"},
			services: "reserve", duration: 15 * time.Microsecond,
		},
		{
			name:     "a span of no known process; a trace of no length",
			spans:    []Span{span("a", "p9", 0, 0, "CHILD_OF:a")},
			want:     []string{"a 0 0.0 100.0 ok orphan"},
			services: "(unknown service)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWaterfall(Trace{TraceID: "t1", Spans: tc.spans, Processes: processes})
			if diff := cmp.Diff(tc.want, shape(w)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if got := strings.Join(w.Services, ", "); got != tc.services || w.Errors != tc.errors || w.Duration != tc.duration ||
				w.Spans != len(tc.spans) || !w.Start.Equal(time.UnixMicro(1000)) {
				t.Errorf("summary = %+v, want services %s, %d errors, %s", w.Summary, tc.services, tc.errors, tc.duration)
			}
			if root := w.Rows[0]; w.RootService != root.Service || w.RootName != root.Span.OperationName {
				t.Errorf("root = %s: %s, want the first row's", w.RootService, w.RootName)
			}
		})
	}
	if w := NewWaterfall(Trace{TraceID: "t0"}); len(w.Rows) != 0 || w.Spans != 0 {
		t.Errorf("an empty trace: %+v", w)
	}
}

func TestSpanEventsAndResource(t *testing.T) {
	s := span("a", "p1", 0, 100)
	s.Logs = []Log{{Timestamp: 1040, Fields: []KeyValue{{Key: "event", Value: json.RawMessage(`"retry"`)}}}}
	w := NewWaterfall(Trace{Spans: []Span{s}, Processes: map[string]Process{"p1": {ServiceName: "reserve",
		Tags: []KeyValue{{Key: "host.name", Value: json.RawMessage(`"box"`)}}}}})
	r := w.Rows[0]
	if len(r.Events) != 1 || r.Events[0].Offset != 40*time.Microsecond || r.Events[0].Fields[0].Text() != "retry" {
		t.Errorf("events = %+v", r.Events)
	}
	if len(r.Resource) != 1 || r.Resource[0].Text() != "box" {
		t.Errorf("resource = %+v", r.Resource)
	}
}

func TestKeyValueText(t *testing.T) {
	for raw, want := range map[string]string{
		`"POST /holds"`:        "POST /holds",
		`201`:                  "201",
		`9007199254740993`:     "9007199254740993", // no float rounding
		`true`:                 "true",
		`"with \"quotes\""`:    `with "quotes"`,
		`{"nested":["value"]}`: `{"nested":["value"]}`,
	} {
		if got := (KeyValue{Value: json.RawMessage(raw)}).Text(); got != want {
			t.Errorf("Text(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0 µs",
		999 * time.Microsecond:   "999 µs",
		time.Millisecond:         "1.00 ms",
		12345 * time.Microsecond: "12.3 ms",
		250 * time.Millisecond:   "250 ms",
		1500 * time.Millisecond:  "1.50 s",
		75 * time.Second:         "75.0 s",
		250 * time.Second:        "250 s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestValidTraceID(t *testing.T) {
	for id, want := range map[string]bool{
		"5b8efff798038103d269b633813fc60c":  true,
		"5B8EFFF798038103D269B633813FC60C":  true,
		"abc":                               true, // Jaeger pads short ids
		"":                                  false,
		"5b8efff798038103d269b633813fc60c0": false, // 33 digits
		"not-a-trace":                       false,
		"5b8e fff7":                         false,
		"é":                                 false,
	} {
		if got := ValidTraceID(id); got != want {
			t.Errorf("ValidTraceID(%q) = %v, want %v", id, got, want)
		}
	}
}
