// Command admin is the administration API: an administrator configures
// offices, services, weekly opening hours, closures, desks and operator
// accounts, and reads the audit log, without touching the database.
//
// It lives under /api/operator/admin so that the operators' session cookie
// (Path=/api/operator) reaches it: sign in through the operators function.
// Every route needs that session (401 "unauthorized", field "session",
// without it) of an account with role administrator (403 "forbidden",
// field "session", for an operator: nothing is read or written); every
// unsafe method also needs the session's CSRF token in X-CSRF-Token (403
// "csrf"). Every answer is Cache-Control: no-store.
//
// Consumes: HTTP under /api/operator/admin (JSON bodies, strict: unknown
// fields are refused; bad input is a 400 "invalid" problem naming every
// field at fault, e.g. "hours[2].closes", and writes nothing):
//   - GET    /offices → {"offices": [...]} every office, inactive ones too.
//   - POST   /offices {"id","name","description","address","position"} → 201 {"office"}.
//   - PATCH  /offices/{id} {"name","description","address","position","active","cancel_affected"}
//     → 200 {"office", "dry_run", "cancelled", "reassigned"}. Deactivating an
//     office deactivates its services.
//   - GET    /services[?office_id=] → {"services": [...]} with opening hours and desks.
//   - POST   /services {"id","office_id","name","description","duration_minutes",
//     "buffer_minutes","min_notice_minutes","horizon_days","cancel_cutoff_minutes",
//     "what_to_bring","open_on_holidays","position"} → 201 {"service"}.
//   - PATCH  /services/{id} {the same fields but id and office_id, "active",
//     "cancel_affected"} → 200 {"service", ...}. A service is removed by
//     deactivating it.
//   - PUT    /services/{id}/hours {"hours": [{"weekday":1,"opens":"09:00","closes":"12:30"}, ...],
//     "cancel_affected"} → 200 {"service", ...}: the week is replaced; several
//     periods a day are allowed, overlapping ones are not.
//   - POST   /services/{id}/desks {"label"} → 201 {"desk"}.
//   - PATCH  /desks/{id} {"label","active","cancel_affected"} → 200 {"desk", ...}.
//     The future bookings of a deactivated desk move to another free desk of
//     the service at the same time where one is free ("reassigned").
//   - GET    /closures[?office_id=] → {"closures": [...]} ending today or later.
//   - POST   /closures {"office_id" (null: every office),"first_day","last_day","reason",
//     "cancel_affected"} → 201 {"closure", ...}.
//   - DELETE /closures/{id} → 200 {"closure"}.
//   - GET    /operators → {"operators": [...]}.
//   - POST   /operators {"email","display_name","role","offices","password"} → 201 {"operator"}.
//   - PATCH  /operators/{id} {"display_name","role","offices","active"} → 200 {"operator"};
//     422 "unprocessable" (role, active) for an administrator demoting or
//     deactivating themselves.
//   - POST   /operators/{id}/password {"password"} → 200 {"operator"}: the
//     operator's sessions end and a lockout is lifted.
//   - GET    /audit?target_kind=&target_id=&actor=&before=&limit= → {"entries": [...]},
//     newest first; "before" is the id of the last entry of the previous page.
//
// The stranded-bookings rule: a PATCH of an office, service or desk, a PUT of
// hours or a POST of a closure that leaves confirmed future bookings outside
// the new configuration is refused with 409 "conflict" (field: "active",
// "duration_minutes" (only a longer one), "open_on_holidays", "hours" or
// "first_day") and a "bookings" member listing them ({id, service_id,
// start, end, desk, reason}; no personal data), unless the body says
// "cancel_affected": true: then the change is applied and those bookings are
// cancelled in the same transaction (listed in "cancelled"), each with its
// booking.cancelled.v1 (cancelled_by operator), so the citizens are mailed.
// ?dry_run=true on those routes answers 200 with what the change would do
// ("dry_run": true) and writes nothing.
//
// Emits: io.github.sportello.office.changed.v1, .service.changed.v1,
// .closure.added.v1, .closure.removed.v1, .desk.changed.v1,
// .operator.changed.v1, and for the bookings a change strands
// .booking.cancelled.v1 (cancelled_by operator) and .booking.expired.v1 (live
// holds). Every change is also an audit log row with the administrator as
// the actor.
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/auth"
	"github.com/sportello/sportello/functions/internal/booking"
	"github.com/sportello/sportello/functions/internal/function"
	"github.com/sportello/sportello/functions/internal/httpx"
	"github.com/sportello/sportello/functions/internal/postgres"
)

func main() {
	var cfg auth.Config
	if err := envconfig.Process("", &cfg); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "admin", "err", err)
		os.Exit(1)
	}
	function.Main("admin", func(env *function.Env) http.Handler {
		a := &auth.Authenticator{Pool: env.Pool, Clock: env.Clock, Config: cfg}
		return newHandler(env.Store, a, env.Log)
	})
}

// Prefix is where the administration's routes live.
const Prefix = "/api/operator/admin"

// The codes of the problems admin adds to apperr's.
const (
	CodeCSRF      = string(apperr.CSRF)
	CodeForbidden = string(apperr.Forbidden)
)

// Request bodies: the store's inputs plus, for the changes that may strand
// bookings, cancel_affected.
type (
	officePatchRequest struct {
		postgres.OfficePatch
		CancelAffected bool `json:"cancel_affected"`
	}
	servicePatchRequest struct {
		postgres.ServicePatch
		CancelAffected bool `json:"cancel_affected"`
	}
	hoursRequest struct {
		Hours          []booking.Hours `json:"hours"`
		CancelAffected bool            `json:"cancel_affected"`
	}
	deskRequest struct {
		Label string `json:"label"`
	}
	deskPatchRequest struct {
		postgres.DeskPatch
		CancelAffected bool `json:"cancel_affected"`
	}
	closureRequest struct {
		postgres.ClosureInput
		CancelAffected bool `json:"cancel_affected"`
	}
	passwordRequest struct {
		Password string `json:"password"`
	}
)

type handler struct {
	store *postgres.Store
	auth  *auth.Authenticator
	log   *slog.Logger
}

func newHandler(store *postgres.Store, a *auth.Authenticator, log *slog.Logger) http.Handler {
	h := &handler{store: store, auth: a, log: log}
	mux := http.NewServeMux()
	route := func(pattern string, fn func(http.ResponseWriter, *http.Request, auth.Session)) {
		method, path, _ := cut(pattern)
		mux.HandleFunc(method+" "+Prefix+path, h.admin(fn))
	}
	route("GET /offices", h.offices)
	route("POST /offices", h.createOffice)
	route("PATCH /offices/{id}", h.updateOffice)
	route("GET /services", h.services)
	route("POST /services", h.createService)
	route("PATCH /services/{id}", h.updateService)
	route("PUT /services/{id}/hours", h.replaceHours)
	route("POST /services/{id}/desks", h.addDesk)
	route("PATCH /desks/{id}", h.updateDesk)
	route("GET /closures", h.closures)
	route("POST /closures", h.addClosure)
	route("DELETE /closures/{id}", h.removeClosure)
	route("GET /operators", h.operators)
	route("POST /operators", h.createOperator)
	route("PATCH /operators/{id}", h.updateOperator)
	route("POST /operators/{id}/password", h.resetPassword)
	route("GET /audit", h.audit)
	mux.HandleFunc("/", httpx.NotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}

func cut(pattern string) (string, string, bool) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[:i], pattern[i+1:], true
		}
	}
	return "", pattern, false
}

// StrandedProblem is the 409 of a change that would strand confirmed
// bookings: the problem, and the bookings (no personal data).
type StrandedProblem struct {
	httpx.Problem
	Bookings []postgres.Affected `json:"bookings"`
}

// fail writes err; a change refused by the stranded-bookings rule lists
// the bookings it would strand in "bookings".
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var stranded *postgres.StrandedError
	if errors.As(err, &stranded) {
		httpx.WriteProblem(w, http.StatusConflict, StrandedProblem{
			Problem:  httpx.ProblemOf(apperr.New(apperr.Conflict, stranded.Field, "%s", stranded.Detail())),
			Bookings: stranded.Bookings,
		})
		return
	}
	httpx.Error(w, r, h.log, err)
}

// admin runs next for an administrator's session (auth.Guard: 401 without
// a session, 403 "forbidden" for an operator, 403 "csrf" for an unsafe
// method without the session's CSRF token).
func (h *handler) admin(next func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return h.auth.Guard(h.log, auth.RoleAdministrator, next)
}

// options reads ?dry_run and the body's cancel_affected.
func options(r *http.Request, sess auth.Session, cancel bool) (postgres.ChangeOptions, error) {
	opts := postgres.ChangeOptions{Actor: sess.Operator.ID, CancelAffected: cancel}
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, apperr.Field("dry_run", apperr.NotAllowed, "must be true or false")
		}
		opts.DryRun = b
	}
	return opts, nil
}

// changed answers an entity and what its change did to bookings.
func changed(w http.ResponseWriter, status int, name string, v any, res postgres.ChangeResult) {
	httpx.JSON(w, status, map[string]any{name: v, "dry_run": res.DryRun, "cancelled": res.Cancelled, "reassigned": res.Reassigned})
}

func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

var officeID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// officeFilter reads ?office_id= ("" for every office).
func officeFilter(r *http.Request) (string, error) {
	id := r.URL.Query().Get("office_id")
	if id != "" && !officeID.MatchString(id) {
		return "", apperr.Field("office_id", apperr.InvalidFormat, "not an office id")
	}
	return id, nil
}

// ---- offices ----

func (h *handler) offices(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	list, err := h.store.AdminOffices(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"offices": nonNil(list)})
}

func (h *handler) createOffice(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req postgres.OfficeInput
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := h.store.CreateOffice(r.Context(), sess.Operator.ID, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusCreated, map[string]any{"office": o})
}

func (h *handler) updateOffice(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req officePatchRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := options(r, sess, req.CancelAffected)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, res, err := h.store.UpdateOffice(r.Context(), r.PathValue("id"), req.OfficePatch, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	changed(w, http.StatusOK, "office", o, res)
}

// ---- services, hours, desks ----

func (h *handler) services(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	office, err := officeFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.store.AdminServices(r.Context(), office)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"services": nonNil(list)})
}

func (h *handler) createService(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req postgres.ServiceInput
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.store.CreateService(r.Context(), sess.Operator.ID, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusCreated, map[string]any{"service": v})
}

func (h *handler) updateService(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req servicePatchRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := options(r, sess, req.CancelAffected)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, res, err := h.store.UpdateService(r.Context(), r.PathValue("id"), req.ServicePatch, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	changed(w, http.StatusOK, "service", v, res)
}

func (h *handler) replaceHours(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req hoursRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Hours == nil {
		h.fail(w, r, apperr.Field("hours", apperr.Required, "required: the whole week, [] to close every day"))
		return
	}
	opts, err := options(r, sess, req.CancelAffected)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, res, err := h.store.ReplaceHours(r.Context(), r.PathValue("id"), req.Hours, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	changed(w, http.StatusOK, "service", v, res)
}

func (h *handler) addDesk(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req deskRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.store.AddDesk(r.Context(), sess.Operator.ID, r.PathValue("id"), req.Label)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusCreated, map[string]any{"desk": d})
}

func (h *handler) updateDesk(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req deskPatchRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := options(r, sess, req.CancelAffected)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, res, err := h.store.UpdateDesk(r.Context(), r.PathValue("id"), req.DeskPatch, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	changed(w, http.StatusOK, "desk", d, res)
}

// ---- closures ----

func (h *handler) closures(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	office, err := officeFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.store.AdminClosures(r.Context(), office)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"closures": nonNil(list)})
}

func (h *handler) addClosure(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req closureRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := options(r, sess, req.CancelAffected)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, res, err := h.store.AddClosure(r.Context(), req.ClosureInput, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if res.DryRun {
		status = http.StatusOK
	}
	changed(w, status, "closure", c, res)
}

func (h *handler) removeClosure(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.store.RemoveClosure(r.Context(), sess.Operator.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"closure": c})
}

// ---- operators ----

func (h *handler) operators(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	list, err := h.store.AdminOperators(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"operators": nonNil(list)})
}

func (h *handler) createOperator(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req postgres.OperatorInput
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := h.store.CreateOperator(r.Context(), sess.Operator.ID, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusCreated, map[string]any{"operator": o})
}

func (h *handler) updateOperator(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req postgres.OperatorPatch
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := h.store.UpdateOperator(r.Context(), sess.Operator.ID, r.PathValue("id"), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"operator": o})
}

func (h *handler) resetPassword(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req passwordRequest
	if err := httpx.Decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := h.store.ResetPassword(r.Context(), sess.Operator.ID, r.PathValue("id"), req.Password)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"operator": o})
}

// ---- audit ----

// auditKinds are the target kinds of the audit log.
var auditKinds = map[string]bool{"booking": true, "office": true, "service": true, "closure": true, "desk": true, "operator": true, "session": true}

func (h *handler) audit(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	q := r.URL.Query()
	var v apperr.Validation
	f := audit.Filter{TargetKind: q.Get("target_kind"), TargetID: q.Get("target_id")}
	if f.TargetKind != "" && !auditKinds[f.TargetKind] {
		v.NotAllowed("target_kind", "booking", "office", "service", "closure", "desk", "operator", "session")
	}
	if len(f.TargetID) > 200 || !utf8.ValidString(f.TargetID) || strings.ContainsRune(f.TargetID, 0) {
		v.Add("target_id", apperr.InvalidText, "at most 200 characters of valid text").With(200)
	}
	if a := q.Get("actor"); a != "" {
		id, err := uuid.Parse(a)
		if err != nil {
			v.Add("actor", apperr.InvalidFormat, "must be an operator id (a UUID)")
		} else {
			f.ActorID = id.String()
		}
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			v.Add("before", apperr.InvalidFormat, "must be an entry id, a positive whole number")
		} else {
			f.Before = n
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > audit.MaxList {
			v.OutOfRange("limit", 1, audit.MaxList)
		} else {
			f.Limit = n
		}
	}
	if err := v.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := audit.List(r.Context(), h.store.Pool, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"entries": nonNil(list)})
}
