// Command join lets the citizen into the video room of their booking: given
// the manage token, it mints a LiveKit token for that booking's room only,
// and only inside the appointment's window (from JOIN_OPENS_BEFORE before
// the start to JOIN_GRACE after the end). It makes sure the room exists on
// LiveKit first, so a room LiveKit dropped (empty timeout, restart) comes
// back.
//
// Consumes: HTTP POST /api/join with Authorization: Bearer TOKEN and an
// optional body {"display_name": "..."} (at most 60 characters; default the
// citizen's given name). Answers:
//   - 200 {"url", "token", "room", "identity", "expires_at", "opens_at", "closes_at"};
//   - 401 without a token, 404 (plain) for an unknown or tampered one;
//   - 409 "not_yet_open" before the window, with opens_at and closes_at and
//     a Retry-After header;
//   - 410 "expired" after it (or once the booking is completed), with
//     opens_at and closes_at;
//   - 409 "conflict" for a cancelled booking;
//   - 503 "unavailable" when LiveKit cannot be reached.
//
// Every answer is Cache-Control: no-store. Emits: nothing.
//
// Configuration, besides the common one: LIVEKIT_URL, LIVEKIT_PUBLIC_URL
// (what browsers connect to; default LIVEKIT_URL), LIVEKIT_API_KEY,
// LIVEKIT_API_SECRET, JOIN_OPENS_BEFORE (10m), JOIN_GRACE (15m),
// ROOM_MAX_PARTICIPANTS (4), ROOM_DEPARTURE_TIMEOUT (5m), LIVEKIT_TIMEOUT (5s).
package main

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/text"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	cfg, err := rooms.LoadConfig()
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "join", "err", err)
		os.Exit(1)
	}
	lk := rooms.New(cfg)
	function.Main("join", func(env *function.Env) http.Handler { return newHandler(env.Store, lk, env.Log) })
}

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 60

// JoinRequest is the optional body of POST /api/join.
type JoinRequest struct {
	DisplayName string `json:"display_name"`
}

// JoinResponse is what join answers inside the window (rooms.Ticket).
type JoinResponse = rooms.Ticket

// displayName checks the requested name; "" means none was asked for.
func displayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	var v apperr.Validation
	text.Check(&v, "display_name", s, text.Rules{Max: MaxDisplayName})
	return s, v.Err()
}

// defaultName is the citizen's given name, or a neutral word once it is
// not there (purged data).
func defaultName(b booking.Booking) string {
	if n, err := displayName(b.Citizen.GivenName); err == nil && n != "" {
		return n
	}
	if b.Citizen.Locale == "en" {
		return "Citizen"
	}
	return "Cittadino"
}

type handler struct {
	store *postgres.Store
	lk    *rooms.LiveKit
	log   *slog.Logger
}

func newHandler(store *postgres.Store, lk *rooms.LiveKit, log *slog.Logger) http.Handler {
	h := &handler{store: store, lk: lk, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/join", h.join)
	return httpx.OneRoute(mux, http.MethodPost, "/api/join")
}

func (h *handler) join(w http.ResponseWriter, r *http.Request) {
	httpx.NoStore(w)
	t, err := h.ticket(r)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	httpx.JSON(w, http.StatusOK, t)
}

func (h *handler) ticket(r *http.Request) (rooms.Ticket, error) {
	tok, err := httpx.BearerToken(r)
	if err != nil {
		return rooms.Ticket{}, err
	}
	var req JoinRequest
	if r.ContentLength != 0 && !httpx.EmptyBody(r) { // the body is optional
		if err := httpx.Decode(r, &req); err != nil {
			return rooms.Ticket{}, err
		}
	}
	name, err := displayName(req.DisplayName)
	if err != nil {
		return rooms.Ticket{}, err
	}
	b, err := h.store.Booking(r.Context(), tok)
	if err != nil {
		return rooms.Ticket{}, err
	}
	if name == "" {
		name = defaultName(b)
	}
	now := h.store.Clock.Now()
	win, err := h.store.RoomWindow(r.Context(), b.ID, b.Sequence, h.lk.Config.Window(b.Start, b.End))
	if err != nil {
		return rooms.Ticket{}, err
	}
	switch {
	case b.Status == booking.Completed:
		return rooms.Ticket{}, rooms.Outside(apperr.Expired, win, now, h.loc(), "the appointment is over")
	case b.Status != booking.Confirmed:
		return rooms.Ticket{}, apperr.New(apperr.Conflict, "token", "the booking is %s: its room is closed", b.Status)
	}
	return h.lk.Admit(r.Context(), b.ID, win, rooms.Participant{Identity: "citizen-" + b.ID, Name: name}, now, h.loc())
}

// loc is where times are answered: the municipality's time zone.
func (h *handler) loc() *time.Location { return h.store.Calendar.Location }
