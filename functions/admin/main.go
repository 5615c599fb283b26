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
//   - POST   /offices {"id","name","description","address","position","limits"} → 201 {"office"}.
//   - PATCH  /offices/{id} {"name","description","address","position","active","limits",
//     "cancel_affected"} → 200 {"office", "dry_run", "cancelled", "reassigned"}.
//     Deactivating an office deactivates its services.
//   - GET    /services[?office_id=] → {"services": [...]} with opening hours and desks.
//   - POST   /services {"id","office_id","name","description","duration_minutes",
//     "buffer_minutes","min_notice_minutes","horizon_days","cancel_cutoff_minutes",
//     "what_to_bring","open_on_holidays","position","admission_per_minute"} → 201 {"service"}.
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
// The click day. An office's "limits" are {"max_holds_per_client" (1–100),
// "holds_per_minute_per_client" (1–10000), "holds_per_minute_per_address"
// (1–1000000)}, each null for reserve's default (MAX_HOLDS_PER_CLIENT,
// HOLDS_PER_MINUTE_PER_CLIENT, HOLDS_PER_MINUTE_PER_ADDRESS); a service's
// "admission_per_minute" (1–100000) sends its citizens through the waiting
// room, admitting at most that many a minute (null: no waiting room of its
// own). Answers always carry them. In a PATCH a member left out stays as it
// is and a null one goes back to the default ("limits": null changes
// nothing). A number out of range is a 400 naming it
// ("limits.max_holds_per_client", reason "out_of_range" with min and max).
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
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	var cfg auth.Config
	if err := envconfig.Process("", &cfg); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "admin", "err", err)
		os.Exit(1)
	}
	function.Main("admin", func(env *function.Env) http.Handler {
		return newHandler(env.Store, &auth.Authenticator{Store: env.Store, Config: cfg}, env.Log)
	})
}

// Prefix is where the administration's routes live.
const Prefix = "/api/operator/admin"

// Request bodies: the domain's inputs plus, for the changes that may strand
// bookings, cancel_affected.
type (
	officePatchRequest struct {
		admin.OfficePatch
		Cancel
	}
	servicePatchRequest struct {
		admin.ServicePatch
		Cancel
	}
	hoursRequest struct {
		Hours []booking.Hours `json:"hours"`
		Cancel
	}
	deskRequest struct {
		Label string `json:"label"`
	}
	deskPatchRequest struct {
		admin.DeskPatch
		Cancel
	}
	closureRequest struct {
		admin.ClosureInput
		Cancel
	}
	passwordRequest struct {
		Password string `json:"password"`
	}
)

// Cancel is the member of a change's body that asks to cancel the bookings
// it strands instead of refusing it.
type Cancel struct {
	CancelAffected bool `json:"cancel_affected"`
}

func (c Cancel) cancelAffected() bool { return c.CancelAffected }

type handler struct {
	store *postgres.Store
	auth  *auth.Authenticator
	log   *slog.Logger
}

// route is a handler of an administrator's request.
type route func(w http.ResponseWriter, r *http.Request, sess auth.Session)

func newHandler(store *postgres.Store, a *auth.Authenticator, log *slog.Logger) http.Handler {
	h := &handler{store: store, auth: a, log: log}
	s := store
	id := func(r *http.Request) string { return r.PathValue("id") }
	mux := http.NewServeMux()
	add := func(pattern string, fn route) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+Prefix+path, session.Guard(a, log, true, fn))
	}
	add("GET /offices", list(h, "offices", func(r *http.Request) ([]admin.Office, error) { return s.AdminOffices(r.Context()) }))
	add("POST /offices", create(h, "office", func(r *http.Request, actor string, in admin.OfficeInput) (admin.Office, error) {
		return s.CreateOffice(r.Context(), actor, in)
	}))
	add("PATCH /offices/{id}", change(h, "office", func(r *http.Request, req officePatchRequest, o admin.ChangeOptions) (admin.Office, admin.ChangeResult, error) {
		return s.UpdateOffice(r.Context(), id(r), req.OfficePatch, o)
	}))
	add("GET /services", list(h, "services", inOffice(s.AdminServices)))
	add("POST /services", create(h, "service", func(r *http.Request, actor string, in admin.ServiceInput) (admin.Service, error) {
		return s.CreateService(r.Context(), actor, in)
	}))
	add("PATCH /services/{id}", change(h, "service", func(r *http.Request, req servicePatchRequest, o admin.ChangeOptions) (admin.Service, admin.ChangeResult, error) {
		return s.UpdateService(r.Context(), id(r), req.ServicePatch, o)
	}))
	add("PUT /services/{id}/hours", change(h, "service", func(r *http.Request, req hoursRequest, o admin.ChangeOptions) (admin.Service, admin.ChangeResult, error) {
		if req.Hours == nil {
			return admin.Service{}, admin.ChangeResult{}, apperr.Field("hours", apperr.Required, "required: the whole week, [] to close every day")
		}
		return s.ReplaceHours(r.Context(), id(r), req.Hours, o)
	}))
	add("POST /services/{id}/desks", create(h, "desk", func(r *http.Request, actor string, req deskRequest) (admin.Desk, error) {
		return s.AddDesk(r.Context(), actor, id(r), req.Label)
	}))
	add("PATCH /desks/{id}", change(h, "desk", func(r *http.Request, req deskPatchRequest, o admin.ChangeOptions) (admin.Desk, admin.ChangeResult, error) {
		return s.UpdateDesk(r.Context(), id(r), req.DeskPatch, o)
	}))
	add("GET /closures", list(h, "closures", inOffice(s.AdminClosures)))
	add("POST /closures", change(h, "closure", func(r *http.Request, req closureRequest, o admin.ChangeOptions) (admin.Closure, admin.ChangeResult, error) {
		return s.AddClosure(r.Context(), req.ClosureInput, o)
	}))
	add("DELETE /closures/{id}", func(w http.ResponseWriter, r *http.Request, sess auth.Session) {
		c, err := s.RemoveClosure(r.Context(), sess.Operator.ID, id(r))
		h.answer(w, r, http.StatusOK, "closure", c, err)
	})
	add("GET /operators", list(h, "operators", func(r *http.Request) ([]admin.Operator, error) { return s.AdminOperators(r.Context()) }))
	add("POST /operators", create(h, "operator", func(r *http.Request, actor string, in admin.OperatorInput) (admin.Operator, error) {
		return s.CreateOperator(r.Context(), actor, in)
	}))
	add("PATCH /operators/{id}", update(h, "operator", func(r *http.Request, actor string, p admin.OperatorPatch) (admin.Operator, error) {
		return s.UpdateOperator(r.Context(), actor, id(r), p)
	}))
	add("POST /operators/{id}/password", update(h, "operator", func(r *http.Request, actor string, req passwordRequest) (admin.Operator, error) {
		return s.ResetPassword(r.Context(), actor, id(r), req.Password)
	}))
	add("GET /audit", list(h, "entries", h.audit))
	mux.HandleFunc("/", httpx.NotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}

// answer writes {name: v} with status, or err as a problem.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, status int, name string, v any, err error) {
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	httpx.JSON(w, status, map[string]any{name: v})
}

// list answers {name: [...]} (never null) of what fetch reads.
func list[T any](h *handler, name string, fetch func(r *http.Request) ([]T, error)) route {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Session) {
		l, err := fetch(r)
		if l == nil {
			l = []T{}
		}
		h.answer(w, r, http.StatusOK, name, l, err)
	}
}

// create decodes a B, runs do for the signed-in administrator and answers
// 201 {name: v}.
func create[B, T any](h *handler, name string, do func(r *http.Request, actor string, body B) (T, error)) route {
	return write(h, name, http.StatusCreated, do)
}

// update is create answering 200.
func update[B, T any](h *handler, name string, do func(r *http.Request, actor string, body B) (T, error)) route {
	return write(h, name, http.StatusOK, do)
}

func write[B, T any](h *handler, name string, status int, do func(r *http.Request, actor string, body B) (T, error)) route {
	return func(w http.ResponseWriter, r *http.Request, sess auth.Session) {
		var body B
		if err := httpx.Decode(r, &body); err != nil {
			httpx.Error(w, r, h.log, err)
			return
		}
		v, err := do(r, sess.Operator.ID, body)
		h.answer(w, r, status, name, v, err)
	}
}

// change decodes a B, runs do with ?dry_run and the body's cancel_affected,
// and answers {name: v, "dry_run", "cancelled", "reassigned"}: 200, or 201
// for a closure added for real. A change refused by the stranded-bookings
// rule is a 409 whose problem lists the bookings in "bookings".
func change[B interface{ cancelAffected() bool }, T any](h *handler, name string, do func(r *http.Request, body B, opts admin.ChangeOptions) (T, admin.ChangeResult, error)) route {
	return func(w http.ResponseWriter, r *http.Request, sess auth.Session) {
		var body B
		if err := httpx.Decode(r, &body); err != nil {
			httpx.Error(w, r, h.log, err)
			return
		}
		opts, err := options(r, sess, body.cancelAffected())
		if err != nil {
			httpx.Error(w, r, h.log, err)
			return
		}
		v, res, err := do(r, body, opts)
		if err != nil {
			httpx.Error(w, r, h.log, err)
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPost && !res.DryRun {
			status = http.StatusCreated
		}
		httpx.JSON(w, status, map[string]any{name: v, "dry_run": res.DryRun, "cancelled": res.Cancelled, "reassigned": res.Reassigned})
	}
}

// options reads ?dry_run and the body's cancel_affected.
func options(r *http.Request, sess auth.Session, cancel bool) (admin.ChangeOptions, error) {
	opts := admin.ChangeOptions{Actor: sess.Operator.ID, CancelAffected: cancel}
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, apperr.Field("dry_run", apperr.NotAllowed, "must be true or false")
		}
		opts.DryRun = b
	}
	return opts, nil
}

// officeFilter reads ?office_id= ("" for every office).
func officeFilter(r *http.Request) (string, error) {
	id := r.URL.Query().Get("office_id")
	if id != "" && !booking.ValidID(id) {
		return "", apperr.Field("office_id", apperr.InvalidFormat, "not an office id")
	}
	return id, nil
}

// inOffice lists with fn the items of the office of ?office_id, or of every
// office without it.
func inOffice[T any](fn func(ctx context.Context, office string) ([]T, error)) func(*http.Request) ([]T, error) {
	return func(r *http.Request) ([]T, error) {
		office, err := officeFilter(r)
		if err != nil {
			return nil, err
		}
		return fn(r.Context(), office)
	}
}

// audit reads a page of the audit log: ?target_kind, target_id, actor,
// before and limit.
func (h *handler) audit(r *http.Request) ([]audit.Record, error) {
	q := r.URL.Query()
	var v apperr.Validation
	f := audit.Filter{TargetKind: q.Get("target_kind"), TargetID: q.Get("target_id")}
	if f.TargetKind != "" && !slices.Contains(audit.TargetKinds, f.TargetKind) {
		v.NotAllowed("target_kind", audit.TargetKinds...)
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
		return nil, err
	}
	return h.store.AuditLog(r.Context(), f)
}
