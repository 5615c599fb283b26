package session

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/app/auth"
)

// TestCookie: the session cookie's attributes, and the one that clears it.
func TestCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		cfg := auth.DefaultConfig
		cfg.CookieSecure = secure
		rec := httptest.NewRecorder()
		http.SetCookie(rec, Cookie(cfg, "tok"))
		http.SetCookie(rec, ClearCookie(cfg))
		got := rec.Header().Values("Set-Cookie")
		sec := ""
		if secure {
			sec = "; Secure"
		}
		want := []string{
			"sportello_operator=tok; Path=/api/operator; Max-Age=28800; HttpOnly" + sec + "; SameSite=Strict",
			"sportello_operator=; Path=/api/operator; Max-Age=0; HttpOnly" + sec + "; SameSite=Strict",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Set-Cookie with secure=%v (-want +got):\n%s", secure, diff)
		}
	}
}

// TestUnsafe: only the methods that change state need the CSRF token, and
// the token is read from its header.
func TestUnsafe(t *testing.T) {
	for m, want := range map[string]bool{"GET": false, "HEAD": false, "OPTIONS": false, "POST": true, "PUT": true, "PATCH": true, "DELETE": true} {
		if Unsafe(m) != want {
			t.Errorf("Unsafe(%s) = %v", m, !want)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/api/operator/x", nil)
	if CSRFValid(auth.Session{}, r) {
		t.Error("a request without the header passed")
	}
}
