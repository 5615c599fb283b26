package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/sportello/sportello/functions/internal/telemetry"
)

// The server-side functions (hold_slot, confirm_hold, release_client_holds)
// write their outbox rows in SQL; the rows' traceparent and tracestate
// columns default to these settings of the transaction (migration 00019),
// which the store sets when the function exports traces.
const stampSQL = `SELECT set_config('sportello.traceparent', $1, true), set_config('sportello.tracestate', $2, true)`

// queryRow runs one statement like QueryRow on conn, first stamping ctx's
// trace context on the transaction when tracing is on: both statements go
// in one batch, one round trip and one implicit transaction, so the
// setting holds for the statement and ends with it.
//
// Only a sampled trace is stamped: the setting is a second statement, which
// nine requests in ten would pay for a trace nobody keeps. The rows that
// hold_slot and release_client_holds write for an unsampled request carry
// no trace context, and the relay publishes them in no trace (outbox's
// untraced).
func (s *Store) queryRow(ctx context.Context, conn *pgxpool.Conn, sql string, args ...any) pgx.Row {
	if !s.stamps(ctx) {
		return conn.QueryRow(ctx, sql, args...)
	}
	tc := telemetry.ContextOf(ctx)
	b := &pgx.Batch{}
	b.Queue(stampSQL, tc.TraceParent, tc.TraceState)
	b.Queue(sql, args...)
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return errRow{err}
	}
	return batchRow{br: br, row: br.QueryRow()}
}

// stamp sets ctx's trace context on tx, before a server-side function
// writes outbox rows in it.
func (tx *Tx) stamp(ctx context.Context) error {
	if !tx.store.stamps(ctx) {
		return nil
	}
	tc := telemetry.ContextOf(ctx)
	_, err := tx.Exec(ctx, stampSQL, tc.TraceParent, tc.TraceState)
	return err
}

// stamps tells whether the trace of ctx goes on the outbox rows that
// hold_slot and release_client_holds write: tracing is on and ctx's trace
// is sampled. The setting
// is a statement of its own, which nine requests in ten would pay for a
// trace nobody keeps (docs/performance.md); the relay publishes a row
// without a trace in none (outbox's untraced). outbox.Write, and
// the confirmation, whose columns cost nothing more in their INSERT, stamp
// every trace, so that a consumer's logs still carry the request's trace
// id and its spans follow the request's sampling.
func (s *Store) stamps(ctx context.Context) bool {
	return s.Traced && trace.SpanContextFromContext(ctx).IsSampled()
}

// batchRow is the last row of a batch: scanning it closes the batch.
type batchRow struct {
	br  pgx.BatchResults
	row pgx.Row
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
