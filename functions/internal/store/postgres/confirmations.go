package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Confirmations that arrive together are sent together. A confirmation
// costs PostgreSQL more to start and to end than to write (the executor's
// setup for its five writes, each written table's constraints prepared
// again, the commit and its WAL flush: docs/performance.md), so the
// confirmations that wait while others are in flight go as one statement,
// confirmLive over arrays, one row each: one statement, one commit, for
// all of them. A confirmation that finds no statement in flight goes at
// once, alone: gathering never waits for company. Nothing is shared
// between instances and nothing needs to be: each statement is a
// transaction of its own, and the database decides each confirmation.
//
// A statement that fails (none should: a hold that is not live is simply
// not confirmed by it) is sent again one confirmation at a time, so that
// one confirmation's error is not another's.

const (
	// confirmSenders is how many statements are in flight at once, per
	// instance. One: a second in flight halves the confirmations a
	// statement and costs PostgreSQL more than it saves in waiting
	// (docs/performance.md, "One statement in flight").
	confirmSenders = 1
	confirmBatch   = 64 // confirmations in one statement, at most
	// confirmTimeout bounds a statement: it answers other requests than the
	// one whose goroutine sends it, so it does not end with that request.
	confirmTimeout = 10 * time.Second
)

// confirmation is one citizen's confirmation waiting for its statement.
type confirmation struct {
	id         [16]byte
	secretHash []byte
	tokenHash  []byte
	at         time.Time
	locale     string
	applicant  [6]string  // given name, family name, address, email, reason, details
	event      outbox.Row // its booking.confirmed.v1 row's id, type and schema
	trace      [2]string  // traceparent, tracestate

	// Set by the statement, before done is closed.
	row       record
	confirmed bool
	err       error

	done chan struct{}
	// turn brings the confirmation the statement its goroutine is to send:
	// confirmations taken from the queue, itself first.
	turn chan []*confirmation
}

// Confirmations is a Store's queue of confirmations waiting to be sent
// (Store.Confirmations): one for each instance of a function that
// confirms. At most confirmSenders statements are in flight. When one
// ends, the confirmations waiting (up to confirmBatch) are taken from the
// queue and handed to the first of them, whose goroutine sends them: no
// goroutine sends for others once its own answer is in, and none waits
// for a timer.
type Confirmations struct {
	mu      sync.Mutex
	waiting []*confirmation
	sending int // statements in flight, or handed to a goroutine to send
	// Counted for the tests: statements sent, and the confirmations in
	// them.
	statements, sent int
}

// confirm waits until c has been through a statement sent by send. It
// answers ctx's error only if ctx ends while c still waits in the queue;
// once c is in a statement it waits for that statement's end (and sends
// it, when c is its first).
func (q *Confirmations) confirm(ctx context.Context, c *confirmation, send func(context.Context, []*confirmation)) error {
	c.done, c.turn = make(chan struct{}), make(chan []*confirmation, 1)
	q.mu.Lock()
	q.waiting = append(q.waiting, c)
	if q.sending < confirmSenders {
		q.sending++
		q.handOut()
	}
	q.mu.Unlock()
	cancelled := ctx.Done()
	for {
		select {
		case <-c.done:
			return nil
		case batch := <-c.turn:
			sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), confirmTimeout)
			send(sendCtx, batch)
			cancel()
			q.mu.Lock()
			q.handOut()
			q.mu.Unlock()
		case <-cancelled:
			q.mu.Lock()
			if i := slices.Index(q.waiting, c); i >= 0 {
				q.waiting = slices.Delete(q.waiting, i, i+1)
				q.mu.Unlock()
				return ctx.Err()
			}
			q.mu.Unlock()
			cancelled = nil // in a statement: wait for it (or send it)
		}
	}
}

// handOut takes the next statement's confirmations from the queue and
// hands them to the first of them, or ends a turn when none waits. Under
// q.mu, with a turn to use (q.sending counts it).
func (q *Confirmations) handOut() {
	if len(q.waiting) == 0 {
		q.sending--
		return
	}
	n := min(len(q.waiting), confirmBatch)
	batch := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	q.statements++
	q.sent += n
	batch[0].turn <- batch
}

// planByKeys has the transaction it is sent in plan confirmLive once and
// by the keys. Once: PostgreSQL plans a prepared statement again for its
// parameters (a custom plan) until a generic plan, planned once, looks no
// dearer, and for confirmLive's arrays the custom plan always looks
// cheaper (it knows their length; the generic plan guesses ten), so each
// confirmation paid for planning the whole statement, about as much as
// the confirmation itself (make bench). By the keys: the generic plan is
// kept for the connection's life, and planned on a small bookings table
// (a new deployment, the bench's warm-up) it reads the whole table instead
// of the primary key — then every confirmation on that connection reads
// every booking, thousands on a click day; with sequential scans refused
// the plan reads bookings, services, offices and desks by their keys
// whatever their size. Both settings end with the transaction; sent in
// the same batch, before the statement, they cost no round trip
// (TestConfirmationsPlannedOnce).
const planByKeys = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`

// confirmLive sends batch as one statement and fills in each
// confirmation's answer, then closes every done. A failed statement of
// more than one is sent again one confirmation at a time.
func (s *Store) confirmLive(ctx context.Context, batch []*confirmation) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	err := s.confirmTogether(ctx, batch)
	if err == nil {
		return
	}
	if len(batch) == 1 || ctx.Err() != nil {
		for _, c := range batch {
			c.err = err
		}
		return
	}
	for _, c := range batch {
		c.confirmed = false
		c.err = s.confirmTogether(ctx, []*confirmation{c})
	}
}

// confirmTogether runs confirmLive's statement for batch.
func (s *Store) confirmTogether(ctx context.Context, batch []*confirmation) error {
	n := len(batch)
	ids, secrets, tokens, at := make([][16]byte, n), make([][]byte, n), make([][]byte, n), make([]time.Time, n)
	locales, events := make([]string, n), make([]string, n)
	var applicant [6][]string
	var trace [2][]string
	for k := range applicant {
		applicant[k] = make([]string, n)
	}
	for k := range trace {
		trace[k] = make([]string, n)
	}
	for i, c := range batch {
		ids[i], secrets[i], tokens[i], at[i], locales[i], events[i] = c.id, c.secretHash, c.tokenHash, c.at, c.locale, c.event.ID
		for k := range applicant {
			applicant[k][i] = c.applicant[k]
		}
		for k := range trace {
			trace[k][i] = c.trace[k]
		}
	}
	// One round trip, one transaction: the plan's setting for this
	// transaction only, then the statement (see planByKeys).
	var b pgx.Batch
	b.Queue(planByKeys)
	b.Queue(confirmLive, s.Calendar.Location.String(), ids, secrets, tokens, at, locales,
		applicant[0], applicant[1], applicant[2], applicant[3], applicant[4], applicant[5],
		events, trace[0], trace[1], "confirm", batch[0].event.Type, s.Source, batch[0].event.DataSchema)
	results := s.Pool.SendBatch(ctx, &b)
	err := readConfirmed(results, batch)
	// The transaction commits at the batch's end: an error there is the
	// statement's too.
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}
	return err
}

// readConfirmed reads confirmTogether's answers into batch: the rows of
// the bookings confirmed, each numbered by its place in batch.
func readConfirmed(results pgx.BatchResults, batch []*confirmation) error {
	n := len(batch)
	if _, err := results.Exec(); err != nil {
		return err
	}
	rows, err := results.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		var outcome string
		r, err := scanRecord(rows, &k, &outcome)
		if err != nil {
			return err
		}
		if k < 1 || k > n {
			return fmt.Errorf("confirm: the statement answered confirmation %d of %d", k, n)
		}
		batch[k-1].row, batch[k-1].confirmed = r, true
	}
	return rows.Err()
}
