package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/sportello/sportello/events"
)

// confirmed is a valid booking.confirmed event.
func confirmed(id string) cloudevents.Event {
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("/sportello/confirm")
	ev.SetType(events.BookingConfirmed)
	ev.SetSubject("0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00")
	ev.SetTime(time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC))
	typ, _ := events.Lookup(events.BookingConfirmed)
	ev.SetDataSchema(typ.DataSchema())
	start := time.Date(2027, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	_ = ev.SetData(cloudevents.ApplicationJSON, events.BookingConfirmedData{Booking: events.Booking{
		BookingID: ev.Subject(), OfficeID: "urbanistica", ServiceID: "sue", Desk: "Postazione 2",
		Start: start, End: start.Add(30 * time.Minute), Locale: "it"}})
	return ev
}

// post sends ev in binary mode, or structured when structured is set, as
// the CloudEvents SDK writes them.
func post(t *testing.T, h http.Handler, ev cloudevents.Event, structured bool) int {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(t, "/", ev, structured))
	return w.Code
}

func request(t *testing.T, target string, ev cloudevents.Event, structured bool) *http.Request {
	t.Helper()
	ctx := context.Background()
	if structured {
		ctx = binding.WithForceStructured(ctx)
	}
	req := httptest.NewRequest(http.MethodPost, target, nil)
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	return req
}

func lines(t *testing.T, path string) []Line {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Line
	for _, s := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if s == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func open(t *testing.T, path string) *Handler {
	t.Helper()
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	h, err := NewHandler(j, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	h := open(t, path)

	cancelled := confirmed("c1")
	cancelled.SetType(events.BookingCancelled)
	cancelled.SetSource("/sportello/amend")
	_ = cancelled.SetData(cloudevents.ApplicationJSON, events.BookingCancelledData{Booking: events.Booking{
		BookingID: cancelled.Subject(), OfficeID: "urbanistica", ServiceID: "sue", Desk: "Postazione 2",
		Start: time.Now(), End: time.Now(), Sequence: 1, Locale: "en"}, CancelledBy: "citizen"})
	invalid := confirmed("bad")
	_ = invalid.SetData(cloudevents.ApplicationJSON, map[string]any{"booking_id": "not-a-uuid"})
	held := confirmed("h1")
	held.SetType(events.BookingHeld)

	for _, tc := range []struct {
		what       string
		ev         cloudevents.Event
		structured bool
		want       int
	}{
		{"confirmed, binary", confirmed("e1"), false, 200},
		{"the same again", confirmed("e1"), false, 200},
		{"the same, structured", confirmed("e1"), true, 200},
		{"cancelled, structured", cancelled, true, 200},
		{"data its schema refuses", invalid, false, 400},
		{"a type not handled", held, false, 200},
	} {
		if got := post(t, h, tc.ev, tc.structured); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}
	got := lines(t, path)
	if len(got) != 2 || got[0].ID != "e1" || got[1].ID != "c1" || got[1].CancelledBy != "citizen" || got[1].Sequence != 1 {
		t.Fatalf("lines: %+v", got)
	}

	// After a restart the journal still knows e1.
	again := open(t, path)
	if code := post(t, again, confirmed("e1"), false); code != 200 || len(lines(t, path)) != 2 {
		t.Errorf("after a reopen: %d, %d lines", code, len(lines(t, path)))
	}
}
