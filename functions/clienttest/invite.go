package clienttest

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

// Invite is what a test checks of a mail's calendar attachment (RFC 5545).
type Invite struct {
	Method, UID, Status, Location, Organizer, Attendee string
	Sequence                                           int
	Start, End                                         time.Time
}

// Invite reads the message's calendar attachment with ParseInvite; a
// message without one fails the test.
func (m Mail) Invite(tb testing.TB) Invite {
	tb.Helper()
	if m.ICS == nil {
		tb.Fatalf("mail %q has no text/calendar attachment", m.Subject)
	}
	return ParseInvite(tb, m.ICS)
}

// ParseInvite reads a calendar of one VEVENT as a calendar client would,
// and fails the test where a client would stumble: its start and end are
// read from the calendar's own VTIMEZONE (and must agree with the zone
// database), SEQUENCE and DTSTAMP must be there, and every line must end
// with CRLF.
func ParseInvite(t testing.TB, data []byte) Invite {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ICS: %v\n%s", err, data)
	}
	var inv Invite
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			inv.Method = p.Value
		}
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d VEVENTs, want 1", len(evs))
	}
	ev := evs[0]
	get := func(p ics.ComponentProperty) string {
		if prop := ev.GetProperty(p); prop != nil {
			return prop.Value
		}
		return ""
	}
	inv.UID, inv.Status, inv.Location = ev.Id(), get(ics.ComponentPropertyStatus), ics.FromText(get(ics.ComponentPropertyLocation))
	inv.Organizer, inv.Attendee = get(ics.ComponentPropertyOrganizer), get(ics.ComponentPropertyAttendee)
	if inv.Sequence, err = strconv.Atoi(get(ics.ComponentPropertySequence)); err != nil {
		t.Errorf("SEQUENCE %q: %v", get(ics.ComponentPropertySequence), err)
	}
	inv.Start = localTime(t, cal, ev.GetProperty(ics.ComponentPropertyDtStart))
	inv.End = localTime(t, cal, ev.GetProperty(ics.ComponentPropertyDtEnd))
	if start, err := ev.GetStartAt(); err != nil || !start.Equal(inv.Start) {
		t.Errorf("DTSTART read with the zone database: %v (%v), with the VTIMEZONE: %v", start, err, inv.Start)
	}
	if _, err := ev.GetDtStampTime(); err != nil {
		t.Errorf("DTSTAMP: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasSuffix(line, "\r") && line != "" {
			t.Errorf("ICS line not ended by CRLF: %q", line)
			break
		}
	}
	return inv
}

// localTime is the instant of a DTSTART or DTEND in local time with its
// TZID, read as a calendar client without a zone database reads it: from
// the calendar's VTIMEZONE of that TZID alone (the observance in force at
// the time gives the offset). A UTC time or a TZID without its VTIMEZONE
// fails the test.
func localTime(t testing.TB, cal *ics.Calendar, p *ics.IANAProperty) time.Time {
	t.Helper()
	if p == nil || strings.HasSuffix(p.Value, "Z") || len(p.ICalParameters["TZID"]) != 1 {
		t.Fatalf("%+v: want a local time with one TZID", p)
	}
	tzid := p.ICalParameters["TZID"][0]
	wall, err := time.Parse("20060102T150405", p.Value)
	if err != nil {
		t.Fatalf("%s: %v", p.Value, err)
	}
	type observance struct {
		onset    time.Time // UTC
		from, to time.Duration
	}
	var obs []observance
	for _, tz := range cal.Timezones() {
		if id := tz.GetProperty(ics.ComponentPropertyTzid); id == nil || id.Value != tzid {
			continue
		}
		for _, c := range tz.Components {
			var props []ics.IANAProperty // STANDARD and DAYLIGHT are read alike
			switch o := c.(type) {
			case *ics.Standard:
				props = o.Properties
			case *ics.Daylight:
				props = o.Properties
			}
			v := map[string]string{}
			for _, pr := range props {
				v[pr.IANAToken] = pr.Value
			}
			from, to := utcOffset(t, v["TZOFFSETFROM"]), utcOffset(t, v["TZOFFSETTO"])
			start, err := time.Parse("20060102T150405", v["DTSTART"])
			if err != nil {
				t.Fatalf("observance DTSTART %q: %v", v["DTSTART"], err)
			}
			obs = append(obs, observance{start.Add(-from), from, to})
		}
	}
	if len(obs) == 0 {
		t.Fatalf("no VTIMEZONE %q in the calendar", tzid)
	}
	offsetAt := func(u time.Time) (time.Duration, bool) {
		var best *observance
		for i := range obs {
			if !obs[i].onset.After(u) && (best == nil || obs[i].onset.After(best.onset)) {
				best = &obs[i]
			}
		}
		if best == nil {
			return 0, false
		}
		return best.to, true
	}
	for _, o := range obs {
		if u := wall.Add(-o.to); func() bool { off, ok := offsetAt(u); return ok && off == o.to }() {
			return u
		}
	}
	t.Fatalf("%s %s: no observance of the VTIMEZONE gives it an offset", tzid, p.Value)
	return time.Time{}
}

// utcOffset reads an RFC 5545 UTC-OFFSET: +0100, -0330, +053028.
func utcOffset(t testing.TB, s string) time.Duration {
	t.Helper()
	if len(s) != 5 && len(s) != 7 {
		t.Fatalf("UTC offset %q", s)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	if s[0] == '-' {
		d = -d
	}
	return d
}
