package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
)

// TestInviteInLocalTime: the invite's times are Rome's wall-clock times
// with TZID=Europe/Rome and the zone's VTIMEZONE, which alone gives back
// the instant on the days summer time starts and ends (2027-03-28 at
// 02:00, 2027-10-31 at 03:00) and on the days around them.
func TestInviteInLocalTime(t *testing.T) {
	s := newSender(t, clock.NewFixed(apitest.Monday), "", nil)
	for _, tc := range []struct{ day, hhmm, wall string }{
		{"2027-03-27", "09:30", "20270327T093000"},
		{"2027-03-28", "01:30", "20270328T013000"}, // before the change
		{"2027-03-28", "09:30", "20270328T093000"},
		{"2027-10-30", "09:30", "20271030T093000"},
		{"2027-10-31", "09:30", "20271031T093000"},
		{"2027-12-30", "16:00", "20271230T160000"},
	} {
		start := apitest.At(tc.day, tc.hhmm)
		a := Appointment{ID: uuid.NewString(), Locale: "it", Start: start, End: start.Add(30 * time.Minute),
			Email: "maria@example.it", Office: "Anagrafe", Service: "Carta d'identità"}
		data, _, err := s.invite(Notice{Kind: Confirmed}, a, View{Kind: Confirmed, RoomURL: publicURL + "/sala"}, apitest.Monday)
		if err != nil {
			t.Fatal(err)
		}
		inv := clienttest.ParseInvite(t, data)
		if !inv.Start.Equal(start) || !inv.End.Equal(a.End) {
			t.Errorf("%s %s: the VTIMEZONE reads %v – %v, want %v – %v\n%s", tc.day, tc.hhmm, inv.Start, inv.End, start, a.End, data)
		}
		if want := "DTSTART;TZID=Europe/Rome:" + tc.wall; !bytes.Contains(data, []byte(want)) {
			t.Errorf("%s %s: no %q in\n%s", tc.day, tc.hhmm, want, data)
		}
	}
}

// TestTimezoneObservances: the VTIMEZONE of Europe/Rome holds the 2027
// changes as RFC 5545 writes them (DTSTART in the local time before the
// onset).
func TestTimezoneObservances(t *testing.T) {
	s := newSender(t, clock.NewFixed(apitest.Monday), "", nil)
	start := apitest.At("2027-06-01", "09:00")
	data, _, err := s.invite(Notice{Kind: Confirmed}, Appointment{ID: uuid.NewString(), Locale: "en", Start: start, End: start.Add(time.Hour), Email: "a@example.it"},
		View{Kind: Confirmed}, apitest.Monday)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT",
		"BEGIN:STANDARD\r\nDTSTART:20271031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD",
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("no\n%s\nin\n%s", want, data)
		}
	}
}
