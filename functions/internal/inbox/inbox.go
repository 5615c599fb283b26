// Package inbox makes event consumers idempotent: Handle records the
// event's (source, id) for a consumer in the same transaction as the
// consumer's side effect, so a redelivered event has no second effect.
//
// Knative delivers at least once and in no fixed order. Two deliveries of
// one event that arrive together are serialized by the primary key: the
// second waits for the first transaction and then sees the event as done.
package inbox

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Handle runs fn in a transaction unless consumer has already handled ev.
// It reports whether fn ran. When fn fails, nothing is recorded and the
// error comes back: the broker will redeliver.
func Handle(ctx context.Context, pool *pgxpool.Pool, consumer string, ev cloudevents.Event, now time.Time, fn func(tx pgx.Tx) error) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `
		INSERT INTO processed_events (consumer, source, id, type, processed_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		consumer, ev.Source(), ev.ID(), ev.Type(), now)
	if err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil // already handled
	}
	if err := fn(tx); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}
