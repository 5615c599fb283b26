package auth

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kelseyhightower/envconfig"
	"github.com/sportello/sportello/functions/internal/domain/secret"
)

// TestCSRFToken: the CSRF token is a function of the session token, unlike
// it, and another session's does not pass.
func TestCSRFToken(t *testing.T) {
	a, b := csrfToken("session-a"), csrfToken("session-b")
	if a == b || a == "session-a" || a != csrfToken("session-a") || len(a) != 43 {
		t.Errorf("csrf tokens %q, %q", a, b)
	}
	s := Session{csrfHash: secret.Hash(a)}
	for _, tc := range []struct {
		token string
		want  bool
	}{{a, true}, {b, false}, {"", false}, {a + "x", false}} {
		if got := s.CSRFMatches(tc.token); got != tc.want {
			t.Errorf("CSRFMatches(%q) = %v, want %v", tc.token, got, tc.want)
		}
	}
	if (Session{}).CSRFMatches(a) {
		t.Error("a session without a CSRF hash accepted a token")
	}
	if DefaultConfig.TTL != 8*time.Hour || DefaultConfig.Idle != 30*time.Minute {
		t.Errorf("defaults %+v", DefaultConfig)
	}
}

// TestConfigDefaults: DefaultConfig is what the environment's defaults
// give (the README documents them).
func TestConfigDefaults(t *testing.T) {
	for _, k := range []string{"SESSION_TTL", "SESSION_IDLE", "COOKIE_SECURE", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_ADDRESS", "LOGIN_LOCKOUT"} {
		if _, set := os.LookupEnv(k); set {
			t.Skipf("%s is set", k)
		}
	}
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig, cfg); diff != "" {
		t.Errorf("DefaultConfig (-DefaultConfig +environment's defaults):\n%s", diff)
	}
}
