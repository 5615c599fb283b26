package postgres

import (
	"context"
	"strconv"
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
//
// It also gives each time as many turns as it has desks (Turn): no more
// holds of one instance ask the database for a time at once than could
// win it, and the others wait, so that once the time is full the first
// refusal answers them from memory. On a click day the citizens asking for
// a popular time arrive together, all in flight before the first refusal,
// and each used to cost the database a probe of every desk. A time with
// more desks than citizens asking for it together makes nobody wait.
type TakenSlots struct {
	// Its entries are the times found full, each kept MaxAge (default
	// 1s) from when it was found so.
	cache[struct{}]

	turnsMu sync.Mutex
	turns   map[string]*turn // the times whose turn is taken or waited for
}

// turn is a time's turns in one instance.
type turn struct {
	taken chan struct{} // a token for each hold of the time having a turn
	holds int           // holds having or waiting for a turn; under turnsMu
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

// Turn waits until fewer than desks other holds of this instance have a
// turn of the service's time at start, and answers the function that
// ends its turn. Errors: ctx's, if it ends while waiting.
func (t *TakenSlots) Turn(ctx context.Context, serviceID string, start time.Time, desks int) (func(), error) {
	key := takenKey(serviceID, start)
	t.turnsMu.Lock()
	if t.turns == nil {
		t.turns = map[string]*turn{}
	}
	tn := t.turns[key]
	if tn == nil {
		tn = &turn{taken: make(chan struct{}, max(desks, 1))}
		t.turns[key] = tn
	}
	tn.holds++
	t.turnsMu.Unlock()
	leave := func() {
		t.turnsMu.Lock()
		if tn.holds--; tn.holds == 0 {
			delete(t.turns, key)
		}
		t.turnsMu.Unlock()
	}
	select {
	case tn.taken <- struct{}{}:
		return func() { <-tn.taken; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// waiting is how many times have a turn taken or waited for (for tests).
func (t *TakenSlots) waiting() int {
	t.turnsMu.Lock()
	defer t.turnsMu.Unlock()
	return len(t.turns)
}
