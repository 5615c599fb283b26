// Command livekit-webhook turns LiveKit's webhooks about the bookings' video
// rooms into attendance and CloudEvents. LiveKit posts each webhook signed
// with an API key: a JWT in the Authorization header, made with the key's
// secret, whose sha256 claim is the body's SHA-256. A request whose
// signature, key or checksum does not verify is refused with 401 and
// changes nothing.
//
// Consumes: HTTP POST /api/livekit/webhook (LiveKit's webhook, JSON).
// Events of rooms named sportello-<booking_id> are recorded:
//   - participant_joined: a session of the identity (citizen-<booking_id> or
//     operator-<operator_id>) starts in table attendance;
//   - participant_left: that session ends (LiveKit's join time of the
//     connection tells which: the two webhooks meet in any order);
//   - room_finished: every session still open ends.
//
// Each webhook is handled once: its id is recorded (processed_events,
// consumer "livekit-webhook") in the transaction that writes the attendance
// and the event, so a retried webhook changes nothing more. Answers 200
// {"result": "recorded" | "duplicate" | "ignored"}; other events, other
// rooms, other identities and unknown bookings are ignored. 400 for a
// verified body that is not a webhook or whose text no field may hold
// (httpx.CheckJSON: a NUL, invalid UTF-8…, naming the field), 413 beyond
// 1 MiB.
//
// Emits: participant.joined.v1, participant.left.v1, room.finished.v1. The
// display name a participant gave is neither stored, logged nor emitted.
//
// Configuration, besides the common one: LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET, the pair LiveKit signs its webhooks with (webhook:
// api_key in LiveKit's configuration).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Name is the function's name, also its consumer name in processed_events.
const Name = "livekit-webhook"

// Config is what livekit-webhook reads besides the common configuration.
type Config struct {
	APIKey    string `envconfig:"LIVEKIT_API_KEY" required:"true"`
	APISecret string `envconfig:"LIVEKIT_API_SECRET" required:"true"`
}

func main() {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", Name, "err", err)
		os.Exit(1)
	}
	function.Main(Name, func(env *function.Env) http.Handler {
		return newHandler(env.Store, cfg.APIKey, cfg.APISecret, env.Log)
	})
}

// MaxBody is the largest webhook accepted. LiveKit's are a few kilobytes.
const MaxBody = 1 << 20

// Results of a webhook, as answered.
const (
	Recorded  = "recorded"  // attendance and event written
	Duplicate = "duplicate" // this webhook id was handled before
	Ignored   = "ignored"   // not about a booking's room, or nothing to record
)

// Response is the answer to a verified webhook.
type Response struct {
	Result string `json:"result"`
}

// WebhookSource is the source under which webhook ids are recorded in
// processed_events.
const WebhookSource = "livekit"

// RoomPrefix starts the name of every booking's room (see rooms.Name).
const RoomPrefix = "sportello-"

type handler struct {
	store             *postgres.Store
	apiKey, apiSecret string
	log               *slog.Logger
}

func newHandler(store *postgres.Store, apiKey, apiSecret string, log *slog.Logger) http.Handler {
	h := &handler{store: store, apiKey: apiKey, apiSecret: apiSecret, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/livekit/webhook", h.receive)
	return httpx.OneRoute(mux, http.MethodPost, "/api/livekit/webhook")
}

func (h *handler) receive(w http.ResponseWriter, r *http.Request) {
	httpx.NoStore(w)
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	// A body that verifies but does not parse is told apart (400) from a
	// forgery (401).
	body, ev, err := rooms.ReceiveWebhook(r, h.apiKey, h.apiSecret)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		httpx.Error(w, r, h.log, apperr.New(apperr.TooLarge, "body", "a webhook is at most %d bytes", MaxBody))
		return
	case errors.Is(err, rooms.ErrNotAnEvent):
		httpx.Error(w, r, h.log, apperr.New(apperr.Invalid, "body", "not a LiveKit webhook event"))
		return
	case err != nil:
		h.log.WarnContext(r.Context(), "webhook refused", "reason", err.Error())
		httpx.Error(w, r, h.log, apperr.New(apperr.Unauthorized, "Authorization", "the webhook's signature does not verify"))
		return
	}
	// A verified body is still text from outside: its strings go to
	// PostgreSQL (the event's id, the room, the identity), which refuses a
	// NUL with an error of its own, and encoding/json has already replaced
	// invalid UTF-8. The raw text is checked as every other body is.
	if err := httpx.CheckJSON(body); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	result, err := h.handle(r.Context(), ev, body)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	httpx.JSON(w, http.StatusOK, Response{Result: result})
}

// What one webhook asks to record.
type change struct {
	kind      string // webhook event name
	bookingID string
	room      string
	identity  string
	role      string
	joinedAt  time.Time // the session's key; zero when LiveKit did not say
	at        time.Time // when it happened
}

// handle records ev once. The ignored cases touch nothing.
func (h *handler) handle(ctx context.Context, ev rooms.WebhookEvent, body []byte) (string, error) {
	c, why := h.parse(ev)
	if why != "" {
		h.log.DebugContext(ctx, "webhook ignored", "event", ev.Event, "reason", why)
		return Ignored, nil
	}
	id := ev.ID
	if id == "" { // LiveKit always sets one; a retry repeats the same body
		sum := sha256.Sum256(body)
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	in := cloudevents.NewEvent()
	in.SetID(id)
	in.SetSource(WebhookSource)
	in.SetType("livekit.webhook." + c.kind)
	result := Ignored
	ran, err := h.store.Consume(ctx, Name, in, func(tx *postgres.Tx) error {
		ok, err := tx.BookingExists(ctx, c.bookingID)
		if err != nil {
			return err
		}
		if !ok {
			h.log.InfoContext(ctx, "webhook ignored", "event", c.kind, "reason", "unknown booking")
			return nil
		}
		result = Recorded
		return h.record(ctx, tx, c)
	})
	if err != nil {
		return "", err
	}
	if !ran {
		return Duplicate, nil
	}
	return result, nil
}

// parse reads what ev asks to record, or says why it is ignored.
func (h *handler) parse(ev rooms.WebhookEvent) (change, string) {
	c := change{kind: ev.Event, at: unix(int64(ev.CreatedAt), 0)}
	if ev.Room != nil {
		c.room = ev.Room.Name
	}
	switch c.kind {
	case rooms.EventParticipantJoined, rooms.EventParticipantLeft, rooms.EventRoomFinished:
	default:
		return c, "event not recorded"
	}
	id, ok := strings.CutPrefix(c.room, RoomPrefix)
	if !ok {
		return c, "not a booking's room"
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return c, "not a booking's room"
	}
	c.bookingID = id
	if c.at.IsZero() {
		c.at = h.store.Clock.Now()
	}
	if c.kind == rooms.EventRoomFinished {
		return c, ""
	}
	p := ev.Participant
	if p == nil {
		return c, "no participant"
	}
	c.identity = p.Identity
	switch {
	case c.identity == "citizen-"+id:
		c.role = booking.ParticipantCitizen
	case strings.HasPrefix(c.identity, "operator-") && len(c.identity) > len("operator-"):
		c.role = booking.ParticipantOperator
	default:
		return c, "identity neither the booking's citizen nor an operator"
	}
	c.joinedAt = unix(int64(p.JoinedAt), int64(p.JoinedAtMs))
	if c.kind == rooms.EventParticipantJoined {
		if c.joinedAt.IsZero() {
			c.joinedAt = c.at
		}
		c.at = c.joinedAt
	}
	return c, ""
}

// record writes the attendance and the event of c in tx.
func (h *handler) record(ctx context.Context, tx *postgres.Tx, c change) error {
	var typ string
	var data any
	switch c.kind {
	case rooms.EventParticipantJoined:
		if _, err := tx.RecordJoined(ctx, c.bookingID, c.identity, c.role, c.joinedAt); err != nil {
			return err
		}
		typ = events.ParticipantJoined
		data = events.ParticipantData{BookingID: c.bookingID, Room: c.room, Role: c.role, Identity: c.identity, At: c.at}
	case rooms.EventParticipantLeft:
		if _, err := tx.RecordLeft(ctx, c.bookingID, c.identity, c.role, c.joinedAt, c.at); err != nil {
			return err
		}
		typ = events.ParticipantLeft
		data = events.ParticipantData{BookingID: c.bookingID, Room: c.room, Role: c.role, Identity: c.identity, At: c.at}
	case rooms.EventRoomFinished:
		if _, err := tx.CloseAttendance(ctx, c.bookingID, c.at); err != nil {
			return err
		}
		typ = events.RoomFinished
		data = events.RoomFinishedData{BookingID: c.bookingID, Room: c.room, At: c.at}
	}
	return tx.Emit(ctx, outbox.Event{Type: typ, Subject: c.bookingID, Data: data})
}

// unix is LiveKit's time in milliseconds when given, else in seconds; zero
// when neither is.
func unix(sec, ms int64) time.Time {
	switch {
	case ms > 0:
		return time.UnixMilli(ms).UTC()
	case sec > 0:
		return time.Unix(sec, 0).UTC()
	}
	return time.Time{}
}
