package postgres

import (
	"sync"
	"time"
)

// cache keeps what the store read from the database in memory, by id, each
// value for MaxAge after it was read: the services (Services) and the
// waiting rooms (Rooms) that a crowd would otherwise read thousands of
// times a second. Its age is measured on the clock its callers pass.
type cache[V any] struct {
	mu      sync.RWMutex
	entries map[string]cached[V]
	// MaxAge bounds how long an entry is used without asking the database;
	// default 1s.
	MaxAge time.Duration
}

type cached[V any] struct {
	value V
	read  time.Time
}

// Reset forgets every entry.
func (c *cache[V]) Reset() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// get answers the entry of id if it was read less than MaxAge before now
// (and not after now).
func (c *cache[V]) get(id string, now time.Time) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[id]
	max := c.MaxAge
	if max <= 0 {
		max = time.Second
	}
	return e.value, ok && now.Sub(e.read) < max && now.Sub(e.read) >= 0
}

// put keeps v as the entry of id, read at now.
func (c *cache[V]) put(id string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cached[V]{}
	}
	c.entries[id] = cached[V]{value: v, read: now}
}
