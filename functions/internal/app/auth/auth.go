// Package auth signs office operators in and keeps their sessions:
// passwords checked against their argon2id hashes (domain/password),
// sessions stored only as hashes, each with a CSRF token derived from it,
// and a lockout after repeated failed sign-ins. Time comes from the store's
// clock; every session opened is recorded in the audit log in the same
// transaction. The cookie that carries a session and the guard of the
// operators' routes are the HTTP layer's (httpapi/session).
//
// Sign-in failures look the same whether the email is unknown, the account
// inactive or the password wrong (one message, and an argon2id computation
// in every case), so that the answer does not tell which accounts exist.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/password"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Config is the sessions' and the lockout's configuration, read from the
// environment by the functions that authenticate operators.
type Config struct {
	TTL          time.Duration `envconfig:"SESSION_TTL" default:"8h"`       // a session's whole life
	Idle         time.Duration `envconfig:"SESSION_IDLE" default:"30m"`     // ends after this long without requests
	CookieSecure bool          `envconfig:"COOKIE_SECURE" default:"true"`   // false only for plain-http local stacks
	MaxFailures  int           `envconfig:"LOGIN_MAX_FAILURES" default:"5"` // consecutive failures before a lockout
	Lockout      time.Duration `envconfig:"LOGIN_LOCKOUT" default:"15m"`    // how long a lockout lasts
}

// DefaultConfig is Config with its defaults.
var DefaultConfig = Config{TTL: 8 * time.Hour, Idle: 30 * time.Minute, CookieSecure: true, MaxFailures: 5, Lockout: 15 * time.Minute}

// The sign-in methods, as the audit log records them.
const (
	MethodPassword = "password"
	MethodOIDC     = "oidc"
)

// Session is an authenticated session: its operator, and its token and
// CSRF token (the token only right after sign-in, to set the cookie).
type Session struct {
	Operator  operator.Operator
	Token     string // the cookie's value
	CSRFToken string
	csrfHash  []byte
}

// CSRFMatches reports whether token is the session's CSRF token, comparing
// its hash with the stored one in constant time.
func (s Session) CSRFMatches(token string) bool {
	if token == "" || len(s.csrfHash) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(secret.Hash(token), s.csrfHash) == 1
}

// csrfToken is the CSRF token of a session: derived from the session token
// by a one-way hash, so that it can be shown again (GET /me) while only
// hashes are stored, and reveals nothing of the session token.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("sportello-operator-csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// locked is the refusal of a sign-in on a locked account.
func locked(until, now time.Time) error {
	e := apperr.New(apperr.Locked, "credentials", "too many failed sign-ins: try again in %d minutes",
		int(math.Ceil(until.Sub(now).Minutes())))
	e.RetryAfter = until.Sub(now)
	return e
}

// badCredentials is the one answer to every failed sign-in.
func badCredentials() error {
	return apperr.New(apperr.Unauthorized, "credentials", "wrong email or password")
}

// noSession is the answer to a request without a valid session.
func noSession() error {
	return apperr.New(apperr.Unauthorized, "session", "sign in first: the session is missing, expired or signed out")
}

// Authenticator signs operators in and out and authenticates sessions.
type Authenticator struct {
	Store  *postgres.Store
	Config Config
}

// SignIn checks an operator's email and password and opens a session.
// Errors: Invalid (email, password: missing or too long), Unauthorized
// (credentials: unknown email, inactive account or wrong password, all
// alike), Locked (credentials, with RetryAfter: the account is locked;
// checked before the password).
func (a *Authenticator) SignIn(ctx context.Context, email, pw string) (Session, error) {
	var v apperr.Validation
	email = operator.NormalizeEmail(email)
	switch {
	case email == "":
		v.Required("email")
	case len(email) > 254:
		v.TooLong("email", 254)
	}
	switch {
	case pw == "":
		v.Required("password")
	case len(pw) > operator.MaxPassword:
		v.Add("password", apperr.TooLong, "at most %d bytes", operator.MaxPassword).With(operator.MaxPassword)
	}
	if err := v.Err(); err != nil {
		return Session{}, err
	}
	now := a.Store.Clock.Now()
	var (
		id          uuid.UUID
		hash        string
		active      bool
		lockedUntil *time.Time
	)
	err := a.Store.Pool.QueryRow(ctx, `SELECT id, password_hash, active, locked_until FROM operators WHERE email = $1`, email).
		Scan(&id, &hash, &active, &lockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		password.Burn(pw)
		return Session{}, badCredentials()
	}
	if err != nil {
		return Session{}, err
	}
	if lockedUntil != nil && lockedUntil.After(now) {
		return Session{}, locked(*lockedUntil, now)
	}
	ok, err := password.Verify(pw, hash)
	if err != nil {
		return Session{}, fmt.Errorf("auth: stored hash of operator %s: %w", id, err)
	}
	if !ok || !active {
		if err := a.failed(ctx, id, now); err != nil {
			return Session{}, err
		}
		return Session{}, badCredentials()
	}
	return a.open(ctx, id, MethodPassword)
}

// OpenSession opens a session for the active operator with that id, who
// was authenticated by other means than a password: the operator-oidc
// function calls it once the municipality's identity provider has vouched
// for the operator's email. It is SignIn's last step alone, so the session
// is the same as a password sign-in's (cookie, CSRF token, lifetime), the
// failure count is reset, a lockout in force still refuses it, and the
// audit log records it (session.started, method oidc) in its transaction.
// Errors: Unauthorized (credentials: no active operator with that id),
// Locked (the account is locked).
func (a *Authenticator) OpenSession(ctx context.Context, operatorID string) (Session, error) {
	id, err := uuid.Parse(operatorID)
	if err != nil {
		return Session{}, badCredentials()
	}
	return a.open(ctx, id, MethodOIDC)
}

// failed counts a failed sign-in; the MaxFailures-th in a row locks the
// account for Lockout and starts the count again.
func (a *Authenticator) failed(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := a.Store.Pool.Exec(ctx, `
		UPDATE operators SET
		  failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
		  locked_until  = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
		WHERE id = $1`, id, orDefault(a.Config.MaxFailures, DefaultConfig.MaxFailures), now.Add(orDefault(a.Config.Lockout, DefaultConfig.Lockout)))
	return err
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// open opens a session for the active operator id, signed in by method:
// it resets the failure count (a lockout that began meanwhile, by a
// concurrent failure, wins), drops the operator's ended sessions, and
// records session.started in the audit log, all in one transaction.
func (a *Authenticator) open(ctx context.Context, id uuid.UUID, method string) (Session, error) {
	token, hash := secret.New()
	csrf := csrfToken(token)
	var op operator.Operator
	err := a.Store.InTx(ctx, func(tx *postgres.Tx) error {
		var lockedUntil *time.Time
		err := tx.QueryRow(ctx, `SELECT locked_until FROM operators WHERE id = $1 AND active FOR UPDATE`, id).Scan(&lockedUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			return badCredentials()
		}
		if err != nil {
			return err
		}
		if lockedUntil != nil && lockedUntil.After(tx.Now) {
			return locked(*lockedUntil, tx.Now)
		}
		if _, err := tx.Exec(ctx, `UPDATE operators SET failed_logins = 0, locked_until = NULL WHERE id = $1`, id); err != nil {
			return err
		}
		// Sessions of this operator that ended are of no use: drop them.
		if _, err := tx.Exec(ctx, `
			DELETE FROM operator_sessions WHERE operator_id = $1 AND (expires_at <= $2 OR last_seen_at <= $3)`,
			id, tx.Now, tx.Now.Add(-orDefault(a.Config.Idle, DefaultConfig.Idle))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO operator_sessions (token_hash, operator_id, csrf_hash, created_at, expires_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5, $4)`, hash, id, secret.Hash(csrf), tx.Now, tx.Now.Add(orDefault(a.Config.TTL, DefaultConfig.TTL))); err != nil {
			return err
		}
		if op, err = a.Store.Operator(ctx, tx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, audit.Entry{
			Actor: audit.Operator(op.ID), Action: "session.started", TargetKind: "session", TargetID: op.ID,
			Detail: map[string]string{"method": method},
		})
	})
	if err != nil {
		return Session{}, err
	}
	return Session{Operator: op, Token: token, CSRFToken: csrf, csrfHash: secret.Hash(csrf)}, nil
}

// Authenticate returns the session of a cookie's token and marks it seen
// now. Errors: Unauthorized (session: no token, an unknown, expired, idle
// or signed-out one, or an operator since deactivated).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Session, error) {
	if !secret.WellFormed(token) {
		return Session{}, noSession()
	}
	now := a.Store.Clock.Now()
	var (
		id       uuid.UUID
		csrfHash []byte
	)
	err := a.Store.Pool.QueryRow(ctx, `
		UPDATE operator_sessions s SET last_seen_at = $2
		FROM operators o
		WHERE s.token_hash = $1 AND o.id = s.operator_id AND o.active
		  AND s.expires_at > $2 AND s.last_seen_at > $3
		RETURNING o.id, s.csrf_hash`, secret.Hash(token), now, now.Add(-orDefault(a.Config.Idle, DefaultConfig.Idle))).Scan(&id, &csrfHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, noSession()
	}
	if err != nil {
		return Session{}, err
	}
	op, err := a.Store.Operator(ctx, a.Store.Pool, id)
	if err != nil {
		return Session{}, err
	}
	return Session{Operator: op, Token: token, CSRFToken: csrfToken(token), csrfHash: csrfHash}, nil
}

// SignOut ends the session of token. Ending an unknown session is not an
// error.
func (a *Authenticator) SignOut(ctx context.Context, token string) error {
	_, err := a.Store.Pool.Exec(ctx, `DELETE FROM operator_sessions WHERE token_hash = $1`, secret.Hash(token))
	return err
}
