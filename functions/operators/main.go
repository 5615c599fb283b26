// Command operators is the office operators' API: sign-in with a password
// (argon2id) into a short-lived session carried by a cookie, the agenda of
// the operator's offices, a booking's detail with the citizen's data and
// documents, recording an appointment's outcome, and cancelling on the
// citizen's behalf. An operator sees only the offices they serve; an
// administrator sees every office. A booking outside the operator's offices
// is a plain 404, as if it did not exist.
//
// Consumes: HTTP under /api/operator (every answer Cache-Control: no-store):
//   - POST /api/operator/session {"email","password"} (Content-Type
//     application/json) → 200 {"operator", "csrf_token"} and the session
//     cookie; 401 "unauthorized" (field "credentials") for an unknown email,
//     a wrong password, an inactive account and a locked one alike: the
//     same status, headers and body, after the same argon2id work, so that
//     no answer tells which accounts exist. LOGIN_MAX_FAILURES consecutive
//     failures lock an account for LOGIN_LOCKOUT, during which even its
//     right password gets that 401 (the lockout shows only to its operator,
//     by the refusal). LOGIN_MAX_FAILURES_PER_ADDRESS failures from one
//     network address (client's Address: the nearest X-Forwarded-For entry
//     outside CLIENT_TRUSTED_PROXIES, an IPv6 /64) within LOGIN_LOCKOUT
//     lock the address for LOGIN_LOCKOUT: every sign-in from it, whatever
//     the account, is 429 "locked" (no field) with Retry-After.
//   - DELETE /api/operator/session → 204, the session ended, the cookie cleared.
//   - GET /api/operator/me → 200 {"operator", "csrf_token"}.
//   - GET /api/operator/agenda?date=YYYY-MM-DD&days=1..7 (default today, 1)
//     → 200 {"date", "days", "bookings": [...]}: the confirmed and completed
//     bookings starting in those local days, by start.
//   - GET /api/operator/bookings/{id} → 200 the booking in full.
//   - POST /api/operator/bookings/{id}/outcome {"outcome": "completed" |
//     "no_show", "note"} → 200 the booking; 409 once recorded (or if
//     cancelled); 422 before the appointment's start.
//   - POST /api/operator/bookings/{id}/cancel (body empty or {}) → 200 the
//     booking; 409 unless confirmed; 422 once the appointment started.
//   - POST /api/operator/bookings/{id}/reschedule {"start": RFC 3339} → 200
//     the booking, moved on the citizen's behalf: the same rules as the
//     citizen's reschedule (a slot on the service's schedule, minimum notice
//     and horizon included, with a free desk; 409 "conflict" when none is)
//     except the citizen's cutoff, which does not bind the office; 409 unless
//     confirmed, 422 once the appointment started.
//   - POST /api/operator/bookings/{id}/join (body empty or {}) → 200 {"url",
//     "token", "room", "identity", "expires_at", "opens_at", "closes_at"}: a
//     LiveKit token for that booking's room only, identity
//     operator-<operator id>, name the operator's display name, inside the
//     window the citizen has (JOIN_OPENS_BEFORE before the start to
//     JOIN_GRACE after the end); 409 "not_yet_open" with opens_at, closes_at
//     and Retry-After before it, 410 "expired" after it, 409 "conflict"
//     unless confirmed, 503 "unavailable" when LiveKit cannot be reached.
//   - POST /api/operator/bookings/{id}/documents {"filename","content_type",
//     "size"} → 201 a presigned upload of a document for the citizen
//     (uploaded_by office); POST …/documents/{doc}/complete → 200 the
//     document once uploaded (409 before); GET …/documents → 200
//     {"documents": [...]}, every uploaded one, the citizen's and the
//     office's; GET …/documents/{doc} → 200 {"url", "expires_at"}, a
//     presigned download.
//
// GET /api/operator/bookings/{id} and the answers of outcome, cancel and
// reschedule carry the booking's "history": its audit log, newest first,
// each entry {"at", "actor": {"kind", "id"}, "action"}, and its
// "attendance": who was in the video room and when ({"identity", "role",
// "joined_at", "left_at"}, from LiveKit's webhooks).
//
// Every route but POST /session needs the session cookie (401 "unauthorized",
// field "session", without it); every unsafe method also needs the
// session's CSRF token in X-CSRF-Token (403 "csrf" without it, nothing
// written). A citizen's manage token, as a cookie or a Bearer header, is
// never a session.
//
// Emits: io.github.sportello.booking.completed.v1 (recorded_by operator),
// io.github.sportello.booking.cancelled.v1 (cancelled_by operator),
// io.github.sportello.booking.rescheduled.v1, and
// io.github.sportello.document.uploaded.v1 (uploaded_by office), each with
// its audit row (actor: the operator).
//
// Configuration, besides the common one: SESSION_TTL (8h), SESSION_IDLE
// (30m), COOKIE_SECURE (true; false for a stack served over plain http),
// LOGIN_MAX_FAILURES (5), LOGIN_MAX_FAILURES_PER_ADDRESS (20),
// LOGIN_LOCKOUT (15m), CLIENT_TRUSTED_PROXIES (as reserve's); LiveKit's as for join
// (LIVEKIT_URL, LIVEKIT_PUBLIC_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET,
// JOIN_OPENS_BEFORE, JOIN_GRACE, ROOM_*); the object store's as for
// documents (S3_*, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS).
package main

import (
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	clients "github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/httpapi/docroutes"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	fail := func(err error) {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "operators", "err", err)
		os.Exit(1)
	}
	var cfg auth.Config
	if err := envconfig.Process("", &cfg); err != nil {
		fail(err)
	}
	var network clients.Network
	if err := envconfig.Process("", &network); err != nil {
		fail(err)
	}
	addresses, err := network.Addresses()
	if err != nil {
		fail(err)
	}
	lkCfg, err := rooms.LoadConfig()
	if err != nil {
		fail(err)
	}
	docCfg, err := documents.LoadConfig()
	if err != nil {
		fail(err)
	}
	sc, err := storage.FromEnv()
	if err != nil {
		fail(err)
	}
	objects, err := storage.New(sc)
	if err != nil {
		fail(err)
	}
	lk := rooms.New(lkCfg)
	function.Main("operators", func(env *function.Env) http.Handler {
		a := &auth.Authenticator{Store: env.Store, Config: cfg}
		docs := &documents.Documents{Store: env.Store, Objects: objects, MaxBytes: docCfg.MaxDocumentBytes, MaxPerBooking: docCfg.MaxDocuments}
		return newHandler(env.Store, a, addresses, lk, docs, env.Log)
	})
}

// MaxAgendaDays is the longest agenda, in days: a week.
const MaxAgendaDays = 7

// SignInRequest is the body of POST /api/operator/session.
type SignInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SessionResponse is the answer of sign-in and of GET /me: who is signed
// in, and the CSRF token to send in X-CSRF-Token.
type SessionResponse struct {
	Operator  operator.Operator `json:"operator"`
	CSRFToken string            `json:"csrf_token"`
}

// AgendaResponse is the answer of GET /api/operator/agenda.
type AgendaResponse struct {
	Date     string                 `json:"date"`
	Days     int                    `json:"days"`
	Bookings []operator.AgendaEntry `json:"bookings"`
}

// OutcomeRequest is the body of POST /api/operator/bookings/{id}/outcome.
type OutcomeRequest struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
}

// RescheduleRequest is the body of POST /api/operator/bookings/{id}/reschedule.
type RescheduleRequest struct {
	Start string `json:"start"`
}

// EmptyRequest is the optional body of cancel, join and a document's
// complete: empty or {}.
type EmptyRequest struct{}

type handler struct {
	store     *postgres.Store
	auth      *auth.Authenticator
	addresses *clients.Identifier // the network address a sign-in comes from
	lk        *rooms.LiveKit
	docs      *documents.Documents
	log       *slog.Logger
}

func newHandler(store *postgres.Store, a *auth.Authenticator, addresses *clients.Identifier, lk *rooms.LiveKit, docs *documents.Documents, log *slog.Logger) http.Handler {
	h := &handler{store: store, auth: a, addresses: addresses, lk: lk, docs: docs, log: log}
	authed := func(next func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
		return session.Guard(a, log, false, next)
	}
	docRoute := func(route func(rt docroutes.Routes, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return authed(func(w http.ResponseWriter, r *http.Request, sess auth.Session) { route(h.documents(sess), w, r) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/operator/session", h.signIn)
	mux.HandleFunc("DELETE /api/operator/session", authed(h.signOut))
	mux.HandleFunc("GET /api/operator/me", authed(h.me))
	mux.HandleFunc("GET /api/operator/agenda", authed(h.agenda))
	mux.HandleFunc("GET /api/operator/bookings/{id}", authed(h.booking))
	mux.HandleFunc("POST /api/operator/bookings/{id}/outcome", authed(h.outcome))
	mux.HandleFunc("POST /api/operator/bookings/{id}/cancel", authed(h.cancel))
	mux.HandleFunc("POST /api/operator/bookings/{id}/reschedule", authed(h.reschedule))
	mux.HandleFunc("POST /api/operator/bookings/{id}/join", authed(h.join))
	mux.HandleFunc("POST /api/operator/bookings/{id}/documents", docRoute(docroutes.Routes.Create))
	mux.HandleFunc("POST /api/operator/bookings/{id}/documents/{doc}/complete", docRoute(docroutes.Routes.Complete))
	mux.HandleFunc("GET /api/operator/bookings/{id}/documents", docRoute(docroutes.Routes.List))
	mux.HandleFunc("GET /api/operator/bookings/{id}/documents/{doc}", docRoute(docroutes.Routes.Download))
	mux.HandleFunc("/", httpx.NotFound)
	// Every answer is not cacheable: they carry personal data, sessions or
	// CSRF tokens.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	// A JSON body only: an HTML form on another site cannot send one
	// without a CORS preflight, so no one signs a browser in behind its
	// user's back (login CSRF).
	if ct := r.Header.Get("Content-Type"); ct == "" {
		httpx.Error(w, r, h.log, apperr.New(apperr.Unsupported, "Content-Type", "send application/json"))
		return
	}
	var req SignInRequest
	if err := httpx.Decode(r, &req); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	sess, err := h.auth.SignIn(r.Context(), req.Email, req.Password, h.addresses.Address(r))
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	// A session this browser had before ends: one browser, one session.
	if old := session.TokenFrom(r); old != "" {
		if err := h.auth.SignOut(r.Context(), old); err != nil {
			h.log.WarnContext(r.Context(), "ending the previous session", "err", err)
		}
	}
	http.SetCookie(w, session.Cookie(h.auth.Config, sess.Token))
	httpx.JSON(w, http.StatusOK, SessionResponse{Operator: sess.Operator, CSRFToken: sess.CSRFToken})
}

func (h *handler) signOut(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := h.auth.SignOut(r.Context(), sess.Token); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	http.SetCookie(w, session.ClearCookie(h.auth.Config))
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	httpx.JSON(w, http.StatusOK, SessionResponse{Operator: sess.Operator, CSRFToken: sess.CSRFToken})
}

func (h *handler) agenda(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	cal := h.store.Calendar
	day := cal.Today(h.store.Clock.Now())
	var v apperr.Validation
	if s := q.Get("date"); s != "" {
		d, err := schedule.ParseDate(s)
		if err != nil {
			v.Add("date", apperr.InvalidFormat, "must be a date like 2027-03-01")
		} else {
			day = d
		}
	}
	days := 1
	if s := q.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAgendaDays {
			v.OutOfRange("days", 1, MaxAgendaDays)
		} else {
			days = n
		}
	}
	if err := v.Err(); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	from, to := day.In(cal.Location, 0), day.AddDays(days).In(cal.Location, 0)
	list, err := h.store.Agenda(r.Context(), sess.Operator.Scope(), from, to)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	if list == nil {
		list = []operator.AgendaEntry{}
	}
	httpx.JSON(w, http.StatusOK, AgendaResponse{Date: day.String(), Days: days, Bookings: list})
}

// answer writes the booking an action left, or err as a problem.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, b operator.Booking, err error) {
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	// Empty lists are JSON [], not null.
	if b.Documents == nil {
		b.Documents = []booking.Document{}
	}
	if b.History == nil {
		b.History = []operator.HistoryEntry{}
	}
	httpx.JSON(w, http.StatusOK, b)
}

func (h *handler) booking(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	b, err := h.store.OperatorBooking(r.Context(), sess.Operator.Scope(), r.PathValue("id"))
	h.answer(w, r, b, err)
}

func (h *handler) outcome(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req OutcomeRequest
	if err := httpx.Decode(r, &req); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	b, err := h.store.RecordOutcome(r.Context(), sess.Operator.Scope(), r.PathValue("id"), req.Outcome, strings.TrimSpace(req.Note))
	h.answer(w, r, b, err)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !httpx.DecodeOptional[EmptyRequest](w, r, h.log) {
		return
	}
	b, err := h.store.CancelByOperator(r.Context(), sess.Operator.Scope(), r.PathValue("id"))
	h.answer(w, r, b, err)
}
