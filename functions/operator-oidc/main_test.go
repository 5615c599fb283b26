package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

const (
	clientID     = "sportello"
	clientSecret = "client-secret-for-tests"
	redirectURL  = "https://sportello.comune.example.it/api/operator/oidc/callback"
)

// env is one test's function: its handler on the package's database, a
// fixed clock shared with the identity provider, and the logs.
type env struct {
	t    testing.TB
	h    http.Handler
	idp  *testIdP
	cfg  Config
	auth *auth.Authenticator
	clk  *clock.Fixed
	logs *apitest.Logs
}

func newEnv(t testing.TB, change func(*Config)) *env {
	t.Helper()
	store, clk := pgtest.Store(t, apitest.Monday)
	idp := newTestIdP(t, clk, clientID, clientSecret, redirectURL)
	cfg := Config{Issuer: idp.srv.URL, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		Scopes: "openid email profile", EmailClaim: "email", RequireVerifiedEmail: true, LoginTTL: 10 * time.Minute, Timeout: 5 * time.Second}
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Nothing personal or secret in the logs: no email, code or token.
	logs := apitest.NewLogs(t, "@", "eyJ", "code=", "state=")
	a := &auth.Authenticator{Store: store, Config: auth.DefaultConfig}
	e := &env{t: t, idp: idp, cfg: cfg, auth: a, clk: clk, logs: logs,
		h: apitest.Validated(t, newHandler(cfg, a, &http.Client{Timeout: cfg.Timeout}, logs.Logger))}
	return e
}

// operator creates an operator of a new office and returns their email and
// id.
func (e *env) operator(role string) (string, string) {
	e.t.Helper()
	office, _ := pgtest.NewService(e.t, pgtest.Pool(e.t), pgtest.Service{})
	email := "op-" + pgtest.Suffix() + "@comune.example.it"
	id, err := pgtest.CreateOperator(e.t.Context(), pgtest.Pool(e.t), e.clk.Now(), email, "Operatore di prova", "a password never used here", role, office)
	if err != nil {
		e.t.Fatal(err)
	}
	return email, id
}

func get(target string, cookies ...*http.Cookie) *http.Request {
	r := apitest.Get(target)
	for _, c := range cookies {
		if c != nil {
			r.AddCookie(c)
		}
	}
	return r
}

func cookieOf(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login starts a sign-in as a browser does and returns the provider's
// authorization URL and the state cookie.
func (e *env) login(returnTo string) (*url.URL, *http.Cookie) {
	e.t.Helper()
	rec := apitest.Serve(e.t, e.h, get("/api/operator/oidc/login?return_to="+url.QueryEscape(returnTo)), apitest.NoStore)
	if rec.Code != http.StatusFound {
		e.t.Fatalf("login: status %d: %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	c := cookieOf(rec, StateCookie)
	if c == nil {
		e.t.Fatal("login: no state cookie")
	}
	return u, c
}

// authorize follows the redirect to the provider, which signs its chosen
// user in and redirects back: it returns the callback's path and query.
func (e *env) authorize(u *url.URL) string {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u.String())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), redirectURL+"?") {
		e.t.Fatalf("the provider redirected to %s", back)
	}
	return back.RequestURI()
}

// signIn runs the whole flow up to the callback's answer.
func (e *env) signIn(returnTo string) *httptest.ResponseRecorder {
	e.t.Helper()
	u, state := e.login(returnTo)
	return apitest.Serve(e.t, e.h, get(e.authorize(u), state), apitest.NoStore)
}

// written counts what a sign-in writes: sessions, audit rows and sign-ins
// in progress.
type written struct{ Sessions, Audit, Logins int }

func (e *env) written() written {
	e.t.Helper()
	var w written
	if err := pgtest.Pool(e.t).QueryRow(e.t.Context(), `
		SELECT (SELECT count(*) FROM operator_sessions), (SELECT count(*) FROM audit_log), (SELECT count(*) FROM oidc_logins)`).
		Scan(&w.Sessions, &w.Audit, &w.Logins); err != nil {
		e.t.Fatal(err)
	}
	return w
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, nil)
	email, id := e.operator(operator.RoleOperator)
	e.idp.signInAs(map[string]any{"sub": "idp-user-1", "email": strings.ToUpper(email), "email_verified": true, "name": "Maria Rossi"})
	before := e.written()

	u, state := e.login("/operatore/agenda?giorno=2027-03-01")
	// The browser is sent to the provider with the code flow, PKCE S256,
	// a state (the cookie's) and a nonce.
	q := u.Query()
	if !strings.HasPrefix(u.String(), e.idp.srv.URL+"/auth?") || q.Get("state") != state.Value || q.Get("nonce") == "" ||
		q.Get("code_challenge_method") != "S256" || q.Get("scope") != "openid email profile" || q.Get("redirect_uri") != redirectURL {
		t.Errorf("authorization URL %s", u)
	}
	wantState := &http.Cookie{Name: StateCookie, Value: state.Value, Path: StatePath, MaxAge: 600, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteLaxMode, Raw: state.Raw}
	if diff := cmp.Diff(wantState, state); diff != "" {
		t.Errorf("state cookie (-want +got):\n%s", diff)
	}
	if got := e.written(); got.Logins != before.Logins+1 {
		t.Errorf("sign-ins in progress: %d, want %d", got.Logins, before.Logins+1)
	}

	callback := e.authorize(u)
	rec := apitest.Serve(t, e.h, get(callback, state), apitest.NoStore)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/operatore/agenda?giorno=2027-03-01" {
		t.Fatalf("callback: status %d, Location %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	// The session cookie is the password sign-in's, and the state cookie
	// is gone.
	sc := cookieOf(rec, session.CookieName)
	if sc == nil {
		t.Fatal("no session cookie")
	}
	want := session.Cookie(auth.DefaultConfig, sc.Value)
	want.Raw = sc.Raw
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("session cookie (-want +got):\n%s", diff)
	}
	if c := cookieOf(rec, StateCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("state cookie not cleared: %+v", c)
	}
	// The cookie is a working session of that operator, with their role
	// and offices as Sportello has them.
	sess, err := e.auth.Authenticate(t.Context(), sc.Value)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Operator.ID != id || sess.Operator.Email != email || sess.Operator.Role != operator.RoleOperator || len(sess.Operator.Offices) != 1 || sess.CSRFToken == "" {
		t.Errorf("session of %+v", sess.Operator)
	}
	// One audit row, without personal data.
	rows, err := pgtest.AuditLog(t, audit.Filter{TargetKind: "session", TargetID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("audit rows: %+v", rows)
	}
	got := rows[0]
	got.ID = 0
	wantRow := audit.Record{At: e.clk.Now(), Actor: audit.Operator(id), Action: "session.started", TargetKind: "session", TargetID: id,
		Detail: []byte(`{"method": "oidc"}`)}
	if diff := cmp.Diff(wantRow, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("audit row (-want +got):\n%s", diff)
	}
	if got := e.written(); got != (written{Sessions: before.Sessions + 1, Audit: before.Audit + 1, Logins: before.Logins}) {
		t.Errorf("written %+v, before %+v", got, before)
	}

	// The state worked once: the same callback again is refused, and
	// signs no one in.
	after := e.written()
	rec = apitest.Serve(t, e.h, get(callback, state), apitest.NoStore)
	if diff := cmp.Diff(apitest.Want(400, "invalid", "state"), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	if got := e.written(); got != after {
		t.Errorf("replay wrote %+v, had %+v", got, after)
	}
}

func TestSignInReplacesTheBrowsersSession(t *testing.T) {
	e := newEnv(t, nil)
	email, _ := e.operator(operator.RoleAdministrator)
	e.idp.signInAs(map[string]any{"sub": "x", "email": email, "email_verified": "true"}) // a string, as some providers send it
	first := cookieOf(e.signIn("/"), session.CookieName)
	if first == nil {
		t.Fatal("first sign-in failed")
	}
	u, state := e.login("")
	rec := apitest.Serve(t, e.h, get(e.authorize(u), state, first), apitest.NoStore)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/" {
		t.Fatalf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	if _, err := e.auth.Authenticate(t.Context(), first.Value); err == nil {
		t.Error("the browser's previous session still works")
	}
	second := cookieOf(rec, session.CookieName)
	if sess, err := e.auth.Authenticate(t.Context(), second.Value); err != nil || !sess.Operator.Administrator() {
		t.Errorf("second session: %+v, %v", sess.Operator, err)
	}
}

func TestOtherEmailClaim(t *testing.T) {
	// A provider that sends the address in another claim and does not say
	// whether it verified it (as some directories do), configured so.
	e := newEnv(t, func(c *Config) { c.EmailClaim = "upn"; c.RequireVerifiedEmail = false; c.Scopes = "email,profile" })
	email, id := e.operator(operator.RoleOperator)
	e.idp.signInAs(map[string]any{"sub": "x", "upn": email, "email": "someone.else@example.org"})
	u, _ := e.login("/")
	if got := u.Query().Get("scope"); got != "openid email profile" {
		t.Errorf("scope %q", got)
	}
	rec := e.signIn("/")
	sc := cookieOf(rec, session.CookieName)
	if rec.Code != http.StatusFound || sc == nil {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if sess, err := e.auth.Authenticate(t.Context(), sc.Value); err != nil || sess.Operator.ID != id {
		t.Errorf("session %+v, %v", sess.Operator, err)
	}
}

// TestCallbackRefused runs sign-ins that must fail: each answers its
// problem, clears the state cookie and opens no session.
func TestCallbackRefused(t *testing.T) {
	e := newEnv(t, nil)
	email, _ := e.operator(operator.RoleOperator)
	inactive, inactiveID := e.operator(operator.RoleOperator)
	if _, err := pgtest.Pool(t).Exec(t.Context(), `UPDATE operators SET active = false WHERE id = $1`, inactiveID); err != nil {
		t.Fatal(err)
	}
	user := map[string]any{"sub": "idp-user", "email": email, "email_verified": true}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range user {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	const noAccountDetail = noAccount

	tests := []struct {
		name   string
		user   map[string]any
		idp    func(p *testIdP)
		query  func(callback string, state *http.Cookie) (string, *http.Cookie) // changes what the browser sends back
		want   apitest.Verdict
		detail string // when set, the problem's detail exactly
	}{
		{name: "forged signature", idp: func(p *testIdP) { p.forge = true }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "unsigned token", idp: func(p *testIdP) { p.none = true }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "wrong audience", idp: func(p *testIdP) { p.tamper = func(c map[string]any) { c["aud"] = "another-client" } }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "wrong issuer", idp: func(p *testIdP) { p.tamper = func(c map[string]any) { c["iss"] = "https://idp.evil.example" } }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "expired token", idp: func(p *testIdP) {
			p.tamper = func(c map[string]any) { c["exp"] = apitest.Monday.Add(-time.Minute).Unix() }
		}, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "nonce mismatch", idp: func(p *testIdP) { p.tamper = func(c map[string]any) { c["nonce"] = "another-sign-in's-nonce" } }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "no nonce", idp: func(p *testIdP) { p.tamper = func(c map[string]any) { delete(c, "nonce") } }, want: apitest.Want(401, "unauthorized", "id_token")},
		{name: "unknown email", user: with("email", "nobody@comune.example.it"), want: apitest.Want(403, "forbidden", "email"), detail: noAccountDetail},
		{name: "inactive operator", user: with("email", inactive), want: apitest.Want(403, "forbidden", "email"), detail: noAccountDetail},
		{name: "email not verified", user: with("email_verified", false), want: apitest.Want(403, "forbidden", "email")},
		{name: "email_verified missing", user: with("email_verified", nil), want: apitest.Want(403, "forbidden", "email")},
		{name: "no email", user: with("email", nil), want: apitest.Want(403, "forbidden", "email")},
		{name: "provider error", idp: func(p *testIdP) { p.deny = "access_denied" }, want: apitest.Want(400, "invalid", "error")},
		{name: "provider error with garbage", idp: func(p *testIdP) { p.deny = "<script>alert(1)</script>" }, want: apitest.Want(400, "invalid", "error"),
			detail: "the identity provider did not sign you in (unknown error): start again"},
		{name: "state of another sign-in", query: func(cb string, c *http.Cookie) (string, *http.Cookie) {
			other := *c
			other.Value = strings.Repeat("A", 43)
			return cb, &other
		}, want: apitest.Want(400, "invalid", "state")},
		{name: "no state cookie (another browser)", query: func(cb string, c *http.Cookie) (string, *http.Cookie) { return cb, nil },
			want: apitest.Want(400, "invalid", "state")},
		{name: "no state", query: func(cb string, c *http.Cookie) (string, *http.Cookie) {
			return dropParam(cb, "state"), c
		}, want: apitest.Want(400, "invalid", "state")},
		{name: "no code", query: func(cb string, c *http.Cookie) (string, *http.Cookie) { return dropParam(cb, "code"), c },
			want: apitest.Want(400, "invalid", "code")},
		{name: "code refused by the provider", query: func(cb string, c *http.Cookie) (string, *http.Cookie) {
			return setParam(cb, "code", "a-code-the-provider-never-issued"), c
		}, want: apitest.Want(400, "invalid", "code")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.idp.set(func(p *testIdP) {
				p.forge, p.none, p.tamper, p.deny = false, false, nil, ""
				p.user = user
				if tt.user != nil {
					p.user = tt.user
				}
				if tt.idp != nil {
					tt.idp(p)
				}
			})
			u, state := e.login("/operatore")
			callback := e.authorize(u)
			if tt.query != nil {
				callback, state = tt.query(callback, state)
			}
			before := e.written()
			rec := apitest.Serve(t, e.h, get(callback, state), apitest.NoStore)
			p := apitest.ProblemOf(t, rec, apitest.NoStore)
			if diff := cmp.Diff(tt.want, apitest.VerdictOf(rec, p)); diff != "" {
				t.Errorf("(-want +got):\n%s\n%+v", diff, p)
			}
			if tt.detail != "" && p.Detail != tt.detail {
				t.Errorf("detail %q, want %q", p.Detail, tt.detail)
			}
			if c := cookieOf(rec, session.CookieName); c != nil {
				t.Errorf("a session cookie was set: %+v", c)
			}
			if c := cookieOf(rec, StateCookie); c == nil || c.MaxAge >= 0 {
				t.Errorf("state cookie not cleared: %+v", c)
			}
			got := e.written()
			if got.Sessions != before.Sessions || got.Audit != before.Audit {
				t.Errorf("wrote %+v, had %+v", got, before)
			}
		})
	}
}

func dropParam(requestURI, name string) string {
	u, _ := url.Parse(requestURI)
	q := u.Query()
	q.Del(name)
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

func setParam(requestURI, name, value string) string {
	u, _ := url.Parse(requestURI)
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

func TestStateExpires(t *testing.T) {
	e := newEnv(t, nil)
	email, _ := e.operator(operator.RoleOperator)
	e.idp.signInAs(map[string]any{"sub": "x", "email": email, "email_verified": true})
	u, state := e.login("/")
	callback := e.authorize(u)
	e.clk.Set(apitest.Monday.Add(e.cfg.LoginTTL))
	before := e.written()
	rec := apitest.Serve(t, e.h, get(callback, state), apitest.NoStore)
	if diff := cmp.Diff(apitest.Want(400, "invalid", "state"), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := e.written(); got.Sessions != before.Sessions || got.Audit != before.Audit {
		t.Errorf("wrote %+v, had %+v", got, before)
	}
	// The next sign-in drops what expired.
	e.login("/")
	var stale int
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT count(*) FROM oidc_logins WHERE expires_at <= $1`, e.clk.Now()).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("expired sign-ins kept: %d, %v", stale, err)
	}
}

func TestLockedAccount(t *testing.T) {
	e := newEnv(t, nil)
	email, id := e.operator(operator.RoleOperator)
	if _, err := pgtest.Pool(t).Exec(t.Context(), `UPDATE operators SET locked_until = $2 WHERE id = $1`, id, e.clk.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.idp.signInAs(map[string]any{"sub": "x", "email": email, "email_verified": true})
	before := e.written()
	rec := e.signIn("/")
	if diff := cmp.Diff(apitest.Want(429, "locked", "email"), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if rec.Header().Get("Retry-After") != "300" {
		t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if got := e.written(); got.Sessions != before.Sessions || got.Audit != before.Audit {
		t.Errorf("wrote %+v, had %+v", got, before)
	}
}

func TestReturnTo(t *testing.T) {
	e := newEnv(t, nil)
	for i, bad := range []string{
		"https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
		"javascript:alert(1)", "evil.example/x", " /x", "/ok/../\\evil", "/" + strings.Repeat("a", MaxReturnTo),
	} {
		t.Run(fmt.Sprintf("%d %.30q", i, bad), func(t *testing.T) {
			before := e.written()
			rec := apitest.Serve(t, e.h, get("/api/operator/oidc/login?return_to="+url.QueryEscape(bad)), apitest.NoStore)
			if diff := cmp.Diff(apitest.Want(400, "invalid", "return_to"), apitest.VerdictNoStore(t, rec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if cookieOf(rec, StateCookie) != nil || rec.Header().Get("Location") != "" {
				t.Error("the sign-in started")
			}
			if got := e.written(); got != before {
				t.Errorf("wrote %+v, had %+v", got, before)
			}
		})
	}
	for in, want := range map[string]string{"": "/", "/": "/", "/operatore/prenotazioni/1?x=%2F%2Fa#top": "/operatore/prenotazioni/1?x=%2F%2Fa#top"} {
		if got, err := ReturnTo(in); got != want || err != nil {
			t.Errorf("ReturnTo(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// Even a row written around ReturnTo could not hold another site: the
	// table refuses it.
	_, err := pgtest.Pool(t).Exec(t.Context(), `
		INSERT INTO oidc_logins (state_hash, nonce, code_verifier, return_to, created_at, expires_at)
		VALUES (sha256('x'), repeat('n', 43), repeat('v', 43), '//evil.example', now(), now() + interval '1 minute')`)
	if err == nil {
		t.Error("the table accepted return_to //evil.example")
	}
}

func TestConfigAndDisabled(t *testing.T) {
	e := newEnv(t, nil)
	rec := apitest.Serve(t, e.h, get("/api/operator/oidc/config"), apitest.NoStore)
	apitest.SameJSON(t, rec.Body.Bytes(), `{"enabled": true, "issuer": "`+e.idp.srv.URL+`"}`)

	off := apitest.Validated(t, newHandler(Config{}, e.auth, http.DefaultClient, apitest.Discard))
	rec = apitest.Serve(t, off, get("/api/operator/oidc/config"), apitest.NoStore)
	if rec.Code != http.StatusOK {
		t.Errorf("config: status %d", rec.Code)
	}
	apitest.SameJSON(t, rec.Body.Bytes(), `{"enabled": false, "issuer": ""}`)
	for _, path := range []string{"/api/operator/oidc/login?return_to=/", "/api/operator/oidc/callback?code=c&state=s", "/api/operator/oidc/other"} {
		rec := apitest.Serve(t, off, get(path), apitest.NoStore)
		if diff := cmp.Diff(apitest.Want(404, "not_found", ""), apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
}

func TestProviderUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h := apitest.Validated(t, newHandler(Config{Issuer: dead.URL, ClientID: clientID, RedirectURL: redirectURL, Scopes: "openid", EmailClaim: "email",
		LoginTTL: time.Minute, Timeout: time.Second}, e.auth, &http.Client{Timeout: time.Second}, apitest.Discard))
	before := e.written()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get("/api/operator/oidc/login?return_to=/"))
	if diff := cmp.Diff(apitest.Want(502, "bad_gateway", ""), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := e.written(); got != before {
		t.Errorf("wrote %+v, had %+v", got, before)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Issuer: "https://idp.example", ClientID: "c", RedirectURL: redirectURL, EmailClaim: "email", LoginTTL: time.Minute, Timeout: time.Second}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("disabled: %v", err)
	}
	for name, c := range map[string]Config{
		"no client":       {Issuer: ok.Issuer, RedirectURL: ok.RedirectURL, EmailClaim: "email", LoginTTL: time.Minute, Timeout: time.Second},
		"relative issuer": {Issuer: "idp.example", ClientID: "c", RedirectURL: ok.RedirectURL, EmailClaim: "email", LoginTTL: time.Minute, Timeout: time.Second},
		"no redirect":     {Issuer: ok.Issuer, ClientID: "c", EmailClaim: "email", LoginTTL: time.Minute, Timeout: time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if diff := cmp.Diff([]string{"openid", "email"}, (Config{Scopes: " email "}).ScopeList()); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestTokenEndpointDown(t *testing.T) {
	e := newEnv(t, nil)
	email, _ := e.operator(operator.RoleOperator)
	e.idp.signInAs(map[string]any{"sub": "x", "email": email, "email_verified": true})
	e.idp.set(func(p *testIdP) { p.down = true })
	u, state := e.login("/")
	callback := e.authorize(u)
	before := e.written()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, get(callback, state))
	if diff := cmp.Diff(apitest.Want(502, "bad_gateway", ""), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := e.written(); got.Sessions != before.Sessions || got.Audit != before.Audit {
		t.Errorf("wrote %+v, had %+v", got, before)
	}
}
