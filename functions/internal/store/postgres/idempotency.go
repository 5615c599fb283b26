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

// ClaimKey claims key in scope for the request whose digest is hash, or
// says why not; for KeyAnswered it returns the kept answer.
func (s *Store) ClaimKey(ctx context.Context, scope, key string, hash []byte) (KeyState, KeptAnswer, error) {
	var kept KeptAnswer
	now := s.Clock.Now()
	tag, err := s.Pool.Exec(ctx, `
		INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at
		WHERE idempotency_keys.status IS NULL AND idempotency_keys.created_at < $5`,
		scope, key, hash, now, now.Add(-AbandonedKey))
	if err != nil {
		return 0, kept, err
	}
	if tag.RowsAffected() == 1 {
		return KeyClaimed, kept, nil
	}
	var stored []byte
	var status *int
	err = s.Pool.QueryRow(ctx, `SELECT request_hash, status, coalesce(header, '{}'), coalesce(body, '') FROM idempotency_keys
		WHERE scope = $1 AND key = $2`, scope, key).Scan(&stored, &status, &kept.Header, &kept.Body)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // forgotten meanwhile (a 5xx): claim it again
		return s.ClaimKey(ctx, scope, key, hash)
	case err != nil:
		return 0, kept, err
	case !bytes.Equal(stored, hash):
		return KeyReused, KeptAnswer{}, nil
	case status == nil:
		return KeyInProgress, KeptAnswer{}, nil
	}
	kept.Status = *status
	return KeyAnswered, kept, nil
}

// KeepAnswer records the answer of the request that claimed key.
func (s *Store) KeepAnswer(ctx context.Context, scope, key string, a KeptAnswer) error {
	_, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $3, header = $4, body = $5 WHERE scope = $1 AND key = $2`,
		scope, key, a.Status, a.Header, a.Body)
	return err
}

// ReleaseKey forgets a claimed key whose request failed on the server's
// side (a 5xx), so that a retry runs again.
func (s *Store) ReleaseKey(ctx context.Context, scope, key string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL`, scope, key)
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
