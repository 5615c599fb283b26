package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// queueFixture drives a confirmations queue whose statements block until
// the test lets them end, and records each statement's size.
type queueFixture struct {
	q       Confirmations
	mu      sync.Mutex
	sizes   []int
	release chan struct{}
	wg      sync.WaitGroup
	errs    chan error
}

func newQueueFixture() *queueFixture {
	return &queueFixture{release: make(chan struct{}), errs: make(chan error, 1000)}
}

func (f *queueFixture) send(_ context.Context, batch []*confirmation) {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(batch))
	f.mu.Unlock()
	<-f.release
	for _, c := range batch {
		c.confirmed = true
		close(c.done)
	}
}

// ask starts n confirmations, each in a goroutine of its own.
func (f *queueFixture) ask(ctx context.Context, n int) {
	for range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			c := &confirmation{}
			err := f.q.confirm(ctx, c, f.send)
			if err == nil && !c.confirmed {
				err = errors.New("confirm returned before its statement")
			}
			f.errs <- err
		}()
	}
}

// wait waits for every confirmation asked to return.
func (f *queueFixture) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("waited 10 s for the confirmations to return: some were never sent")
	}
}

// until waits for cond, under the queue's lock.
func (f *queueFixture) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.q.mu.Lock()
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		f.q.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("waited 10 s for %s", what)
}

// TestConfirmationsGather: the first confirmations go at once, alone, up
// to confirmSenders statements; those arriving meanwhile wait and go
// together, at most confirmBatch a statement, sent by one of their own
// goroutines; a confirmation whose context ends while it waits leaves the
// queue unsent, and its turn is not lost.
func TestConfirmationsGather(t *testing.T) {
	f := newQueueFixture()
	for k := range confirmSenders {
		f.ask(t.Context(), 1)
		f.until(t, "a first statement", func() bool { return len(f.sizes) == k+1 })
	}
	f.ask(t.Context(), confirmBatch+10)
	f.until(t, "the queue", func() bool { return len(f.q.waiting) == confirmBatch+10 })
	// One waiting confirmation gives up: it is not sent.
	ctx, cancel := context.WithCancel(t.Context())
	f.ask(ctx, 1)
	f.until(t, "the one that gives up", func() bool { return len(f.q.waiting) == confirmBatch+11 })
	cancel()
	if err := <-f.errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("a confirmation whose context ended in the queue: %v, want context.Canceled", err)
	}
	close(f.release)
	f.wait(t)
	close(f.errs)
	for err := range f.errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The lone ones first; then the waiting, confirmBatch and the other
	// ten, in either order when more than one statement is in flight.
	want := append(slices.Repeat([]int{1}, confirmSenders), 10, confirmBatch)
	got := slices.Clone(f.sizes)
	slices.Sort(got[min(confirmSenders, len(got)):])
	if !slices.Equal(got, want) {
		t.Fatalf("statements of %v confirmations, want %v (the last two in either order)", f.sizes, want)
	}
	if f.q.sending != 0 || len(f.q.waiting) != 0 || f.q.statements != confirmSenders+2 || f.q.sent != confirmSenders+confirmBatch+10 {
		t.Fatalf("after: %d sending, %d waiting, %d statements of %d", f.q.sending, len(f.q.waiting), f.q.statements, f.q.sent)
	}
	// Alone again, a confirmation goes at once.
	f.release, f.errs = make(chan struct{}), make(chan error, 1)
	close(f.release)
	f.ask(t.Context(), 1)
	f.wait(t)
	if err := <-f.errs; err != nil || f.sizes[len(f.sizes)-1] != 1 {
		t.Fatalf("a lone confirmation: %v, statement of %d", err, f.sizes[len(f.sizes)-1])
	}
}

// TestConfirmationsCancelledAtTheirTurn: a confirmation whose context ends
// just as the waiting confirmations are handed to it still sends them —
// the others would wait forever if it left — and one that leaves the
// queue first is sent by nobody. Both orders are raced, many times.
func TestConfirmationsCancelledAtTheirTurn(t *testing.T) {
	var left, sent int
	for range 50 {
		f := newQueueFixture()
		for k := range confirmSenders {
			f.ask(t.Context(), 1)
			f.until(t, "a first statement", func() bool { return len(f.sizes) == k+1 })
		}
		ctx, cancel := context.WithCancel(t.Context())
		first := &confirmation{}
		var firstErr error
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			firstErr = f.q.confirm(ctx, first, f.send)
		}()
		f.until(t, "the first in the queue", func() bool { return len(f.q.waiting) == 1 })
		f.ask(t.Context(), 5)
		f.until(t, "the queue", func() bool { return len(f.q.waiting) == 6 })
		f.q.mu.Lock() // the cancelled one and the senders' hand-out race for it
		cancel()
		close(f.release)
		f.q.mu.Unlock()
		f.wait(t)
		close(f.errs)
		for err := range f.errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case errors.Is(firstErr, context.Canceled) && !first.confirmed:
			left++
		case firstErr == nil && first.confirmed:
			sent++
		default:
			t.Fatalf("the cancelled confirmation: %v, confirmed %t", firstErr, first.confirmed)
		}
		if f.q.sending != 0 || len(f.q.waiting) != 0 {
			t.Fatalf("after: %d sending, %d waiting", f.q.sending, len(f.q.waiting))
		}
	}
	t.Logf("of 50 cancelled at their turn, %d left the queue, %d were sent", left, sent)
}
