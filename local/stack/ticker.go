// This file holds the housekeeping ticker, the local stand-in for a
// Knative PingSource.

package stack

import (
	"context"
	"encoding/json"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
)

// The housekeeping ticker's events, shaped as a Knative PingSource's.
const (
	PingSource = "/local/pingsource/housekeeping"
	PingData   = `{"job":"all"}`
)

// startTicker posts a PingSource-shaped event to the broker every Tick, as
// a Knative PingSource does in the cluster: housekeeping consumes it.
func (s *Stack) startTicker() {
	if s.cfg.Tick <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ticker, s.tickDone = cancel, make(chan struct{})
	log := s.logger("housekeeping-tick")
	go func() {
		defer close(s.tickDone)
		c, err := cloudevents.NewClientHTTP()
		if err != nil {
			log.Error("no CloudEvents client", "err", err)
			return
		}
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ev := PingEvent(time.Now())
			if res := c.Send(cloudevents.ContextWithTarget(ctx, s.brokerURL()), ev); !cloudevents.IsACK(res) && ctx.Err() == nil {
				log.Warn("ping not accepted by the broker", "id", ev.ID(), "err", res)
			}
		}
	}()
}

// PingEvent is the housekeeping ticker's event at now.
func PingEvent(now time.Time) cloudevents.Event {
	ev := cloudevents.NewEvent()
	ev.SetID(uuid.NewString())
	ev.SetType(events.Ping)
	ev.SetSource(PingSource)
	ev.SetTime(now)
	_ = ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(PingData))
	return ev
}
