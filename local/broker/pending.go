// This file holds the deliveries the broker abandons when it stops: saved
// to StateFile by Close and delivered again by the next run's Resume.

package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Pending is a delivery the broker abandoned when it stopped, as saved in
// StateFile.
type Pending struct {
	Trigger string            `json:"trigger"`
	Event   cloudevents.Event `json:"event"`
	Trace   traceContext      `json:"trace,omitzero"`
}

// abandon records a delivery given up because the broker is stopping.
func (b *Broker) abandon(t Trigger, ev cloudevents.Event, tc traceContext, attempts int, last outcome) {
	b.mu.Lock()
	b.abandoned = append(b.abandoned, Pending{Trigger: t.Name, Event: ev, Trace: tc})
	b.mu.Unlock()
	b.Log.Warn("delivery abandoned: the broker is stopping", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject(),
		"trigger", t.Name, "attempts", attempts, "last_status", last.status)
}

// save writes the deliveries abandoned by Close to StateFile, if any.
func (b *Broker) save() error {
	if b.StateFile == "" || len(b.abandoned) == 0 {
		return nil
	}
	data, err := json.Marshal(b.abandoned)
	if err == nil {
		err = os.WriteFile(b.StateFile, data, 0o600)
	}
	if err != nil {
		return fmt.Errorf("broker: save %d pending deliveries: %w", len(b.abandoned), err)
	}
	b.Log.Info("pending deliveries saved for the next start", "count", len(b.abandoned), "file", b.StateFile)
	return nil
}

// Resume delivers again what the last Close saved in StateFile, afresh
// (the full retry budget), and removes the file. It returns how many
// deliveries it resumed.
func (b *Broker) Resume() (int, error) {
	b.init()
	if b.StateFile == "" {
		return 0, nil
	}
	data, err := os.ReadFile(b.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var pending []Pending
	if err := json.Unmarshal(data, &pending); err != nil {
		return 0, fmt.Errorf("broker: %s: %w", b.StateFile, err)
	}
	triggers := map[string]Trigger{}
	for _, t := range b.Triggers {
		triggers[t.Name] = t
	}
	n := 0
	for _, p := range pending {
		t, ok := triggers[p.Trigger]
		if !ok {
			b.Log.Warn("pending delivery dropped: no such trigger any more", "id", p.Event.ID(), "type", p.Event.Type(), "trigger", p.Trigger)
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return n, ErrClosed
		}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.deliver(t, p.Event, p.Trace, 0)
		}()
		n++
	}
	if err := os.Remove(b.StateFile); err != nil {
		return n, err
	}
	if n > 0 {
		b.Log.Info("resumed the deliveries pending at the last stop", "count", n)
	}
	return n, nil
}
