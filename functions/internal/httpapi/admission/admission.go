// Package admission is the waiting room's paperwork, shared by the
// waiting-room function, which hands it out, and reserve, which checks it:
// a queue token (a service, a position, a client: the citizen's place,
// kept by the citizen, so that reloading the page keeps it) and an
// admission ticket (a service and a client: "let this browser hold a slot
// of this service until ..."). Both are signed with CLIENT_KEY
// (domain/signed) and checked without a database read. A ticket is bound
// to the client token of its browser (httpapi/client): it cannot be
// passed on.
package admission

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/signed"
)

// CookieName carries the admission ticket to reserve (Path /api/holds);
// Header carries it for a client without cookies.
const (
	CookieName = "sportello_admission"
	Header     = "X-Admission-Ticket"
	ticketKind = "a1"
	queueKind  = "q1"
)

// Tickets signs and checks queue tokens and admission tickets.
type Tickets struct {
	Signer   *signed.Signer
	TTL      time.Duration // how long an admission lasts (15 minutes by default)
	QueueTTL time.Duration // how long a queue token lasts (6 hours by default)
}

func (t *Tickets) ttl() time.Duration {
	if t.TTL <= 0 {
		return 15 * time.Minute
	}
	return t.TTL
}

// Grant admits client to service until now plus TTL: the ticket goes in a
// cookie for reserve (and in the X-Admission-Ticket header). It answers
// the admission's end.
func (t *Tickets) Grant(w http.ResponseWriter, r *http.Request, serviceID, clientID string, now time.Time) time.Time {
	until := now.Add(t.ttl())
	tok := t.Signer.Sign(ticketKind, until, serviceID, clientID)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: tok, Path: "/api/holds", MaxAge: int(t.ttl() / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
	w.Header().Set(Header, tok)
	return until
}

// Admitted reports whether r carries a valid admission of client to
// service.
func (t *Tickets) Admitted(r *http.Request, serviceID, clientID string, now time.Time) bool {
	tok := r.Header.Get(Header)
	if c, err := r.Cookie(CookieName); err == nil && tok == "" {
		tok = c.Value
	}
	f, err := t.Signer.Check(tok, ticketKind, now)
	return err == nil && len(f) == 2 && f[0] == serviceID && f[1] == clientID
}

// QueueToken is client's place at position in service's queue.
func (t *Tickets) QueueToken(serviceID string, position int64, clientID string, now time.Time) string {
	ttl := t.QueueTTL
	if ttl <= 0 {
		ttl = 6 * time.Hour
	}
	return t.Signer.Sign(queueKind, now.Add(ttl), serviceID, strconv.FormatInt(position, 10), clientID)
}

// Place reads a queue token: the service, the position and the client.
// Errors: NotFound (queue_token: malformed, altered, expired).
func (t *Tickets) Place(tok string, now time.Time) (serviceID string, position int64, clientID string, err error) {
	f, err := t.Signer.Check(tok, queueKind, now)
	if err == nil && len(f) == 3 {
		if position, err = strconv.ParseInt(f[1], 10, 64); err == nil && position > 0 {
			return f[0], position, f[2], nil
		}
	}
	return "", 0, "", apperr.New(apperr.NotFound, "queue_token", "no place in a queue with this token: join the queue again")
}

// NotAdmitted is reserve's refusal of a hold without an admission to the
// service's waiting room: the site sends the citizen to the queue.
func NotAdmitted(serviceID string) error {
	e := apperr.New(apperr.NotAdmitted, "service_id", "this service has a waiting room: join the queue (POST /api/queue) and come back with its admission")
	e.Members = map[string]any{"queue": "/api/queue", "service_id": serviceID}
	return e
}
