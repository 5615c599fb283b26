package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
)

// Store is the counter on PostgreSQL: every function reads and writes
// through it, and writes only in its transactions (InTx, Consume).
type Store struct {
	Pool     *pgxpool.Pool
	Clock    clock.Clock
	Calendar *schedule.Calendar
	HoldTTL  time.Duration // how long a hold lasts; default 10 minutes
	Source   string        // CloudEvents source of the events this store writes
	// Delivered is called after a transaction that emitted events commits
	// (the function kicks its outbox relay). May be nil.
	Delivered func()
	// Services, when set, keeps the services read for holds and calendars
	// in memory (see Services). May be nil: every read asks the database.
	Services *Services
	// Catalog, when set, keeps the offices and services that Offices
	// answers in memory for its MaxAge (see Catalog). May be nil.
	Catalog *Catalog
	// Limits are the counter's defaults for a client's holds (an office may
	// set its own); zero: no limit.
	Limits booking.HoldLimits
	// Rooms, when set, keeps the services' waiting rooms read in memory for
	// a second (see Room). May be nil.
	Rooms *Rooms
	// Taken, when set, refuses from memory a hold for a time that a hold
	// of this instance found full less than its MaxAge ago (see
	// TakenSlots). May be nil: every hold asks the database.
	Taken *TakenSlots
	// Traced stamps the trace context of each request on the outbox rows
	// that the server-side functions write (see stamped): set when the
	// function exports traces.
	Traced bool
	// Confirmations, when set, sends the confirmations that wait together
	// as one statement (see Confirmations). May be nil: each confirmation
	// is sent alone.
	Confirmations *Confirmations
}

// delivered tells the relay that events were committed.
func (s *Store) delivered() {
	if s.Delivered != nil {
		s.Delivered()
	}
}

func (s *Store) holdTTL() time.Duration {
	if s.HoldTTL <= 0 {
		return 10 * time.Minute
	}
	return s.HoldTTL
}

// local is t in the municipality's time zone, as answers show it.
func (s *Store) local(t time.Time) time.Time { return t.In(s.Calendar.Location) }

func (s *Store) localPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := s.local(*t)
	return &v
}

// querier is what pgxpool.Pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
