package function

import (
	"context"
	"log/slog"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
)

// EventHandler handles one CloudEvent. A nil error acknowledges it. An
// apperr.Invalid (a payload we can never handle) answers 400, which the
// broker does not retry: the event goes to the dead letters. A dependency
// that cannot be reached (the database, LiveKit, the object store) answers
// 503, any other error 500: the broker retries both with backoff.
type EventHandler func(ctx context.Context, ev cloudevents.Event) error

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
		if err := handle(r.Context(), *ev); err != nil {
			if apperr.CodeOf(err) == apperr.Invalid {
				log.Warn("event refused", "event_id", ev.ID(), "type", ev.Type(), "err", err)
			} else {
				log.Error("event failed", "event_id", ev.ID(), "type", ev.Type(), "err", err)
			}
			httpx.Error(w, r, nil, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
