package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	pwhash "github.com/sportello/sportello/functions/internal/domain/password"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	clients "github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// signInVia signs in with email and pw through a proxy at remote (a
// RemoteAddr) that forwards for the address forwarded (none when empty).
func (e *env) signInVia(remote, forwarded, email, pw string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := apitest.Post("/api/operator/session", signInBody(email, pw), "application/json")
	r.RemoteAddr = remote
	if forwarded != "" {
		r.Header.Set("X-Forwarded-For", forwarded)
	}
	return apitest.Serve(e.t, e.h, r, apitest.NoStore)
}

// answer is all of a response a client sees but its Date.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

func answerOf(rec *httptest.ResponseRecorder) answer {
	h := rec.Header().Clone()
	h.Del("Date")
	return answer{rec.Code, h, rec.Body.String()}
}

// checkRefused checks a refused sign-in: its verdict, its Retry-After
// ("" for none) and that it set no cookie.
func checkRefused(t *testing.T, label string, rec *httptest.ResponseRecorder, want apitest.Verdict, retryAfter string) {
	t.Helper()
	if diff := cmp.Diff(want, apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", label, diff)
	}
	if ra := rec.Header().Get("Retry-After"); ra != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", label, ra, retryAfter)
	}
	if c := rec.Header().Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("%s: set a cookie: %q", label, c)
	}
}

func nobody() string { return "nobody-" + pgtest.Suffix() + "@comune.example.it" }

// TestSignInTellsNothing: an unknown email, a wrong password, an inactive
// account and a locked one (with the right password or a wrong one) get
// the very same answer — status, every header but Date, and body byte for
// byte: 401 unauthorized, no Retry-After, no cookie — after the same work:
// one argon2id verification with the default parameters each, the unknown
// email's against the dummy hash.
func TestSignInTellsNothing(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	known, _ := e.operator(operator.RoleOperator)
	inactive, inactiveID := e.operator(operator.RoleOperator)
	locked, lockedID := e.operator(operator.RoleOperator)
	ctx := t.Context()
	if _, err := e.store.Pool.Exec(ctx, `UPDATE operators SET active = false WHERE id = $1`, inactiveID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Pool.Exec(ctx, `UPDATE operators SET locked_until = $2 WHERE id = $1`, lockedID, e.clk.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}

	var first *answer
	for _, tc := range []struct{ kind, email, pw string }{
		{"unknown email", nobody(), password},
		{"wrong password", known, password + "!"},
		{"inactive account, right password", inactive, password},
		{"inactive account, wrong password", inactive, "wrong"},
		{"locked account, right password", locked, password},
		{"locked account, wrong password", locked, "wrong"},
		{"unknown email, the dummy hash's password", nobody(), "sportello: no such operator"},
	} {
		n := e.verified.count()
		rec := e.do(nil, http.MethodPost, "/api/operator/session", signInBody(tc.email, tc.pw))
		got := answerOf(rec)
		if first == nil {
			first = &got
			checkRefused(t, tc.kind, rec, apitest.Want(401, "unauthorized", "credentials"), "")
		} else if diff := cmp.Diff(*first, got); diff != "" {
			t.Errorf("%s answers otherwise than an unknown email, which tells (-unknown +%s):\n%s", tc.kind, tc.kind, diff)
		}
		phcs := e.verified.since(n)
		if len(phcs) != 1 {
			t.Errorf("%s: %d password verifications, want 1", tc.kind, len(phcs))
			continue
		}
		p, _, _, err := pwhash.ParsePHC(phcs[0])
		if want := pwhash.DefaultParams; err != nil || p != want {
			t.Errorf("%s: verified against a hash with %+v (%v), want %+v: it would not take as long", tc.kind, p, err, want)
		}
		if tc.email != known && tc.email != inactive && tc.email != locked && phcs[0] != pwhash.DummyHash {
			t.Errorf("%s: verified against %q, want the dummy hash", tc.kind, phcs[0])
		}
	}
	// A failure while locked does not lengthen the lockout; the others count.
	var lockedFailures int
	var lockedUntil time.Time
	if err := e.store.Pool.QueryRow(ctx, `SELECT failed_logins, locked_until FROM operators WHERE id = $1`, lockedID).Scan(&lockedFailures, &lockedUntil); err != nil ||
		lockedFailures != 0 || !lockedUntil.Equal(e.clk.Now().Add(10*time.Minute)) {
		t.Errorf("locked account: failed_logins %d, locked_until %v, %v", lockedFailures, lockedUntil, err)
	}
}

// TestSignInLockoutPerAddress: LOGIN_MAX_FAILURES_PER_ADDRESS (5 here)
// failed sign-ins from one network address — the nearest X-Forwarded-For
// entry outside the trusted proxies — each on another account, known or
// not, lock the address for LOGIN_LOCKOUT: every sign-in from it, even an
// operator's with the right password, is 429 "locked" with Retry-After,
// the same answer for a known and an unknown account, and costs no
// password verification. A success takes itself off the count. Another
// address behind the same proxy signs in as ever; the locked one again
// after the lockout.
func TestSignInLockoutPerAddress(t *testing.T) {
	cfg := auth.DefaultConfig
	cfg.MaxAddressFailures = 5
	e := newEnv(t, apitest.Monday, cfg)
	real, _ := e.operator(operator.RoleOperator)
	other, _ := e.operator(operator.RoleOperator)
	const proxy, sprayer, neighbour = "10.1.2.3:5555", "203.0.113.7", "203.0.113.8"

	spray := []string{nobody(), other, nobody(), real}
	for i, email := range spray {
		if rec := e.signInVia(proxy, sprayer, email, "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401: %s", i+1, rec.Code, rec.Body)
		}
	}
	// A success is not a failure: the address's count stays at 4.
	if rec := e.signInVia(proxy, sprayer, real, password); rec.Code != http.StatusOK {
		t.Fatalf("a right password after 4 failures: status %d: %s", rec.Code, rec.Body)
	}
	if rec := e.signInVia(proxy, "198.51.100.1, "+sprayer, nobody(), "guess"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the 5th failure: status %d, want 401: %s", rec.Code, rec.Body)
	}

	verified := e.verified.count()
	locked := e.signInVia(proxy, sprayer, real, password)
	checkRefused(t, "the right password from a locked address", locked, apitest.Want(429, "locked", ""), "900")
	for _, email := range []string{nobody(), other} {
		if diff := cmp.Diff(answerOf(locked), answerOf(e.signInVia(proxy, sprayer, email, "guess"))); diff != "" {
			t.Errorf("a locked address answers otherwise for another account (-known +other):\n%s", diff)
		}
	}
	if n := e.verified.count() - verified; n != 0 {
		t.Errorf("%d passwords verified from a locked address, want none", n)
	}

	// The neighbour behind the same proxy is not locked out.
	if rec := e.signInVia(proxy, neighbour, nobody(), "guess"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address's failure: status %d, want 401: %s", rec.Code, rec.Body)
	}
	if rec := e.signInVia(proxy, neighbour, real, password); rec.Code != http.StatusOK {
		t.Errorf("another address's right password: status %d: %s", rec.Code, rec.Body)
	}

	e.clk.Advance(14*time.Minute + 59*time.Second)
	checkRefused(t, "a second before the end", e.signInVia(proxy, sprayer, real, password), apitest.Want(429, "locked", ""), "1")
	e.clk.Advance(time.Second)
	if rec := e.signInVia(proxy, sprayer, real, password); rec.Code != http.StatusOK {
		t.Errorf("after the lockout: status %d: %s", rec.Code, rec.Body)
	}
}

// TestSignInRaceFromOneAddress: failed sign-ins racing from one address are
// counted exactly: under the limit every one is checked and counted; over
// it exactly the limit's worth are checked (and their passwords verified),
// the rest refused with 429 before any hash — never more guesses than the
// limit however many race.
func TestSignInRaceFromOneAddress(t *testing.T) {
	for _, tc := range []struct {
		name           string
		limit, racing  int
		refused, locks int
	}{
		{"under the limit", 30, 12, 12, 0},
		{"over the limit", 8, 20, 8, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := auth.DefaultConfig
			cfg.MaxAddressFailures = tc.limit
			e := newEnv(t, apitest.Monday, cfg)
			start := make(chan struct{})
			codes := make(chan int, tc.racing)
			var wg sync.WaitGroup
			for range tc.racing {
				email := nobody()
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					codes <- e.do(nil, http.MethodPost, "/api/operator/session", signInBody(email, "guess")).Code
				}()
			}
			close(start)
			wg.Wait()
			close(codes)
			got := map[int]int{}
			for c := range codes {
				got[c]++
			}
			want := map[int]int{http.StatusUnauthorized: tc.refused}
			if tc.locks > 0 {
				want[http.StatusTooManyRequests] = tc.locks
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if n := e.verified.count(); n != tc.refused {
				t.Errorf("%d passwords verified, want %d", n, tc.refused)
			}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = e.addr
			var n int
			if err := e.store.Pool.QueryRow(t.Context(), `SELECT n FROM sign_in_failures WHERE address = $1`,
				(&clients.Identifier{}).Address(r)).Scan(&n); err != nil || n != tc.racing {
				t.Errorf("the address's count: %d, %v; want %d", n, err, tc.racing)
			}
		})
	}
}
