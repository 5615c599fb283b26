package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// cache keeps what the store read from the database in memory, by id, each
// value for MaxAge after it was read: the services (Services) and the
// waiting rooms (Rooms) that a crowd would otherwise read thousands of
// times a second. Its age is measured on the clock its callers pass.
//
// A value is read once for all the callers that find it missing or stale
// together (load): when an entry expired under a click day's crowd, every
// request in flight used to read it again, about forty reads a second of
// the same service in one reserve instance instead of one.
type cache[V any] struct {
	mu      sync.RWMutex
	entries map[string]cached[V]
	gen     uint64 // Reset's count: a read begun before a Reset is not kept
	flight  singleflight.Group
	// MaxAge bounds how long an entry is used without asking the database;
	// default 1s.
	MaxAge time.Duration
	swept  time.Time // when keep last dropped the entries past MaxAge
}

type cached[V any] struct {
	value V
	read  time.Time
}

// readTimeout bounds a read that load shares: it does not end with the
// request that started it, whose callers it also answers.
const readTimeout = 10 * time.Second

// Reset forgets every entry.
func (c *cache[V]) Reset() {
	c.mu.Lock()
	c.entries = nil
	c.gen++
	c.mu.Unlock()
}

// lookup answers the entry of id if it was read less than MaxAge before
// now (and not after now), and the count of Resets so far.
func (c *cache[V]) lookup(id string, now time.Time) (V, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[id]
	return e.value, c.gen, ok && c.fresh(e.read, now)
}

// fresh tells whether an entry read at read is still good at now: read
// less than MaxAge before now, and not after it (a clock gone back trusts
// nothing).
func (c *cache[V]) fresh(read, now time.Time) bool {
	max := c.MaxAge
	if max <= 0 {
		max = time.Second
	}
	age := now.Sub(read)
	return age >= 0 && age < max
}

// forget drops the entry of id.
func (c *cache[V]) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// size is how many entries are kept, fresh or not (for tests).
func (c *cache[V]) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// put keeps v as the entry of id, read at now.
func (c *cache[V]) put(id string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep(id, v, now)
}

// keep is put, with c.mu held. At most once per MaxAge it first drops the
// entries past it, so a cache of many ids (TakenSlots: every time found
// full) holds about the last two MaxAges' entries, not every id ever kept.
func (c *cache[V]) keep(id string, v V, now time.Time) {
	if c.entries == nil {
		c.entries = map[string]cached[V]{}
	}
	if !c.fresh(c.swept, now) {
		for k, e := range c.entries {
			if !c.fresh(e.read, now) {
				delete(c.entries, k)
			}
		}
		c.swept = now
	}
	c.entries[id] = cached[V]{value: v, read: now}
}

// load answers the entry of id if it is fresh at now, and otherwise reads
// it with read and keeps it as read at now (an error is not kept, nor a
// read older than a value put meanwhile). The
// callers that find it missing or stale while a read of it is under way
// wait for that read instead of starting their own; a caller after a
// Reset waits only for a read begun after it, and a read begun before it
// is not kept. The read runs on ctx without its end, for at most
// readTimeout: a caller that leaves does not fail the others; it gets its
// context's error at once.
func (c *cache[V]) load(ctx context.Context, id string, now time.Time, read func(context.Context) (V, error)) (V, error) {
	v, gen, ok := c.lookup(id, now)
	if ok {
		return v, nil
	}
	ch := c.flight.DoChan(strconv.FormatUint(gen, 10)+" "+id, func() (val any, err error) {
		// singleflight runs the read on a goroutine of its own, where a
		// panic would end the process: it is the read's error instead.
		defer func() {
			if p := recover(); p != nil {
				val, err = nil, fmt.Errorf("cache read of %s: panic: %v", id, p)
			}
		}()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		got, err := read(rctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		// A value put while the read was under way (a waiting room a
		// join has just changed) is newer than the read: it stays.
		if e, ok := c.entries[id]; c.gen == gen && (!ok || !e.read.After(now)) {
			c.keep(id, got, now)
		}
		return got, nil
	})
	var none V
	select {
	case r := <-ch:
		if r.Err != nil {
			return none, r.Err
		}
		return r.Val.(V), nil
	case <-ctx.Done():
		return none, ctx.Err()
	}
}
