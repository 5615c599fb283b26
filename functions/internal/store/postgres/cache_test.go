package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The cache's sharing of reads, on its own: what a read returns is made up
// here, so that the test can hold a read open and count them. The stores'
// tests read through it against the real database.

var t0 = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

// A crowd that finds an entry stale at once reads it once: a caller
// arriving while the read is under way waits for it, one arriving after
// finds the entry it kept.
func TestCacheReadsOnceForACrowd(t *testing.T) {
	var c cache[string]
	c.put("s", "old", t0.Add(-2*time.Second)) // stale at t0
	var reads atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	read := func(context.Context) (string, error) {
		if reads.Add(1) == 1 {
			close(started)
		}
		<-release
		return "new", nil
	}
	const crowd = 50
	got := make([]string, crowd)
	errs := make([]error, crowd)
	var wg sync.WaitGroup
	load := func(i int) {
		defer wg.Done()
		got[i], errs[i] = c.load(context.Background(), "s", t0, read)
	}
	wg.Add(crowd)
	go load(0)
	<-started
	for i := 1; i < crowd; i++ {
		go load(i)
	}
	time.Sleep(20 * time.Millisecond) // most of the crowd waits on the read; the rest comes after it
	close(release)
	wg.Wait()
	// One read; a caller held up between its miss and joining the read
	// for longer than the read took could start a second one, so a few
	// are allowed (without the sharing, every caller reads: 50).
	if n := reads.Load(); n > 3 {
		t.Errorf("%d reads for a crowd of %d, want 1", n, crowd)
	}
	for i := range crowd {
		if errs[i] != nil || got[i] != "new" {
			t.Errorf("caller %d: %q, %v; want the new value", i, got[i], errs[i])
		}
	}
	if v, _, ok := c.lookup("s", t0); !ok || v != "new" {
		t.Errorf("kept %q (fresh %t), want the new value", v, ok)
	}
}

// After a Reset (the configuration changed), a caller does not wait for a
// read begun before it, and that read's answer is not kept.
func TestCacheResetDoesNotJoinAnOlderRead(t *testing.T) {
	var c cache[string]
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan string)
	go func() {
		v, _ := c.load(context.Background(), "s", t0, func(context.Context) (string, error) {
			close(started)
			<-release
			return "before the change", nil
		})
		first <- v
	}()
	<-started
	c.Reset()
	after := make(chan string)
	go func() {
		v, _ := c.load(context.Background(), "s", t0, func(context.Context) (string, error) {
			return "after the change", nil
		})
		after <- v
	}()
	if v := soon(t, after, "the load after the Reset (waiting for the read begun before it?)"); v != "after the change" {
		t.Errorf("after the Reset: %q", v)
	}
	close(release)
	if v := <-first; v != "before the change" {
		t.Errorf("the first caller: %q", v)
	}
	if v, _, _ := c.lookup("s", t0); v != "after the change" {
		t.Errorf("kept %q, want the value read after the Reset", v)
	}
}

// A caller that leaves gets its context's error at once; the read goes on
// for the others, on a context that did not end with the first caller's.
func TestCacheCallerLeaves(t *testing.T) {
	var c cache[string]
	started, release := make(chan struct{}), make(chan struct{})
	var readCtxErr error
	read := func(ctx context.Context) (string, error) {
		close(started)
		<-release
		readCtxErr = ctx.Err()
		return "v", nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error)
	go func() {
		_, err := c.load(ctx, "s", t0, read)
		left <- err
	}()
	<-started
	stayed := make(chan string)
	go func() {
		v, _ := c.load(context.Background(), "s", t0, read) // joins the read under way
		stayed <- v
	}()
	cancel()
	if err := soon(t, left, "the caller that left (waiting for the read?)"); !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v, want context.Canceled", err)
	}
	close(release)
	if v := <-stayed; v != "v" {
		t.Errorf("the caller that stayed: %q", v)
	}
	if readCtxErr != nil {
		t.Errorf("the read's context ended with the first caller's: %v", readCtxErr)
	}
}

// A read that panics is an error of the callers, not the end of the
// process, and nothing is kept.
func TestCacheReadPanics(t *testing.T) {
	var c cache[string]
	_, err := c.load(context.Background(), "s", t0, func(context.Context) (string, error) { panic("boom") })
	if err == nil {
		t.Fatal("no error from a read that panicked")
	}
	if _, _, ok := c.lookup("s", t0); ok {
		t.Error("an entry was kept")
	}
}

// soon receives from ch, or fails the test if nothing comes within 5 s.
func soon[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing within 5 s", what)
		panic("unreachable")
	}
}

// A value put while a read is under way is newer than the read: the
// read's caller gets what it read, and the cache keeps the value put (a
// waiting room a join changed must not be taken back to the room as it
// was before the join for the next second).
func TestCacheKeepsAPutNewerThanTheRead(t *testing.T) {
	var c cache[string]
	started, release := make(chan struct{}), make(chan struct{})
	read := func(context.Context) (string, error) {
		close(started)
		<-release
		return "read before the join", nil
	}
	done := make(chan struct{})
	var got string
	var err error
	go func() {
		defer close(done)
		got, err = c.load(context.Background(), "room", t0, read)
	}()
	<-started
	c.put("room", "put by the join", t0.Add(time.Millisecond))
	close(release)
	<-done
	if err != nil || got != "read before the join" {
		t.Errorf("the reader got %q, %v; want what it read", got, err)
	}
	if v, _, ok := c.lookup("room", t0.Add(2*time.Millisecond)); !ok || v != "put by the join" {
		t.Errorf("the cache keeps %q (fresh: %v), want the value put during the read", v, ok)
	}
}
