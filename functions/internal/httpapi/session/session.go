// Package session is the HTTP side of an operator's session: the cookie
// that carries it, the CSRF token every unsafe request must send, and the
// Guard in front of the operators' and the administration's routes. The
// sessions themselves are app/auth's.
package session

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
)

// CookieName is the cookie that carries an operator's session token.
const CookieName = "sportello_operator"

// CookiePath scopes the cookie to the operators' API: the citizen's pages
// and the other functions never receive it.
const CookiePath = "/api/operator"

// CSRFHeader is the header that must carry the session's CSRF token on
// every unsafe request (POST, PUT, PATCH, DELETE).
const CSRFHeader = "X-CSRF-Token"

// Cookie is the session cookie for token: HttpOnly (scripts cannot read
// it), SameSite=Strict (other sites' pages never send it), Secure unless
// configured off, scoped to CookiePath, living as long as the session can.
func Cookie(c auth.Config, token string) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: token, Path: CookiePath, MaxAge: int(c.TTL / time.Second),
		HttpOnly: true, Secure: c.CookieSecure, SameSite: http.SameSiteStrictMode}
}

// ClearCookie is the cookie that removes the session cookie (Max-Age=0).
func ClearCookie(c auth.Config) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: c.CookieSecure, SameSite: http.SameSiteStrictMode}
}

// TokenFrom returns the session token of a request's cookie, or "". Only
// the cookie counts: an Authorization header (a citizen's manage token) is
// never an operator session.
func TokenFrom(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// Unsafe reports whether a method changes state and so needs the CSRF
// token.
func Unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// CSRFValid reports whether the request's X-CSRF-Token is the session's.
func CSRFValid(s auth.Session, r *http.Request) bool { return s.CSRFMatches(r.Header.Get(CSRFHeader)) }

// Guard runs next with the request's session, for the operators' API and
// the administration alike. Without a valid session it answers 401
// "unauthorized" (field "session"), clearing a stale cookie; when role is
// operator.RoleAdministrator and the operator is not one, 403 "forbidden"
// (nothing is read or written); for an unsafe method without the
// session's CSRF token in X-CSRF-Token, 403 "csrf" before anything is done.
func Guard(a *auth.Authenticator, log *slog.Logger, adminOnly bool, next func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := TokenFrom(r)
		if token == "" {
			httpx.Error(w, r, log, apperr.New(apperr.Unauthorized, "session", "sign in first: no session cookie"))
			return
		}
		sess, err := a.Authenticate(r.Context(), token)
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				http.SetCookie(w, ClearCookie(a.Config))
			}
			httpx.Error(w, r, log, err)
			return
		}
		if adminOnly && !sess.Operator.Administrator() {
			httpx.Error(w, r, log, apperr.New(apperr.Forbidden, "session", "only an administrator may do this"))
			return
		}
		if Unsafe(r.Method) && !CSRFValid(sess, r) {
			httpx.Error(w, r, log, apperr.New(apperr.CSRF, CSRFHeader,
				"send the session's CSRF token (from sign-in or GET /api/operator/me) in the %s header", CSRFHeader))
			return
		}
		next(w, r, sess)
	}
}
