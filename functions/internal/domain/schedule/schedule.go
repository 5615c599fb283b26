// Package schedule computes a service's bookable slots from its weekly
// opening hours, the closures and holidays, and its notice and horizon.
//
// It is pure: no database, no clock of its own. Opening hours are wall-clock
// times in the municipality's time zone (Europe/Rome by default); slots are
// stepped in absolute time from each opening instant, so a day on which the
// clocks change has exactly the slots that fit in its real hours.
package schedule

import (
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// MinutesPerDay is the largest Closes value: an interval may run to midnight.
const MinutesPerDay = 24 * 60

// Interval is one opening period of a day in minutes from midnight,
// [Opens, Closes).
type Interval struct {
	Opens  int
	Closes int
}

// Closure is a range of whole days, both ends included, on which the office
// does not open.
type Closure struct {
	First  Date
	Last   Date
	Reason string
}

// Rules are what a service says about when it can be booked.
type Rules struct {
	Duration    time.Duration // length of the meeting
	Buffer      time.Duration // free time kept after each meeting
	MinNotice   time.Duration // earliest booking is now + MinNotice
	HorizonDays int           // latest bookable day is today + HorizonDays
	// OpenOnHolidays ignores the public holidays (closures still apply).
	OpenOnHolidays bool
	Hours          map[time.Weekday][]Interval
	Closures       []Closure
}

// Calendar is the municipality's time zone and holidays.
type Calendar struct {
	Location *time.Location
	Holidays *Holidays
}

// Slot is one bookable meeting time. The meeting runs [Start, End); the desk
// stays blocked until End plus the service's buffer.
type Slot struct {
	Start time.Time
	End   time.Time
}

// ClosedOn returns why the office is closed on d ("" when it is open).
func (c *Calendar) ClosedOn(r Rules, d Date) string {
	if !r.OpenOnHolidays {
		if name := c.Holidays.On(d); name != "" {
			return name
		}
	}
	for _, cl := range r.Closures {
		if !d.Before(cl.First) && !d.After(cl.Last) {
			if cl.Reason == "" {
				return "chiusura"
			}
			return cl.Reason
		}
	}
	return ""
}

// daySlots returns every slot of day d that the opening hours allow,
// ignoring notice and horizon.
func (c *Calendar) daySlots(r Rules, d Date) []Slot {
	if r.Duration <= 0 || c.ClosedOn(r, d) != "" {
		return nil
	}
	step := r.Duration + r.Buffer
	var out []Slot
	for _, iv := range r.Hours[d.Weekday()] {
		opens, closes := d.In(c.Location, iv.Opens), d.In(c.Location, iv.Closes)
		for s := opens; !s.Add(r.Duration).After(closes); s = s.Add(step) {
			out = append(out, Slot{Start: s, End: s.Add(r.Duration)})
		}
	}
	return out
}

// slotAt is the slot of day d (open: its closure checked before) that
// starts at start, if there is one: one of daySlots, found by arithmetic on
// the time grid of each opening interval instead of listing them (a hold's
// check, on the click day's path).
func (c *Calendar) slotAt(r Rules, d Date, start time.Time) (Slot, bool) {
	if r.Duration <= 0 {
		return Slot{}, false
	}
	step := r.Duration + r.Buffer
	for _, iv := range r.Hours[d.Weekday()] {
		opens, closes := d.In(c.Location, iv.Opens), d.In(c.Location, iv.Closes)
		since := start.Sub(opens)
		if since < 0 || since%step != 0 || start.Add(r.Duration).After(closes) {
			continue
		}
		s := opens.Add(since) // start, in the calendar's zone
		return Slot{Start: s, End: s.Add(r.Duration)}, true
	}
	return Slot{}, false
}

// Today returns the date of now in the calendar's time zone.
func (c *Calendar) Today(now time.Time) Date { return DateOf(now.In(c.Location)) }

// LastBookableDay is the end of the booking horizon.
func (c *Calendar) LastBookableDay(r Rules, now time.Time) Date {
	return c.Today(now).AddDays(r.HorizonDays)
}

// Slots returns the bookable slots from day from to day to, both included,
// in time order: inside opening hours, not on holidays or closures, no
// earlier than now plus the minimum notice, no later than the horizon.
func (c *Calendar) Slots(r Rules, from, to Date, now time.Time) []Slot {
	earliest := now.Add(r.MinNotice)
	if last := c.LastBookableDay(r, now); to.After(last) {
		to = last
	}
	if today := c.Today(now); from.Before(today) {
		from = today
	}
	var out []Slot
	for d := from; !d.After(to); d = d.AddDays(1) {
		for _, s := range c.daySlots(r, d) {
			if s.Start.Before(earliest) || !s.Start.After(now) {
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// Check tells whether start is a bookable slot now. The error is an
// apperr.Invalid naming field, with a message that says which rule it breaks.
func (c *Calendar) Check(r Rules, start time.Time, now time.Time, field string) (Slot, error) {
	local := start.In(c.Location)
	d := DateOf(local)
	if !start.After(now) {
		return Slot{}, apperr.Field(field, apperr.Past, "%s is in the past", local.Format(time.RFC3339))
	}
	if last := c.LastBookableDay(r, now); d.After(last) {
		return Slot{}, apperr.Field(field, apperr.BeyondHorizon, "%s is beyond the booking horizon (last bookable day %s)", d, last)
	}
	if why := c.ClosedOn(r, d); why != "" {
		return Slot{}, apperr.Field(field, apperr.Closed, "the office is closed on %s (%s)", d, why)
	}
	if s, ok := c.slotAt(r, d, start); ok {
		if start.Before(now.Add(r.MinNotice)) {
			return Slot{}, apperr.Field(field, apperr.TooSoon, "%s is too soon: this service needs %s notice", local.Format(time.RFC3339), r.MinNotice)
		}
		return s, nil
	}
	return Slot{}, apperr.Field(field, apperr.NotASlot, "%s is not a slot of this service: outside opening hours or off its time grid", local.Format(time.RFC3339))
}
