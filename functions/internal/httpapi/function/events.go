package function

import (
	"context"
	"log/slog"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// EventHandler handles one CloudEvent. A nil error acknowledges it. An
// apperr.Invalid (a payload we can never handle) answers 400, which the
// broker does not retry: the event goes to the dead letters. A dependency
// that cannot be reached (the database, LiveKit, the object store) answers
// 503, any other error 500: the broker retries both with backoff.
type EventHandler func(ctx context.Context, ev cloudevents.Event) error

// consumerSpan starts the span of ev's handling. Its parent is the trace
// context the event carries (its distributed-tracing extension, set by the
// relay that published it), so the handling joins the trace of the request
// that wrote the event even when the broker in between started traces of
// its own; the HTTP request's span is linked.
func consumerSpan(ctx context.Context, ev cloudevents.Event) (context.Context, trace.Span) {
	link := trace.LinkFromContext(ctx)
	return telemetry.Tracer().Start(outbox.TraceOf(ev).Into(ctx), "process "+audit.ShortName(ev.Type()),
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(link),
		trace.WithAttributes(attribute.String("messaging.system", "cloudevents"), attribute.String("messaging.message.id", ev.ID()),
			attribute.String("cloudevents.event_type", ev.Type()), attribute.String("cloudevents.event_source", ev.Source())))
}

// Events serves CloudEvents posted to / in binary or structured mode, as a
// Knative Trigger delivers them.
func Events(log *slog.Logger, handle EventHandler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		ev, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			httpx.Error(w, r, log, apperr.New(apperr.Invalid, "", "not a CloudEvent: %s", err))
			return
		}
		if err := ev.Validate(); err != nil {
			httpx.Error(w, r, log, apperr.New(apperr.Invalid, "", "invalid CloudEvent: %s", err))
			return
		}
		ctx, span := consumerSpan(r.Context(), *ev)
		err = handle(ctx, *ev)
		telemetry.End(span, err)
		if err != nil {
			if apperr.CodeOf(err) == apperr.Invalid {
				log.WarnContext(ctx, "event refused", "event_id", ev.ID(), "type", ev.Type(), "err", err)
			} else {
				log.ErrorContext(ctx, "event failed", "event_id", ev.ID(), "type", ev.Type(), "err", err)
			}
			httpx.Error(w, r, nil, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
