package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The erasure of personal data once a booking's retention has passed
// (housekeeping).

// DuePurge locks the next booking due for erasure, skipping those another
// transaction holds: it ended before endedBefore, it held personal data
// (confirmed, cancelled or completed: holds never did) and it is not purged
// yet. It returns the booking and its office; ok is false when none is due.
func (tx *Tx) DuePurge(ctx context.Context, endedBefore time.Time) (id uuid.UUID, office string, ok bool, err error) {
	err = tx.QueryRow(ctx, `
		SELECT b.id, s.office_id FROM bookings b JOIN services s ON s.id = b.service_id
		WHERE purged_at IS NULL AND status IN ('confirmed', 'cancelled', 'completed') AND ends_at < $1
		ORDER BY ends_at, b.id
		LIMIT 1
		FOR UPDATE OF b SKIP LOCKED`, endedBefore).Scan(&id, &office)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, "", false, nil
	}
	return id, office, err == nil, err
}

// ErasePersonalData erases the personal data of booking id — the citizen's,
// the outcome's note, its documents' names (the documents deleted) — and
// marks it purged at the transaction's moment; the booking itself stays.
// Its manage tokens are deleted: the links in old mails stop working, a
// plain 404 like any unknown link.
func (tx *Tx) ErasePersonalData(ctx context.Context, id uuid.UUID) error {
	if _, err := tx.Exec(ctx, `
		UPDATE documents SET status = 'deleted', filename = NULL
		WHERE booking_id = $1 AND (status <> 'deleted' OR filename IS NOT NULL)`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE bookings SET given_name = NULL, family_name = NULL, address = NULL, email = NULL,
		       reason = NULL, details = NULL, outcome_note = NULL, purged_at = $2, updated_at = $2
		WHERE id = $1`, id, tx.Now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM manage_tokens WHERE booking_id = $1`, id)
	return err
}

// PurgedWithLateUploads lists the bookings purged after since that had a
// document requested less than window before their purge: a presigned
// upload issued then may have landed after the purge. Usually none.
func (s *Store) PurgedWithLateUploads(ctx context.Context, since time.Time, window time.Duration) ([]uuid.UUID, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT b.id FROM bookings b
		WHERE b.purged_at > $1
		  AND EXISTS (SELECT 1 FROM documents d WHERE d.booking_id = b.id AND d.created_at > b.purged_at - $2 * interval '1 second')`,
		since, window.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
