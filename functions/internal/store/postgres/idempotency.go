package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// A request sent with an Idempotency-Key is answered once: the first one
// claims its key, runs, and keeps its answer; the same request again gets
// the kept answer (see httpapi/idempotency).

// KeptAnswer is the answer kept for an idempotency key.
type KeptAnswer struct {
	Status int
	Header map[string]string
	Body   []byte
}

// KeyState is what Claim found for a key.
type KeyState int

const (
	KeyClaimed    KeyState = iota // new (or abandoned): the caller runs the request
	KeyAnswered                   // answered before: the kept answer is returned
	KeyInProgress                 // the first request with this key is still running
	KeyReused                     // the key was used with another request
)

// AbandonedKey is how long a claimed key whose request never finished (the
// instance stopped) blocks its retries.
const AbandonedKey = time.Minute

// Claim is a request's hold on its key, which KeepAnswer or ReleaseKey
// ends. It is told apart by its time from a later claim of the same key
// (once this one is abandoned), so that ending it late (a retry after the
// database was away) cannot end another request's.
type Claim struct {
	Scope, Key string
	At         time.Time
}

// ClaimKey claims key in scope for the request whose digest is hash, or
// says why not; for KeyClaimed it returns the claim, for KeyAnswered the
// kept answer.
func (s *Store) ClaimKey(ctx context.Context, scope, key string, hash []byte) (KeyState, KeptAnswer, Claim, error) {
	var kept KeptAnswer
	now := s.Clock.Now().Truncate(time.Microsecond) // as PostgreSQL keeps it
	tag, err := s.Pool.Exec(ctx, `
		INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at
		WHERE idempotency_keys.status IS NULL AND idempotency_keys.created_at < $5`,
		scope, key, hash, now, now.Add(-AbandonedKey))
	if err != nil {
		return 0, kept, Claim{}, err
	}
	if tag.RowsAffected() == 1 {
		return KeyClaimed, kept, Claim{Scope: scope, Key: key, At: now}, nil
	}
	var stored []byte
	var status *int
	err = s.Pool.QueryRow(ctx, `SELECT request_hash, status, coalesce(header, '{}'), coalesce(body, '') FROM idempotency_keys
		WHERE scope = $1 AND key = $2`, scope, key).Scan(&stored, &status, &kept.Header, &kept.Body)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // forgotten meanwhile (a 5xx): claim it again
		return s.ClaimKey(ctx, scope, key, hash)
	case err != nil:
		return 0, kept, Claim{}, err
	case !bytes.Equal(stored, hash):
		return KeyReused, KeptAnswer{}, Claim{}, nil
	case status == nil:
		return KeyInProgress, KeptAnswer{}, Claim{}, nil
	}
	kept.Status = *status
	return KeyAnswered, kept, Claim{}, nil
}

// KeepAnswer records the answer of the request that holds claim c (once:
// a claim already ended, or no longer there, is left alone).
func (s *Store) KeepAnswer(ctx context.Context, c Claim, a KeptAnswer) error {
	_, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $4, header = $5, body = $6
		WHERE scope = $1 AND key = $2 AND created_at = $3 AND status IS NULL`,
		c.Scope, c.Key, c.At, a.Status, a.Header, a.Body)
	return err
}

// ReleaseKey forgets claim c, whose request failed on the server's side
// (a 5xx), so that a retry runs again; a later claim of the key stays.
func (s *Store) ReleaseKey(ctx context.Context, c Claim) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at = $3 AND status IS NULL`,
		c.Scope, c.Key, c.At)
	return err
}

// ForgetKeys deletes the keys, and the answers kept with them, claimed
// before before; it answers how many.
func (s *Store) ForgetKeys(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// ForgetCounts deletes the request counters of the minutes before before
// (the limits count per minute: nothing older is read) and the windows of
// failed sign-ins per address that ended before it (a failure after its
// end starts a new one); it answers how many.
func (s *Store) ForgetCounts(ctx context.Context, before time.Time) (int, error) {
	requests, err := s.Pool.Exec(ctx, `DELETE FROM rate_counters WHERE window_start < $1`, before)
	if err != nil {
		return 0, err
	}
	signIns, err := s.Pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE ends_at < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(requests.RowsAffected() + signIns.RowsAffected()), nil
}
