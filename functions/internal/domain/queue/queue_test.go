package queue

import (
	"testing"
	"time"
)

func TestFirstComeFirstServed(t *testing.T) {
	t0 := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	r := Room{Rate: 60, BaseAt: t0.Add(-time.Hour)} // one a second, idle for an hour
	var pos []int64
	for range 5 {
		var p int64
		r, p = r.Join(t0)
		pos = append(pos, p)
	}
	for i, p := range pos {
		if p != int64(i+1) {
			t.Fatalf("positions %v, want 1..5", pos)
		}
	}
	// The first goes in at once (nobody was waiting), the others one a
	// second, in order.
	for _, tc := range []struct {
		after    time.Duration
		admitted int
	}{{0, 1}, {999 * time.Millisecond, 1}, {time.Second, 2}, {3 * time.Second, 4}, {time.Minute, 5}} {
		now := t0.Add(tc.after)
		n := 0
		for _, p := range pos {
			if r.Admitted(p, now) {
				n++
			} else if n < len(pos) && r.Admitted(p+1, now) {
				t.Errorf("at +%s position %d waits while %d is in", tc.after, p, p+1)
			}
		}
		if n != tc.admitted {
			t.Errorf("at +%s %d admitted, want %d", tc.after, n, tc.admitted)
		}
	}
	if a, w := r.Ahead(5, t0), r.Wait(5, t0); a != 3 || w != 4*time.Second {
		t.Errorf("the fifth at once: %d ahead, %s to wait; want 3 and 4s", a, w)
	}
	// A queue that has caught up lets the next one in at once again.
	later := t0.Add(time.Hour)
	r, p := r.Join(later)
	if !r.Admitted(p, later) || r.Ahead(p, later) != 0 || r.Wait(p, later) != 0 {
		t.Errorf("after the queue emptied: position %d not admitted at once", p)
	}
	if off := (Room{}); !off.Admitted(1<<40, t0) || off.On() {
		t.Error("a room without a rate keeps someone out")
	}
}

// TestAdmittedThroughIsExact: the places admitted are rate × time rounded
// down exactly, where a floating-point product falls a place short or
// over (rate 25 for 40.8 s is 17 places, rate 9 for 100 s is 15), and a
// room never joined, counting from 1970 at the highest rate, does not
// overflow.
func TestAdmittedThroughIsExact(t *testing.T) {
	base := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	epoch := time.Unix(0, 0).UTC()
	for _, tc := range []struct {
		rate  int
		from  time.Time
		after time.Duration
		want  int64
	}{
		{25, base, 40800 * time.Millisecond, 17},
		{9, base, 100 * time.Second, 15},
		{60, base, 999999 * time.Microsecond, 0},
		{60, base, time.Second, 1},
		{7, base, -time.Hour, 0},
		{100000, epoch, base.Sub(epoch), 100000 * int64(base.Sub(epoch)/time.Minute)},
	} {
		r := Room{Rate: tc.rate, AdmittedBase: 3, BaseAt: tc.from}
		if got := r.AdmittedThrough(tc.from.Add(tc.after)); got != 3+tc.want {
			t.Errorf("rate %d after %s: through %d, want %d", tc.rate, tc.after, got, 3+tc.want)
		}
	}
}
