package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/password"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Service describes a service fixture. Zero values take the defaults below.
type Service struct {
	Duration, Buffer, Notice, Horizon, Cutoff int // minutes, minutes, minutes, days, minutes
	Desks                                     int
	OpenOnHolidays                            bool // open on public holidays too
	// Hours per ISO weekday (1 = Monday), e.g. {1: {"09:00", "12:00"}}.
	// Default: every day 09:00-13:00.
	Hours map[int][][2]string
}

// NewService creates an office and a service in it and returns their ids.
// Defaults: 30-minute meetings, no buffer, no notice, 60-day horizon, no
// cutoff, 1 desk, open every day 09:00-13:00.
func NewService(tb testing.TB, pool *pgxpool.Pool, s Service) (officeID, serviceID string) {
	tb.Helper()
	if s.Duration == 0 {
		s.Duration = 30
	}
	if s.Horizon == 0 {
		s.Horizon = 60
	}
	if s.Desks == 0 {
		s.Desks = 1
	}
	if s.Hours == nil {
		s.Hours = map[int][][2]string{}
		for d := 1; d <= 7; d++ {
			s.Hours[d] = [][2]string{{"09:00", "13:00"}}
		}
	}
	suffix := Suffix()
	officeID, serviceID = "office-"+suffix, "service-"+suffix
	must(tb, pool, `INSERT INTO offices (id, name) VALUES ($1, $2)`, officeID, "Ufficio "+suffix)
	must(tb, pool, `INSERT INTO services (id, office_id, name, duration_minutes, buffer_minutes, min_notice_minutes,
	                horizon_days, cancel_cutoff_minutes, what_to_bring, open_on_holidays) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Documento di identità', $9)`,
		serviceID, officeID, "Servizio "+suffix, s.Duration, s.Buffer, s.Notice, s.Horizon, s.Cutoff, s.OpenOnHolidays)
	for i := 1; i <= s.Desks; i++ {
		must(tb, pool, `INSERT INTO desks (service_id, label) VALUES ($1, $2)`, serviceID, fmt.Sprintf("Postazione %d", i))
	}
	for day, ivs := range s.Hours {
		for _, iv := range ivs {
			must(tb, pool, `INSERT INTO opening_hours (service_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)`, serviceID, day, iv[0], iv[1])
		}
	}
	return officeID, serviceID
}

// Close adds a closure of an office (or of all offices when officeID is "").
func Close(tb testing.TB, pool *pgxpool.Pool, officeID, first, last, reason string) {
	tb.Helper()
	var office *string
	if officeID != "" {
		office = &officeID
	}
	must(tb, pool, `INSERT INTO closures (office_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4)`, office, first, last, reason)
}

func must(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("fixture: %v", err)
	}
}

// Store returns a store on the package's database with a fixed clock at
// now, the Europe/Rome calendar and Bari's patron day.
func Store(tb testing.TB, now time.Time) (*postgres.Store, *clock.Fixed) {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		tb.Fatal(err)
	}
	patron, _ := schedule.ParsePatronDay("12-06", "San Nicola")
	clk := clock.NewFixed(now)
	return &postgres.Store{
		Pool:     Pool(tb),
		Clock:    clk,
		Calendar: &schedule.Calendar{Location: loc, Holidays: schedule.NewHolidays(patron)},
		Source:   "/sportello/test",
		Services: &postgres.Services{},
	}, clk
}

// CreateOperator adds an active operator with a password and offices, as
// the demo data and the tests need them, and returns the operator's id.
// The email is normalized.
func CreateOperator(ctx context.Context, pool *pgxpool.Pool, now time.Time, email, displayName, pw, role string, offices ...string) (string, error) {
	hash, err := password.Hash(pw)
	if err != nil {
		return "", err
	}
	id := uuid.New()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `
		INSERT INTO operators (id, email, display_name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, operator.NormalizeEmail(email), displayName, hash, role, now); err != nil {
		return "", fmt.Errorf("create operator: %w", err)
	}
	for _, o := range offices {
		if _, err := tx.Exec(ctx, `INSERT INTO operator_offices (operator_id, office_id) VALUES ($1, $2)`, id, o); err != nil {
			return "", fmt.Errorf("create operator: %w", err)
		}
	}
	return id.String(), tx.Commit(ctx)
}

// AuditLog reads the audit log of the package's database.
func AuditLog(tb testing.TB, f audit.Filter) ([]audit.Record, error) {
	tb.Helper()
	s, _ := Store(tb, time.Now())
	return s.AuditLog(context.Background(), f)
}

// Maria is the citizen of the tests' bookings.
var Maria = booking.Citizen{Applicant: booking.Applicant{GivenName: "Maria", FamilyName: "Rossi", Address: "Via Sparano 1, Bari",
	Email: "maria.rossi@example.it", Reason: "SCIA", Details: "Pratica 12/2027"}, PrivacyConsent: true}

// Book makes a confirmed booking of service svc at start, for Maria, through
// the store at its current time.
func Book(tb testing.TB, store *postgres.Store, svc string, start time.Time) booking.Confirmation {
	tb.Helper()
	return BookFor(tb, store, svc, start, Maria)
}

// Hold holds a desk of service svc at start in locale, through the store
// at its current time.
func Hold(tb testing.TB, store *postgres.Store, svc string, start time.Time, locale string) booking.Hold {
	tb.Helper()
	h, err := store.Reserve(context.Background(), svc, start, locale)
	if err != nil {
		tb.Fatalf("reserve %s: %v", start, err)
	}
	return h
}

// BookFor is Book for citizen c.
func BookFor(tb testing.TB, store *postgres.Store, svc string, start time.Time, c booking.Citizen) booking.Confirmation {
	tb.Helper()
	locale := c.Locale
	if locale == "" {
		locale = "it"
	}
	h := Hold(tb, store, svc, start, locale)
	conf, err := store.Confirm(context.Background(), h.ID, h.Secret, c)
	if err != nil {
		tb.Fatalf("confirm: %v", err)
	}
	return conf
}

// Emitted is the latest event of a type about subject in the outbox, as
// the relay would deliver it.
func Emitted(tb testing.TB, subject, typ string) cloudevents.Event {
	tb.Helper()
	ev, err := outbox.Latest(context.Background(), Pool(tb), subject, typ)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// CloseUnderLock closes office on day as the administration does, in a
// transaction that holds the configuration lock, while change (say, a
// reservation on that day) runs: change must wait for the lock, and the
// test fails if it ends first. It returns change's error, which comes
// once the closure is committed.
func CloseUnderLock(tb testing.TB, pool *pgxpool.Pool, office, day, what string, change func() error) error {
	tb.Helper()
	ctx := tb.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('sportello.configuration', 0))`); err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO closures (office_id, first_day, last_day) VALUES ($1, $2, $2)`, office, day); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- change() }()
	select {
	case err := <-done:
		tb.Fatalf("%s did not wait for the configuration lock: %v", what, err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	return <-done
}
