// Package traces is the local stack's view of the traces Jaeger keeps: a
// go-built Jaeger has no web UI (its UI is a separate npm build), so the
// gateway shows, at /_local/traces, the recent traces of every function and
// each trace as a waterfall of its spans, read from Jaeger's query API.
//
// This file holds the client of that API (GET /api/services,
// /api/traces?service=, /api/traces/<trace id>) and its JSON types.
package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Trace is a trace as the query API returns it: its spans and the
// processes (services) that made them.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Span is one span: times are in microseconds (StartTime since the epoch).
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
}

// Reference points to another span: CHILD_OF (its parent) or FOLLOWS_FROM.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// KeyValue is a tag (an attribute): Value is kept as the JSON it came in
// (a string, a number, a boolean), so that no number loses digits.
type KeyValue struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// Text is the value as text: a string unquoted, anything else as written.
func (kv KeyValue) Text() string {
	var s string
	if json.Unmarshal(kv.Value, &s) == nil {
		return s
	}
	return string(kv.Value)
}

// Log is a span event (an exception, a retry...) at Timestamp (µs).
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Process is the service that made spans, with its resource attributes.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// The errors of Client: ErrNotFound for a trace Jaeger does not have,
// ErrBadTraceID for an id that is not one, and an *UnavailableError when
// Jaeger does not answer or answers with an error of its own.
var (
	ErrNotFound   = errors.New("no such trace")
	ErrBadTraceID = errors.New("a trace id is 1 to 32 hexadecimal digits")
)

// UnavailableError is Jaeger not answering, or failing, at URL.
type UnavailableError struct {
	URL string
	Err error
}

func (e *UnavailableError) Error() string {
	return "Jaeger at " + e.URL + ": " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// ValidTraceID reports whether id is a trace id as Jaeger writes them:
// 1 to 32 lower- or upper-case hexadecimal digits.
func ValidTraceID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// Client reads Jaeger's query API at URL.
type Client struct {
	URL  string       // e.g. http://127.0.0.1:16686
	HTTP *http.Client // nil: a client with a 5 s timeout
}

var defaultHTTP = &http.Client{Timeout: 5 * time.Second}

// Services are the names of the services Jaeger has spans of.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	var names []string
	if err := c.get(ctx, "/api/services", nil, &names); err != nil {
		return nil, &UnavailableError{URL: c.URL, Err: err}
	}
	return names, nil
}

// Search returns the traces with a span of service that started since
// (newest first, as Jaeger's in-memory store keeps them), at most limit.
func (c *Client) Search(ctx context.Context, service string, since time.Time, limit int) ([]Trace, error) {
	q := url.Values{"service": {service}, "limit": {strconv.Itoa(limit)}, "start": {strconv.FormatInt(since.UnixMicro(), 10)}}
	var traces []Trace
	if err := c.get(ctx, "/api/traces", q, &traces); err != nil {
		return nil, &UnavailableError{URL: c.URL, Err: err}
	}
	return traces, nil
}

// Trace returns the trace id: ErrBadTraceID when id is not one,
// ErrNotFound when Jaeger has no such trace.
func (c *Client) Trace(ctx context.Context, id string) (Trace, error) {
	if !ValidTraceID(id) {
		return Trace{}, ErrBadTraceID
	}
	var traces []Trace
	err := c.get(ctx, "/api/traces/"+id, nil, &traces)
	var status *statusError
	switch {
	case errors.As(err, &status) && status.code == http.StatusNotFound:
		return Trace{}, ErrNotFound
	case errors.As(err, &status) && status.code == http.StatusBadRequest:
		return Trace{}, ErrBadTraceID // one it cannot parse, all zeros say
	case err != nil:
		return Trace{}, &UnavailableError{URL: c.URL, Err: err}
	}
	if len(traces) == 0 {
		return Trace{}, ErrNotFound
	}
	return traces[0], nil
}

// statusError is an answer of Jaeger's other than 200.
type statusError struct {
	path string
	code int
}

func (e *statusError) Error() string { return "GET " + e.path + ": " + http.StatusText(e.code) }

// get GETs path with the query q and decodes the "data" member of the
// answer into data; an answer other than 200 is a *statusError.
func (c *Client) get(ctx context.Context, path string, q url.Values, data any) error {
	u := strings.TrimSuffix(c.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	client := c.HTTP
	if client == nil {
		client = defaultHTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{path: path, code: resp.StatusCode}
	}
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if len(body.Data) == 0 || string(body.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(body.Data, data); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}
