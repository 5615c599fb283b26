package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// traceExporter posts the SDK's spans over OTLP/HTTP in protobuf (see
// otlpHTTP for the variables it reads), an ExportTraceServiceRequest a
// batch, encoded as the SDK's otlptrace exporter converts them (its
// internal/tracetransform package). The batching is the SDK's
// (sdktrace.WithBatcher).
type traceExporter struct{ *otlpHTTP }

// newTraceExporter returns the OTLP/HTTP span exporter the environment
// asks for.
func newTraceExporter(cfg Config) (*traceExporter, error) {
	c, err := newOTLPHTTP(cfg, "traces", cfg.TracesEndpoint)
	if err != nil {
		return nil, err
	}
	return &traceExporter{c}, nil
}

// ExportSpans posts spans, unless there are none.
func (e *traceExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	return e.post(ctx, traceRequest(spans))
}

// scopeSpans are the spans of one instrumentation scope; resourceSpans the
// scopes of one resource.
type scopeSpans struct {
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

type resourceSpans struct {
	res    *resource.Resource
	scopes []*scopeSpans
}

// traceRequest encodes an ExportTraceServiceRequest of spans, grouped by
// resource and by scope in the order they first come.
func traceRequest(spans []sdktrace.ReadOnlySpan) []byte {
	var groups []*resourceSpans
	byResource := map[attribute.Distinct]*resourceSpans{}
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	byScope := map[scopeKey]*scopeSpans{}
	for _, s := range spans {
		rk := s.Resource().Equivalent()
		rs, ok := byResource[rk]
		if !ok {
			rs = &resourceSpans{res: s.Resource()}
			byResource[rk] = rs
			groups = append(groups, rs)
		}
		sk := scopeKey{rk, s.InstrumentationScope()}
		ss, ok := byScope[sk]
		if !ok {
			ss = &scopeSpans{scope: sk.scope}
			byScope[sk] = ss
			rs.scopes = append(rs.scopes, ss)
		}
		ss.spans = append(ss.spans, s)
	}

	var b []byte
	for _, rs := range groups {
		b = appendMessage(b, 1, func(b []byte) []byte { // ExportTraceServiceRequest.resource_spans
			b = appendResource(b, 1, rs.res) // ResourceSpans.resource
			for _, ss := range rs.scopes {
				b = appendMessage(b, 2, func(b []byte) []byte { // .scope_spans
					b = appendScope(b, 1, ss.scope) // ScopeSpans.scope
					for _, s := range ss.spans {
						b = appendMessage(b, 2, func(b []byte) []byte { return appendSpan(b, s) }) // .spans
					}
					return appendString(b, 3, ss.scope.SchemaURL) // .schema_url
				})
			}
			return appendString(b, 3, rs.res.SchemaURL()) // .schema_url
		})
	}
	return b
}

// The span flags' bits telling whether a span's parent (a link's span) is
// remote, above the W3C trace flags.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

func spanFlags(flags trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(flags) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

// appendSpan appends the body of a Span.
func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc, parent := s.SpanContext(), s.Parent()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, 1, tid[:])                    // Span.trace_id
	b = appendBytes(b, 2, sid[:])                    // .span_id
	b = appendString(b, 3, sc.TraceState().String()) // .trace_state
	if parent.SpanID().IsValid() {
		psid := parent.SpanID()
		b = appendBytes(b, 4, psid[:]) // .parent_span_id
	}
	b = appendString(b, 5, s.Name())                      // .name
	b = appendVarint(b, 6, spanKind(s.SpanKind()))        // .kind
	b = appendFixed64(b, 7, unixNano(s.StartTime()))      // .start_time_unix_nano
	b = appendFixed64(b, 8, unixNano(s.EndTime()))        // .end_time_unix_nano
	b = appendKeyValues(b, 9, impersonal(s.Attributes())) // .attributes
	b = appendVarint(b, 10, count(s.DroppedAttributes())) // .dropped_attributes_count
	for _, ev := range s.Events() {
		b = appendMessage(b, 11, func(b []byte) []byte { // .events
			b = appendFixed64(b, 1, unixNano(ev.Time))                 // Event.time_unix_nano
			b = appendString(b, 2, ev.Name)                            // .name
			b = appendKeyValues(b, 3, ev.Attributes)                   // .attributes
			return appendVarint(b, 4, count(ev.DroppedAttributeCount)) // .dropped_attributes_count
		})
	}
	b = appendVarint(b, 12, count(s.DroppedEvents())) // .dropped_events_count
	for _, l := range s.Links() {
		b = appendMessage(b, 13, func(b []byte) []byte { // .links
			ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
			b = appendBytes(b, 1, ltid[:])                              // Link.trace_id
			b = appendBytes(b, 2, lsid[:])                              // .span_id
			b = appendString(b, 3, l.SpanContext.TraceState().String()) // .trace_state
			b = appendKeyValues(b, 4, l.Attributes)                     // .attributes
			b = appendVarint(b, 5, count(l.DroppedAttributeCount))      // .dropped_attributes_count
			b = protowire.AppendTag(b, 6, protowire.Fixed32Type)        // .flags
			return protowire.AppendFixed32(b, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		})
	}
	b = appendVarint(b, 14, count(s.DroppedLinks())) // .dropped_links_count
	b = appendMessage(b, 15, func(b []byte) []byte { // .status
		b = appendString(b, 2, s.Status().Description)         // Status.message
		return appendVarint(b, 3, statusCode(s.Status().Code)) // .code
	})
	b = protowire.AppendTag(b, 16, protowire.Fixed32Type) // .flags
	return protowire.AppendFixed32(b, spanFlags(sc.TraceFlags(), parent))
}

// personal are the attributes otelhttp puts on every server and client
// span that say who the caller is: the citizen's network address and
// browser, and the request's path, which may hold a token of its own (a
// place in a waiting room, GET /api/queue/{token}); http.route names the
// route. They never leave the function, as they never go in a log.
var personal = map[attribute.Key]bool{
	"client.address": true, "client.port": true, "network.peer.address": true, "network.peer.port": true,
	"user_agent.original": true, "url.path": true,
}

// impersonal is attrs without the personal ones.
func impersonal(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := attrs[:0:0]
	for _, kv := range attrs {
		if !personal[kv.Key] {
			out = append(out, kv)
		}
	}
	return out
}

// spanKind is OTLP's number of a span kind: the SDK's own, an unknown one
// unspecified.
func spanKind(k trace.SpanKind) uint64 {
	if k > trace.SpanKindConsumer {
		return 0
	}
	return uint64(k)
}

// statusCode is OTLP's number of a span's status code (OK and ERROR are
// numbered the other way round in the SDK).
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}
