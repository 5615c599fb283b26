package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	pwhash "github.com/sportello/sportello/functions/internal/domain/password"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	clients "github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

const password = "correct horse battery staple"

// env is one test's operators function: its handler on the package's
// database, its clock (shared by the store and the sessions), its logs, the
// network address its requests come from (its own, so that failed sign-ins
// of other tests do not count against it) and the password hashes it
// verified.
type env struct {
	t        testing.TB
	h        http.Handler
	store    *postgres.Store
	clk      *clock.Fixed
	cfg      auth.Config
	logs     *apitest.Logs
	lk       *rooms.LiveKit       // the real LiveKit of make test
	docs     *documents.Documents // on the real object store of make test
	addr     string               // RemoteAddr of its requests
	verified *verifications
}

// verifications are the password hashes a sign-in verified a password
// against, in order.
type verifications struct {
	mu   sync.Mutex
	phcs []string
}

func (v *verifications) verify(pw, phc string) (bool, error) {
	v.mu.Lock()
	v.phcs = append(v.phcs, phc)
	v.mu.Unlock()
	return pwhash.Verify(pw, phc)
}

// since is the hashes verified after the first n.
func (v *verifications) since(n int) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.phcs[n:]...)
}

func (v *verifications) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.phcs)
}

// newAddr is a network address of its own, as a RemoteAddr: an IPv6
// address in a /64 of the documentation prefix no other test uses.
func newAddr() string {
	s := pgtest.Suffix()
	return "[2001:db8:" + s[:4] + ":" + s[4:] + "::1]:4321"
}

func newEnv(t testing.TB, now time.Time, cfg auth.Config) *env {
	t.Helper()
	store, clk := pgtest.Store(t, now)
	// Nothing personal in the logs: no email, password or citizen data.
	logs := apitest.NewLogs(t, "@", password, "Maria", "Rossi", "Sparano")
	verified := &verifications{}
	a := &auth.Authenticator{Store: store, Config: cfg, Verify: verified.verify}
	lk := roomstest.LiveKit(t)
	docs := &documents.Documents{Store: store, Objects: s3test.Store(t), MaxBytes: 20 << 20, MaxPerBooking: 20}
	e := &env{t: t, h: apitest.Validated(t, newHandler(store, a, &clients.Identifier{}, lk, docs, logs.Logger)), store: store, clk: clk, cfg: cfg, logs: logs,
		lk: lk, docs: docs, addr: newAddr(), verified: verified}
	return e
}

// operator creates an operator (or administrator) of offices and returns
// their email and id.
func (e *env) operator(role string, offices ...string) (string, string) {
	e.t.Helper()
	email := "op-" + pgtest.Suffix() + "@comune.example.it"
	id, err := pgtest.CreateOperator(e.t.Context(), e.store.Pool, e.clk.Now(), email, "Operatore di prova", password, role, offices...)
	if err != nil {
		e.t.Fatal(err)
	}
	return email, id
}

// do sends a request as c (nil: no cookie) with c's CSRF token.
func (e *env) do(c *apitest.Session, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := c.On(apitest.Request(method, path, "", body))
	r.RemoteAddr = e.addr
	return apitest.Serve(e.t, e.h, r, apitest.NoStore)
}

func signInBody(email, pw string) string {
	b, _ := json.Marshal(SignInRequest{Email: email, Password: pw})
	return string(b)
}

// signIn signs in and fails the test unless it succeeds.
func (e *env) signIn(email string) *apitest.Session {
	e.t.Helper()
	rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody(email, password))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("sign-in: status %d: %s", rec.Code, rec.Body)
	}
	resp := apitest.Decode[SessionResponse](e.t, rec.Body.Bytes())
	return &apitest.Session{Cookie: sessionCookie(e.t, rec), CSRF: resp.CSRFToken}
}

func sessionCookie(t testing.TB, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", session.CookieName, rec.Header().Values("Set-Cookie"))
	return nil
}

// TestSignIn: the right email (in any case, with spaces) and password open
// a session: 200 with the operator and a CSRF token, and the session
// cookie with HttpOnly, SameSite=Strict, Path=/api/operator, Max-Age of
// the session's life and Secure unless configured off. GET /me answers
// the same.
func TestSignIn(t *testing.T) {
	for _, secure := range []bool{true, false} {
		cfg := auth.DefaultConfig
		cfg.CookieSecure = secure
		e := newEnv(t, apitest.Monday, cfg)
		office, _ := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
		email, id := e.operator(operator.RoleOperator, office)

		rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody("  "+strings.ToUpper(email)+" ", password))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		resp := apitest.Decode[SessionResponse](t, rec.Body.Bytes())
		if len(resp.CSRFToken) < 43 {
			t.Errorf("csrf_token %q is too short", resp.CSRFToken)
		}
		want := `{"operator": {"id": "` + id + `", "email": "` + email + `", "display_name": "Operatore di prova",
			"role": "operator", "offices": [{"id": "` + office + `", "name": "Ufficio ` + office[len("office-"):] + `"}]},
			"csrf_token": "` + resp.CSRFToken + `"}`
		apitest.SameJSON(t, rec.Body.Bytes(), want)

		c := sessionCookie(t, rec)
		got := struct {
			HttpOnly, Secure bool
			SameSite         http.SameSite
			Path             string
			MaxAge, Len      int
		}{c.HttpOnly, c.Secure, c.SameSite, c.Path, c.MaxAge, len(c.Value)}
		wantCookie := got
		wantCookie.HttpOnly, wantCookie.Secure, wantCookie.SameSite = true, secure, http.SameSiteStrictMode
		wantCookie.Path, wantCookie.MaxAge, wantCookie.Len = "/api/operator", 8*3600, 43
		if diff := cmp.Diff(wantCookie, got); diff != "" {
			t.Errorf("cookie with COOKIE_SECURE=%v (-want +got):\n%s", secure, diff)
		}
		if strings.Contains(rec.Body.String(), c.Value) {
			t.Error("the session token is in the body: scripts could read it")
		}
		var stored int
		if err := e.store.Pool.QueryRow(t.Context(),
			`SELECT count(*) FROM operator_sessions WHERE token_hash = sha256($1::bytea)`, []byte(c.Value)).Scan(&stored); err != nil || stored != 1 {
			t.Errorf("sessions stored under the token's hash: %d, %v; want 1", stored, err)
		}
		// The sign-in is in the audit log, with its method.
		var method string
		if err := e.store.Pool.QueryRow(t.Context(), `
			SELECT detail->>'method' FROM audit_log
			WHERE action = 'session.started' AND target_kind = 'session' AND actor_id = $1::uuid AND target_id = $1::text`, id).Scan(&method); err != nil || method != "password" {
			t.Errorf("audit row of the sign-in: method %q, %v", method, err)
		}

		me := e.do(&apitest.Session{Cookie: c}, http.MethodGet, "/api/operator/me", "")
		if me.Code != http.StatusOK {
			t.Fatalf("me: status %d: %s", me.Code, me.Body)
		}
		apitest.SameJSON(t, me.Body.Bytes(), want)
	}
}

// TestSignInRefused: a wrong password, an unknown email and an inactive
// account give the very same 401 body; bad input is a 4xx naming the field.
func TestSignInRefused(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	email, _ := e.operator(operator.RoleOperator)
	inactive, id := e.operator(operator.RoleOperator)
	if _, err := e.store.Pool.Exec(t.Context(), `UPDATE operators SET active = false WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, body := range []string{
		signInBody(email, password+"!"),
		signInBody("nobody-"+pgtest.Suffix()+"@comune.example.it", password),
		signInBody(inactive, password),
	} {
		rec := e.do(nil, http.MethodPost, "/api/operator/session", body)
		if diff := cmp.Diff(apitest.Want(401, "unauthorized", "credentials"), apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", body, diff)
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Errorf("a refused sign-in set a cookie: %v", rec.Header().Values("Set-Cookie"))
		}
		bodies = append(bodies, rec.Body.String())
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("the answers differ, so they tell which accounts exist:\n%s", strings.Join(bodies, ""))
	}

	for _, tc := range []struct {
		name, body, contentType string
		want                    apitest.Verdict
	}{
		{"no email", `{"password": "x"}`, "application/json", apitest.Want(400, "invalid", "email")},
		{"blank email", `{"email": "  ", "password": "x"}`, "application/json", apitest.Want(400, "invalid", "email")},
		{"no password", `{"email": "a@b.it"}`, "application/json", apitest.Want(400, "invalid", "password")},
		{"password too long", signInBody("a@b.it", strings.Repeat("x", 1025)), "application/json", apitest.Want(400, "invalid", "password")},
		{"unknown field", `{"email": "a@b.it", "password": "x", "remember": true}`, "application/json", apitest.Want(400, "invalid", "remember")},
		{"not JSON", `email=a@b.it&password=x`, "application/x-www-form-urlencoded", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"no Content-Type", signInBody(email, password), "", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"malformed", `{"email":`, "application/json", apitest.Want(400, "invalid", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := apitest.Serve(t, e.h, apitest.Post("/api/operator/session", tc.body, tc.contentType), apitest.NoStore)
			if diff := cmp.Diff(tc.want, apitest.VerdictNoStore(t, rec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	var failed int
	if err := e.store.Pool.QueryRow(t.Context(), `SELECT failed_logins FROM operators WHERE email = $1`, email).Scan(&failed); err != nil || failed != 1 {
		t.Errorf("failed_logins = %d, %v; want 1 (bad input counts for nothing)", failed, err)
	}
}

// TestLockout: after 5 wrong passwords in a row the account is locked for
// 15 minutes — even the right password gets the 401 of a wrong one, with
// no Retry-After (a 429 told an attacker the account existed) — and opens
// again after them with a fresh count; a success resets the count. Each
// lock, and nothing else, is an operator.locked row of the audit log.
func TestLockout(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	email, id := e.operator(operator.RoleOperator)
	locks := func(want int) {
		t.Helper()
		recs, err := pgtest.AuditLog(t, audit.Filter{TargetKind: "operator", TargetID: id})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Actor.Kind+" "+r.Action+" "+string(r.Detail))
		}
		var w []string
		for range want {
			until, _ := json.Marshal(e.clk.Now().Add(15 * time.Minute))
			w = append(w, `system operator.locked {"until": `+string(until)+`, "failed_sign_ins": 5}`)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("audit rows of the operator (-want +got):\n%s", diff)
		}
	}
	wrong := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody(email, "wrong"))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d, want 401: %s", i+1, rec.Code, rec.Body)
			}
		}
	}
	right := func() *httptest.ResponseRecorder {
		t.Helper()
		return e.do(nil, http.MethodPost, "/api/operator/session", signInBody(email, password))
	}

	// Four failures, then a success: the count starts again.
	wrong(4)
	if rec := right(); rec.Code != http.StatusOK {
		t.Fatalf("status %d after 4 failures: %s", rec.Code, rec.Body)
	}
	locks(0)
	wrong(5)
	locks(1)
	for _, advance := range []time.Duration{0, 14*time.Minute + 59*time.Second} {
		e.clk.Advance(advance)
		// No 429, no Retry-After: they would tell that the account exists.
		checkRefused(t, "locked", right(), apitest.Want(401, "unauthorized", "credentials"), "")
	}
	e.clk.Advance(time.Second) // 15 minutes after the lock
	if rec := right(); rec.Code != http.StatusOK {
		t.Fatalf("status %d after the lockout: %s", rec.Code, rec.Body)
	}
	// A fresh count: four more failures do not lock.
	wrong(4)
	if rec := right(); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// TestSessionEnds: a session ends after SESSION_IDLE without requests, and
// after SESSION_TTL however busy; then every route is 401 and the cookie is
// cleared.
func TestSessionEnds(t *testing.T) {
	cfg := auth.DefaultConfig
	cfg.TTL, cfg.Idle = time.Hour, 30*time.Minute
	e := newEnv(t, apitest.Monday, cfg)
	email, _ := e.operator(operator.RoleOperator)
	me := func(c *apitest.Session) int { return e.do(c, http.MethodGet, "/api/operator/me", "").Code }
	ended := func(c *apitest.Session, when string) {
		t.Helper()
		rec := e.do(c, http.MethodGet, "/api/operator/me", "")
		if diff := cmp.Diff(apitest.Want(401, "unauthorized", "session"), apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", when, diff)
		}
		if got := rec.Header().Get("Set-Cookie"); !strings.Contains(got, "Max-Age=0") {
			t.Errorf("%s: the cookie is not cleared: %q", when, got)
		}
	}

	// Idle: requests 29 minutes apart keep it; 30 minutes of silence end it.
	c := e.signIn(email)
	for i := 0; i < 2; i++ {
		e.clk.Advance(29 * time.Minute)
		if code := me(c); code != http.StatusOK {
			t.Fatalf("after 29 idle minutes: status %d", code)
		}
	}
	e.clk.Advance(30 * time.Minute)
	ended(c, "after 30 idle minutes")

	// Lifetime: busy every 20 minutes, it still ends after an hour.
	c = e.signIn(email)
	for i := 0; i < 2; i++ {
		e.clk.Advance(20 * time.Minute)
		if code := me(c); code != http.StatusOK {
			t.Fatalf("after %d minutes: status %d", 20*(i+1), code)
		}
	}
	e.clk.Advance(20 * time.Minute)
	ended(c, "after the session's hour")
}

// TestSignOut: DELETE /session (with the CSRF token) ends the session: 204,
// the cookie cleared, and the old cookie no longer works.
func TestSignOut(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	email, _ := e.operator(operator.RoleOperator)
	c := e.signIn(email)
	other := e.signIn(email) // a second browser keeps its own session
	rec := e.do(c, http.MethodDelete, "/api/operator/session", "")
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cl := sessionCookie(t, rec); cl.MaxAge >= 0 || cl.Value != "" {
		t.Errorf("the cookie is not cleared: %+v", cl)
	}
	for _, r := range []struct{ method, path string }{{"GET", "/api/operator/me"}, {"DELETE", "/api/operator/session"}} {
		rec := e.do(c, r.method, r.path, "")
		if diff := cmp.Diff(apitest.Want(401, "unauthorized", "session"), apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s %s after sign-out (-want +got):\n%s", r.method, r.path, diff)
		}
	}
	if code := e.do(other, http.MethodGet, "/api/operator/me", "").Code; code != http.StatusOK {
		t.Errorf("the other browser's session: status %d", code)
	}
}

// TestNotASession: without a cookie, with garbage, or with a citizen's
// manage token (as the cookie or as a Bearer header) every route is 401.
func TestNotASession(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	_, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	citizen := pgtest.Book(t, e.store, svc, apitest.At("2027-03-01", "10:00"))
	routes := []struct{ method, path, body string }{
		{"GET", "/api/operator/me", ""},
		{"GET", "/api/operator/agenda", ""},
		{"GET", "/api/operator/bookings/" + citizen.ID, ""},
		{"POST", "/api/operator/bookings/" + citizen.ID + "/outcome", `{"outcome": "completed"}`},
		{"POST", "/api/operator/bookings/" + citizen.ID + "/cancel", ""},
		{"DELETE", "/api/operator/session", ""},
	}
	routes = append(routes, newRoutes(citizen.ID, uuid.NewString())...)
	for _, tc := range []struct {
		name string
		set  func(r *http.Request)
	}{
		{"nothing", func(r *http.Request) {}},
		{"garbage cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: session.CookieName, Value: "garbage"}) }},
		{"manage token as cookie", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: session.CookieName, Value: citizen.ManageToken})
		}},
		{"manage token as Bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+citizen.ManageToken) }},
	} {
		for _, rt := range routes {
			before := apitest.Snap(t)
			r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(rt.body))
			if rt.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			tc.set(r)
			rec := apitest.Serve(t, e.h, r, apitest.NoStore)
			if diff := cmp.Diff(apitest.Want(401, "unauthorized", "session"), apitest.VerdictNoStore(t, rec)); diff != "" {
				t.Errorf("%s: %s %s (-want +got):\n%s", tc.name, rt.method, rt.path, diff)
			}
			if after := apitest.Snap(t); after != before {
				t.Errorf("%s: %s %s wrote to the database", tc.name, rt.method, rt.path)
			}
		}
	}
}

// TestCSRF: every unsafe route wants the session's own CSRF token: without
// it, with a wrong one or another session's, 403 and nothing is written
// (the session survives a refused sign-out).
func TestCSRF(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email, _ := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	e.clk.Set(apitest.At("2027-03-02", "09:10")) // after the start: an outcome could be recorded
	c := e.signIn(email)
	other := e.signIn(email)
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/api/operator/bookings/" + b.ID + "/outcome", `{"outcome": "completed"}`},
		{"POST", "/api/operator/bookings/" + b.ID + "/cancel", ""},
		{"DELETE", "/api/operator/session", ""},
		{"POST", "/api/operator/bookings/" + b.ID + "/reschedule", `{"start": "2027-03-02T10:00:00+01:00"}`},
		{"POST", "/api/operator/bookings/" + b.ID + "/join", ""},
		{"POST", "/api/operator/bookings/" + b.ID + "/documents", `{"filename": "a.pdf", "content_type": "application/pdf", "size": 10}`},
		{"POST", "/api/operator/bookings/" + b.ID + "/documents/" + uuid.NewString() + "/complete", ""},
	} {
		// The wrong token differs from the right one in its first
		// character ("x" + the rest was the right token itself whenever
		// it began with an x: the test failed once in a few dozen runs).
		wrong := "x" + c.CSRF[1:]
		if c.CSRF[0] == 'x' {
			wrong = "y" + c.CSRF[1:]
		}
		for name, token := range map[string]string{"none": "", "wrong": wrong, "another session's": other.CSRF, "the session token": c.Cookie.Value} {
			apitest.Refused(t, rt.method+" "+rt.path+" with "+name+" token", apitest.Want(403, "csrf", "X-CSRF-Token"), func() *httptest.ResponseRecorder {
				return e.do(&apitest.Session{Cookie: c.Cookie, CSRF: token}, rt.method, rt.path, rt.body)
			})
		}
	}
	if code := e.do(c, http.MethodGet, "/api/operator/me", "").Code; code != http.StatusOK {
		t.Errorf("the session did not survive refused requests: status %d", code)
	}
	// With the token, the same request works.
	if rec := e.do(c, "POST", "/api/operator/bookings/"+b.ID+"/outcome", `{"outcome": "completed"}`); rec.Code != http.StatusOK {
		t.Errorf("with the CSRF token: status %d: %s", rec.Code, rec.Body)
	}
}

// agendaIDs lists the booking ids of an agenda answer, keeping only those
// in keep (an administrator also sees other tests' offices).
func agendaIDs(t *testing.T, rec *httptest.ResponseRecorder, keep map[string]bool) []string {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("agenda: status %d: %s", rec.Code, rec.Body)
	}
	resp := apitest.Decode[AgendaResponse](t, rec.Body.Bytes())
	ids := []string{}
	for _, b := range resp.Bookings {
		if keep == nil || keep[b.ID] {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// TestRoleIsolation: an operator of office A sees none of office B — its
// bookings are 404 exactly like unknown ones, absent from the agenda, and
// cannot be acted on; an operator of both offices and an administrator see
// both.
func TestRoleIsolation(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	officeA, svcA := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	officeB, svcB := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	a := pgtest.Book(t, e.store, svcA, apitest.At("2027-03-03", "09:00"))
	b := pgtest.Book(t, e.store, svcB, apitest.At("2027-03-03", "09:30"))
	mine := map[string]bool{a.ID: true, b.ID: true}
	emailA, _ := e.operator(operator.RoleOperator, officeA)
	emailAB, _ := e.operator(operator.RoleOperator, officeA, officeB)
	emailAdmin, _ := e.operator(operator.RoleAdministrator)
	e.clk.Set(apitest.At("2027-03-03", "10:00"))
	opA, opAB, admin := e.signIn(emailA), e.signIn(emailAB), e.signIn(emailAdmin)

	agenda := "/api/operator/agenda?date=2027-03-03"
	if diff := cmp.Diff([]string{a.ID}, agendaIDs(t, e.do(opA, "GET", agenda, ""), nil)); diff != "" {
		t.Errorf("agenda of A's operator (-want +got):\n%s", diff)
	}
	for who, c := range map[string]*apitest.Session{"both offices' operator": opAB, "administrator": admin} {
		if diff := cmp.Diff([]string{a.ID, b.ID}, agendaIDs(t, e.do(c, "GET", agenda, ""), mine)); diff != "" {
			t.Errorf("agenda of the %s (-want +got):\n%s", who, diff)
		}
		if rec := e.do(c, "GET", "/api/operator/bookings/"+b.ID, ""); rec.Code != http.StatusOK {
			t.Errorf("%s: B's booking: status %d", who, rec.Code)
		}
	}

	unknown := e.do(opA, "GET", "/api/operator/bookings/"+uuid.NewString(), "")
	if diff := cmp.Diff(apitest.Want(404, "not_found", "id"), apitest.VerdictNoStore(t, unknown)); diff != "" {
		t.Errorf("unknown booking (-want +got):\n%s", diff)
	}
	before := apitest.Snap(t)
	docB := officeDocument(t, e.store, b.ID)
	for _, rt := range append([]struct{ method, path, body string }{
		{"GET", "/api/operator/bookings/" + b.ID, ""},
		{"POST", "/api/operator/bookings/" + b.ID + "/outcome", `{"outcome": "no_show"}`},
		{"POST", "/api/operator/bookings/" + b.ID + "/cancel", ""},
	}, newRoutes(b.ID, docB)...) {
		rec := e.do(opA, rt.method, rt.path, rt.body)
		if rec.Code != http.StatusNotFound || rec.Body.String() != unknown.Body.String() {
			t.Errorf("A's operator, %s %s: status %d %s; want the 404 of an unknown booking %s",
				rt.method, rt.path, rec.Code, rec.Body, unknown.Body)
		}
	}
	if after := apitest.Snap(t); after != before {
		t.Error("A's operator changed B's booking")
	}
	if rec := e.do(opA, "GET", "/api/operator/bookings/not-a-uuid", ""); rec.Code != http.StatusNotFound {
		t.Errorf("malformed id: status %d", rec.Code)
	}
	if rec := e.do(opA, "GET", "/api/operator/bookings/"+a.ID, ""); rec.Code != http.StatusOK {
		t.Errorf("A's own booking: status %d", rec.Code)
	}
}

// TestAgenda: the agenda of a day and of a week, in Rome's days, by start:
// confirmed and completed bookings with their outcome, not cancelled ones
// nor holds; today by default; bad parameters are 400 naming them.
func TestAgenda(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Desks: 2})
	email, _ := e.operator(operator.RoleOperator, office)
	mon := pgtest.Book(t, e.store, svc, apitest.At("2027-03-01", "12:30"))
	tue1 := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:30"))
	tue0 := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	sun := pgtest.Book(t, e.store, svc, apitest.At("2027-03-07", "12:30"))
	nextMon := pgtest.Book(t, e.store, svc, apitest.At("2027-03-08", "09:00"))
	gone := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "10:00"))
	if _, err := e.store.Cancel(t.Context(), gone.ManageToken); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "11:00"), "it"); err != nil {
		t.Fatal(err) // a hold: not in the agenda
	}
	// Monday's appointment happened.
	e.clk.Set(apitest.At("2027-03-01", "12:40"))
	c := e.signIn(email)
	if rec := e.do(c, "POST", "/api/operator/bookings/"+mon.ID+"/outcome", `{"outcome": "completed"}`); rec.Code != http.StatusOK {
		t.Fatalf("outcome: status %d: %s", rec.Code, rec.Body)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{mon.ID}},
		{"?date=2027-03-01", []string{mon.ID}},
		{"?date=2027-03-02&days=1", []string{tue0.ID, tue1.ID}},
		{"?date=2027-03-01&days=7", []string{mon.ID, tue0.ID, tue1.ID, sun.ID}},
		{"?days=7&date=2027-03-02", []string{tue0.ID, tue1.ID, sun.ID, nextMon.ID}},
		{"?date=2027-03-03&days=4", []string{}},
		{"?date=2027-03-03&days=5", []string{sun.ID}},
		{"?date=2027-03-09&days=7", []string{}},
	} {
		rec := e.do(c, "GET", "/api/operator/agenda"+tc.query, "")
		if diff := cmp.Diff(tc.want, agendaIDs(t, rec, nil)); diff != "" {
			t.Errorf("agenda%s (-want +got):\n%s", tc.query, diff)
		}
	}

	// One day in full.
	rec := e.do(c, "GET", "/api/operator/agenda?date=2027-03-01", "")
	suffix := svc[len("service-"):]
	apitest.SameJSON(t, rec.Body.Bytes(), `{"date": "2027-03-01", "days": 1, "bookings": [{
		"id": "`+mon.ID+`", "start": "2027-03-01T12:30:00+01:00", "end": "2027-03-01T13:00:00+01:00",
		"office_id": "`+office+`", "service_id": "`+svc+`", "service_name": "Servizio `+suffix+`",
		"desk": "`+mon.Desk+`", "status": "completed", "outcome": "completed",
		"citizen": {"given_name": "Maria", "family_name": "Rossi"}}]}`)

	for _, tc := range []struct {
		query string
		want  apitest.Verdict
	}{
		{"?date=2027-13-01", apitest.Want(400, "invalid", "date")},
		{"?date=01/03/2027", apitest.Want(400, "invalid", "date")},
		{"?days=0", apitest.Want(400, "invalid", "days")},
		{"?days=8", apitest.Want(400, "invalid", "days")},
		{"?days=week", apitest.Want(400, "invalid", "days")},
	} {
		rec := e.do(c, "GET", "/api/operator/agenda"+tc.query, "")
		if diff := cmp.Diff(tc.want, apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("agenda%s (-want +got):\n%s", tc.query, diff)
		}
	}
}

// TestBookingDetail: the booking in full, with the citizen's data, the
// uploaded documents (not the pending ones), the attendance and the history.
func TestBookingDetail(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email, _ := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	doc := uuid.New()
	uploaded := apitest.At("2027-03-01", "08:05")
	for _, d := range []struct {
		id     uuid.UUID
		status string
	}{{doc, "uploaded"}, {uuid.New(), "pending"}, {uuid.New(), "deleted"}} {
		if _, err := e.store.Pool.Exec(t.Context(), `
			INSERT INTO documents (id, booking_id, object_key, filename, content_type, size, uploaded_by, status, created_at, uploaded_at)
			VALUES ($1, $2, $3, 'pianta.pdf', 'application/pdf', 1234, 'citizen', $4, $5, $5)`,
			d.id, b.ID, "k/"+d.id.String(), d.status, uploaded); err != nil {
			t.Fatal(err)
		}
	}
	// The citizen was in the room, and left; the operator is still there.
	if _, err := e.store.Pool.Exec(t.Context(), `
		INSERT INTO attendance (booking_id, identity, role, joined_at, left_at) VALUES
		  ($1::uuid, 'citizen-' || $1::text, 'citizen', $2, $3),
		  ($1::uuid, 'operator-x', 'operator', $2, NULL)`,
		b.ID, apitest.At("2027-03-02", "08:55"), apitest.At("2027-03-02", "09:31")); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(email)
	rec := e.do(c, "GET", "/api/operator/bookings/"+b.ID, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	suffix := svc[len("service-"):]
	apitest.SameJSON(t, rec.Body.Bytes(), `{
		"id": "`+b.ID+`", "status": "confirmed", "office_id": "`+office+`", "office_name": "Ufficio `+suffix+`",
		"service_id": "`+svc+`", "service_name": "Servizio `+suffix+`",
		"start": "2027-03-02T09:00:00+01:00", "end": "2027-03-02T09:30:00+01:00", "desk": "Postazione 1", "sequence": 0,
		"citizen": {"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari",
			"email": "maria.rossi@example.it", "reason": "SCIA", "details": "Pratica 12/2027", "locale": "it"},
		"confirmed_at": "2027-03-01T08:00:00+01:00", "cancelled_at": null,
		"outcome": null, "outcome_note": null, "outcome_at": null, "outcome_by": null, "purged": false,
		"documents": [{"id": "`+doc.String()+`", "filename": "pianta.pdf", "content_type": "application/pdf",
			"size": 1234, "uploaded_by": "citizen", "uploaded_at": "`+apitest.RFC3339(uploaded)+`"}],
		"attendance": [
			{"identity": "citizen-`+b.ID+`", "role": "citizen", "joined_at": "2027-03-02T08:55:00+01:00", "left_at": "2027-03-02T09:31:00+01:00"},
			{"identity": "operator-x", "role": "operator", "joined_at": "2027-03-02T08:55:00+01:00", "left_at": null}],
		"history": [{"at": "2027-03-01T08:00:00+01:00", "actor": {"kind": "citizen"}, "action": "booking.confirmed"}]}`)
}

// outboxData is the data of the one outbox event of a type about a booking.
func outboxData(t *testing.T, subject, typ string) map[string]any {
	t.Helper()
	var raw []byte
	if err := pgtest.Pool(t).QueryRow(t.Context(),
		`SELECT data FROM outbox WHERE subject = $1 AND type = $2`, subject, typ).Scan(&raw); err != nil {
		t.Fatalf("event %s of %s: %v", typ, subject, err)
	}
	m := apitest.Decode[map[string]any](t, raw)
	return m
}

// TestOutcome: the outcome is refused before the start (422) and recorded
// from it, once: status completed with the outcome, the note, when and by
// whom, and its booking.completed.v1 (recorded_by operator) in the same
// transaction; a second recording is 409. Bad input writes nothing.
func TestOutcome(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Desks: 3})
	email, opID := e.operator(operator.RoleOperator, office)
	start := apitest.At("2027-03-02", "09:00")
	held := pgtest.Book(t, e.store, svc, start)
	absent := pgtest.Book(t, e.store, svc, start)
	cancelled := pgtest.Book(t, e.store, svc, start)
	if _, err := e.store.Cancel(t.Context(), cancelled.ManageToken); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(start.Add(-time.Minute))
	c := e.signIn(email)
	path := func(id string) string { return "/api/operator/bookings/" + id + "/outcome" }

	refuse := func(name, id, body string, want apitest.Verdict) {
		t.Helper()
		apitest.Refused(t, name, want, func() *httptest.ResponseRecorder { return e.do(c, "POST", path(id), body) })
	}
	refuse("before the start", held.ID, `{"outcome": "completed"}`, apitest.Want(422, "unprocessable", "id"))
	e.clk.Set(start)
	refuse("no outcome", held.ID, `{"note": "x"}`, apitest.Want(400, "invalid", "outcome"))
	refuse("unknown outcome", held.ID, `{"outcome": "done"}`, apitest.Want(400, "invalid", "outcome"))
	refuse("note too long", held.ID, `{"outcome": "completed", "note": "`+strings.Repeat("è", 501)+`"}`, apitest.Want(400, "invalid", "note"))
	refuse("unknown field", held.ID, `{"outcome": "completed", "by": "me"}`, apitest.Want(400, "invalid", "by"))
	refuse("no body", held.ID, ``, apitest.Want(400, "invalid", ""))
	refuse("cancelled", cancelled.ID, `{"outcome": "completed"}`, apitest.Want(409, "conflict", "id"))

	note := strings.Repeat("è", 499) + "!"
	e.clk.Set(start.Add(25 * time.Minute))
	before := apitest.Snap(t)
	rec := e.do(c, "POST", path(held.ID), `{"outcome": "completed", "note": "  `+note+`  "}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := apitest.Decode[operator.Booking](t, rec.Body.Bytes())
	at := apitest.RFC3339(start.Add(25 * time.Minute))
	type outcome struct{ Status, Outcome, Note, At, By string }
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	if diff := cmp.Diff(outcome{"completed", "completed", note, at, opID},
		outcome{got.Status.String(), str(got.Outcome), str(got.OutcomeNote), apitest.RFC3339(*got.OutcomeAt), str(got.OutcomeBy)}); diff != "" {
		t.Errorf("recorded outcome (-want +got):\n%s", diff)
	}
	apitest.Wrote(t, before, 0, 1)
	wantEvent := map[string]any{"booking_id": held.ID, "office_id": office, "service_id": svc, "desk": held.Desk,
		"start": "2027-03-02T09:00:00+01:00", "end": "2027-03-02T09:30:00+01:00", "sequence": float64(0), "locale": "it",
		"outcome": "completed", "recorded_by": "operator"}
	if diff := cmp.Diff(wantEvent, outboxData(t, held.ID, events.BookingCompleted)); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	// The no-show, without a note.
	rec = e.do(c, "POST", path(absent.ID), `{"outcome": "no_show"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"outcome":"no_show","outcome_note":null`) {
		t.Errorf("no-show: status %d: %s", rec.Code, rec.Body)
	}
	if d := outboxData(t, absent.ID, events.BookingCompleted); d["outcome"] != "no_show" || d["recorded_by"] != "operator" {
		t.Errorf("no-show event: %v", d)
	}
	// Each outcome has its audit row: the operator, the action, the office.
	for _, id := range []string{held.ID, absent.ID} {
		if diff := cmp.Diff(auditRow{"operator", opID, "booking.completed", office}, lastAudit(t, id)); diff != "" {
			t.Errorf("audit row of %s (-want +got):\n%s", id, diff)
		}
	}

	// Once only, whatever the second says.
	refuse("second recording", held.ID, `{"outcome": "no_show"}`, apitest.Want(409, "conflict", "id"))
	refuse("second no-show", absent.ID, `{"outcome": "no_show"}`, apitest.Want(409, "conflict", "id"))
	// The database holds the note's limit too.
	if _, err := e.store.Pool.Exec(t.Context(), `UPDATE bookings SET outcome_note = repeat('x', 501) WHERE id = $1`, held.ID); err == nil {
		t.Error("the database took a 501-character note")
	}
}

// TestCancel: an operator cancels a confirmed booking on the citizen's
// behalf, even past the citizen's cutoff: its event says cancelled_by
// operator (send-email tells the citizen) and the slot is free again. A
// second cancel answers the cancelled booking and writes nothing; once
// started, 422.
func TestCancel(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Cutoff: 24 * 60})
	email, opID := e.operator(operator.RoleOperator, office)
	start := apitest.At("2027-03-02", "09:00")
	b := pgtest.Book(t, e.store, svc, start)
	started := pgtest.Book(t, e.store, svc, apitest.At("2027-03-01", "09:00"))
	e.clk.Set(apitest.At("2027-03-01", "10:00")) // inside the citizen's 24-hour cutoff
	c := e.signIn(email)

	before := apitest.Snap(t)
	rec := e.do(c, "POST", "/api/operator/bookings/"+b.ID+"/cancel", "{}")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"status":"cancelled"`) || !strings.Contains(rec.Body.String(), `"sequence":1`) {
		t.Errorf("body: %s", rec.Body)
	}
	if after := apitest.Snap(t); after.Outbox != before.Outbox+1 {
		t.Errorf("outbox %d -> %d, want one more event", before.Outbox, after.Outbox)
	}
	if d := outboxData(t, b.ID, events.BookingCancelled); d["cancelled_by"] != "operator" || d["sequence"] != float64(1) {
		t.Errorf("event: %v", d)
	}
	if diff := cmp.Diff(auditRow{"operator", opID, "booking.cancelled", office}, lastAudit(t, b.ID)); diff != "" {
		t.Errorf("audit row (-want +got):\n%s", diff)
	}
	if _, err := e.store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Errorf("the slot is not free again: %v", err)
	}
	// A second cancel (a retry after a lost answer) answers the cancelled
	// booking and writes nothing.
	snap := apitest.Snap(t)
	again := e.do(c, "POST", "/api/operator/bookings/"+b.ID+"/cancel", "{}")
	if again.Code != http.StatusOK || !strings.Contains(again.Body.String(), `"status":"cancelled"`) || !strings.Contains(again.Body.String(), `"sequence":1`) {
		t.Errorf("second cancel: status %d: %s", again.Code, again.Body)
	}
	apitest.Unchanged(t, "a second cancel", snap)
	for _, tc := range []struct {
		name, id string
		want     apitest.Verdict
	}{
		{"started", started.ID, apitest.Want(422, "unprocessable", "id")},
	} {
		apitest.Refused(t, tc.name, tc.want, func() *httptest.ResponseRecorder {
			return e.do(c, "POST", "/api/operator/bookings/"+tc.id+"/cancel", "")
		})
	}
}

// TestDemoAccounts: the demo data's accounts sign in with the documented
// password, each operator scoped to their office and the administrator to
// every office.
func TestDemoAccounts(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	if err := postgres.LoadDemo(t.Context(), e.store.Pool); err != nil {
		t.Fatal(err)
	}
	if err := postgres.LoadDemo(t.Context(), e.store.Pool); err != nil {
		t.Fatalf("the demo data are not idempotent: %v", err)
	}
	for email, want := range map[string][]string{
		"operatore.urp@comune.bari.it":         {"urp"},
		"operatore.ambiente@comune.bari.it":    {"ambiente"},
		"operatore.urbanistica@comune.bari.it": {"urbanistica"},
	} {
		rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody(email, "sportello-demo"))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", email, rec.Code, rec.Body)
		}
		var resp SessionResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &resp)
		if diff := cmp.Diff(want, resp.Operator.OfficeIDs()); diff != "" || resp.Operator.Role != "operator" {
			t.Errorf("%s: role %s, offices (-want +got):\n%s", email, resp.Operator.Role, diff)
		}
	}
	rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody("admin@comune.bari.it", "sportello-demo"))
	var resp SessionResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	ids := map[string]bool{}
	for _, id := range resp.Operator.OfficeIDs() {
		ids[id] = true
	}
	if rec.Code != http.StatusOK || resp.Operator.Role != "administrator" || !ids["urp"] || !ids["ambiente"] || !ids["urbanistica"] {
		t.Errorf("admin: status %d, %+v", rec.Code, resp.Operator)
	}
}

// TestUnknownRoute: paths and methods that are not routes.
func TestUnknownRoute(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	if rec := e.do(nil, "GET", "/api/operator/nothing", ""); rec.Code != http.StatusNotFound {
		t.Errorf("status %d", rec.Code)
	}
}
