package postgres

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// Tx is a transaction of the store, the one way anything is written: the
// events it emits are stored in its outbox rows and leave after it commits,
// and its audit rows commit with the change they record. Now is the moment
// of the transaction, read from the store's clock when it began.
type Tx struct {
	pgx.Tx
	Now    time.Time
	store  *Store
	events int
	// emitted are the events written by Emit, counted by package telemetry
	// once the transaction commits.
	emitted []outbox.Event
	// afterCommit run once the transaction has committed (metrics).
	afterCommit []func()
}

// InTx runs fn in a transaction and commits it; the events fn emitted are
// delivered after the commit (the store's Delivered is called). An error of
// fn rolls everything back and comes back as it is; a conflict at commit
// (SQLSTATE 23P01 or 23505) is a Conflict.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, true, fn)
}

// DryRun runs fn in a transaction and rolls it back: fn sees its own
// writes, and nothing is kept or delivered.
func (s *Store) DryRun(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, false, fn)
}

func (s *Store) run(ctx context.Context, commit bool, fn func(*Tx) error) error {
	pgtx, err := s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer pgtx.Rollback(ctx)
	tx := &Tx{Tx: pgtx, Now: s.Clock.Now(), store: s}
	if err := fn(tx); err != nil {
		return err
	}
	if !commit {
		return nil
	}
	if err := pgtx.Commit(ctx); err != nil {
		if isConflict(err) {
			return apperr.New(apperr.Conflict, "", "a concurrent change got there first: try again")
		}
		return err
	}
	if tx.events > 0 {
		s.delivered()
	}
	for _, ev := range tx.emitted {
		telemetry.Committed(ctx, ev.Type, ev.Data)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// Consume runs fn in a transaction for consumer's handling of ev, unless
// consumer has handled ev before: the event's (source, id) is recorded in
// the same transaction as fn's side effects, so a redelivered event has no
// second effect. It reports whether fn ran. When fn fails nothing is
// recorded and the error comes back: the broker will redeliver. Two
// deliveries of one event that arrive together are serialized by the
// primary key: the second waits for the first and then sees it done.
func (s *Store) Consume(ctx context.Context, consumer string, ev cloudevents.Event, fn func(*Tx) error) (bool, error) {
	ran := false
	err := s.InTx(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO processed_events (consumer, source, id, type, processed_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			consumer, ev.Source(), ev.ID(), ev.Type(), tx.Now)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // already handled
		}
		ran = true
		return fn(tx)
	})
	return ran && err == nil, err
}

// ForgetProcessed deletes the consumers' records (Consume) of the events
// processed before before, and answers how many it deleted.
func (s *Store) ForgetProcessed(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM processed_events WHERE processed_at < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// ForgetDelivered deletes the outbox rows delivered before before, at most
// limit of them, batch rows a statement (each its own transaction, so a
// long backlog after an upgrade neither holds one lock for long nor
// bloats one transaction), and answers how many it deleted. An event not
// yet delivered is kept however old it is: only the relay may drop it, by
// delivering it. Events carry no personal data; the rows go because
// nothing reads a delivered event again (consumers deduplicate by their
// own records, processed_events) and the outbox would otherwise grow by
// every event ever emitted.
func (s *Store) ForgetDelivered(ctx context.Context, before time.Time, batch, limit int) (int, error) {
	if batch < 1 || limit < 1 {
		return 0, fmt.Errorf("forget delivered: batch %d and limit %d must be positive", batch, limit)
	}
	total := 0
	for total < limit {
		want := min(batch, limit-total)
		tag, err := s.Pool.Exec(ctx, `
			DELETE FROM outbox WHERE id IN (
			    SELECT id FROM outbox WHERE delivered_at < $1 ORDER BY delivered_at LIMIT $2)`,
			before, want)
		if err != nil {
			return total, fmt.Errorf("forget delivered: %w", err)
		}
		n := int(tag.RowsAffected())
		total += n
		if n < want {
			break
		}
	}
	return total, nil
}

// Emit writes ev to the outbox: it is delivered if tx commits.
func (tx *Tx) Emit(ctx context.Context, ev outbox.Event) error {
	if _, err := outbox.Write(ctx, tx.Tx, tx.store.Source, tx.Now, ev); err != nil {
		return err
	}
	tx.events++
	tx.emitted = append(tx.emitted, ev)
	return nil
}

// Record emits ev and records it in the audit log, by actor, for the
// office officeID: the entry's action is the event type's short name
// (booking.cancelled), its target the event's subject, its detail the
// event's data (which carry no personal data).
func (tx *Tx) Record(ctx context.Context, actor audit.Actor, officeID string, ev outbox.Event) error {
	if err := tx.Emit(ctx, ev); err != nil {
		return err
	}
	action := audit.ShortName(ev.Type)
	return tx.Audit(ctx, audit.Entry{
		Actor: actor, Action: action, TargetKind: kindOf(action), TargetID: ev.Subject, OfficeID: officeID, Detail: ev.Data,
	})
}

// Audit writes e to the audit log.
func (tx *Tx) Audit(ctx context.Context, e audit.Entry) error {
	return writeAudit(ctx, tx.Tx, tx.Now, e)
}
