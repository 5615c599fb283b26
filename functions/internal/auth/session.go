package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/sportello/sportello/functions/internal/secret"
)

// CookieName is the cookie that carries an operator's session token.
const CookieName = "sportello_operator"

// CookiePath scopes the cookie to the operators' API: the citizen's pages
// and the other functions never receive it.
const CookiePath = "/api/operator"

// CSRFHeader is the header that must carry the session's CSRF token on
// every unsafe request (POST, PUT, PATCH, DELETE).
const CSRFHeader = "X-CSRF-Token"

// Config is the sessions' and the lockout's configuration, read from the
// environment by the operators function.
type Config struct {
	TTL          time.Duration `envconfig:"SESSION_TTL" default:"8h"`       // a session's whole life
	Idle         time.Duration `envconfig:"SESSION_IDLE" default:"30m"`     // ends after this long without requests
	CookieSecure bool          `envconfig:"COOKIE_SECURE" default:"true"`   // false only for plain-http local stacks
	MaxFailures  int           `envconfig:"LOGIN_MAX_FAILURES" default:"5"` // consecutive failures before a lockout
	Lockout      time.Duration `envconfig:"LOGIN_LOCKOUT" default:"15m"`    // how long a lockout lasts
}

// DefaultConfig is Config with its defaults.
var DefaultConfig = Config{TTL: 8 * time.Hour, Idle: 30 * time.Minute, CookieSecure: true, MaxFailures: 5, Lockout: 15 * time.Minute}

// Cookie is the session cookie for token: HttpOnly (scripts cannot read
// it), SameSite=Strict (other sites' pages never send it), Secure unless
// configured off, scoped to CookiePath, living as long as the session can.
func (c Config) Cookie(token string) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: token, Path: CookiePath, MaxAge: int(c.TTL / time.Second),
		HttpOnly: true, Secure: c.CookieSecure, SameSite: http.SameSiteStrictMode}
}

// ClearCookie is the cookie that removes the session cookie (Max-Age=0).
func (c Config) ClearCookie() *http.Cookie {
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

// csrfToken is the CSRF token of a session: derived from the session token
// by a one-way hash, so that it can be shown again (GET /me) while only
// hashes are stored, and reveals nothing of the session token.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("sportello-operator-csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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

// CSRFValid reports whether the X-CSRF-Token of r is the session's,
// comparing its hash with the stored one in constant time.
func (s Session) CSRFValid(r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" || len(s.csrfHash) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(secret.Hash(got), s.csrfHash) == 1
}
