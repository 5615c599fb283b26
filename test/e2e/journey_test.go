package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/events"
)

func TestCitizenJourney(t *testing.T) {
	s := startStack(t, stackOptions{})

	// 1. The offices and their services, each with its duration.
	r := s.call("GET", "/api/offices", nil, "")
	expect(t, "GET /api/offices", r, http.StatusOK)
	var list struct {
		Offices []office `json:"offices"`
	}
	r.json(t, &list)
	offices := map[string]bool{}
	var sue *service
	for _, o := range list.Offices {
		offices[o.ID] = true
		for i, sv := range o.Services {
			if sv.ID == "sue" {
				sue = &o.Services[i]
			}
		}
	}
	for _, id := range []string{"urp", "ambiente", "urbanistica"} {
		if !offices[id] {
			t.Errorf("office %q missing from %s", id, r.body)
		}
	}
	if sue == nil || sue.OfficeID != "urbanistica" || sue.DurationMinutes != 30 {
		t.Fatalf("service sue = %+v, want urbanistica's, 30 minutes", sue)
	}

	// 2. The free slots, from today over 30 days.
	sl, _ := s.freeSlots(t, "sue")
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(rome).Format(time.DateOnly)
	if sl.ServiceID != "sue" || sl.DurationMinutes != 30 || sl.TimeZone != "Europe/Rome" || sl.From != today {
		t.Errorf("slots header = %+v, want sue, 30 minutes, Europe/Rome, from %s", sl, today)
	}
	// Pick two free slots far enough past the 24 hours of notice (and of
	// cancellation cutoff) that the booking can still be changed while the
	// test runs.
	picks := sl.after(time.Now().Add(25 * time.Hour))
	if len(picks) < 2 {
		t.Fatalf("fewer than two free slots in 30 days: %s", r.body)
	}
	first, second := picks[0], picks[1]
	for _, x := range picks[:2] {
		if !x.End.Equal(x.Start.Add(30 * time.Minute)) {
			t.Errorf("slot %s–%s is not 30 minutes long", x.Start, x.End)
		}
	}
	t.Logf("booking %s, then moving it to %s", first.Start, second.Start)

	// 3. Hold the first slot.
	r = s.call("POST", "/api/holds", map[string]string{"service_id": "sue", "start": first.Start.Format(time.RFC3339)}, "")
	expect(t, "POST /api/holds", r, http.StatusCreated)
	var h hold
	r.json(t, &h)
	if h.HoldID == "" || h.HoldSecret == "" || !h.ExpiresAt.After(time.Now()) || !h.Start.Equal(first.Start) {
		t.Fatalf("hold = %s", r.body)
	}
	after := s.freeSoon(t, "sue", func(f map[time.Time]int) bool { return f[first.Start.UTC()] == first.Free-1 })
	if after[first.Start.UTC()] != first.Free-1 {
		t.Errorf("held slot has %d free desks, want %d", after[first.Start.UTC()], first.Free-1)
	}

	// 4. Confirm it with the citizen's data.
	who := citizen{GivenName: "Nicola", FamilyName: "Lorusso-E2E", Address: "Via Sparano da Bari 1, 70121 Bari",
		Email: "nicola.lorusso.e2e@example.it", Reason: "Pratica edilizia", Details: "CILA n. 123/2027",
		PrivacyConsent: true, Locale: "it"}
	r = s.call("POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret, "citizen": who}, "")
	expect(t, "POST /api/bookings", r, http.StatusCreated)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST /api/bookings: Cache-Control %q, want no-store", cc)
	}
	var b booking
	r.json(t, &b)
	if b.BookingID == "" || b.ManageToken == "" || b.Status != "confirmed" || !b.Start.Equal(first.Start) {
		t.Fatalf("booking = %s", r.body)
	}
	if b.BookingID != h.HoldID {
		t.Errorf("booking_id %s, want the hold's id %s", b.BookingID, h.HoldID)
	}

	// 5. The manage link shows the booking with the citizen's data.
	r = s.call("GET", "/api/manage", nil, b.ManageToken)
	expect(t, "GET /api/manage", r, http.StatusOK)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /api/manage: Cache-Control %q, want no-store", cc)
	}
	var seen booking
	r.json(t, &seen)
	if seen.BookingID != b.BookingID || seen.Status != "confirmed" || seen.Citizen != who {
		t.Errorf("GET /api/manage = %s", r.body)
	}

	// 6. A tampered token is a plain 404.
	tampered := []byte(b.ManageToken)
	if i := len(tampered) / 2; tampered[i] == 'A' { // still well-formed: only the hash differs
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	r = s.call("GET", "/api/manage", nil, string(tampered))
	expect(t, "GET /api/manage with a tampered token", r, http.StatusNotFound)
	var p problem
	r.json(t, &p)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" || p.Code != "not_found" || p.Status != 404 {
		t.Errorf("tampered token: %s %s", ct, r.body)
	}

	// 7. Reschedule to the second slot: the first is free again.
	r = s.call("POST", "/api/manage/reschedule", map[string]string{"start": second.Start.Format(time.RFC3339)}, b.ManageToken)
	expect(t, "POST /api/manage/reschedule", r, http.StatusOK)
	var moved booking
	r.json(t, &moved)
	if moved.Sequence != 1 || !moved.Start.Equal(second.Start) || moved.Status != "confirmed" {
		t.Errorf("rescheduled = %s, want sequence 1 at %s", r.body, second.Start)
	}
	after = s.freeSoon(t, "sue", func(f map[time.Time]int) bool {
		return f[first.Start.UTC()] == first.Free && f[second.Start.UTC()] == second.Free-1
	})
	if after[first.Start.UTC()] != first.Free {
		t.Errorf("the old slot has %d free desks, want %d again", after[first.Start.UTC()], first.Free)
	}
	if after[second.Start.UTC()] != second.Free-1 {
		t.Errorf("the new slot has %d free desks, want %d", after[second.Start.UTC()], second.Free-1)
	}

	// 8. Cancel.
	r = s.call("POST", "/api/manage/cancel", nil, b.ManageToken)
	expect(t, "POST /api/manage/cancel", r, http.StatusOK)
	var cancelled booking
	r.json(t, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Errorf("cancelled = %s", r.body)
	}
	after = s.freeSoon(t, "sue", func(f map[time.Time]int) bool { return f[second.Start.UTC()] == second.Free })
	if after[second.Start.UTC()] != second.Free {
		t.Errorf("the cancelled slot has %d free desks, want %d again", after[second.Start.UTC()], second.Free)
	}

	// 9. An unknown API path is a problem from the gateway.
	r = s.call("GET", "/api/nothing-here", nil, "")
	expect(t, "GET /api/nothing-here", r, http.StatusNotFound)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("unknown API path: Content-Type %q", ct)
	}

	// 10. Every step reached the broker once, from the function that made
	// the change.
	wantSource := map[string]string{
		events.BookingHeld:        "/sportello/reserve",
		events.BookingConfirmed:   "/sportello/confirm",
		events.BookingRescheduled: "/sportello/amend",
		events.BookingCancelled:   "/sportello/amend",
	}
	var evs []event
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.call("GET", "/_local/events?subject="+b.BookingID, nil, "")
		expect(t, "GET /_local/events", r, http.StatusOK)
		evs = nil
		r.json(t, &evs)
		types := map[string]bool{}
		for _, e := range evs {
			if _, wanted := wantSource[e.Type]; wanted {
				types[e.Type] = true
			}
		}
		if len(types) == len(wantSource) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the broker's event log holds %d of the booking's 4 event types: %s", len(types), r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	count := map[string]int{}
	for _, e := range evs {
		if _, wanted := wantSource[e.Type]; !wanted {
			continue // what the consumers emitted in turn (rooms, ...)
		}
		count[e.Type]++
		typ, ok := events.Lookup(e.Type)
		if !ok {
			t.Errorf("event %s has unknown type %q", e.ID, e.Type)
			continue
		}
		if e.Source != wantSource[e.Type] || e.Subject != b.BookingID || e.ID == "" || e.Time == nil || e.DataSchema != typ.DataSchema() {
			t.Errorf("event %+v: want source %s, subject %s, dataschema %s", e, wantSource[e.Type], b.BookingID, typ.DataSchema())
		}
		var data events.Booking
		if err := json.Unmarshal(e.Data, &data); err != nil || data.BookingID != b.BookingID || data.ServiceID != "sue" {
			t.Errorf("event %s data = %s (%v)", e.Type, e.Data, err)
		}
		for _, personal := range []string{who.Email, who.FamilyName, who.Address} {
			if bytes.Contains(e.Data, []byte(personal)) {
				t.Errorf("event %s carries personal data: %s", e.Type, e.Data)
			}
		}
	}
	for typ := range wantSource {
		if count[typ] != 1 {
			t.Errorf("%d events of type %s, want exactly 1", count[typ], typ)
		}
	}

	// 11. Ctrl-C stops everything: exit 0, PostgreSQL gone.
	s.stop(t)
	for _, personal := range []string{who.Email, who.FamilyName, who.Address, b.ManageToken, h.HoldSecret} {
		if strings.Contains(s.out.String(), personal) {
			t.Errorf("the stack's output (the functions' logs) carries personal data or a secret: %q", personal)
		}
	}
}
