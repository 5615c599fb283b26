package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// TestForgetDelivered: the outbox's events delivered before the cut are
// deleted, oldest first, batch by batch up to the limit; an undelivered
// event stays however old, and so does one delivered after the cut.
func TestForgetDelivered(t *testing.T) {
	store, _ := pgtest.Store(t, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
	// Far in the past, so that no other test's event is before the cut.
	day := func(d int) time.Time { return time.Date(2001, 1, d, 12, 0, 0, 0, time.UTC) }
	cut := day(20)

	for _, tc := range []struct {
		name         string
		batch, limit int
		want         int      // deleted
		left         []string // of the test's events, by subject
	}{
		{"every delivered event before the cut, several batches", 2, 100, 5, []string{"after the cut", "undelivered"}},
		{"one batch bigger than the backlog", 50, 100, 5, []string{"after the cut", "undelivered"}},
		{"the limit stops it, oldest first", 2, 3, 3, []string{"after the cut", "delivered 4", "delivered 5", "undelivered"}},
		{"a limit of exactly the backlog", 5, 5, 5, []string{"after the cut", "undelivered"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := store.Pool.Exec(t.Context(), `DELETE FROM outbox WHERE source = '/sportello/retention-test'`); err != nil {
				t.Fatal(err)
			}
			add := func(subject string, created time.Time, delivered *time.Time) {
				t.Helper()
				if _, err := store.Pool.Exec(t.Context(), `
					INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at, delivered_at)
					VALUES ($1, $2, '/sportello/retention-test', $3, 'x', $4, '{}', $4, $5)`,
					uuid.NewString(), events.BookingConfirmed, subject, created, delivered); err != nil {
					t.Fatal(err)
				}
			}
			// Written newest first, so that the table's own order is not
			// the order of delivery: "oldest first" must come from the
			// statement.
			for i := 5; i >= 1; i-- {
				at := day(i)
				add(fmt.Sprintf("delivered %d", i), at.Add(-time.Hour), &at)
			}
			after := day(21)
			add("after the cut", day(1), &after) // written before the cut, delivered after it
			add("undelivered", day(1), nil)

			n, err := store.ForgetDelivered(t.Context(), cut, tc.batch, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("deleted %d, want %d", n, tc.want)
			}
			left := pgtest.Column[string](t, `SELECT subject FROM outbox WHERE source = '/sportello/retention-test' ORDER BY subject`)
			if diff := cmp.Diff(tc.left, left); diff != "" {
				t.Errorf("events left (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a batch or limit below one is refused", func(t *testing.T) {
		for _, bl := range [][2]int{{0, 10}, {10, 0}, {-1, 10}} {
			if _, err := store.ForgetDelivered(t.Context(), cut, bl[0], bl[1]); err == nil {
				t.Errorf("batch %d, limit %d: no error", bl[0], bl[1])
			}
		}
	})
}
