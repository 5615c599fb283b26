package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Login is a sign-in in progress: what the callback needs to finish it.
type Login struct {
	State    string // random, 256 bits; only its hash is stored
	Nonce    string // random, 256 bits; the ID token must carry it
	Verifier string // the PKCE code verifier; the provider got its S256 challenge
	ReturnTo string // a path on this site
}

// AuthCodeURL is the provider's authorization URL for l: the code flow
// with l's state, nonce and PKCE S256 challenge.
func (l Login) AuthCodeURL(c *oauth2.Config) string {
	return c.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier))
}

// MaxReturnTo is the longest return_to.
const MaxReturnTo = 2048

// ReturnTo checks where to send the browser after signing in: a path on
// this site, so that the sign-in cannot be used to send an operator
// elsewhere (an open redirect). Empty means "/". Refused: anything that
// does not start with exactly one "/" (https://evil, //evil, evil), any
// backslash (browsers read /\evil as //evil), any control character or
// space (browsers drop tabs and newlines: "/\t/evil" is //evil), and
// anything longer than MaxReturnTo.
// Errors: Invalid (return_to).
func ReturnTo(s string) (string, error) {
	if s == "" {
		return "/", nil
	}
	bad := func(why string) error {
		return apperr.Field("return_to", apperr.InvalidFormat, "must be a path on this site starting with a single /: %s", why)
	}
	switch {
	case len(s) > MaxReturnTo:
		return "", bad(fmt.Sprintf("at most %d characters", MaxReturnTo))
	case s[0] != '/':
		return "", bad("it does not start with /")
	case strings.HasPrefix(s, "//"):
		return "", bad("// names another site")
	case strings.ContainsRune(s, '\\'):
		return "", bad("no backslashes")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar }):
		return "", bad("no spaces or control characters")
	}
	return s, nil
}

// startLogin records a new sign-in that lasts ttl, and drops those expired.
func startLogin(ctx context.Context, store *postgres.Store, ttl time.Duration, returnTo string) (Login, error) {
	state, hash := secret.New()
	nonce, _ := secret.New()
	l := Login{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo}
	err := store.InTx(ctx, func(tx *postgres.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oidc_logins WHERE expires_at <= $1`, tx.Now); err != nil {
			return fmt.Errorf("oidc: drop expired sign-ins: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO oidc_logins (state_hash, nonce, code_verifier, return_to, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, hash, l.Nonce, l.Verifier, l.ReturnTo, tx.Now, tx.Now.Add(ttl)); err != nil {
			return fmt.Errorf("oidc: record sign-in: %w", err)
		}
		return nil
	})
	return l, err
}

// badState is the answer to a callback whose state is not usable.
func badState(why string) error {
	return apperr.Field("state", apperr.InvalidFormat, "this sign-in cannot be finished (%s): start again", why)
}

// finishLogin takes the sign-in whose state came back in the callback's
// query: it must be the one in this browser's cookie (so that nobody can
// finish their own sign-in in someone else's browser), and is deleted as it
// is read (so that it works once). Errors: Invalid (state: missing, not
// this browser's, unknown, already used or expired).
func finishLogin(ctx context.Context, store *postgres.Store, state, browserState string) (Login, error) {
	if state == "" {
		return Login{}, badState("no state")
	}
	if !secret.WellFormed(state) || subtle.ConstantTimeCompare([]byte(state), []byte(browserState)) != 1 {
		return Login{}, badState("it was not started in this browser")
	}
	l := Login{State: state}
	var expires time.Time
	now := store.Clock.Now()
	err := store.Pool.QueryRow(ctx, `
		DELETE FROM oidc_logins WHERE state_hash = $1
		RETURNING nonce, code_verifier, return_to, expires_at`, secret.Hash(state)).
		Scan(&l.Nonce, &l.Verifier, &l.ReturnTo, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Login{}, badState("unknown or already used")
	}
	if err != nil {
		return Login{}, fmt.Errorf("oidc: take sign-in: %w", err)
	}
	if !expires.After(now) {
		return Login{}, badState("it took too long")
	}
	return l, nil
}

// activeOperator is the id of the active operator with that (normalized)
// email. Errors: Unauthorized (credentials: none), as auth's sign-in.
func activeOperator(ctx context.Context, store *postgres.Store, email string) (string, error) {
	var id string
	err := store.Pool.QueryRow(ctx, `SELECT id::text FROM operators WHERE email = $1 AND active`, email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apperr.New(apperr.Unauthorized, "credentials", noAccount)
	}
	return id, err
}
