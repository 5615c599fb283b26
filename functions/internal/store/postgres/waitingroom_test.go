package postgres_test

import (
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// TestJoinQueueDoesTheDomainsArithmetic: each join, done by PostgreSQL in
// one statement, leaves the room as queue.Room.Join says, from the room as
// it was read just before: a room never joined, one off, one on and
// behind, one caught up after a quiet while, the automatic room on and
// over, a clock gone back.
func TestJoinQueueDoesTheDomainsArithmetic(t *testing.T) {
	store, clk := newStore(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	setRate := func(rate any) {
		t.Helper()
		if _, err := store.Pool.Exec(t.Context(), `UPDATE services SET admission_per_minute = $2 WHERE id = $1`, svc, rate); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name  string
		setup func()
		joins int
	}{
		{"a room never joined, off", func() {}, 1},
		{"off", func() {}, 3},
		{"on at 60 a minute: the first goes in, the rest queue", func() { setRate(60) }, 4},
		{"a second later, still behind", func() { clk.Advance(time.Second) }, 2},
		{"a quiet minute later, caught up", func() { clk.Advance(time.Minute) }, 3},
		{"fractions of a place", func() { setRate(7); clk.Advance(9500 * time.Millisecond) }, 2},
		{"the clock gone back", func() { clk.Advance(-time.Hour) }, 2},
		{"25 a minute, caught up: one goes in, sixteen wait", func() { setRate(25); clk.Advance(2 * time.Hour) }, 17},
		// 40.8 s at 25 a minute is exactly seventeen places (a float
		// product makes it 16.999…): the seventeen have gone in, the room
		// has caught up. (The step before ended with its millisecond.)
		{"exactly on a place", func() { clk.Advance(40800*time.Millisecond - time.Millisecond) }, 1},
		{"the automatic room", func() {
			setRate(nil)
			clk.Advance(2 * time.Hour)
			if err := store.OpenRoom(t.Context(), svc, clk.Now().Add(10*time.Minute), 30); err != nil {
				t.Fatal(err)
			}
		}, 3},
		{"the automatic room over", func() { clk.Advance(11 * time.Minute) }, 2},
	} {
		step.setup()
		for i := range step.joins {
			before, err := store.Room(t.Context(), svc)
			if err != nil {
				t.Fatal(err)
			}
			want, wantPos := before.Join(clk.Now())
			got, pos, err := store.JoinQueue(t.Context(), svc)
			if err != nil {
				t.Fatalf("%s, join %d: %v", step.name, i+1, err)
			}
			if pos != wantPos || got.Rate != want.Rate || got.Next != want.Next || got.AdmittedBase != want.AdmittedBase || !got.BaseAt.Equal(want.BaseAt) {
				t.Errorf("%s, join %d: position %d, room %+v; want %d, %+v (from %+v)", step.name, i+1, pos, got, wantPos, want, before)
			}
		}
		clk.Advance(time.Millisecond)
	}

	if _, err := store.Pool.Exec(t.Context(), `UPDATE services SET active = false WHERE id = $1`, svc); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{svc, "no-such-service"} {
		if _, _, err := store.JoinQueue(t.Context(), id); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("join %s: %v, want not_found", id, err)
		}
	}
}
