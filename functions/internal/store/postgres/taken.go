package postgres

import (
	"strconv"
	"time"
)

// TakenSlots remembers, in one instance, the times at which its holds
// found no desk free, each for MaxAge: a hold asked for such a time again
// within MaxAge is refused from memory (409, as the database would), with
// no round trip and no probe of the desks. On a click day most holds are
// refused, and most of those ask for a time that a hold a moment before
// found full.
//
// A stale entry is a time freed (a hold given back, lapsed or cancelled
// in another instance) that this instance still refuses: for MaxAge at
// most, as long as the calendar may go on showing it taken anyway
// (CALENDAR_MAX_AGE). A hold given back through this instance forgets its
// time at once. A stale entry never lets a hold through: only the
// database places one.
type TakenSlots struct {
	// Its entries are the times found full, each kept MaxAge (default
	// 1s) from when it was found so.
	cache[struct{}]
}

// takenKey is the entry of a time of a service (desks belong to one
// service).
func takenKey(serviceID string, start time.Time) string {
	return serviceID + " " + strconv.FormatInt(start.UnixMicro(), 10)
}

// Taken tells whether the service's time at start was found full less
// than MaxAge before now.
func (t *TakenSlots) Taken(serviceID string, start, now time.Time) bool {
	_, _, ok := t.lookup(takenKey(serviceID, start), now)
	return ok
}

// Remember notes that the service's time at start was found full at now.
func (t *TakenSlots) Remember(serviceID string, start, now time.Time) {
	t.put(takenKey(serviceID, start), struct{}{}, now)
}

// Forget drops the service's time at start: a hold there was given back.
func (t *TakenSlots) Forget(serviceID string, start time.Time) {
	t.forget(takenKey(serviceID, start))
}
