package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// RetryAfter is how long a client is told to wait when the database
// cannot be reached.
const RetryAfter = 5 * time.Second

// Unavailable is the one place where a database that cannot be reached
// (and any server a function calls whose connection fails the same way)
// becomes an apperr.Unavailable (503 with Retry-After: RetryAfter), the
// driver's error kept behind it for the log. Any other error comes back as
// it is, and so does one that already carries an apperr code. The HTTP
// edge (httpx.Error) passes every error through it, so that no handler
// answers a bare 500 while PostgreSQL is down or restarting.
//
// Unreachable means: the connection was refused, reset or cut (a network
// error, an unexpected EOF, a closed connection), connecting failed, the
// wait for a connection ran out (context.DeadlineExceeded: see
// Options.Timeout), or the server said so: SQLSTATE class 08 (connection
// exception), 53300 (too many connections), 57P01 (admin shutdown), 57P02
// (crash shutdown), 57P03 (cannot connect now: starting up or shutting
// down).
func Unavailable(err error) error {
	what := unreachable(err)
	if what == "" {
		return err
	}
	var e *apperr.Error
	if errors.As(err, &e) {
		return err
	}
	return apperr.Unreachable(err, RetryAfter, "%s cannot be reached: try again in a moment", what)
}

// unreachable names what err says cannot be reached: "the database", or
// for a network error or a deadline that may come from another server a
// function calls, "a service"; "" when err says nothing of the kind.
func unreachable(err error) string {
	if err == nil {
		return ""
	}
	var (
		pg      *pgconn.PgError
		connect *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pg):
		switch {
		case pg.Code == "53300", pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03", strings.HasPrefix(pg.Code, "08"):
			return "the database"
		}
		return ""
	case errors.As(err, &connect), errors.Is(err, pgconn.ErrConnClosed):
		return "the database"
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "a service"
	}
	return ""
}

// acquireTimeout bounds each wait for a pooled connection (which includes
// connecting a new one) to timeout, whatever the caller's context allows.
// pgxpool calls it as the connections' tracer; it traces no query.
type acquireTimeout struct{ timeout time.Duration }

func (acquireTimeout) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (acquireTimeout) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type cancelKey struct{}

func (a acquireTimeout) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

func (a acquireTimeout) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}
