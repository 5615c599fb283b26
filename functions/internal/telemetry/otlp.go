package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// otlpHTTP posts one signal's export requests over OTLP/HTTP in protobuf,
// encoded by traceExporter and metricExporter. It stands in for the SDK's
// otlptracehttp and otlpmetrichttp, whose collector packages link gRPC and
// grpc-gateway although only HTTP is spoken, and whose generated types
// link protobuf's reflection (see the package comment).
//
// It reads OpenTelemetry's variables, SIGNAL being TRACES or METRICS:
// OTEL_EXPORTER_OTLP_SIGNAL_ENDPOINT (used as it is), else
// OTEL_EXPORTER_OTLP_ENDPOINT followed by /v1/signal (http://localhost:4318
// when neither is set); OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_EXPORTER_OTLP_SIGNAL_HEADERS (key=value pairs, comma separated,
// values URL-encoded); OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds, 10 s by
// default). A refused request is not retried: the next batch of spans, the
// next (cumulative) metrics push, follows.
type otlpHTTP struct {
	signal  string
	url     string
	headers map[string]string
	client  *http.Client
	closed  atomic.Bool
}

// newOTLPHTTP returns the client of signal ("traces" or "metrics"), whose
// own endpoint, if set, is endpoint.
func newOTLPHTTP(cfg Config, signal, endpoint string) (*otlpHTTP, error) {
	c := &otlpHTTP{signal: signal, url: endpoint, headers: map[string]string{}, client: &http.Client{Timeout: 10 * time.Second}}
	if c.url == "" {
		base := cfg.Endpoint
		if base == "" {
			base = "http://localhost:4318"
		}
		c.url = strings.TrimSuffix(base, "/") + "/v1/" + signal
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP %s endpoint %q: not an http(s) URL", signal, c.url)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_" + strings.ToUpper(signal) + "_HEADERS"} {
		for _, kv := range strings.Split(os.Getenv(v), ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if u, err := url.QueryUnescape(strings.TrimSpace(val)); err == nil {
				c.headers[strings.TrimSpace(k)] = u
			}
		}
	}
	if ms := cfg.Timeout; ms > 0 {
		c.client.Timeout = time.Duration(ms) * time.Millisecond
	}
	return c, nil
}

// post sends an export request's body, unless the exporter is shut down.
func (c *otlpHTTP) post(ctx context.Context, body []byte) error {
	if c.closed.Load() {
		return fmt.Errorf("OTLP %s: exporter shut down", c.signal)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("OTLP: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("OTLP: %s answered %s", c.url, res.Status)
	}
	return nil
}

// Shutdown refuses the exports that follow (the SDK has flushed before
// calling it): it is the span and metric exporters'.
func (c *otlpHTTP) Shutdown(ctx context.Context) error {
	c.closed.Store(true)
	return ctx.Err()
}
