package main

import (
	"fmt"
	"time"

	ics "github.com/arran4/golang-ical"
)

// addTimezone adds to cal the VTIMEZONE of loc (RFC 5545 3.6.5) that
// covers the instants from and to, and answers the TZID that DTSTART and
// DTEND name. It is read off Go's time zone database, not written by hand:
// one STANDARD or DAYLIGHT observance for each change of offset from the
// year before from to the year after to, and the one in force before the
// first, so a client finds the rule of any time in between, and a change
// of the rules (the end of summer time) reaches the invites with the
// database.
func addTimezone(cal *ics.Calendar, loc *time.Location, from, to time.Time) string {
	tz := cal.AddTimezone(loc.String())
	first := time.Date(from.In(loc).Year()-1, 1, 1, 0, 0, 0, 0, loc)
	last := time.Date(to.In(loc).Year()+2, 1, 1, 0, 0, 0, 0, loc)
	observe(tz, first, first) // in force at the start, "since" then
	for t := first; ; {
		next, ok := nextChange(t, last)
		if !ok {
			break
		}
		observe(tz, next.Add(-time.Second), next)
		t = next
	}
	return loc.String()
}

// observe adds to tz the observance that starts at onset: its offset
// before (at prev) and after, its name, and DTSTART in the local time
// before the onset, as RFC 5545 wants it.
func observe(tz *ics.VTimezone, prev, onset time.Time) {
	_, before := prev.Zone()
	name, after := onset.Zone()
	var c *ics.ComponentBase
	if onset.IsDST() {
		d := &ics.Daylight{}
		tz.Components = append(tz.Components, d)
		c = &d.ComponentBase
	} else {
		c = &tz.AddStandard().ComponentBase
	}
	c.SetProperty(ics.ComponentPropertyDtStart, onset.UTC().Add(time.Duration(before)*time.Second).Format(icsLocal))
	c.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), offset(before))
	c.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), offset(after))
	c.SetProperty(ics.ComponentProperty(ics.PropertyTzname), name)
}

// nextChange is the first instant after t and before last at which the
// offset of t's location changes, to the second.
func nextChange(t, last time.Time) (time.Time, bool) {
	_, off := t.Zone()
	for day := t.Add(24 * time.Hour); day.Before(last); day = day.Add(24 * time.Hour) {
		if _, o := day.Zone(); o != off {
			lo, hi := day.Add(-24*time.Hour), day // off at lo, not at hi
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
				if _, o := mid.Zone(); o == off {
					lo = mid
				} else {
					hi = mid
				}
			}
			return hi, true
		}
	}
	return time.Time{}, false
}

// offset writes seconds east of UTC as RFC 5545's UTC-OFFSET: +0100.
func offset(s int) string {
	sign := '+'
	if s < 0 {
		sign, s = '-', -s
	}
	if s%60 != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%c%02d%02d", sign, s/3600, s/60%60)
}
