// This file holds what the pages show of a trace: its summary (a row of
// the list) and its waterfall (the span tree, each span placed on the
// trace's time line).

package traces

import (
	"cmp"
	"slices"
	"time"
)

// Summary is a trace as the list of recent traces shows it.
type Summary struct {
	TraceID     string
	Start       time.Time     // the earliest span's start
	Duration    time.Duration // from the earliest start to the latest end
	RootService string        // the first root span's service and name
	RootName    string
	Spans       int
	Services    []string // every service with a span, in the tree's order
	Errors      int      // the spans with an error status
}

// Row is one span of a waterfall.
type Row struct {
	Span     Span
	Service  string
	Depth    int    // 0 for a root
	Orphan   bool   // a root whose parent is not in the trace (not arrived yet, or gone)
	Parent   string // the parent's "service: name", "" for a root
	Offset   time.Duration
	Duration time.Duration
	Left     float64 // where its bar starts, in percent of the trace's duration
	Width    float64 // the bar's length, in percent
	Error    bool
	Status   string     // "error", "error: <description>" or "ok"
	Resource []KeyValue // its process's attributes
	Events   []Event
}

// Event is a span event (Jaeger's log) at Offset from the span's start.
type Event struct {
	Offset time.Duration
	Fields []KeyValue
}

// Waterfall is a trace as its page shows it: the summary, then the spans
// in tree order (each parent followed by its children, by start time).
type Waterfall struct {
	Summary
	Rows []Row
}

// minWidth is the narrowest bar, in percent, so that a short span shows.
const minWidth = 0.5

// NewWaterfall lays t out: the span tree in depth-first order, children by
// start time. A span's parent is its first CHILD_OF reference to a span of
// the trace (else its first FOLLOWS_FROM one); a span without one is a root.
func NewWaterfall(t Trace) Waterfall {
	spans := slices.Clone(t.Spans)
	slices.SortStableFunc(spans, func(a, b Span) int {
		return cmp.Or(cmp.Compare(a.StartTime, b.StartTime), cmp.Compare(a.SpanID, b.SpanID))
	})
	w := Waterfall{Summary: Summary{TraceID: t.TraceID, Spans: len(spans)}}
	if len(spans) == 0 {
		return w
	}
	byID := make(map[string]bool, len(spans))
	start, end := spans[0].StartTime, spans[0].StartTime
	for _, s := range spans {
		byID[s.SpanID] = true
		end = max(end, s.StartTime+s.Duration)
	}
	total := end - start
	w.Start = time.UnixMicro(start)
	w.Duration = time.Duration(total) * time.Microsecond

	children := map[string][]int{}
	var roots []int
	for i, s := range spans {
		if p := parentOf(s, byID); p != "" {
			children[p] = append(children[p], i)
		} else {
			roots = append(roots, i)
		}
	}
	seen := make([]bool, len(spans))
	var visit func(i, depth int, parent *Row)
	visit = func(i, depth int, parent *Row) {
		if seen[i] {
			return
		}
		seen[i] = true
		r := row(spans[i], t.Processes, depth, start, total)
		if parent != nil {
			r.Parent = parent.Service + ": " + parent.Span.OperationName
		} else {
			r.Orphan = len(r.Span.References) > 0
		}
		w.Rows = append(w.Rows, r)
		for _, c := range children[spans[i].SpanID] {
			visit(c, depth+1, &r)
		}
	}
	for _, i := range roots {
		visit(i, 0, nil)
	}
	// Spans whose parents make a cycle (bad data) reach no root: shown as roots.
	for i := range spans {
		visit(i, 0, nil)
	}

	root := w.Rows[0]
	w.RootService, w.RootName = root.Service, root.Span.OperationName
	for _, r := range w.Rows {
		if !slices.Contains(w.Services, r.Service) {
			w.Services = append(w.Services, r.Service)
		}
		if r.Error {
			w.Errors++
		}
	}
	return w
}

// Summarize is the summary of t.
func Summarize(t Trace) Summary { return NewWaterfall(t).Summary }

// parentOf is the span id of s's parent among the spans of byID, "" for none.
func parentOf(s Span, byID map[string]bool) string {
	for _, kind := range []string{"CHILD_OF", "FOLLOWS_FROM"} {
		for _, r := range s.References {
			if r.RefType == kind && r.SpanID != s.SpanID && byID[r.SpanID] {
				return r.SpanID
			}
		}
	}
	return ""
}

// row places s on a trace that starts at start and lasts total (µs).
func row(s Span, processes map[string]Process, depth int, start, total int64) Row {
	p := processes[s.ProcessID]
	r := Row{Span: s, Service: p.ServiceName, Resource: p.Tags, Depth: depth,
		Offset: time.Duration(s.StartTime-start) * time.Microsecond, Duration: time.Duration(s.Duration) * time.Microsecond}
	if r.Service == "" {
		r.Service = "(unknown service)"
	}
	r.Left, r.Width = 0, 100
	if total > 0 {
		r.Width = max(float64(s.Duration)/float64(total)*100, minWidth)
		r.Left = min(float64(s.StartTime-start)/float64(total)*100, 100-r.Width)
	}
	r.Error, r.Status = status(s.Tags)
	for _, l := range s.Logs {
		r.Events = append(r.Events, Event{Offset: time.Duration(l.Timestamp-s.StartTime) * time.Microsecond, Fields: l.Fields})
	}
	return r
}

// status tells an error span by its tags, as Jaeger marks one that came
// over OTLP with status ERROR: error=true, otel.status_code=ERROR and the
// description in otel.status_description.
func status(tags []KeyValue) (bool, string) {
	failed := false
	description := ""
	for _, kv := range tags {
		switch kv.Key {
		case "error":
			failed = failed || kv.Text() == "true"
		case "otel.status_code":
			failed = failed || kv.Text() == "ERROR"
		case "otel.status_description":
			description = kv.Text()
		}
	}
	switch {
	case !failed:
		return false, "ok"
	case description != "":
		return true, "error: " + description
	}
	return true, "error"
}
