package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// TestUnavailable: a database that cannot be reached is Unavailable with
// a Retry-After; every other error keeps its code.
func TestUnavailable(t *testing.T) {
	// A real connection error: nothing listens on the port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, refused := pgconn.Connect(t.Context(), "postgres://postgres@"+closed+"/x?sslmode=disable&connect_timeout=2")
	if refused == nil {
		t.Fatal("connected to a closed port")
	}

	for _, tc := range []struct {
		name string
		err  error
		want apperr.Code
	}{
		{"connection refused (pgconn)", refused, apperr.Unavailable},
		{"connection refused (dial)", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, apperr.Unavailable},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), apperr.Unavailable},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), apperr.Unavailable},
		{"unexpected EOF", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), apperr.Unavailable},
		{"conn closed", pgconn.ErrConnClosed, apperr.Unavailable},
		{"waiting for a connection ran out", fmt.Errorf("acquire: %w", context.DeadlineExceeded), apperr.Unavailable},
		{"08006 connection failure", &pgconn.PgError{Code: "08006"}, apperr.Unavailable},
		{"08001 cannot establish", &pgconn.PgError{Code: "08001"}, apperr.Unavailable},
		{"57P01 admin shutdown", &pgconn.PgError{Code: "57P01"}, apperr.Unavailable},
		{"57P02 crash shutdown", &pgconn.PgError{Code: "57P02"}, apperr.Unavailable},
		{"57P03 cannot connect now", &pgconn.PgError{Code: "57P03"}, apperr.Unavailable},
		{"53300 too many connections", &pgconn.PgError{Code: "53300"}, apperr.Unavailable},
		{"inside a transaction", fmt.Errorf("inbox: %w", &pgconn.PgError{Code: "57P01"}), apperr.Unavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, apperr.Internal},
		{"syntax error", &pgconn.PgError{Code: "42601"}, apperr.Internal},
		{"57014 query canceled", &pgconn.PgError{Code: "57014"}, apperr.Internal},
		{"client gone", context.Canceled, apperr.Internal},
		{"our bug", errors.New("boom"), apperr.Internal},
		{"a conflict stays a conflict", apperr.New(apperr.Conflict, "", "taken"), apperr.Conflict},
		{"an apperr over a deadline stays itself", fmt.Errorf("%w: %w", apperr.New(apperr.NotFound, "", "x"), context.DeadlineExceeded), apperr.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := postgres.Unavailable(tc.err)
			if code := apperr.CodeOf(got); code != tc.want {
				t.Fatalf("Unavailable(%v): code %s, want %s", tc.err, code, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("Unavailable(%v) lost the error behind it: %v", tc.err, got)
			}
			var e *apperr.Error
			if tc.want == apperr.Unavailable && (!errors.As(got, &e) || e.RetryAfter != postgres.RetryAfter) {
				t.Errorf("Unavailable(%v): no Retry-After of %s: %#v", tc.err, postgres.RetryAfter, e)
			}
		})
	}
	if postgres.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) is not nil")
	}
}

// TestOpenBoundsTheWaitForAConnection: with Timeout set, a query on a
// server that accepts connections but never answers fails within the
// timeout, as Unavailable, instead of hanging.
func TestOpenBoundsTheWaitForAConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	url := "postgres://postgres@" + l.Addr().String() + "/x?sslmode=disable"
	start := time.Now()
	_, err = postgres.Open(t.Context(), url, postgres.Options{Timeout: 300 * time.Millisecond})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Open waited %s for a silent server, want about the 300ms timeout", took)
	}
	if apperr.CodeOf(postgres.Unavailable(err)) != apperr.Unavailable {
		t.Fatalf("Open against a silent server: %v, want it unreachable", err)
	}
}
