package auth

import (
	"log/slog"
	"net/http"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/httpx"
)

// Guard runs next with the request's session, for the operators' API and
// the administration alike. Without a valid session it answers 401
// "unauthorized" (field "session"), clearing a stale cookie; when role is
// RoleAdministrator and the operator is not one, 403 "forbidden" (nothing
// is read or written); for an unsafe method without the session's CSRF
// token in X-CSRF-Token, 403 "csrf" before anything is done.
func (a *Authenticator) Guard(log *slog.Logger, role string, next func(http.ResponseWriter, *http.Request, Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := TokenFrom(r)
		if token == "" {
			httpx.Error(w, r, log, apperr.New(apperr.Unauthorized, "session", "sign in first: no session cookie"))
			return
		}
		sess, err := a.Authenticate(r.Context(), token)
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				http.SetCookie(w, a.Config.ClearCookie())
			}
			httpx.Error(w, r, log, err)
			return
		}
		if role == RoleAdministrator && !sess.Operator.Administrator() {
			httpx.Error(w, r, log, apperr.New(apperr.Forbidden, "session", "only an administrator may do this"))
			return
		}
		if Unsafe(r.Method) && !sess.CSRFValid(r) {
			httpx.Error(w, r, log, apperr.New(apperr.CSRF, CSRFHeader,
				"send the session's CSRF token (from sign-in or GET /api/operator/me) in the %s header", CSRFHeader))
			return
		}
		next(w, r, sess)
	}
}
