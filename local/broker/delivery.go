// This file holds the delivery of an event to one trigger's subscriber:
// the attempts, their backoff and which failures are retried, and the
// replies.

package broker

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/cloudevents/sdk-go/v2/binding"

	"github.com/sportello/sportello/functions/manifest"
)

// Backoff is the wait before retry n (1 for the first retry) under d,
// scaled by BackoffScale.
func (b *Broker) Backoff(d manifest.Delivery, n int) time.Duration {
	var delay time.Duration
	if d.BackoffPolicy == "linear" {
		delay = d.BackoffDelay * time.Duration(n)
	} else { // exponential, Knative's default
		delay = time.Duration(float64(d.BackoffDelay) * math.Exp2(float64(n)))
	}
	if b.BackoffScale > 0 {
		delay = time.Duration(float64(delay) * b.BackoffScale)
	}
	return delay
}

// Retryable reports whether a delivery that got status (0: no answer) is
// tried again.
func Retryable(status int) bool {
	switch {
	case status == 0, status >= 500:
		return true
	case status == http.StatusNotFound, status == http.StatusConflict, status == http.StatusTooManyRequests:
		return true
	}
	return false
}

// outcome is the result of one attempt.
type outcome struct {
	status int                // 0 when no HTTP answer came
	err    error              // the network error, when status is 0
	reply  *cloudevents.Event // a CloudEvent in a 2xx answer
	bad    error              // a 2xx answer whose event is invalid
}

// deliver sends ev, with the trace context tc, to t's subscriber until it
// succeeds, fails for good or runs out of retries.
func (b *Broker) deliver(t Trigger, ev cloudevents.Event, tc traceContext, hops int) {
	attempts := 1 + max(t.Delivery.Retry, 0)
	var last outcome
	for n := 0; n < attempts; n++ {
		if n > 0 {
			wait := time.NewTimer(b.Backoff(t.Delivery, n))
			select {
			case <-wait.C:
			case <-b.ctx.Done():
				wait.Stop()
				b.abandon(t, ev, tc, n, last)
				return
			}
		}
		last = b.attempt(t, ev, tc)
		switch {
		case last.status >= 200 && last.status < 300:
			if last.bad != nil {
				b.deadLetter(t, ev, n+1, last, "invalid reply")
				return
			}
			b.Log.Info("delivered", "id", ev.ID(), "type", ev.Type(), "trigger", t.Name, "status", last.status, "attempts", n+1)
			if last.reply != nil {
				b.reply(t, ev, *last.reply, tc, hops)
			}
			return
		case b.ctx.Err() != nil:
			b.abandon(t, ev, tc, n+1, last)
			return
		case !Retryable(last.status):
			b.deadLetter(t, ev, n+1, last, "not retryable")
			return
		}
		b.Log.Warn("delivery failed", "id", ev.ID(), "type", ev.Type(), "trigger", t.Name, "status", last.status,
			"error", errString(last.err), "attempt", n+1, "of", attempts)
	}
	b.deadLetter(t, ev, attempts, last, "retries exhausted")
}

// reply ingests the event a subscriber answered with; it travels on in the
// trace context of the delivery that caused it.
func (b *Broker) reply(t Trigger, ev, reply cloudevents.Event, tc traceContext, hops int) {
	if hops+1 > MaxHops {
		b.deadLetter(t, reply, 1, outcome{}, fmt.Sprintf("reply loop: more than %d replies in a row", MaxHops))
		return
	}
	b.Log.Info("reply", "to", ev.ID(), "id", reply.ID(), "type", reply.Type(), "trigger", t.Name)
	if err := b.ingest(reply, tc, hops+1); err != nil {
		b.Log.Warn("reply lost: the broker is stopping", "id", reply.ID(), "type", reply.Type(), "trigger", t.Name)
	}
}

// attempt makes one delivery of ev to t's subscriber.
func (b *Broker) attempt(t Trigger, ev cloudevents.Event, tc traceContext) outcome {
	u := b.subscriber(t.Function)
	if u == nil {
		return outcome{err: fmt.Errorf("%s is not running", t.Function)}
	}
	sem := b.sem[t.Name]
	if sem == nil { // a trigger added after the first use
		sem = make(chan struct{}, 1)
	}
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-b.ctx.Done():
		return outcome{err: b.ctx.Err()}
	}
	timeout := t.Delivery.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return outcome{err: err}
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return outcome{err: err}
	}
	tc.set(req.Header)
	req.Header.Set("Prefer", "reply")
	resp, err := b.Client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && b.ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return outcome{err: err}
	}
	defer resp.Body.Close()
	out := outcome{status: resp.StatusCode}
	if out.status < 200 || out.status >= 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxEventBytes))
		return out
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxEventBytes)
	msg := cehttp.NewMessageFromHttpResponse(resp)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		_, _ = io.Copy(io.Discard, resp.Body)
		return out
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		out.bad = err
		return out
	}
	out.reply = reply
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
