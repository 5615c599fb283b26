// Command operator-oidc signs office operators in with the municipality's
// OpenID Connect identity provider (OIDC_ISSUER), as an alternative to the
// password sign-in of the operators function. It uses the authorization
// code flow with PKCE (S256), a state and a nonce; it verifies the ID token
// (the issuer's signature through its JWKS, iss, aud, exp and the nonce)
// with github.com/coreos/go-oidc/v3, and maps the identity provider's
// verified email to an existing, active Sportello operator. Nobody is
// created here: roles and offices stay Sportello's, set by administrators.
// The session it opens is the operators function's own (the same
// sportello_operator cookie, CSRF token and lifetime).
//
// Consumes: HTTP under /api/operator/oidc (every answer Cache-Control:
// no-store):
//   - GET /api/operator/oidc/config → 200 {"enabled", "issuer"}, so the site
//     knows whether to offer the button ({"enabled": false, "issuer": ""}
//     when OIDC_ISSUER is empty). Always answers.
//   - GET /api/operator/oidc/login?return_to=/a/path → 302 to the identity
//     provider's authorization endpoint, with the sportello_oidc cookie
//     (HttpOnly, SameSite=Lax so that it comes back on the provider's
//     top-level redirect, Path /api/operator/oidc, OIDC_LOGIN_TTL) holding
//     the state. return_to (default "/") must be a path on this site: it
//     starts with one "/", has no "\" and no control characters; anything
//     else (https://evil, //evil, /\evil) is a 400 "invalid" naming
//     return_to, with nothing written. 502 "bad_gateway" when the provider's
//     discovery document cannot be read.
//   - GET /api/operator/oidc/callback?code=…&state=… → 302 to return_to with
//     the session cookie set, and an audit row (session.started, target
//     session = the operator's id, detail {"method":"oidc"}). Errors: 400
//     "invalid" field "error" when the provider answers with an error
//     parameter; 400 field "state" when the state is missing, not the one of
//     this browser's cookie, unknown, already used or expired (a state works
//     once); 400 field "code" when the provider refuses the code; 401
//     "unauthorized" field "id_token" when the ID token fails verification
//     (signature, issuer, audience, expiry, nonce); 403 "forbidden" field
//     "email" when the token has no email, the provider has not verified it
//     (unless OIDC_REQUIRE_VERIFIED_EMAIL=false), or no active operator has
//     it (one answer for the last two, which tells nothing of who has an
//     account); 429 "locked" with Retry-After when the account is locked
//     after failed password sign-ins; 502 when the provider is unreachable.
//
// Unlike the password sign-in (see operators), which answers an unknown,
// inactive or locked account as a wrong password, the callback tells a
// locked account (429) from no account (403): it tells it only to whom the
// identity provider vouched for with that very email, that is the
// account's own holder, who may as well know why they are refused; no one
// can choose the email they ask about. That holds while the provider
// verifies emails (OIDC_REQUIRE_VERIFIED_EMAIL, true by default): with it
// off, a provider's user who can set any email could ask about any
// account (and sign in as it, which is worse). Sign-ins here are not
// counted per network address: each needs a fresh authentication at the
// provider, whose own limits apply.
//
// With OIDC_ISSUER empty, login and callback answer 404.
//
// Emits: no events; an audit row for each sign-in.
//
// Configuration, besides the common one and the operators function's
// SESSION_TTL, SESSION_IDLE, COOKIE_SECURE: OIDC_ISSUER (empty: disabled),
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (empty: a public client, PKCE only),
// OIDC_REDIRECT_URL (this function's callback as the provider knows it,
// e.g. https://sportello.comune.example.it/api/operator/oidc/callback),
// OIDC_SCOPES ("openid email profile"; spaces or commas), OIDC_EMAIL_CLAIM
// (email), OIDC_REQUIRE_VERIFIED_EMAIL (true), OIDC_LOGIN_TTL (10m),
// OIDC_TIMEOUT (10s, each request to the provider).
//
// Tests run the whole flow against an identity provider written inside the
// test (discovery, JWKS, authorization and token endpoints, RS256 ID tokens
// signed with go-jose): no real provider can be built here (Dex's releases
// are not served by the module proxy), so interoperability with a real one
// (Keycloak, Entra ID, SPID/CIE gateways) is not tested.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Config is the identity provider's configuration.
type Config struct {
	Issuer               string        `envconfig:"OIDC_ISSUER"`
	ClientID             string        `envconfig:"OIDC_CLIENT_ID"`
	ClientSecret         string        `envconfig:"OIDC_CLIENT_SECRET"`
	RedirectURL          string        `envconfig:"OIDC_REDIRECT_URL"`
	Scopes               string        `envconfig:"OIDC_SCOPES" default:"openid email profile"`
	EmailClaim           string        `envconfig:"OIDC_EMAIL_CLAIM" default:"email"`
	RequireVerifiedEmail bool          `envconfig:"OIDC_REQUIRE_VERIFIED_EMAIL" default:"true"`
	LoginTTL             time.Duration `envconfig:"OIDC_LOGIN_TTL" default:"10m"`
	Timeout              time.Duration `envconfig:"OIDC_TIMEOUT" default:"10s"`
}

// Enabled reports whether an issuer is configured.
func (c Config) Enabled() bool { return c.Issuer != "" }

// ScopeList is OIDC_SCOPES as a list, with openid always in it.
func (c Config) ScopeList() []string {
	scopes := strings.FieldsFunc(c.Scopes, func(r rune) bool { return r == ' ' || r == ',' })
	for _, s := range scopes {
		if s == "openid" {
			return scopes
		}
	}
	return append([]string{"openid"}, scopes...)
}

// Validate checks an enabled configuration, so that a mistake stops the
// function at start rather than at the first sign-in.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var problems []string
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, "OIDC_ISSUER must be an http(s) URL")
	}
	if c.ClientID == "" {
		problems = append(problems, "OIDC_CLIENT_ID is required")
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, "OIDC_REDIRECT_URL must be an absolute http(s) URL (this function's /api/operator/oidc/callback)")
	}
	if strings.TrimSpace(c.EmailClaim) == "" {
		problems = append(problems, "OIDC_EMAIL_CLAIM must not be empty")
	}
	if c.LoginTTL <= 0 || c.Timeout <= 0 {
		problems = append(problems, "OIDC_LOGIN_TTL and OIDC_TIMEOUT must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

func main() {
	var (
		cfg     Config
		authCfg auth.Config
	)
	err := envconfig.Process("", &authCfg)
	if err == nil {
		err = envconfig.Process("", &cfg)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "operator-oidc", "err", err)
		os.Exit(1)
	}
	function.Main("operator-oidc", func(env *function.Env) http.Handler {
		a := &auth.Authenticator{Store: env.Store, Config: authCfg}
		return newHandler(cfg, a, &http.Client{Timeout: cfg.Timeout}, env.Log)
	})
}

// ConfigResponse is the answer of GET /api/operator/oidc/config.
type ConfigResponse struct {
	Enabled bool   `json:"enabled"`
	Issuer  string `json:"issuer"`
}

// StateCookie is the cookie that carries a sign-in's state from the login
// redirect to the callback.
const StateCookie = "sportello_oidc"

// StatePath scopes the state cookie to this function's routes.
const StatePath = "/api/operator/oidc"

type handler struct {
	cfg   Config
	store *postgres.Store
	auth  *auth.Authenticator
	idp   *provider
	log   *slog.Logger
}

func newHandler(cfg Config, a *auth.Authenticator, client *http.Client, log *slog.Logger) http.Handler {
	h := &handler{cfg: cfg, store: a.Store, auth: a, log: log,
		idp: &provider{cfg: cfg, client: client, now: a.Store.Clock.Now}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/operator/oidc/config", h.config)
	mux.HandleFunc("GET /api/operator/oidc/login", h.enabled(h.login))
	mux.HandleFunc("GET /api/operator/oidc/callback", h.enabled(h.callback))
	mux.HandleFunc("/", httpx.NotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}

// enabled answers 404, as for an unknown path, while no issuer is set.
func (h *handler) enabled(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.cfg.Enabled() {
			httpx.NotFound(w, r)
			return
		}
		next(w, r)
	}
}

func (h *handler) config(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(w, http.StatusOK, ConfigResponse{Enabled: h.cfg.Enabled(), Issuer: h.cfg.Issuer})
}

func (h *handler) stateCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: StateCookie, Value: value, Path: StatePath, MaxAge: maxAge,
		HttpOnly: true, Secure: h.auth.Config.CookieSecure, SameSite: http.SameSiteLaxMode}
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	returnTo, err := ReturnTo(r.URL.Query().Get("return_to"))
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	oauth, _, err := h.idp.get(r.Context())
	if err != nil {
		h.log.ErrorContext(r.Context(), "identity provider discovery", "err", err)
		httpx.Error(w, r, nil, apperr.New(apperr.BadGateway, "", "the identity provider cannot be reached: try again later"))
		return
	}
	l, err := startLogin(r.Context(), h.store, h.cfg.LoginTTL, returnTo)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	http.SetCookie(w, h.stateCookie(l.State, int(h.cfg.LoginTTL/time.Second)))
	http.Redirect(w, r, l.AuthCodeURL(oauth), http.StatusFound)
}

func (h *handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	// Whatever happens next, this sign-in attempt is over for the browser.
	http.SetCookie(w, h.stateCookie("", -1))
	cookie, _ := r.Cookie(StateCookie)
	var browserState string
	if cookie != nil {
		browserState = cookie.Value
	}
	l, err := finishLogin(ctx, h.store, q.Get("state"), browserState)
	if e := q.Get("error"); e != "" {
		// The provider refused (the user cancelled, or is not allowed to use
		// this client). The state, if it was right, is spent all the same.
		httpx.Error(w, r, h.log, apperr.Field("error", apperr.NotAllowed, "the identity provider did not sign you in (%s): start again", oauthErrorCode(e)))
		return
	}
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		httpx.Error(w, r, h.log, apperr.Field("code", apperr.Required, "the identity provider's answer has no usable code: start again"))
		return
	}
	oauth, verifier, err := h.idp.get(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "identity provider discovery", "err", err)
		httpx.Error(w, r, nil, apperr.New(apperr.BadGateway, "", "the identity provider cannot be reached: try again later"))
		return
	}
	claims, err := h.idp.exchange(ctx, oauth, verifier, l, code)
	if err != nil {
		var pe *providerError
		if asProviderError(err, &pe) && pe.unreachable {
			h.log.ErrorContext(ctx, "identity provider token exchange", "err", pe.logged)
			httpx.Error(w, r, nil, apperr.New(apperr.BadGateway, "", "the identity provider cannot be reached: try again later"))
			return
		}
		if pe != nil {
			h.log.WarnContext(ctx, "sign-in refused", "reason", pe.logged)
			httpx.Error(w, r, h.log, pe.err)
			return
		}
		httpx.Error(w, r, h.log, err)
		return
	}
	email, err := h.emailOf(claims)
	if err != nil {
		h.log.WarnContext(ctx, "sign-in refused", "reason", err.Error())
		httpx.Error(w, r, h.log, apperr.New(apperr.Forbidden, "email", "%s", err.Error()))
		return
	}
	sess, err := h.signIn(ctx, email)
	var locked *apperr.Error
	if errors.As(err, &locked) && locked.Code == apperr.Locked {
		named := *locked // the provider vouched for an email, not for credentials
		named.Field = "email"
		httpx.Error(w, r, h.log, &named)
		return
	}
	if apperr.Is(err, apperr.Unauthorized) {
		h.log.WarnContext(ctx, "sign-in refused", "reason", "no active operator has the provider's email")
		httpx.Error(w, r, h.log, apperr.New(apperr.Forbidden, "email", "%s", noAccount))
		return
	}
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	// A session this browser had before ends: one browser, one session.
	if old := session.TokenFrom(r); old != "" && old != sess.Token {
		if err := h.auth.SignOut(ctx, old); err != nil {
			h.log.WarnContext(ctx, "ending the previous session", "err", err)
		}
	}
	http.SetCookie(w, session.Cookie(h.auth.Config, sess.Token))
	http.Redirect(w, r, l.ReturnTo, http.StatusFound)
}

// noAccount is the one answer for an unknown email and an inactive
// operator alike.
const noAccount = "this identity provider account may not sign in to Sportello: ask an administrator"

// emailOf is the operator's email in the verified claims: the configured
// claim, which the provider must have verified (unless configured not to).
func (h *handler) emailOf(claims map[string]any) (string, error) {
	email, _ := claims[h.cfg.EmailClaim].(string)
	email = operator.NormalizeEmail(email)
	if email == "" || len(email) > 254 || !strings.Contains(email, "@") {
		return "", fmt.Errorf("the identity provider sent no email address (claim %q)", h.cfg.EmailClaim)
	}
	if h.cfg.RequireVerifiedEmail && !truthy(claims["email_verified"]) {
		return "", fmt.Errorf("the identity provider has not verified this email address")
	}
	return email, nil
}

// truthy reads email_verified, which some providers send as a string.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// signIn opens a session for the active operator with email; the session
// and its audit row (session.started, method oidc) commit together.
func (h *handler) signIn(ctx context.Context, email string) (auth.Session, error) {
	id, err := activeOperator(ctx, h.store, email)
	if err != nil {
		return auth.Session{}, err
	}
	return h.auth.OpenSession(ctx, id)
}
