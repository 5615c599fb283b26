package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// visitor is one browser of the click day as the site drives it, sent as
// a script does it: its network address in X-Forwarded-For (every citizen
// has one of their own), its client token and its waiting room admission
// in headers, kept from the answers.
type visitor struct {
	s          *localStack
	client     *http.Client
	steps      map[string]*step // latencies and answers by step; nil: not recorded
	address    string
	token      string // X-Client-Token
	admission  string // X-Admission-Ticket
	keepToken  bool   // a script that throws its token away sends none
	retryAfter string // of the last answer
}

// call sends one request as the visitor and records it under step.
func (v *visitor) call(ctx context.Context, step, method, path string, body any) (int, []byte, error) {
	req, err := jsonRequest(ctx, method, v.s.gateway+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Forwarded-For", v.address)
	if v.token != "" {
		req.Header.Set("X-Client-Token", v.token)
	}
	if v.admission != "" {
		req.Header.Set("X-Admission-Ticket", v.admission)
	}
	t0 := time.Now()
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if st := v.steps[step]; st != nil && ctx.Err() == nil {
		st.record(t0, time.Since(t0), resp.StatusCode)
	}
	if tok := resp.Header.Get("X-Client-Token"); tok != "" && v.keepToken {
		v.token = tok
	}
	if tok := resp.Header.Get("X-Admission-Ticket"); tok != "" {
		v.admission = tok
	}
	v.retryAfter = resp.Header.Get("Retry-After")
	return resp.StatusCode, b, err
}

// enter goes through the service's waiting room, as the site does before
// the time choice: straight in when the room is off, else polling its
// place until admitted. It answers how long it waited.
func (v *visitor) enter(ctx context.Context, serviceID string) (time.Duration, error) {
	t0 := time.Now()
	status, b, err := v.call(ctx, "queue", "POST", "/api/queue", map[string]string{"service_id": serviceID})
	for {
		if err != nil {
			return time.Since(t0), err
		}
		if status != http.StatusOK {
			return time.Since(t0), fmt.Errorf("the waiting room: %d %s", status, b)
		}
		var st struct {
			Admitted   bool   `json:"admitted"`
			QueueToken string `json:"queue_token"`
			PollAfter  int    `json:"poll_after_seconds"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return time.Since(t0), err
		}
		if st.Admitted {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(t0), ctx.Err()
		case <-time.After(time.Duration(max(st.PollAfter, 1)) * time.Second):
		}
		status, b, err = v.call(ctx, "queue", "GET", "/api/queue/"+st.QueueToken, nil)
	}
}

// earliest reads the calendar and answers its earliest free start times
// (at most n), RFC 3339. It decodes the days one by one until it has them,
// as a page showing the first free days would: the whole 60 days took
// 0.7 ms of the load generator's CPU an answer, on the cores the stack
// runs on (a citizen's browser decodes it on the citizen's machine).
func (v *visitor) earliest(ctx context.Context, calendarPath string, n int) ([]string, error) {
	status, b, err := v.call(ctx, "calendar", "GET", calendarPath, nil)
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("GET /api/slots: %d %v", status, err)
	}
	var cal struct {
		Days []json.RawMessage `json:"days"`
	}
	if err := json.Unmarshal(b, &cal); err != nil {
		return nil, err
	}
	var free []string
	for _, raw := range cal.Days {
		if len(free) >= n {
			break
		}
		var d struct {
			Date  string   `json:"date"`
			Times []string `json:"times"`
			Free  []int    `json:"free"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		if len(d.Free) != len(d.Times) {
			return nil, fmt.Errorf("GET /api/slots: day %s has %d times and %d counts", d.Date, len(d.Times), len(d.Free))
		}
		for i, t := range d.Times {
			if d.Free[i] > 0 && len(free) < n {
				free = append(free, d.Date+"T"+t[:5]+":00"+t[5:])
			}
		}
	}
	return free, nil
}

// held is a hold as reserve answers it.
type held struct {
	HoldID     string `json:"hold_id"`
	HoldSecret string `json:"hold_secret"`
}

// book is one citizen's click day: the catalog, the waiting room, the
// calendar, a hold on one of the earliest free times (another on a 409;
// the waiting room again on a 403), the confirmation. It answers whether
// the citizen ends with a booking, and how long they waited in the room.
func (v *visitor) book(ctx context.Context, calendarPath, email string) (bool, time.Duration, error) {
	if status, _, err := v.call(ctx, "catalog", "GET", "/api/offices", nil); err != nil || status != http.StatusOK {
		return false, 0, fmt.Errorf("GET /api/offices: %d %v", status, err)
	}
	waited, err := v.enter(ctx, clickdayService)
	if err != nil {
		return false, waited, err
	}
	var free []string
	for attempt := 0; attempt < clickdayAttempts && ctx.Err() == nil; attempt++ {
		if len(free) == 0 || (attempt > 0 && attempt%5 == 0) {
			if free, err = v.earliest(ctx, calendarPath, clickdayEarliest); err != nil {
				return false, waited, err
			}
			if len(free) == 0 {
				return false, waited, nil
			}
		}
		k := rand.IntN(len(free))
		start := free[k]
		free = append(free[:k], free[k+1:]...)
		status, b, err := v.call(ctx, "hold", "POST", "/api/holds", map[string]string{"service_id": clickdayService, "start": start})
		retryAfter := v.retryAfter
		switch {
		case err != nil:
			return false, waited, err
		case status >= 500:
			return false, waited, fmt.Errorf("POST /api/holds: %d %s", status, b)
		case status == http.StatusForbidden: // the room turned on, or the admission lapsed
			w, err := v.enter(ctx, clickdayService)
			if waited += w; err != nil {
				return false, waited, err
			}
			continue
		case status == http.StatusTooManyRequests:
			// Too fast: wait as told, and that try does not count.
			wait, _ := strconv.Atoi(retryAfter)
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			attempt--
			continue
		case status != http.StatusCreated:
			continue // 409: taken meanwhile; another time
		}
		var h held
		if err := json.Unmarshal(b, &h); err != nil {
			return false, waited, err
		}
		status, b, err = v.call(ctx, "confirm", "POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret,
			"citizen": map[string]any{"given_name": "Cittadina", "family_name": "Del Click Day", "address": "Via Sparano da Bari 1, 70121 Bari",
				"email": email, "reason": "Rinnovo", "privacy_consent": true, "locale": "it"}})
		if err != nil {
			return false, waited, err
		}
		if status != http.StatusCreated {
			return false, waited, fmt.Errorf("POST /api/bookings: %d %s", status, b)
		}
		return true, waited, nil
	}
	return false, waited, nil
}

// citizenAddress is the network address of citizen i: one each, in the
// benchmarking range (RFC 2544, 198.18.0.0/15).
func citizenAddress(i int) string { return fmt.Sprintf("198.%d.%d.%d", 18+i/65536, i/256%256, i%256) }
