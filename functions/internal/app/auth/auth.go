// Package auth signs office operators in and keeps their sessions:
// passwords checked against their argon2id hashes (domain/password),
// sessions stored only as hashes, each with a CSRF token derived from it,
// and lockouts after repeated failed sign-ins, of an account and of a
// network address. Time comes from the store's clock; every session opened
// is recorded in the audit log in the same transaction. The cookie that
// carries a session and the guard of the operators' routes are the HTTP
// layer's (httpapi/session).
//
// A failed password sign-in tells nothing of the account: an unknown
// email, a wrong password, an inactive account and a locked one are the
// same error after the same work — one argon2id verification (of
// password.DummyHash when there is no account) and one failure count — so
// that neither the answer nor its time tells which accounts exist or which
// are locked. A locked account refuses even the right password: only its
// operator can notice the lockout, by being refused. A network address
// with LOGIN_MAX_FAILURES_PER_ADDRESS failures in its window is refused
// before any account is looked at (Locked, with Retry-After), which
// depends on the address alone.
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

// Config is the sessions' and the lockouts' configuration, read from the
// environment by the functions that authenticate operators.
type Config struct {
	TTL                time.Duration `envconfig:"SESSION_TTL" default:"8h"`                    // a session's whole life
	Idle               time.Duration `envconfig:"SESSION_IDLE" default:"30m"`                  // ends after this long without requests
	CookieSecure       bool          `envconfig:"COOKIE_SECURE" default:"true"`                // false only for plain-http local stacks
	MaxFailures        int           `envconfig:"LOGIN_MAX_FAILURES" default:"5"`              // an account's consecutive failures before its lockout
	MaxAddressFailures int           `envconfig:"LOGIN_MAX_FAILURES_PER_ADDRESS" default:"20"` // a network address's failures in LOGIN_LOCKOUT before its lockout
	Lockout            time.Duration `envconfig:"LOGIN_LOCKOUT" default:"15m"`                 // how long a lockout lasts; an address's failures count over as long
}

// DefaultConfig is Config with its defaults.
var DefaultConfig = Config{TTL: 8 * time.Hour, Idle: 30 * time.Minute, CookieSecure: true, MaxFailures: 5, MaxAddressFailures: 20, Lockout: 15 * time.Minute}

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

// locked is the refusal of a session for a locked account, opened by other
// means than a password (OpenSession): a password sign-in on a locked
// account is refused as a wrong password is.
func locked(until, now time.Time) error {
	e := apperr.New(apperr.Locked, "credentials", "too many failed sign-ins: try again in %d minutes",
		int(math.Ceil(until.Sub(now).Minutes())))
	e.RetryAfter = until.Sub(now)
	return e
}

// addressLocked is the refusal of every sign-in from a network address with
// too many failures: it names no field and says nothing of an account.
func addressLocked(until, now time.Time) error {
	e := apperr.New(apperr.Locked, "", "too many failed sign-ins from this network: try again in %d minutes",
		int(math.Ceil(until.Sub(now).Minutes())))
	e.RetryAfter = until.Sub(now)
	return e
}

// badCredentials is the one answer to every failed sign-in: unknown email,
// wrong password, inactive or locked account.
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
	// Verify checks a password against a PHC hash; nil: password.Verify.
	// Tests count its calls.
	Verify func(password, phc string) (bool, error)
}

// SignIn checks an operator's email and password, sent from the network
// address (httpapi/client's Address; "" counts nothing), and opens a
// session. Errors: Invalid (email, password: missing or too long);
// Unauthorized (credentials: an unknown email, a wrong password, an
// inactive account and a locked one, even with the right password, all
// alike and after the same work); Locked (no field, with RetryAfter: the
// address has MaxAddressFailures failures in its window; checked first,
// whatever the account).
func (a *Authenticator) SignIn(ctx context.Context, email, pw, address string) (Session, error) {
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
	if over, until, err := a.attempt(ctx, address, now); err != nil {
		return Session{}, err
	} else if over {
		return Session{}, addressLocked(until, now)
	}
	var (
		id          uuid.UUID
		hash        string
		active      bool
		lockedUntil *time.Time
	)
	err := a.Store.Pool.QueryRow(ctx, `SELECT id, password_hash, active, locked_until FROM operators WHERE email = $1`, email).
		Scan(&id, &hash, &active, &lockedUntil)
	known := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		hash = password.DummyHash // as long as a real account's
	} else if err != nil {
		return Session{}, err
	}
	ok, err := a.verify(pw, hash)
	if err != nil {
		return Session{}, fmt.Errorf("auth: stored hash of operator %s: %w", id, err)
	}
	if ok && known && active && (lockedUntil == nil || !lockedUntil.After(now)) {
		sess, err := a.open(ctx, id, MethodPassword, address)
		// Deactivated or locked since the lookup: refused as any other.
		if !apperr.Is(err, apperr.Unauthorized) && !apperr.Is(err, apperr.Locked) {
			return sess, err
		}
	}
	if err := a.failed(ctx, email, now); err != nil {
		return Session{}, err
	}
	return Session{}, badCredentials()
}

func (a *Authenticator) verify(pw, phc string) (bool, error) {
	if a.Verify != nil {
		return a.Verify(pw, phc)
	}
	return password.Verify(pw, phc)
}

// attempt counts a sign-in from address as a failure before its password
// is checked (open takes it off again when it succeeds), so that racing
// attempts each get their own count; it reports whether the address is
// over MaxAddressFailures in its window, and until when. The attempt that
// reaches the limit moves the window's end to Lockout after itself. An
// empty address counts nothing.
func (a *Authenticator) attempt(ctx context.Context, address string, now time.Time) (over bool, until time.Time, err error) {
	if address == "" {
		return false, time.Time{}, nil
	}
	err = a.Store.Pool.QueryRow(ctx, `
		INSERT INTO sign_in_failures AS f (address, n, ends_at) VALUES ($1, 1, $4)
		ON CONFLICT (address) DO UPDATE SET
		  n       = CASE WHEN f.ends_at <= $2 THEN 1 ELSE f.n + 1 END,
		  ends_at = CASE WHEN f.ends_at <= $2 OR f.n + 1 = $3 THEN $4 ELSE f.ends_at END
		RETURNING f.n > $3, f.ends_at`,
		address, now, orDefault(a.Config.MaxAddressFailures, DefaultConfig.MaxAddressFailures),
		now.Add(orDefault(a.Config.Lockout, DefaultConfig.Lockout))).Scan(&over, &until)
	return over, until, err
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
	return a.open(ctx, id, MethodOIDC, "")
}

// failed counts a failed sign-in on the account of email, unless it is
// locked; the MaxFailures-th in a row locks it for Lockout and starts the
// count again, and the audit log records the lock (operator.locked, by the
// system, with its end) in the same transaction. The same statement runs
// for every failure, an unknown email's included (it changes no row), so
// that it takes as long.
func (a *Authenticator) failed(ctx context.Context, email string, now time.Time) error {
	limit := orDefault(a.Config.MaxFailures, DefaultConfig.MaxFailures)
	until := now.Add(orDefault(a.Config.Lockout, DefaultConfig.Lockout))
	return a.Store.InTx(ctx, func(tx *postgres.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `
			UPDATE operators SET
			  failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
			  locked_until  = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
			WHERE email = $1 AND (locked_until IS NULL OR locked_until <= $4)
			RETURNING CASE WHEN locked_until = $3 THEN id::text ELSE '' END`,
			email, limit, until, now).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && id == "") {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Audit(ctx, audit.Entry{
			Actor: audit.System, Action: "operator.locked", TargetKind: "operator", TargetID: id,
			Detail: map[string]any{"failed_sign_ins": limit, "until": until},
		})
	})
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// open opens a session for the active operator id, signed in by method
// from address: it resets the account's failure count (a lockout that
// began meanwhile, by a concurrent failure, wins), takes the sign-in off
// the address's failures (attempt counted it), drops the operator's ended
// sessions, and records session.started in the audit log, all in one
// transaction.
func (a *Authenticator) open(ctx context.Context, id uuid.UUID, method, address string) (Session, error) {
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
		if address != "" {
			if _, err := tx.Exec(ctx, `UPDATE sign_in_failures SET n = n - 1 WHERE address = $1 AND n > 0`, address); err != nil {
				return err
			}
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
