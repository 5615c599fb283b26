package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTakenSlots: a time found full is refused for MaxAge after, not
// before it was found (a clock gone back) nor from MaxAge on; per service
// and start; forgotten on Forget; and the entries past MaxAge are swept,
// so the map stays as small as the last MaxAges' refusals.
func TestTakenSlots(t *testing.T) {
	start := time.Date(2027, 3, 2, 8, 30, 0, 0, time.UTC)
	in := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	var ts TakenSlots // default MaxAge: 1s
	ts.Remember("sue", start, t0)

	for _, tc := range []struct {
		name    string
		service string
		start   time.Time
		now     time.Time
		want    bool
	}{
		{"at once", "sue", start, t0, true},
		{"the same instant in another zone", "sue", start.In(in("Europe/Rome")), t0, true},
		{"just under a second after", "sue", start, t0.Add(999 * time.Millisecond), true},
		{"a second after", "sue", start, t0.Add(time.Second), false},
		{"before it was found (a clock gone back)", "sue", start, t0.Add(-time.Millisecond), false},
		{"another service", "anagrafe", start, t0, false},
		{"another time", "sue", start.Add(30 * time.Minute), t0, false},
	} {
		if got := ts.Taken(tc.service, tc.start, tc.now); got != tc.want {
			t.Errorf("%s: taken %v, want %v", tc.name, got, tc.want)
		}
	}

	ts.Forget("sue", start)
	if ts.Taken("sue", start, t0) {
		t.Error("taken after Forget")
	}

	var long TakenSlots
	long.MaxAge = time.Minute
	long.Remember("sue", start, t0)
	if !long.Taken("sue", start, t0.Add(59*time.Second)) || long.Taken("sue", start, t0.Add(time.Minute)) {
		t.Error("MaxAge of a minute not followed")
	}

	// A thousand times found full over ten seconds: those of the last
	// second or two are kept, the rest swept.
	var sweep TakenSlots
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		sweep.Remember(fmt.Sprint("s", i), start, now)
	}
	if n := sweep.size(); n > 200 {
		t.Errorf("%d times kept after ten seconds of refusals at 1s: not swept", n)
	}
	if !sweep.Taken("s999", start, t0.Add(9990*time.Millisecond)) {
		t.Error("the last time found full was swept")
	}
}

// TestTakenTurns: a time of a three-desk service gives three turns at
// once, and the holds beyond wait; all of them have a turn in the end;
// another time's turns are not held up by it; a hold whose context ends
// while waiting leaves without a turn; and no time's turns are kept once
// nobody has or waits for one.
func TestTakenTurns(t *testing.T) {
	var ts TakenSlots
	start := time.Date(2027, 3, 2, 8, 30, 0, 0, time.UTC)
	var ends []func()
	for range 3 {
		end, err := ts.Turn(t.Context(), "sue", start, 3)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, end)
	}
	// Another time, and the same time of another service: at once.
	for _, other := range []struct {
		service string
		start   time.Time
	}{{"sue", start.Add(30 * time.Minute)}, {"urp", start}} {
		endOther, err := ts.Turn(t.Context(), other.service, other.start, 1)
		if err != nil {
			t.Fatal(err)
		}
		endOther()
	}
	// A fourth hold, whose context ends while it waits.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := ts.Turn(ctx, "sue", start, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a fourth turn of three desks until the context ended: %v, want DeadlineExceeded", err)
	}
	// Fifty holds of the time: three at a time.
	var (
		wg          sync.WaitGroup
		inside, max atomic.Int32
		served      atomic.Int32
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end, err := ts.Turn(t.Context(), "sue", start, 3)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
			served.Add(1)
			end()
		}()
	}
	time.Sleep(10 * time.Millisecond)
	if served.Load() != 0 {
		t.Fatalf("%d holds had a turn while three others had the three", served.Load())
	}
	for _, end := range ends {
		end()
	}
	wg.Wait()
	if served.Load() != 50 || max.Load() > 3 {
		t.Fatalf("%d of 50 holds had a turn, at most %d at once; want 50 and 3 at most", served.Load(), max.Load())
	}
	if n := ts.waiting(); n != 0 {
		t.Fatalf("%d times' turns kept after every hold left", n)
	}
}
