package rooms

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/httpx"
)

// Ticket is the answer of a join inside the window, to the citizen (join)
// and to the operator (operators) alike: what a LiveKit client needs to
// connect (url and token), and until when the token works.
type Ticket struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	Room      string    `json:"room"`
	Identity  string    `json:"identity"`
	ExpiresAt time.Time `json:"expires_at"`
	OpensAt   time.Time `json:"opens_at"`
	ClosesAt  time.Time `json:"closes_at"`
}

// WindowProblem is the problem answered outside the window: the window
// itself, so that the page can say when to come back.
type WindowProblem struct {
	httpx.Problem
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
}

// The codes of the problems of a join (their statuses are httpx's).
const (
	CodeNotYetOpen  = apperr.NotYetOpen  // 409, with Retry-After
	CodeExpired     = apperr.Expired     // 410
	CodeUnavailable = apperr.Unavailable // 503: LiveKit cannot be reached
)

// Admit answers a join of p into the room of booking bookingID, whose
// window is win, at now: 409 not_yet_open (with Retry-After) before the
// window, 410 expired after it; inside it, it makes sure the room exists
// (503 unavailable when LiveKit cannot be reached) and answers 200 with a
// Ticket whose token lasts until the window closes. Times are answered in
// loc.
func (l *LiveKit) Admit(w http.ResponseWriter, r *http.Request, log *slog.Logger, bookingID string, win Window, p Participant, now time.Time, loc *time.Location) {
	httpx.NoStore(w)
	switch win.At(now) {
	case Before:
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(win.OpensAt.Sub(now).Seconds())), 10))
		Outside(w, CodeNotYetOpen, win, loc, fmt.Sprintf("the room opens at %s", win.OpensAt.In(loc).Format(time.RFC3339)))
		return
	case After:
		Outside(w, CodeExpired, win, loc, fmt.Sprintf("the room closed at %s", win.ClosesAt.In(loc).Format(time.RFC3339)))
		return
	}
	room := Name(bookingID)
	if _, err := l.Ensure(r.Context(), room, win, now); err != nil {
		log.ErrorContext(r.Context(), "livekit unreachable", "err", err)
		w.Header().Set("Retry-After", "5")
		httpx.Error(w, r, nil, apperr.New(CodeUnavailable, "", "the video service cannot be reached: try again in a moment"))
		return
	}
	jwt, err := l.Token(room, p, win.ClosesAt.Sub(now))
	if err != nil {
		httpx.Error(w, r, log, err)
		return
	}
	httpx.JSON(w, http.StatusOK, Ticket{
		URL: l.PublicURL(), Token: jwt, Room: room, Identity: p.Identity,
		ExpiresAt: win.ClosesAt.In(loc), OpensAt: win.OpensAt.In(loc), ClosesAt: win.ClosesAt.In(loc),
	})
}

// Outside answers a problem about the window: code, and the window in loc.
func Outside(w http.ResponseWriter, code apperr.Code, win Window, loc *time.Location, detail string) {
	status := httpx.StatusOf(code)
	httpx.WriteProblem(w, status, WindowProblem{
		Problem: httpx.Problem{Type: "urn:sportello:problem:" + string(code), Title: http.StatusText(status), Status: status,
			Code: code, Detail: detail},
		OpensAt: win.OpensAt.In(loc), ClosesAt: win.ClosesAt.In(loc),
	})
}
