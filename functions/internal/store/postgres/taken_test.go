package postgres

import (
	"fmt"
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
