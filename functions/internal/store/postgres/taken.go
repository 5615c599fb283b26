package postgres

import (
	"sync"
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
	// MaxAge is how long a time found full is refused from memory
	// (default 1s).
	MaxAge time.Duration

	mu    sync.Mutex
	at    map[takenKey]time.Time // when each time was found full
	swept time.Time
}

// takenKey is a time of a service (desks belong to one service).
type takenKey struct {
	service string
	start   int64 // Unix microseconds
}

func (t *TakenSlots) maxAge() time.Duration {
	if t.MaxAge <= 0 {
		return time.Second
	}
	return t.MaxAge
}

// Taken tells whether the service's time at start was found full less
// than MaxAge before now (and not after now: a clock gone back trusts
// nothing).
func (t *TakenSlots) Taken(serviceID string, start, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.at[takenKey{serviceID, start.UnixMicro()}]
	age := now.Sub(at)
	return ok && age >= 0 && age < t.maxAge()
}

// Remember notes that the service's time at start was found full at now.
// Entries past MaxAge are swept at most once per MaxAge, so the map holds
// the times found full in the last two MaxAges or so.
func (t *TakenSlots) Remember(serviceID string, start, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.at == nil {
		t.at = map[takenKey]time.Time{}
	}
	if age := now.Sub(t.swept); age >= t.maxAge() || age < 0 {
		for k, at := range t.at {
			if a := now.Sub(at); a >= t.maxAge() || a < 0 {
				delete(t.at, k)
			}
		}
		t.swept = now
	}
	t.at[takenKey{serviceID, start.UnixMicro()}] = now
}

// Forget drops the service's time at start: a hold there was given back.
func (t *TakenSlots) Forget(serviceID string, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.at, takenKey{serviceID, start.UnixMicro()})
}

// size is how many times are remembered (for tests).
func (t *TakenSlots) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.at)
}
