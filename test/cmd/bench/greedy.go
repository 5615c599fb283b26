package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// greedy is a script out to hold every early slot of the click day for
// itself, running beside the honest citizens: it walks the earliest free
// times and holds each, again and again. keepToken: it keeps its client
// token (one client); else it throws it away every time (a new client a
// request, from one address). It plays by the protocol otherwise: the
// waiting room when told, a second's pause on a 429.
type greedy struct {
	name    string
	v       *visitor
	mu      sync.Mutex
	ids     []string // every hold it got
	limited int      // 429s
	peak    int      // the most of its holds live at once (sampled)
}

func (g *greedy) run(ctx context.Context, calendarPath string) {
	free := []string{}
	for ctx.Err() == nil {
		if len(free) == 0 {
			var err error
			if free, err = g.v.earliest(ctx, calendarPath, clickdayEarliest); err != nil || len(free) == 0 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		start := free[0]
		free = free[1:]
		if !g.v.keepToken {
			g.v.token, g.v.admission = "", ""
		}
		status, b, err := g.v.call(ctx, "", "POST", "/api/holds", map[string]string{"service_id": clickdayService, "start": start})
		switch {
		case err != nil:
		case status == http.StatusCreated:
			var h held
			if json.Unmarshal(b, &h) == nil {
				g.mu.Lock()
				g.ids = append(g.ids, h.HoldID)
				g.mu.Unlock()
			}
		case status == http.StatusTooManyRequests:
			g.mu.Lock()
			g.limited++
			g.mu.Unlock()
			time.Sleep(time.Second)
		case status == http.StatusForbidden:
			_, _ = g.v.enter(ctx, clickdayService)
		}
	}
}

// sample counts the script's holds live now and keeps the peak.
func (g *greedy) sample(ctx context.Context, s *localStack) {
	db, err := s.database(ctx, 1)
	if err != nil {
		return
	}
	defer db.Close()
	for ctx.Err() == nil {
		g.mu.Lock()
		ids := append([]string(nil), g.ids...)
		g.mu.Unlock()
		var live int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM bookings WHERE status = 'held' AND id = ANY($1::uuid[])`, ids).Scan(&live); err == nil {
			g.mu.Lock()
			g.peak = max(g.peak, live)
			g.mu.Unlock()
		}
		time.Sleep(200 * time.Millisecond)
	}
}
