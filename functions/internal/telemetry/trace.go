package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is Sportello's tracer, from the global provider.
func Tracer() trace.Tracer { return otel.Tracer("github.com/sportello/sportello/functions") }

// Start starts a client span called name (a call to SMTP, S3 or LiveKit)
// under ctx's span. End it with End.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// End ends span, marking it failed with err when err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Context is a trace context in its W3C text form: what the outbox stores
// with an event and sends as the CloudEvents distributed-tracing extension.
type Context struct {
	TraceParent string
	TraceState  string
}

// ContextOf returns the trace context of ctx's span, or the zero Context
// when there is none.
func ContextOf(ctx context.Context) Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return Context{}
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return Context{TraceParent: c["traceparent"], TraceState: c["tracestate"]}
}

// Into returns ctx with tc as its remote parent span context (ctx itself
// when tc is empty or malformed).
func (tc Context) Into(ctx context.Context) context.Context {
	if tc.TraceParent == "" {
		return ctx
	}
	c := propagation.MapCarrier{"traceparent": tc.TraceParent}
	if tc.TraceState != "" {
		c["tracestate"] = tc.TraceState
	}
	return propagation.TraceContext{}.Extract(ctx, c)
}

// LogHandler adds trace_id and span_id to every record logged with a
// context that carries a span (log.InfoContext and the like).
type LogHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }
