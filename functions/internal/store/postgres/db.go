// Package postgres stores the counter in PostgreSQL through pgx: the schema
// and its migrations (embedded, applied with goose), the demo data, and the
// Store whose transactions keep the booking invariants. Database errors are
// translated here into apperr codes: an exclusion or unique violation is a
// Conflict, never a 500.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql migrations/routines/*.sql migrations/parts/*.sql
var migrations embed.FS

//go:embed demo.sql
var demoSQL string

// Options are how a pool connects.
type Options struct {
	Wait     time.Duration // how long Open waits for the server to answer
	MaxConns int           // the most connections; 0: the URL's pool_max_conns, else DefaultMaxConns
	// Timeout bounds how long a query waits for a connection, connecting
	// included, so that a request never hangs on a database it cannot
	// reach: it fails with context.DeadlineExceeded, which Unavailable
	// makes a 503. 0: only the caller's context bounds it.
	Timeout time.Duration
	// Tracer, when not nil, also traces the pool's statements (the
	// function's OpenTelemetry spans and database metrics).
	Tracer pgx.QueryTracer
}

// DefaultMaxConns is an instance's connections when neither Options nor
// the URL's pool_max_conns says otherwise: two, not pgx's default (the
// larger of 4 and the CPUs the process sees, a whole node's in a pod).
// A function's instances multiply with its load (Knative scales them out),
// and each connection busy is a backend competing for the database's
// cores: on the click day, with four a function, the backends busy at once
// on two cores made every request wait its turn behind them, a cached
// answer about as long as a hold (docs/performance.md, "Two connections an
// instance"). Beyond two, a statement waits in the pool, which costs no
// CPU, bounded by Timeout.
const DefaultMaxConns = 2

// Open connects a pool to url with opts and waits up to opts.Wait for the
// server to answer.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	pool, err := NewPool(url, opts)
	if err != nil {
		return nil, err
	}
	if err := Reach(ctx, pool, opts.Wait); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// NewPool makes a pool for url with opts without connecting: its first
// query, or Reach, opens the first connection.
func NewPool(url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DATABASE_URL: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = int32(opts.MaxConns)
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	if opts.Timeout > 0 {
		if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > opts.Timeout {
			cfg.ConnConfig.ConnectTimeout = opts.Timeout
		}
	}
	var tracers []pgx.QueryTracer
	if opts.Timeout > 0 {
		tracers = append(tracers, acquireTimeout{timeout: opts.Timeout})
	}
	if opts.Tracer != nil {
		tracers = append(tracers, opts.Tracer)
	}
	switch len(tracers) {
	case 1:
		cfg.ConnConfig.Tracer = tracers[0]
	case 2:
		cfg.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	// pgxpool.NewWithConfig connects nothing unless MinConns asks it to;
	// its context is only for those.
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return pool, nil
}

// Reach pings the server through pool until it answers, for up to wait:
// the pool then keeps that connection for its first query.
func Reach(ctx context.Context, pool *pgxpool.Pool, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := pool.Ping(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres: ping: %w", err)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// Migrate applies every pending migration, holding a session lock so that
// concurrent migrators take turns.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrateDB(ctx, db)
}

func migrateDB(ctx context.Context, db *sql.DB) ([]string, error) {
	p, err := migrator(db)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	var applied []string
	for _, r := range results {
		applied = append(applied, migrationName(r.Source))
	}
	return applied, nil
}

// migrator is goose's provider of the schema's migrations on db, holding a
// session lock so that concurrent migrators take turns.
func migrator(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker),
		goose.WithGoMigrations(goMigrations()...), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, nil
}

// LoadDemo loads the phase-1 offices and services of the Comune di Bari. It
// is idempotent: rows that exist are left as they are.
func LoadDemo(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, demoSQL); err != nil {
		return fmt.Errorf("postgres: demo data: %w", err)
	}
	return nil
}

// SQLSTATEs that mean "someone else got there first".
const (
	exclusionViolation = "23P01"
	uniqueViolation    = "23505"
)

func isConflict(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == exclusionViolation || pg.Code == uniqueViolation)
}
