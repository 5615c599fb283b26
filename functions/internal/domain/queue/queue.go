// Package queue is the arithmetic of a service's waiting room: when more
// citizens come than the counter admits, they take positions in a queue
// and are let in first come, first served, at the room's rate.
//
// A queue is a counter, not a list. Joining takes the next position;
// position p is admitted once
//
//	AdmittedBase + floor(Rate × minutes since BaseAt) ≥ p
//
// and a queue that has caught up with its last position starts counting
// again from it (a citizen who finds nobody waiting goes in at once, the
// next one a place's time later). A
// place is kept in the citizen's signed queue token, not in a table, so
// that a waiting citizen's polls read nothing but the room.
package queue

import (
	"math"
	"time"
)

// Room is a service's waiting room.
type Room struct {
	Rate         int   // citizens admitted a minute; 0: the room is off, everyone goes in
	Next         int64 // the last position taken
	AdmittedBase int64
	BaseAt       time.Time
}

// On reports whether citizens must queue for the service.
func (r Room) On() bool { return r.Rate > 0 }

// AdmittedThrough is the last position admitted at now: the places of the
// whole microseconds since BaseAt, counted in integers, so that the
// store's join (the same arithmetic in SQL) reaches the same answer to the
// microsecond.
func (r Room) AdmittedThrough(now time.Time) int64 {
	if !r.On() {
		return math.MaxInt64
	}
	us := max(now.Sub(r.BaseAt).Microseconds(), 0)
	const minute = int64(time.Minute / time.Microsecond)
	rate := int64(r.Rate)
	// rate × us / minute, rounded down, without its overflow: a room never
	// joined counts from 1970.
	return r.AdmittedBase + rate*(us/minute) + rate*(us%minute)/minute
}

// Admitted reports whether position p may go in at now.
func (r Room) Admitted(p int64, now time.Time) bool { return p <= r.AdmittedThrough(now) }

// Ahead is how many positions before p are still waiting at now.
func (r Room) Ahead(p int64, now time.Time) int64 {
	a := p - r.AdmittedThrough(now) - 1
	if a < 0 {
		return 0
	}
	return a
}

// Wait is how long p should still wait at now, at the room's rate.
func (r Room) Wait(p int64, now time.Time) time.Duration {
	if r.Admitted(p, now) {
		return 0
	}
	at := r.BaseAt.Add(time.Duration(float64(p-r.AdmittedBase) / float64(r.Rate) * float64(time.Minute)))
	return at.Sub(now)
}

// Join is the room after one more citizen joined at now, and the position
// taken. When the queue has caught up and a place has come free since
// (nobody waits, and the rate allows one more), the newcomer goes in at
// once and the count starts again from there: an empty room saves up no
// more than that one place, so a burst after a quiet hour still queues.
func (r Room) Join(now time.Time) (Room, int64) {
	if r.On() && r.AdmittedThrough(now) > r.Next {
		r.AdmittedBase, r.BaseAt = r.Next+1, now
	}
	r.Next++
	return r, r.Next
}
