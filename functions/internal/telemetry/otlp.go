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
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// otlpHTTP sends spans over OTLP/HTTP in protobuf, as the client of
// OpenTelemetry's own exporter (otlptrace: batching, retries of the batch,
// and the conversion of the SDK's spans into OTLP's messages are its). It
// stands in for otlptracehttp, whose collector package links gRPC and
// grpc-gateway although only HTTP is spoken: about 7 MiB more in every
// function's binary.
//
// It reads OpenTelemetry's variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// (used as it is), else OTEL_EXPORTER_OTLP_ENDPOINT followed by
// /v1/traces; OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_EXPORTER_OTLP_TRACES_HEADERS (key=value pairs, comma separated,
// values URL-encoded); OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds, 10 s by
// default).
type otlpHTTP struct {
	url     string
	headers map[string]string
	client  *http.Client
}

// newTraceExporter returns the OTLP/HTTP span exporter the environment
// asks for.
func newTraceExporter(ctx context.Context, cfg Config) (*otlptrace.Exporter, error) {
	c := &otlpHTTP{url: cfg.TracesEndpoint, headers: map[string]string{}, client: &http.Client{Timeout: 10 * time.Second}}
	if c.url == "" {
		c.url = strings.TrimSuffix(cfg.Endpoint, "/") + "/v1/traces"
	}
	if _, err := url.ParseRequestURI(c.url); err != nil {
		return nil, fmt.Errorf("OTLP traces endpoint: %w", err)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
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
	return otlptrace.New(ctx, c)
}

func (c *otlpHTTP) Start(context.Context) error { return nil }

func (c *otlpHTTP) Stop(context.Context) error { return nil }

// UploadTraces posts an ExportTraceServiceRequest: its one field,
// resource_spans (1), repeated.
func (c *otlpHTTP) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	var body []byte
	for _, rs := range spans {
		b, err := proto.Marshal(rs)
		if err != nil {
			return fmt.Errorf("OTLP: encode spans: %w", err)
		}
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, b)
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
