package main

import (
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// UID is the iCalendar UID of a booking's event: the same in every invite
// about the booking (confirmation, changes, reminders, cancellation), so a
// calendar updates one event instead of adding new ones.
func UID(bookingID string) string { return bookingID + "@sportello" }

// invite writes the RFC 5545 calendar attached to a mail and its METHOD:
// REQUEST (the event as it now is) or, for a cancellation, CANCEL with
// STATUS:CANCELLED. SEQUENCE is the booking's sequence: 0 when confirmed,
// one more with every reschedule and with the cancellation, so a calendar
// applies the invites in order whatever order they arrive in.
//
// DTSTART and DTEND are the municipality's local times with their TZID
// (form 3 of RFC 5545 3.3.5: "TZID=Europe/Rome:20270302T093000"), and the
// calendar carries that zone's VTIMEZONE (addTimezone), so a client that
// ignores UTC conversion, or a citizen's device set to another zone, still
// shows the hour of the appointment at the counter.
func (s *Sender) invite(n Notice, a Appointment, v View, now time.Time) ([]byte, string, error) {
	lang := locale(a.Locale)
	words := icsWords[lang]
	method, status := ics.MethodRequest, ics.ObjectStatusConfirmed
	if n.Kind == Cancelled {
		method, status = ics.MethodCancel, ics.ObjectStatusCancelled
	}
	cal := ics.NewCalendarFor("Sportello")
	cal.SetProductId("-//Sportello//Sportello virtuale//" + strings.ToUpper(lang))
	cal.SetMethod(method)
	loc := s.Store.Calendar.Location
	tzid := addTimezone(cal, loc, a.Start, a.End)
	ev := cal.AddEvent(UID(a.ID))
	ev.SetDtStampTime(now)
	ev.SetSequence(a.Sequence)
	ev.SetProperty(ics.ComponentPropertyDtStart, a.Start.In(loc).Format(icsLocal), ics.WithTZID(tzid))
	ev.SetProperty(ics.ComponentPropertyDtEnd, a.End.In(loc).Format(icsLocal), ics.WithTZID(tzid))
	ev.SetStatus(status)
	ev.SetSummary(a.Service + " – " + a.Office)
	var desc []string
	if n.Kind == Cancelled {
		desc = append(desc, words.cancelled)
		ev.SetLocation(words.virtualDesk + " – " + a.Office)
	} else {
		desc = append(desc, words.appointment)
		ev.SetLocation(v.RoomURL)
		ev.SetURL(v.RoomURL)
	}
	desc = append(desc, words.office+": "+a.Office, words.service+": "+a.Service)
	if a.WhatToBring != "" && n.Kind != Cancelled {
		desc = append(desc, words.bring+": "+a.WhatToBring)
	}
	if v.RoomURL != "" {
		desc = append(desc, words.room+": "+v.RoomURL, words.manage+": "+v.ManageURL)
	}
	ev.SetDescription(strings.Join(desc, "\n"))
	ev.SetOrganizer("mailto:"+s.From.Address, ics.WithCN(paramText(orDefault(s.From.Name, words.virtualDesk))))
	attendee := []ics.PropertyParameter{ics.ParticipationRoleReqParticipant, &ics.KeyValues{Key: string(ics.ParameterRsvp), Value: []string{"FALSE"}}}
	if name := paramText(v.Name); name != "" {
		attendee = append(attendee, ics.WithCN(name))
	}
	if n.Kind != Cancelled {
		// The citizen booked it: the event is accepted, not a question.
		attendee = append(attendee, ics.ParticipationStatusAccepted)
	}
	ev.AddAttendee("mailto:"+a.Email, attendee...)
	ev.SetTimeTransparency(ics.TransparencyOpaque)
	return []byte(cal.Serialize(ics.WithNewLineWindows)), string(method), nil // RFC 5545 lines end in CRLF
}

// icsLocal is RFC 5545's local DATE-TIME, without "Z".
const icsLocal = "20060102T150405"

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// paramText makes a parameter value (a CN) that needs neither quotes nor
// escapes: golang-ical escapes parameter values with backslashes, which
// RFC 5545 does not know, and an apostrophe is common in Italian surnames
// (D'Amico). Apostrophes become typographic ones; separators become spaces.
func paramText(s string) string {
	s = strings.NewReplacer("'", "’", `"`, "", `\`, "", ",", " ", ";", " ", ":", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

type icsText struct {
	appointment, cancelled, virtualDesk  string
	office, service, bring, room, manage string
}

var icsWords = map[string]icsText{
	"it": {
		appointment: "Appuntamento allo Sportello virtuale del Comune.",
		cancelled:   "Appuntamento annullato.",
		virtualDesk: "Sportello virtuale",
		office:      "Ufficio", service: "Servizio", bring: "Cosa portare",
		room: "Sala virtuale", manage: "Modifica o annulla",
	},
	"en": {
		appointment: "Appointment at the municipality's virtual counter.",
		cancelled:   "Appointment cancelled.",
		virtualDesk: "Virtual counter",
		office:      "Office", service: "Service", bring: "What to bring",
		room: "Video room", manage: "Change or cancel",
	},
}
