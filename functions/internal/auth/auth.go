// Package auth signs office operators in and keeps their sessions:
// argon2id password hashes (PHC strings), sessions carried by an HttpOnly,
// SameSite=Strict cookie and stored only as hashes, a per-session CSRF token
// required on every unsafe request, and a lockout after repeated failed
// sign-ins. Time comes from an injected clock.
//
// Sign-in failures look the same whether the email is unknown, the account
// inactive or the password wrong (one message, and an argon2id computation
// in every case), so that the answer does not tell which accounts exist.
package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/clock"
	"github.com/sportello/sportello/functions/internal/secret"
)

// Roles.
const (
	RoleOperator      = "operator"
	RoleAdministrator = "administrator"
)

// Office is an office an operator serves.
type Office struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Operator is a signed-in operator as the console sees them.
type Operator struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Offices     []Office `json:"offices"` // for an administrator: every office
}

// Administrator reports whether the operator administers every office.
func (o Operator) Administrator() bool { return o.Role == RoleAdministrator }

// OfficeIDs lists the ids of the operator's offices.
func (o Operator) OfficeIDs() []string {
	ids := make([]string, 0, len(o.Offices))
	for _, f := range o.Offices {
		ids = append(ids, f.ID)
	}
	return ids
}

// Session is an authenticated session: its operator, and its token and
// CSRF token (the token only right after sign-in, to set the cookie).
type Session struct {
	Operator  Operator
	Token     string // the cookie's value
	CSRFToken string
	csrfHash  []byte
}

// LockedError is the error of a sign-in on a locked account.
type LockedError struct {
	Until      time.Time
	RetryAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %d minutes", int(math.Ceil(e.RetryAfter.Minutes())))
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
	Pool   *pgxpool.Pool
	Clock  clock.Clock
	Config Config
}

// NormalizeEmail is the stored form of an email: trimmed and lower-case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SignIn checks an operator's email and password and opens a session.
// Errors: Invalid (email, password: missing or too long), Unauthorized
// (credentials: unknown email, inactive account or wrong password, all
// alike), *LockedError (the account is locked; checked before the password).
func (a *Authenticator) SignIn(ctx context.Context, email, password string) (Session, error) {
	var v apperr.Validation
	email = NormalizeEmail(email)
	switch {
	case email == "":
		v.Required("email")
	case len(email) > 254:
		v.TooLong("email", 254)
	}
	switch {
	case password == "":
		v.Required("password")
	case len(password) > MaxPassword:
		v.Add("password", apperr.TooLong, "at most %d bytes", MaxPassword).With(MaxPassword)
	}
	if err := v.Err(); err != nil {
		return Session{}, err
	}
	now := a.Clock.Now()
	var (
		id          uuid.UUID
		hash        string
		active      bool
		lockedUntil *time.Time
	)
	err := a.Pool.QueryRow(ctx, `SELECT id, password_hash, active, locked_until FROM operators WHERE email = $1`, email).
		Scan(&id, &hash, &active, &lockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		burn(password)
		return Session{}, badCredentials()
	}
	if err != nil {
		return Session{}, err
	}
	if lockedUntil != nil && lockedUntil.After(now) {
		return Session{}, &LockedError{Until: *lockedUntil, RetryAfter: lockedUntil.Sub(now)}
	}
	ok, err := VerifyPassword(password, hash)
	if err != nil {
		return Session{}, fmt.Errorf("auth: stored hash of operator %s: %w", id, err)
	}
	if !ok || !active {
		if err := a.failed(ctx, id, now); err != nil {
			return Session{}, err
		}
		return Session{}, badCredentials()
	}
	return a.open(ctx, id, now, MethodPassword)
}

// failed counts a failed sign-in; the MaxFailures-th in a row locks the
// account for Lockout and starts the count again.
func (a *Authenticator) failed(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := a.Pool.Exec(ctx, `
		UPDATE operators SET
		  failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
		  locked_until  = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
		WHERE id = $1`, id, a.maxFailures(), now.Add(a.lockout()))
	return err
}

func (a *Authenticator) maxFailures() int {
	if a.Config.MaxFailures <= 0 {
		return DefaultConfig.MaxFailures
	}
	return a.Config.MaxFailures
}

func (a *Authenticator) lockout() time.Duration {
	if a.Config.Lockout <= 0 {
		return DefaultConfig.Lockout
	}
	return a.Config.Lockout
}

func (a *Authenticator) ttl() time.Duration {
	if a.Config.TTL <= 0 {
		return DefaultConfig.TTL
	}
	return a.Config.TTL
}

func (a *Authenticator) idle() time.Duration {
	if a.Config.Idle <= 0 {
		return DefaultConfig.Idle
	}
	return a.Config.Idle
}

// open resets the failure count and opens a session, in one transaction.
// A lockout that began meanwhile (a concurrent failure) wins.
// The sign-in methods, as the audit log records them.
const (
	MethodPassword = "password"
	MethodOIDC     = "oidc"
)

// open opens a session for the active operator id, signed in by method,
// and records it in the audit log (session.started) in the same
// transaction.
func (a *Authenticator) open(ctx context.Context, id uuid.UUID, now time.Time, method string) (Session, error) {
	token, hash := secret.New()
	csrf := csrfToken(token)
	tx, err := a.Pool.Begin(ctx)
	if err != nil {
		return Session{}, err
	}
	defer tx.Rollback(ctx)
	var lockedUntil *time.Time
	err = tx.QueryRow(ctx, `SELECT locked_until FROM operators WHERE id = $1 AND active FOR UPDATE`, id).Scan(&lockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, badCredentials()
	}
	if err != nil {
		return Session{}, err
	}
	if lockedUntil != nil && lockedUntil.After(now) {
		return Session{}, &LockedError{Until: *lockedUntil, RetryAfter: lockedUntil.Sub(now)}
	}
	if _, err := tx.Exec(ctx, `UPDATE operators SET failed_logins = 0, locked_until = NULL WHERE id = $1`, id); err != nil {
		return Session{}, err
	}
	// Sessions of this operator that ended are of no use: drop them.
	if _, err := tx.Exec(ctx, `
		DELETE FROM operator_sessions WHERE operator_id = $1 AND (expires_at <= $2 OR last_seen_at <= $3)`,
		id, now, now.Add(-a.idle())); err != nil {
		return Session{}, err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO operator_sessions (token_hash, operator_id, csrf_hash, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $4)`, hash, id, secret.Hash(csrf), now, now.Add(a.ttl())); err != nil {
		return Session{}, err
	}
	op, err := loadOperator(ctx, tx, id)
	if err != nil {
		return Session{}, err
	}
	if err := audit.Write(ctx, tx, now, audit.Entry{
		Actor: audit.Operator(op.ID), Action: "session.started", TargetKind: "session", TargetID: op.ID,
		Detail: map[string]string{"method": method},
	}); err != nil {
		return Session{}, err
	}
	if err := tx.Commit(ctx); err != nil {
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
	now := a.Clock.Now()
	var (
		id       uuid.UUID
		csrfHash []byte
	)
	err := a.Pool.QueryRow(ctx, `
		UPDATE operator_sessions s SET last_seen_at = $2
		FROM operators o
		WHERE s.token_hash = $1 AND o.id = s.operator_id AND o.active
		  AND s.expires_at > $2 AND s.last_seen_at > $3
		RETURNING o.id, s.csrf_hash`, secret.Hash(token), now, now.Add(-a.idle())).Scan(&id, &csrfHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, noSession()
	}
	if err != nil {
		return Session{}, err
	}
	op, err := loadOperator(ctx, a.Pool, id)
	if err != nil {
		return Session{}, err
	}
	return Session{Operator: op, Token: token, CSRFToken: csrfToken(token), csrfHash: csrfHash}, nil
}

// SignOut ends the session of token. Ending an unknown session is not an
// error.
func (a *Authenticator) SignOut(ctx context.Context, token string) error {
	_, err := a.Pool.Exec(ctx, `DELETE FROM operator_sessions WHERE token_hash = $1`, secret.Hash(token))
	return err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadOperator reads an operator with their offices (every office for an
// administrator), in display order.
func loadOperator(ctx context.Context, q querier, id uuid.UUID) (Operator, error) {
	var op Operator
	var oid uuid.UUID
	if err := q.QueryRow(ctx, `SELECT id, email, display_name, role FROM operators WHERE id = $1`, id).
		Scan(&oid, &op.Email, &op.DisplayName, &op.Role); err != nil {
		return op, fmt.Errorf("auth: operator: %w", err)
	}
	op.ID = oid.String()
	rows, err := q.Query(ctx, `
		SELECT f.id, f.name FROM offices f
		WHERE $2 = 'administrator' OR EXISTS (SELECT 1 FROM operator_offices x WHERE x.operator_id = $1 AND x.office_id = f.id)
		ORDER BY f.position, f.name`, id, op.Role)
	if err != nil {
		return op, fmt.Errorf("auth: offices: %w", err)
	}
	op.Offices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Office, error) {
		var f Office
		return f, r.Scan(&f.ID, &f.Name)
	})
	if err != nil {
		return op, fmt.Errorf("auth: offices: %w", err)
	}
	return op, nil
}

// CreateOperator adds an operator with a password and offices (for tests,
// the demo data and, later, administration). The email is normalized.
func CreateOperator(ctx context.Context, pool *pgxpool.Pool, now time.Time, email, displayName, password, role string, offices ...string) (string, error) {
	hash, err := HashPassword(password)
	if err != nil {
		return "", err
	}
	id := uuid.New()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `
		INSERT INTO operators (id, email, display_name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, NormalizeEmail(email), displayName, hash, role, now); err != nil {
		return "", fmt.Errorf("auth: create operator: %w", err)
	}
	for _, o := range offices {
		if _, err := tx.Exec(ctx, `INSERT INTO operator_offices (operator_id, office_id) VALUES ($1, $2)`, id, o); err != nil {
			return "", fmt.Errorf("auth: create operator: %w", err)
		}
	}
	return id.String(), tx.Commit(ctx)
}
