package rooms

import (
	"context"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
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

// Outside is the refusal of a join outside the window: code (NotYetOpen,
// with the time until it opens as RetryAfter, or Expired) with the window
// itself in the problem ("opens_at", "closes_at" in loc), so that the page
// can say when to come back.
func Outside(code apperr.Code, win booking.Window, now time.Time, loc *time.Location, format string, args ...any) *apperr.Error {
	e := apperr.New(code, "", format, args...)
	e.Members = map[string]any{"opens_at": win.OpensAt.In(loc), "closes_at": win.ClosesAt.In(loc)}
	if code == apperr.NotYetOpen {
		e.RetryAfter = win.OpensAt.Sub(now)
	}
	return e
}

// Admit lets p into the room of booking bookingID, whose window is win, at
// now: before the window it refuses with NotYetOpen, after it with Expired
// (see Outside); inside it, it makes sure the room exists (Unavailable,
// with a RetryAfter, when LiveKit cannot be reached) and answers a Ticket
// whose token lasts until the window closes. Times are answered in loc.
func (l *LiveKit) Admit(ctx context.Context, bookingID string, win booking.Window, p Participant, now time.Time, loc *time.Location) (Ticket, error) {
	switch win.At(now) {
	case booking.BeforeWindow:
		return Ticket{}, Outside(apperr.NotYetOpen, win, now, loc, "the room opens at %s", win.OpensAt.In(loc).Format(time.RFC3339))
	case booking.AfterWindow:
		return Ticket{}, Outside(apperr.Expired, win, now, loc, "the room closed at %s", win.ClosesAt.In(loc).Format(time.RFC3339))
	}
	room := Name(bookingID)
	if _, err := l.Ensure(ctx, room, win, now); err != nil {
		return Ticket{}, apperr.Unreachable(err, 5*time.Second, "the video service cannot be reached: try again in a moment")
	}
	jwt, err := l.Token(room, p, win.ClosesAt.Sub(now))
	if err != nil {
		return Ticket{}, err
	}
	return Ticket{
		URL: l.PublicURL(), Token: jwt, Room: room, Identity: p.Identity,
		ExpiresAt: win.ClosesAt.In(loc), OpensAt: win.OpensAt.In(loc), ClosesAt: win.ClosesAt.In(loc),
	}, nil
}
