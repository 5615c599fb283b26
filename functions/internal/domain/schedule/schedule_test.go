package schedule

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// rome returns the Europe/Rome location, failing the test if the time zone
// database is not available.
func rome(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatalf("LoadLocation(Europe/Rome): %v", err)
	}
	return loc
}

// at returns a wall-clock time in Rome.
func at(t *testing.T, y int, m time.Month, d, hh, mm int) time.Time {
	t.Helper()
	return time.Date(y, m, d, hh, mm, 0, 0, rome(t))
}

// mustDate parses YYYY-MM-DD or fails the test.
func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return d
}

// mustTime parses an RFC3339 timestamp or fails the test.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", s, err)
	}
	return ts
}

// hm converts "HH:MM" to minutes from midnight ("24:00" is 1440).
func hm(s string) int {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil {
		panic(fmt.Sprintf("hm(%q): %v", s, err))
	}
	return h*60 + m
}

// iv builds an Interval from "HH:MM" strings.
func iv(opens, closes string) Interval { return Interval{Opens: hm(opens), Closes: hm(closes)} }

var (
	monToFri = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	allWeek  = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
)

// hours gives every listed weekday the same intervals.
func hours(days []time.Weekday, ivs ...Interval) map[time.Weekday][]Interval {
	out := map[time.Weekday][]Interval{}
	for _, d := range days {
		out[d] = append([]Interval(nil), ivs...)
	}
	return out
}

// rules builds Rules with durations in minutes, a wide horizon and no notice;
// tests override what they care about.
func rules(durationMin, bufferMin int, h map[time.Weekday][]Interval) Rules {
	return Rules{
		Duration:    time.Duration(durationMin) * time.Minute,
		Buffer:      time.Duration(bufferMin) * time.Minute,
		HorizonDays: 3650,
		Hours:       h,
	}
}

// newCal returns a Rome calendar with the national holidays and the given
// patron day (nil for none).
func newCal(t *testing.T, patron *PatronDay) *Calendar {
	t.Helper()
	return &Calendar{Location: rome(t), Holidays: NewHolidays(patron)}
}

// noHolidays returns a Rome calendar without holidays, for the daylight
// saving tests: 2027-03-28, the spring change, is also Easter Sunday.
func noHolidays(t *testing.T) *Calendar {
	t.Helper()
	return &Calendar{Location: rome(t)}
}

// bari returns the calendar of Bari (patron San Nicola, 6 December).
func bari(t *testing.T) *Calendar {
	t.Helper()
	p, err := ParsePatronDay("12-06", "San Nicola")
	if err != nil {
		t.Fatalf("ParsePatronDay: %v", err)
	}
	return newCal(t, p)
}

// starts formats the slot starts as RFC3339 strings.
func starts(slots []Slot) []string {
	out := make([]string, 0, len(slots))
	for _, s := range slots {
		out = append(out, s.Start.Format(time.RFC3339))
	}
	return out
}

// spans formats each slot as "start/end" in RFC3339.
func spans(slots []Slot) []string {
	out := make([]string, 0, len(slots))
	for _, s := range slots {
		out = append(out, s.Start.Format(time.RFC3339)+"/"+s.End.Format(time.RFC3339))
	}
	return out
}

// daysOf returns the distinct Rome dates of the slots, in order.
func daysOf(t *testing.T, slots []Slot) []string {
	t.Helper()
	loc := rome(t)
	var out []string
	for _, s := range slots {
		d := DateOf(s.Start.In(loc)).String()
		if len(out) == 0 || out[len(out)-1] != d {
			out = append(out, d)
		}
	}
	return out
}

// longAgo is a "now" well before every date used in the tests, so that
// notice and past filtering do not interfere unless a test wants them to.
func longAgo(t *testing.T) time.Time { return at(t, 2025, time.January, 2, 8, 0) }

// slotsOn is c's slots of r from day from to day to (YYYY-MM-DD, both
// included), asked longAgo.
func slotsOn(t *testing.T, c *Calendar, r Rules, from, to string) []Slot {
	t.Helper()
	return c.Slots(r, mustDate(t, from), mustDate(t, to), longAgo(t))
}

// wantStarts fails the test unless the slots start at want (RFC 3339).
func wantStarts(t *testing.T, want []string, got []Slot) {
	t.Helper()
	if diff := cmp.Diff(want, starts(got)); diff != "" {
		t.Errorf("starts mismatch (-want +got):\n%s", diff)
	}
}

// ---------------------------------------------------------------------------
// Slots: ordinary days, buffers, several intervals
// ---------------------------------------------------------------------------

func TestSlotsOrdinaryDay(t *testing.T) {
	r := rules(30, 0, hours(monToFri, iv("09:00", "12:00")))
	tests := []struct {
		name string
		day  string
		want []string
	}{
		{
			name: "winter Wednesday is +01:00",
			day:  "2027-02-10",
			want: []string{
				"2027-02-10T09:00:00+01:00/2027-02-10T09:30:00+01:00",
				"2027-02-10T09:30:00+01:00/2027-02-10T10:00:00+01:00",
				"2027-02-10T10:00:00+01:00/2027-02-10T10:30:00+01:00",
				"2027-02-10T10:30:00+01:00/2027-02-10T11:00:00+01:00",
				"2027-02-10T11:00:00+01:00/2027-02-10T11:30:00+01:00",
				"2027-02-10T11:30:00+01:00/2027-02-10T12:00:00+01:00",
			},
		},
		{
			name: "summer Wednesday is +02:00",
			day:  "2027-07-14",
			want: []string{
				"2027-07-14T09:00:00+02:00/2027-07-14T09:30:00+02:00",
				"2027-07-14T09:30:00+02:00/2027-07-14T10:00:00+02:00",
				"2027-07-14T10:00:00+02:00/2027-07-14T10:30:00+02:00",
				"2027-07-14T10:30:00+02:00/2027-07-14T11:00:00+02:00",
				"2027-07-14T11:00:00+02:00/2027-07-14T11:30:00+02:00",
				"2027-07-14T11:30:00+02:00/2027-07-14T12:00:00+02:00",
			},
		},
		{
			name: "Saturday has no hours",
			day:  "2027-02-13",
			want: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			got := slotsOn(t, c, r, tc.day, tc.day)
			if diff := cmp.Diff(tc.want, spans(got)); diff != "" {
				t.Errorf("Slots(%s) mismatch (-want +got):\n%s", tc.day, diff)
			}
		})
	}
}

func TestSlotsBufferAndClosing(t *testing.T) {
	tests := []struct {
		name     string
		duration int
		buffer   int
		iv       Interval
		want     []string // starts on 2027-02-10 (+01:00)
	}{
		{
			name:     "30+15 steps 45 minutes; 12:00 would end 12:30, after closing",
			duration: 30,
			buffer:   15,
			iv:       iv("09:00", "12:00"),
			want:     []string{"09:00", "09:45", "10:30", "11:15"},
		},
		{
			name:     "30+15 with closing 12:10: the 12:00 meeting would overrun",
			duration: 30,
			buffer:   15,
			iv:       iv("09:00", "12:10"),
			want:     []string{"09:00", "09:45", "10:30", "11:15"},
		},
		{
			name:     "30+15 with closing 12:30: the 12:00 meeting ends exactly at closing",
			duration: 30,
			buffer:   15,
			iv:       iv("09:00", "12:30"),
			want:     []string{"09:00", "09:45", "10:30", "11:15", "12:00"},
		},
		{
			name:     "last meeting may end at closing even if its buffer runs past it",
			duration: 30,
			buffer:   15,
			iv:       iv("09:00", "11:45"),
			want:     []string{"09:00", "09:45", "10:30", "11:15"},
		},
		{
			name:     "50+10 steps an hour",
			duration: 50,
			buffer:   10,
			iv:       iv("09:00", "12:00"),
			want:     []string{"09:00", "10:00", "11:00"},
		},
		{
			name:     "meeting longer than the interval gives nothing",
			duration: 90,
			buffer:   0,
			iv:       iv("09:00", "10:00"),
			want:     []string{},
		},
		{
			name:     "meeting exactly as long as the interval gives one slot",
			duration: 60,
			buffer:   30,
			iv:       iv("09:00", "10:00"),
			want:     []string{"09:00"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			r := rules(tc.duration, tc.buffer, hours(monToFri, tc.iv))
			d := mustDate(t, "2027-02-10")
			got := c.Slots(r, d, d, longAgo(t))

			want := make([]string, 0, len(tc.want))
			for _, s := range tc.want {
				want = append(want, "2027-02-10T"+s+":00+01:00")
			}
			wantStarts(t, want, got)
			closing := d.In(rome(t), tc.iv.Closes)
			for i, s := range got {
				if want := s.Start.Add(time.Duration(tc.duration) * time.Minute); !s.End.Equal(want) {
					t.Errorf("slot %d: End = %s, want Start+duration = %s", i, s.End.Format(time.RFC3339), want.Format(time.RFC3339))
				}
				if s.End.After(closing) {
					t.Errorf("slot %d ends %s, after closing %s", i, s.End.Format(time.RFC3339), closing.Format(time.RFC3339))
				}
				if i > 0 {
					if step, want := s.Start.Sub(got[i-1].Start), time.Duration(tc.duration+tc.buffer)*time.Minute; step != want {
						t.Errorf("slot %d: step %s, want %s", i, step, want)
					}
				}
			}
		})
	}
}

func TestSlotsSeveralIntervals(t *testing.T) {
	tests := []struct {
		name string
		r    Rules
		day  string
		want []string
	}{
		{
			name: "morning and afternoon, 60 min",
			r:    rules(60, 0, hours(monToFri, iv("09:00", "12:00"), iv("15:00", "17:00"))),
			day:  "2027-02-10",
			want: []string{
				"2027-02-10T09:00:00+01:00",
				"2027-02-10T10:00:00+01:00",
				"2027-02-10T11:00:00+01:00",
				"2027-02-10T15:00:00+01:00",
				"2027-02-10T16:00:00+01:00",
			},
		},
		{
			name: "grid restarts at each opening: 45 min with 08:30-10:00 and 14:10-16:00",
			r:    rules(45, 0, hours(monToFri, iv("08:30", "10:00"), iv("14:10", "16:00"))),
			day:  "2027-07-14",
			want: []string{
				"2027-07-14T08:30:00+02:00",
				"2027-07-14T09:15:00+02:00",
				"2027-07-14T14:10:00+02:00",
				"2027-07-14T14:55:00+02:00",
			},
		},
		{
			name: "only Thursday afternoon differs",
			r: func() Rules {
				r := rules(60, 0, hours(monToFri, iv("09:00", "11:00")))
				r.Hours[time.Thursday] = []Interval{iv("09:00", "11:00"), iv("14:00", "16:00")}
				return r
			}(),
			day: "2027-02-11",
			want: []string{
				"2027-02-11T09:00:00+01:00",
				"2027-02-11T10:00:00+01:00",
				"2027-02-11T14:00:00+01:00",
				"2027-02-11T15:00:00+01:00",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			wantStarts(t, tc.want, slotsOn(t, c, tc.r, tc.day, tc.day))
		})
	}
}

func TestSlotsSeveralDaysInOrder(t *testing.T) {
	c := newCal(t, nil)
	r := rules(60, 0, hours(monToFri, iv("09:00", "11:00")))
	// Friday 12 Feb to Tuesday 16 Feb 2027: the weekend is skipped.
	want := []string{
		"2027-02-12T09:00:00+01:00",
		"2027-02-12T10:00:00+01:00",
		"2027-02-15T09:00:00+01:00",
		"2027-02-15T10:00:00+01:00",
		"2027-02-16T09:00:00+01:00",
		"2027-02-16T10:00:00+01:00",
	}
	wantStarts(t, want, slotsOn(t, c, r, "2027-02-12", "2027-02-16"))
}

func TestSlotsNoDurationNoSlots(t *testing.T) {
	c := newCal(t, nil)
	r := rules(0, 0, hours(monToFri, iv("09:00", "12:00")))
	if got := slotsOn(t, c, r, "2027-02-10", "2027-02-10"); len(got) != 0 {
		t.Errorf("Slots with zero duration = %v, want none", starts(got))
	}
}

// ---------------------------------------------------------------------------
// Daylight saving time
// ---------------------------------------------------------------------------

// hourly returns the RFC3339 starts "YYYY-MM-DDTHH:00:00<offset>" for the
// given hours and offset, built without the time package.
func hourly(day, offset string, from, to int) []string {
	var out []string
	for h := from; h <= to; h++ {
		out = append(out, fmt.Sprintf("%sT%02d:00:00%s", day, h, offset))
	}
	return out
}

func TestSlotsDSTWholeDay(t *testing.T) {
	// 2027-03-28 is a Sunday (and Easter Sunday, so the calendar here has no
	// holidays): clocks go from 02:00 +01:00 to 03:00 +02:00.
	// 2027-10-31 is a Sunday: clocks go from 03:00 +02:00 back to 02:00 +01:00.
	r := rules(60, 0, map[time.Weekday][]Interval{time.Sunday: {{Opens: 0, Closes: MinutesPerDay}}})
	tests := []struct {
		name    string
		day     string
		want    []string
		lastEnd string
	}{
		{
			name:    "spring forward has 23 slots",
			day:     "2027-03-28",
			want:    append(hourly("2027-03-28", "+01:00", 0, 1), hourly("2027-03-28", "+02:00", 3, 23)...),
			lastEnd: "2027-03-29T00:00:00+02:00",
		},
		{
			name:    "fall back has 25 slots",
			day:     "2027-10-31",
			want:    append(hourly("2027-10-31", "+02:00", 0, 2), hourly("2027-10-31", "+01:00", 2, 23)...),
			lastEnd: "2027-11-01T00:00:00+01:00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := noHolidays(t)
			got := slotsOn(t, c, r, tc.day, tc.day)
			if diff := cmp.Diff(tc.want, starts(got)); diff != "" {
				t.Fatalf("starts mismatch (-want +got):\n%s", diff)
			}
			for i, s := range got {
				if d := s.End.Sub(s.Start); d != time.Hour {
					t.Errorf("slot %d lasts %s, want 1h", i, d)
				}
				if i > 0 {
					if d := s.Start.Sub(got[i-1].Start); d != time.Hour {
						t.Errorf("slot %d starts %s after the previous one, want 1h", i, d)
					}
				}
			}
			if end := got[len(got)-1].End.Format(time.RFC3339); end != tc.lastEnd {
				t.Errorf("last slot ends %s, want %s", end, tc.lastEnd)
			}
		})
	}
}

// TestSlotsDSTOrdinaryHours checks offsets around the changes; the holiday
// closures of those days are tested in TestNationalHolidays.
func TestSlotsDSTOrdinaryHours(t *testing.T) {
	r := rules(60, 0, hours(allWeek, iv("09:00", "12:00")))
	tests := []struct {
		name string
		day  string
		want []string
	}{
		{"spring-forward Sunday is already +02:00", "2027-03-28", hourly("2027-03-28", "+02:00", 9, 11)},
		{"Monday after spring forward (Easter Monday, holidays off here)", "2027-03-29", hourly("2027-03-29", "+02:00", 9, 11)},
		{"Tuesday after spring forward", "2027-03-30", hourly("2027-03-30", "+02:00", 9, 11)},
		{"Saturday before spring forward", "2027-03-27", hourly("2027-03-27", "+01:00", 9, 11)},
		{"fall-back Sunday is already +01:00", "2027-10-31", hourly("2027-10-31", "+01:00", 9, 11)},
		{"Monday after fall back (All Saints, holidays off here)", "2027-11-01", hourly("2027-11-01", "+01:00", 9, 11)},
		{"Tuesday after fall back", "2027-11-02", hourly("2027-11-02", "+01:00", 9, 11)},
		{"Saturday before fall back", "2027-10-30", hourly("2027-10-30", "+02:00", 9, 11)},
		// 2026: the Mondays after the changes are ordinary working days.
		{"Monday after spring forward 2026", "2026-03-30", hourly("2026-03-30", "+02:00", 9, 11)},
		{"Monday after fall back 2026", "2026-10-26", hourly("2026-10-26", "+01:00", 9, 11)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := noHolidays(t)
			wantStarts(t, tc.want, slotsOn(t, c, r, tc.day, tc.day))
		})
	}
}

func TestSlotsAcrossDSTWeekend(t *testing.T) {
	// A range spanning the spring change keeps each day's wall-clock hours.
	c := noHolidays(t)
	r := rules(60, 0, hours(allWeek, iv("09:00", "10:00")))
	want := []string{
		"2027-03-26T09:00:00+01:00",
		"2027-03-27T09:00:00+01:00",
		"2027-03-28T09:00:00+02:00",
		"2027-03-29T09:00:00+02:00",
		"2027-03-30T09:00:00+02:00",
	}
	wantStarts(t, want, slotsOn(t, c, r, "2027-03-26", "2027-03-30"))
}

// ---------------------------------------------------------------------------
// Holidays and patron day
// ---------------------------------------------------------------------------

func TestNationalHolidays(t *testing.T) {
	// Open every day of the week, so that a holiday falling on a weekend is
	// still meaningful.
	r := rules(30, 0, hours(allWeek, iv("09:00", "12:00")))
	tests := []struct {
		day      string
		what     string
		wantName string // exact name when we own it, "" to only require non-empty
	}{
		{"2027-01-01", "Capodanno", ""},
		{"2027-01-06", "Epifania", ""},
		{"2027-03-28", "Easter Sunday 2027", "Pasqua"},
		{"2027-03-29", "Easter Monday 2027", ""},
		{"2026-04-06", "Easter Monday 2026", ""},
		{"2027-04-25", "Liberazione (a Sunday)", ""},
		{"2027-05-01", "Festa del Lavoro (a Saturday)", ""},
		{"2027-06-02", "Festa della Repubblica", ""},
		{"2027-08-15", "Ferragosto (a Sunday)", ""},
		{"2026-10-04", "San Francesco, first year", "San Francesco d'Assisi"},
		{"2027-10-04", "San Francesco", "San Francesco d'Assisi"},
		{"2027-11-01", "Ognissanti", ""},
		{"2027-12-08", "Immacolata", ""},
		{"2027-12-25", "Natale", ""},
		{"2027-12-26", "Santo Stefano", ""},
	}
	for _, tc := range tests {
		t.Run(tc.day+" "+tc.what, func(t *testing.T) {
			c := newCal(t, nil)
			d := mustDate(t, tc.day)
			name := c.Holidays.On(d)
			if name == "" {
				t.Errorf("Holidays.On(%s) = \"\", want a holiday (%s)", tc.day, tc.what)
			}
			if tc.wantName != "" && name != tc.wantName {
				t.Errorf("Holidays.On(%s) = %q, want %q", tc.day, name, tc.wantName)
			}
			if got := c.ClosedOn(r, d); got != name {
				t.Errorf("ClosedOn(%s) = %q, want the holiday name %q", tc.day, got, name)
			}
			if got := c.Slots(r, d, d, longAgo(t)); len(got) != 0 {
				t.Errorf("Slots(%s) = %v, want none on a holiday", tc.day, starts(got))
			}
			// The day before is open (none of these follow another holiday),
			// which shows the rules themselves would offer slots.
			if tc.day != "2027-12-26" && !strings.Contains(tc.what, "Easter Monday") {
				prev := d.AddDays(-1)
				if got := c.Slots(r, prev, prev, longAgo(t)); len(got) != 6 {
					t.Errorf("Slots(%s) = %d slots, want 6 on the day before", prev, len(got))
				}
			}
		})
	}
}

func TestOrdinaryDaysAreNotHolidays(t *testing.T) {
	r := rules(30, 0, hours(allWeek, iv("09:00", "12:00")))
	for _, day := range []string{
		"2027-03-30", // Tuesday after Easter Monday
		"2025-10-04", // San Francesco is a holiday only from 2026
		"2024-10-04",
		"2027-12-06", // San Nicola, but no patron configured
		"2027-12-27",
		"2027-12-31",
	} {
		t.Run(day, func(t *testing.T) {
			c := newCal(t, nil)
			d := mustDate(t, day)
			if got := c.Holidays.On(d); got != "" {
				t.Errorf("Holidays.On(%s) = %q, want \"\"", day, got)
			}
			if got := c.ClosedOn(r, d); got != "" {
				t.Errorf("ClosedOn(%s) = %q, want \"\"", day, got)
			}
			now := at(t, 2024, time.January, 2, 8, 0)
			if got := c.Slots(r, d, d, now); len(got) != 6 {
				t.Errorf("Slots(%s) = %d slots, want 6", day, len(got))
			}
		})
	}
}

func TestParsePatronDay(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		want    *PatronDay
		wantErr bool
	}{
		{in: "12-06", name: "San Nicola", want: &PatronDay{Month: time.December, Day: 6, Name: "San Nicola"}},
		{in: "09-19", name: "San Gennaro", want: &PatronDay{Month: time.September, Day: 19, Name: "San Gennaro"}},
		{in: "", name: "San Nicola", want: nil},
		{in: "13-40", name: "x", wantErr: true},
		{in: "12-32", name: "x", wantErr: true},
		{in: "02-30", name: "x", wantErr: true},
		{in: "00-10", name: "x", wantErr: true},
		{in: "12/06", name: "x", wantErr: true},
		{in: "6 dicembre", name: "x", wantErr: true},
		{in: "2027-12-06", name: "x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParsePatronDay(tc.in, tc.name)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParsePatronDay(%q) = %+v, want an error", tc.in, got)
				}
				if got != nil {
					t.Errorf("ParsePatronDay(%q) returned %+v with the error, want nil", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePatronDay(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParsePatronDay(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestPatronDay(t *testing.T) {
	r := rules(30, 0, hours(allWeek, iv("09:00", "12:00")))
	tests := []struct {
		name       string
		cal        func(t *testing.T) *Calendar
		day        string
		wantClosed string
		wantSlots  int
	}{
		{"Bari 2026 (a Sunday)", bari, "2026-12-06", "San Nicola", 0},
		{"Bari 2027 (a Monday)", bari, "2027-12-06", "San Nicola", 0},
		{"Bari 2030", bari, "2030-12-06", "San Nicola", 0},
		{"Bari the day after", bari, "2027-12-07", "", 6},
		{"Bari the day before", bari, "2027-12-05", "", 6},
		{"no patron: 6 December is an ordinary Monday", func(t *testing.T) *Calendar { return newCal(t, nil) }, "2027-12-06", "", 6},
		{
			"patron without a name",
			func(t *testing.T) *Calendar {
				p, err := ParsePatronDay("09-19", "")
				if err != nil {
					t.Fatal(err)
				}
				return newCal(t, p)
			},
			"2027-09-19", "Santo patrono", 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cal(t)
			d := mustDate(t, tc.day)
			if got := c.ClosedOn(r, d); got != tc.wantClosed {
				t.Errorf("ClosedOn(%s) = %q, want %q", tc.day, got, tc.wantClosed)
			}
			if got := c.Holidays.On(d); got != tc.wantClosed {
				t.Errorf("Holidays.On(%s) = %q, want %q", tc.day, got, tc.wantClosed)
			}
			if got := c.Slots(r, d, d, longAgo(t)); len(got) != tc.wantSlots {
				t.Errorf("Slots(%s) = %d slots, want %d", tc.day, len(got), tc.wantSlots)
			}
		})
	}
}

func TestPatronDayKeepsNationalHolidays(t *testing.T) {
	c := bari(t)
	for _, day := range []string{"2027-12-08", "2027-12-25", "2027-10-04", "2027-03-29"} {
		if got := c.Holidays.On(mustDate(t, day)); got == "" {
			t.Errorf("with a patron day, Holidays.On(%s) = \"\", want a national holiday", day)
		}
	}
}

// ---------------------------------------------------------------------------
// Closures
// ---------------------------------------------------------------------------

func TestClosures(t *testing.T) {
	base := hours(allWeek, iv("09:00", "10:00"))
	tests := []struct {
		name     string
		closures []Closure
		from, to string
		wantDays []string
	}{
		{
			name:     "no closures",
			from:     "2027-02-08",
			to:       "2027-02-12",
			wantDays: []string{"2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"},
		},
		{
			name:     "range inclusive at both ends",
			closures: []Closure{{First: Date{2027, time.February, 9}, Last: Date{2027, time.February, 11}, Reason: "Inventario"}},
			from:     "2027-02-08",
			to:       "2027-02-12",
			wantDays: []string{"2027-02-08", "2027-02-12"},
		},
		{
			name:     "single day",
			closures: []Closure{{First: Date{2027, time.February, 10}, Last: Date{2027, time.February, 10}}},
			from:     "2027-02-08",
			to:       "2027-02-12",
			wantDays: []string{"2027-02-08", "2027-02-09", "2027-02-11", "2027-02-12"},
		},
		{
			name: "several closures, one across a month end",
			closures: []Closure{
				{First: Date{2027, time.January, 30}, Last: Date{2027, time.February, 2}, Reason: "Trasloco"},
				{First: Date{2027, time.February, 4}, Last: Date{2027, time.February, 4}, Reason: "Sciopero"},
			},
			from:     "2027-01-29",
			to:       "2027-02-05",
			wantDays: []string{"2027-01-29", "2027-02-03", "2027-02-05"},
		},
		{
			name:     "closure outside the range changes nothing",
			closures: []Closure{{First: Date{2027, time.March, 1}, Last: Date{2027, time.March, 31}}},
			from:     "2027-02-08",
			to:       "2027-02-10",
			wantDays: []string{"2027-02-08", "2027-02-09", "2027-02-10"},
		},
		{
			name:     "closure across the year end",
			closures: []Closure{{First: Date{2026, time.December, 28}, Last: Date{2027, time.January, 2}}},
			from:     "2026-12-27",
			to:       "2027-01-04",
			wantDays: []string{"2026-12-27", "2027-01-03", "2027-01-04"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			r := rules(60, 0, base)
			r.Closures = tc.closures
			got := slotsOn(t, c, r, tc.from, tc.to)
			if diff := cmp.Diff(tc.wantDays, daysOf(t, got)); diff != "" {
				t.Errorf("days with slots mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClosedOnReason(t *testing.T) {
	c := newCal(t, nil)
	r := rules(30, 0, hours(allWeek, iv("09:00", "12:00")))
	r.Closures = []Closure{
		{First: Date{2027, time.February, 9}, Last: Date{2027, time.February, 10}, Reason: "Inventario"},
		{First: Date{2027, time.February, 15}, Last: Date{2027, time.February, 15}},
	}
	tests := []struct {
		day  string
		want string
	}{
		{"2027-02-08", ""},
		{"2027-02-09", "Inventario"},
		{"2027-02-10", "Inventario"},
		{"2027-02-11", ""},
		{"2027-02-15", "chiusura"},
		{"2027-02-16", ""},
	}
	for _, tc := range tests {
		if got := c.ClosedOn(r, mustDate(t, tc.day)); got != tc.want {
			t.Errorf("ClosedOn(%s) = %q, want %q", tc.day, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Notice, past and horizon
// ---------------------------------------------------------------------------

func TestSlotsNoticeAndPast(t *testing.T) {
	h := hours(monToFri, iv("09:00", "12:00"))
	tests := []struct {
		name      string
		minNotice time.Duration
		now       string
		from, to  string
		want      []string
	}{
		{
			name:      "24h notice: nothing today, tomorrow from now+24h (inclusive)",
			minNotice: 24 * time.Hour,
			now:       "2027-02-09T10:00:00+01:00",
			from:      "2027-02-09",
			to:        "2027-02-10",
			want: []string{
				"2027-02-10T10:00:00+01:00",
				"2027-02-10T10:30:00+01:00",
				"2027-02-10T11:00:00+01:00",
				"2027-02-10T11:30:00+01:00",
			},
		},
		{
			name:      "24h notice given in UTC",
			minNotice: 24 * time.Hour,
			now:       "2027-02-09T09:10:00Z", // 10:10 in Rome
			from:      "2027-02-10",
			to:        "2027-02-10",
			want: []string{
				"2027-02-10T10:30:00+01:00",
				"2027-02-10T11:00:00+01:00",
				"2027-02-10T11:30:00+01:00",
			},
		},
		{
			name:      "notice over a weekend",
			minNotice: 72 * time.Hour,
			now:       "2027-02-12T11:00:00+01:00", // Friday
			from:      "2027-02-12",
			to:        "2027-02-15",
			want: []string{
				"2027-02-15T11:00:00+01:00",
				"2027-02-15T11:30:00+01:00",
			},
		},
		{
			name: "no notice: past slots of today are dropped",
			now:  "2027-02-09T10:15:00+01:00",
			from: "2027-02-09",
			to:   "2027-02-09",
			want: []string{
				"2027-02-09T10:30:00+01:00",
				"2027-02-09T11:00:00+01:00",
				"2027-02-09T11:30:00+01:00",
			},
		},
		{
			name: "no notice: a slot starting exactly now is not offered",
			now:  "2027-02-09T10:30:00+01:00",
			from: "2027-02-09",
			to:   "2027-02-09",
			want: []string{
				"2027-02-09T11:00:00+01:00",
				"2027-02-09T11:30:00+01:00",
			},
		},
		{
			name: "from before today is clamped to today",
			now:  "2027-02-09T11:10:00+01:00",
			from: "2027-01-01",
			to:   "2027-02-10",
			want: []string{
				"2027-02-09T11:30:00+01:00",
				"2027-02-10T09:00:00+01:00",
				"2027-02-10T09:30:00+01:00",
				"2027-02-10T10:00:00+01:00",
				"2027-02-10T10:30:00+01:00",
				"2027-02-10T11:00:00+01:00",
				"2027-02-10T11:30:00+01:00",
			},
		},
		{
			name: "a range entirely in the past gives nothing",
			now:  "2027-02-09T08:00:00+01:00",
			from: "2027-02-01",
			to:   "2027-02-08",
			want: []string{},
		},
		{
			name: "after closing time today, the next slot is tomorrow",
			now:  "2027-02-09T12:00:00+01:00",
			from: "2027-02-09",
			to:   "2027-02-10",
			want: []string{
				"2027-02-10T09:00:00+01:00",
				"2027-02-10T09:30:00+01:00",
				"2027-02-10T10:00:00+01:00",
				"2027-02-10T10:30:00+01:00",
				"2027-02-10T11:00:00+01:00",
				"2027-02-10T11:30:00+01:00",
			},
		},
		{
			name:      "from after to gives nothing",
			minNotice: time.Hour,
			now:       "2027-02-09T08:00:00+01:00",
			from:      "2027-02-11",
			to:        "2027-02-10",
			want:      []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			r := rules(30, 0, h)
			r.MinNotice = tc.minNotice
			now := mustTime(t, tc.now)
			got := c.Slots(r, mustDate(t, tc.from), mustDate(t, tc.to), now)
			wantStarts(t, tc.want, got)
			for _, s := range got {
				if !s.Start.After(now) || s.Start.Before(now.Add(tc.minNotice)) {
					t.Errorf("slot %s offered before now+notice %s", s.Start.Format(time.RFC3339), now.Add(tc.minNotice).Format(time.RFC3339))
				}
			}
		})
	}
}

func TestSlotsHorizon(t *testing.T) {
	h := hours(allWeek, iv("09:00", "10:00"))
	tests := []struct {
		name        string
		horizonDays int
		now         string
		from, to    string
		wantFirst   string // first day with slots
		wantLast    string // last day with slots
		wantDays    int
	}{
		{
			name:        "10 days: last day is today+10 even if to is later",
			horizonDays: 10,
			now:         "2027-02-09T08:00:00+01:00",
			from:        "2027-02-09",
			to:          "2027-03-31",
			wantFirst:   "2027-02-09",
			wantLast:    "2027-02-19",
			wantDays:    11,
		},
		{
			name:        "today is a Rome date: 23:30 UTC is already tomorrow",
			horizonDays: 10,
			now:         "2027-02-09T23:30:00Z", // 2027-02-10 00:30 in Rome
			from:        "2027-02-01",
			to:          "2027-03-31",
			wantFirst:   "2027-02-10",
			wantLast:    "2027-02-20",
			wantDays:    11,
		},
		{
			name:        "today is a Rome date in summer: 22:30 UTC is already tomorrow",
			horizonDays: 10,
			now:         "2027-07-13T22:30:00Z", // 2027-07-14 00:30 in Rome
			from:        "2027-07-01",
			to:          "2027-08-31",
			wantFirst:   "2027-07-14",
			wantLast:    "2027-07-24",
			wantDays:    11,
		},
		{
			name:        "horizon across the spring change",
			horizonDays: 3,
			now:         "2027-03-26T08:00:00+01:00",
			from:        "2027-03-26",
			to:          "2027-04-30",
			// 2027-03-28 is Easter Sunday, 2027-03-29 Easter Monday.
			wantFirst: "2027-03-26",
			wantLast:  "2027-03-27",
			wantDays:  2,
		},
		{
			name:        "horizon 0 is today only",
			horizonDays: 0,
			now:         "2027-02-09T08:00:00+01:00",
			from:        "2027-02-09",
			to:          "2027-02-28",
			wantFirst:   "2027-02-09",
			wantLast:    "2027-02-09",
			wantDays:    1,
		},
		{
			name:        "range entirely beyond the horizon",
			horizonDays: 10,
			now:         "2027-02-09T08:00:00+01:00",
			from:        "2027-02-20",
			to:          "2027-02-28",
			wantDays:    0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, nil)
			r := rules(60, 0, h)
			r.HorizonDays = tc.horizonDays
			got := c.Slots(r, mustDate(t, tc.from), mustDate(t, tc.to), mustTime(t, tc.now))
			days := daysOf(t, got)
			if len(days) != tc.wantDays {
				t.Fatalf("days with slots = %v, want %d days", days, tc.wantDays)
			}
			if tc.wantDays == 0 {
				return
			}
			if days[0] != tc.wantFirst || days[len(days)-1] != tc.wantLast {
				t.Errorf("days with slots run %s..%s, want %s..%s", days[0], days[len(days)-1], tc.wantFirst, tc.wantLast)
			}
		})
	}
}

func TestTodayAndLastBookableDay(t *testing.T) {
	c := newCal(t, nil)
	r := Rules{HorizonDays: 30}
	tests := []struct {
		now       string
		wantToday string
		wantLast  string
	}{
		{"2027-02-09T10:00:00+01:00", "2027-02-09", "2027-03-11"},
		{"2027-02-09T23:30:00Z", "2027-02-10", "2027-03-12"},
		{"2027-12-31T23:00:00Z", "2028-01-01", "2028-01-31"},
		{"2027-12-31T22:59:59Z", "2027-12-31", "2028-01-30"},
		{"2028-02-10T12:00:00+01:00", "2028-02-10", "2028-03-11"}, // leap year
	}
	for _, tc := range tests {
		now := mustTime(t, tc.now)
		if got := c.Today(now).String(); got != tc.wantToday {
			t.Errorf("Today(%s) = %s, want %s", tc.now, got, tc.wantToday)
		}
		if got := c.LastBookableDay(r, now).String(); got != tc.wantLast {
			t.Errorf("LastBookableDay(%s) = %s, want %s", tc.now, got, tc.wantLast)
		}
	}
}

// ---------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------

func TestCheck(t *testing.T) {
	// Now is Monday 29 November 2027, 10:00 in Bari. The service opens
	// Monday to Friday 09:00-12:00, 30-minute meetings with a 15-minute
	// buffer (starts 09:00, 09:45, 10:30, 11:15), 24h notice, 30 days ahead
	// (last bookable day Wednesday 29 December). The office is closed on
	// 13-14 December. 6 December is San Nicola, 8 December the Immacolata.
	now := mustTime(t, "2027-11-29T10:00:00+01:00")
	r := rules(30, 15, hours(monToFri, iv("09:00", "12:00")))
	r.MinNotice = 24 * time.Hour
	r.HorizonDays = 30
	r.Closures = []Closure{{First: Date{2027, time.December, 13}, Last: Date{2027, time.December, 14}, Reason: "Inventario"}}

	tests := []struct {
		name    string
		start   string
		field   string
		wantEnd string // set for a valid start
		wantMsg string // substring of the message for an invalid start
	}{
		{name: "valid", start: "2027-12-01T09:45:00+01:00", field: "start", wantEnd: "2027-12-01T10:15:00+01:00"},
		{name: "valid, given in UTC", start: "2027-12-01T08:45:00Z", field: "start", wantEnd: "2027-12-01T10:15:00+01:00"},
		{name: "valid exactly at now+notice", start: "2027-11-30T10:30:00+01:00", field: "start", wantEnd: "2027-11-30T11:00:00+01:00"},
		{name: "valid on the last bookable day", start: "2027-12-29T11:15:00+01:00", field: "start", wantEnd: "2027-12-29T11:45:00+01:00"},
		{name: "valid the day after the closure", start: "2027-12-15T09:00:00+01:00", field: "start", wantEnd: "2027-12-15T09:30:00+01:00"},

		{name: "past", start: "2027-11-26T09:00:00+01:00", field: "start", wantMsg: "in the past"},
		{name: "past earlier today", start: "2027-11-29T09:45:00+01:00", field: "start", wantMsg: "in the past"},
		{name: "exactly now", start: "2027-11-29T10:00:00+01:00", field: "start", wantMsg: "in the past"},
		{name: "too soon", start: "2027-11-29T11:15:00+01:00", field: "start", wantMsg: "too soon"},
		{name: "too soon tomorrow", start: "2027-11-30T09:45:00+01:00", field: "booking.start", wantMsg: "too soon"},
		{name: "beyond horizon", start: "2027-12-30T09:00:00+01:00", field: "start", wantMsg: "beyond the booking horizon"},
		{name: "far beyond horizon", start: "2028-06-01T09:00:00+02:00", field: "new_start", wantMsg: "beyond the booking horizon"},
		{name: "national holiday", start: "2027-12-08T09:00:00+01:00", field: "start", wantMsg: "Immacolata"},
		{name: "patron day", start: "2027-12-06T09:00:00+01:00", field: "start", wantMsg: "San Nicola"},
		{name: "closure first day", start: "2027-12-13T09:00:00+01:00", field: "start", wantMsg: "Inventario"},
		{name: "closure last day", start: "2027-12-14T11:15:00+01:00", field: "slot.start", wantMsg: "Inventario"},
		{name: "before opening", start: "2027-12-02T08:15:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "at closing, on the grid but would overrun", start: "2027-12-02T12:00:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "afternoon, after closing", start: "2027-12-02T15:00:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "Saturday has no hours", start: "2027-12-04T09:00:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "off grid", start: "2027-12-02T09:10:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "off grid by the buffer", start: "2027-12-02T09:30:00+01:00", field: "start", wantMsg: "not a slot"},
		{name: "off grid by seconds", start: "2027-12-02T09:00:30+01:00", field: "start", wantMsg: "not a slot"},
		{name: "right wall-clock time, wrong offset", start: "2027-12-02T09:00:00+02:00", field: "start", wantMsg: "not a slot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bari(t)
			start := mustTime(t, tc.start)
			got, err := c.Check(r, start, now, tc.field)

			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want a slot", tc.start, err)
				}
				want := []string{start.In(rome(t)).Format(time.RFC3339) + "/" + tc.wantEnd}
				if diff := cmp.Diff(want, spans([]Slot{got})); diff != "" {
					t.Errorf("Check(%s) slot mismatch (-want +got):\n%s", tc.start, diff)
				}
				// The slot Check accepts is one Slots offers.
				d := DateOf(start.In(rome(t)))
				found := false
				for _, s := range c.Slots(r, d, d, now) {
					if s.Start.Equal(start) && s.End.Equal(got.End) {
						found = true
					}
				}
				if !found {
					t.Errorf("Check(%s) accepted a slot that Slots does not offer", tc.start)
				}
				return
			}

			if err == nil {
				t.Fatalf("Check(%s) = %+v, want an error containing %q", tc.start, got, tc.wantMsg)
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Check(%s) error %T (%v) is not an *apperr.Error", tc.start, err, err)
			}
			if ae.Code != apperr.Invalid {
				t.Errorf("Code = %q, want %q", ae.Code, apperr.Invalid)
			}
			if ae.Field != tc.field {
				t.Errorf("Field = %q, want %q", ae.Field, tc.field)
			}
			if !strings.Contains(ae.Message, tc.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", ae.Message, tc.wantMsg)
			}
			if !got.Start.IsZero() || !got.End.IsZero() {
				t.Errorf("Check returned slot %+v with an error, want the zero Slot", got)
			}
		})
	}
}

func TestCheckDST(t *testing.T) {
	// Sunday-only service open all day; now is well before.
	now := at(t, 2027, time.March, 1, 8, 0)
	r := rules(60, 0, map[time.Weekday][]Interval{time.Sunday: {{Opens: 0, Closes: MinutesPerDay}}})
	tests := []struct {
		start   string
		wantErr bool
	}{
		{"2027-03-28T01:00:00+01:00", false},
		{"2027-03-28T03:00:00+02:00", false},
		{"2027-03-28T02:00:00+01:00", false}, // same instant as 03:00+02:00
		{"2027-03-28T23:00:00+02:00", false},
		{"2027-10-31T02:00:00+02:00", false}, // first 02:00
		{"2027-10-31T02:00:00+01:00", false}, // second 02:00
		{"2027-10-31T23:00:00+01:00", false},
		{"2027-10-31T02:30:00+01:00", true},
		// Given in UTC, the Rome date decides: 23:00Z on Saturday is
		// midnight on Sunday in Rome.
		{"2027-03-27T23:00:00Z", false},
		{"2027-10-30T22:00:00Z", false},
		{"2027-10-31T23:00:00Z", true}, // Monday 00:00 in Rome
	}
	for _, tc := range tests {
		t.Run(tc.start, func(t *testing.T) {
			c := noHolidays(t)
			start := mustTime(t, tc.start)
			got, err := c.Check(r, start, now, "start")
			if tc.wantErr {
				if !apperr.Is(err, apperr.Invalid) {
					t.Errorf("Check(%s) error = %v, want Invalid", tc.start, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%s): %v", tc.start, err)
			}
			if !got.Start.Equal(start) || got.End.Sub(got.Start) != time.Hour {
				t.Errorf("Check(%s) = %s..%s, want a one-hour slot at the start", tc.start, got.Start.Format(time.RFC3339), got.End.Format(time.RFC3339))
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Date helpers
// ---------------------------------------------------------------------------

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    Date
		wantErr bool
	}{
		{in: "2027-03-28", want: Date{2027, time.March, 28}},
		{in: "2028-02-29", want: Date{2028, time.February, 29}},
		{in: "0999-01-01", want: Date{999, time.January, 1}},
		{in: "2027-02-29", wantErr: true},
		{in: "2027-13-01", wantErr: true},
		{in: "2027-00-10", wantErr: true},
		{in: "2027-3-28", wantErr: true},
		{in: "28/03/2027", wantErr: true},
		{in: "2027-03-28T00:00:00Z", wantErr: true},
		{in: " 2027-03-28", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParseDate(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("ParseDate(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDate(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDate(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if got.String() != tc.in {
				t.Errorf("ParseDate(%q).String() = %q, want the input back", tc.in, got.String())
			}
		})
	}
}

func TestAddDays(t *testing.T) {
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2027-02-09", 0, "2027-02-09"},
		{"2027-01-31", 1, "2027-02-01"},
		{"2027-02-28", 1, "2027-03-01"},
		{"2028-02-28", 1, "2028-02-29"},
		{"2028-02-29", 1, "2028-03-01"},
		{"2027-12-31", 1, "2028-01-01"},
		{"2027-01-01", -1, "2026-12-31"},
		{"2027-03-01", -1, "2027-02-28"},
		{"2027-03-27", 2, "2027-03-29"}, // across the spring change
		{"2027-10-30", 2, "2027-11-01"}, // across the fall change
		{"2027-01-01", 365, "2028-01-01"},
		{"2028-01-01", 366, "2029-01-01"},
		{"2027-12-20", 30, "2028-01-19"},
		{"2027-01-15", -45, "2026-12-01"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s%+d", tc.from, tc.n), func(t *testing.T) {
			if got := mustDate(t, tc.from).AddDays(tc.n).String(); got != tc.want {
				t.Errorf("%s.AddDays(%d) = %s, want %s", tc.from, tc.n, got, tc.want)
			}
		})
	}
}

func TestDaysUntil(t *testing.T) {
	tests := []struct {
		from, to string
		want     int
	}{
		{"2027-02-09", "2027-02-09", 0},
		{"2027-02-09", "2027-02-19", 10},
		{"2027-03-27", "2027-03-29", 2}, // 47 hours in Rome: still two days
		{"2027-10-30", "2027-11-01", 2}, // 49 hours in Rome
		{"2027-01-31", "2027-03-01", 29},
		{"2028-01-31", "2028-03-01", 30},
		{"2027-01-01", "2028-01-01", 365},
		{"2028-01-01", "2029-01-01", 366},
		{"2027-12-31", "2028-01-01", 1},
		{"2027-02-19", "2027-02-09", -10},
		{"2027-01-01", "2026-12-31", -1},
	}
	for _, tc := range tests {
		t.Run(tc.from+".."+tc.to, func(t *testing.T) {
			from, to := mustDate(t, tc.from), mustDate(t, tc.to)
			if got := from.DaysUntil(to); got != tc.want {
				t.Errorf("%s.DaysUntil(%s) = %d, want %d", tc.from, tc.to, got, tc.want)
			}
			if got := from.AddDays(tc.want); got != to {
				t.Errorf("%s.AddDays(%d) = %s, want %s (AddDays and DaysUntil disagree)", tc.from, tc.want, got, tc.to)
			}
		})
	}
}

func TestDateCompareAndWeekday(t *testing.T) {
	a, b := mustDate(t, "2027-12-31"), mustDate(t, "2028-01-01")
	if !a.Before(b) || a.After(b) || a.Compare(b) != -1 {
		t.Errorf("%s vs %s: Before=%v After=%v Compare=%d, want true false -1", a, b, a.Before(b), a.After(b), a.Compare(b))
	}
	if b.Before(a) || !b.After(a) || b.Compare(a) != 1 {
		t.Errorf("%s vs %s: Before=%v After=%v Compare=%d, want false true 1", b, a, b.Before(a), b.After(a), b.Compare(a))
	}
	if a.Before(a) || a.After(a) || a.Compare(a) != 0 {
		t.Errorf("%s vs itself: Before=%v After=%v Compare=%d, want false false 0", a, a.Before(a), a.After(a), a.Compare(a))
	}
	for day, want := range map[string]time.Weekday{
		"2027-03-28": time.Sunday,
		"2027-03-29": time.Monday,
		"2027-10-31": time.Sunday,
		"2027-12-06": time.Monday,
		"2028-02-29": time.Tuesday,
	} {
		if got := mustDate(t, day).Weekday(); got != want {
			t.Errorf("%s.Weekday() = %s, want %s", day, got, want)
		}
	}
}

func TestDateOfUsesTheTimesLocation(t *testing.T) {
	utc := mustTime(t, "2027-02-09T23:30:00Z")
	if got := DateOf(utc).String(); got != "2027-02-09" {
		t.Errorf("DateOf(UTC) = %s, want 2027-02-09", got)
	}
	if got := DateOf(utc.In(rome(t))).String(); got != "2027-02-10" {
		t.Errorf("DateOf(Rome) = %s, want 2027-02-10", got)
	}
}

func TestDateIn(t *testing.T) {
	loc := rome(t)
	tests := []struct {
		day    string
		minute int
		want   string
	}{
		{"2027-02-10", hm("09:00"), "2027-02-10T09:00:00+01:00"},
		{"2027-07-14", hm("09:00"), "2027-07-14T09:00:00+02:00"},
		{"2027-02-10", MinutesPerDay, "2027-02-11T00:00:00+01:00"},
		{"2027-03-28", MinutesPerDay, "2027-03-29T00:00:00+02:00"},
		{"2027-10-31", 0, "2027-10-31T00:00:00+02:00"},
		{"2027-10-31", MinutesPerDay, "2027-11-01T00:00:00+01:00"},
		{"2027-12-31", MinutesPerDay, "2028-01-01T00:00:00+01:00"},
	}
	for _, tc := range tests {
		if got := mustDate(t, tc.day).In(loc, tc.minute).Format(time.RFC3339); got != tc.want {
			t.Errorf("%s.In(Rome, %d) = %s, want %s", tc.day, tc.minute, got, tc.want)
		}
	}
}

// TestOpenOnHolidays: a service open on holidays has its slots on
// Christmas and the patron day, but still honours its closures.
func TestOpenOnHolidays(t *testing.T) {
	c := bari(t)
	r := rules(60, 0, hours(allWeek, iv("09:00", "11:00")))
	r.OpenOnHolidays = true
	for _, day := range []string{"2027-12-25", "2027-12-06", "2027-03-29"} {
		if got := slotsOn(t, c, r, day, day); len(got) != 2 {
			t.Errorf("%s: %d slots, want 2 on a holiday for a service open on holidays", day, len(got))
		}
	}
	r.Closures = []Closure{{First: mustDate(t, "2027-12-25"), Last: mustDate(t, "2027-12-25"), Reason: "Chiuso"}}
	if got := c.ClosedOn(r, mustDate(t, "2027-12-25")); got != "Chiuso" {
		t.Errorf("closure on a holiday: ClosedOn = %q, want the closure", got)
	}
}

// TestSlotAtFindsTheDaySlots: the hold's check finds a slot by arithmetic
// on the time grid (slotAt); the calendar lists them (daySlots). For every
// minute of ordinary days and of both daylight-saving days, under rules of
// several durations, buffers and split or whole-day hours, the two agree:
// the same slots, in the calendar's zone, and nothing between them.
func TestSlotAtFindsTheDaySlots(t *testing.T) {
	c := noHolidays(t)
	days := []string{"2027-03-26", "2027-03-28", "2027-10-31", "2027-12-01"}
	for _, r := range []Rules{
		rules(30, 0, hours(allWeek, iv("09:00", "13:00"), iv("14:00", "17:00"))),
		rules(15, 10, hours(allWeek, iv("08:30", "12:20"))),
		rules(45, 5, hours(allWeek, iv("00:00", "24:00"))),
		rules(60, 0, hours(allWeek, iv("01:00", "04:00"))), // across the changes at 02:00 and 03:00
		rules(0, 0, hours(allWeek, iv("09:00", "10:00"))),
	} {
		for _, day := range days {
			d := mustDate(t, day)
			want := map[time.Time]Slot{}
			for _, s := range c.daySlots(r, d) {
				want[s.Start] = s
			}
			found := 0
			from := d.In(c.Location, 0)
			for m := time.Duration(-60); m <= 25*60; m++ {
				start := from.Add(m * time.Minute)
				got, ok := c.slotAt(r, d, start)
				w, isSlot := want[start]
				if ok != isSlot || (ok && (got != w || got.Start.Location() != c.Location)) {
					t.Errorf("%s %v (duration %s, buffer %s): slotAt = %v, %v; daySlots has %v, %v",
						day, start, r.Duration, r.Buffer, got, ok, w, isSlot)
				}
				if ok {
					found++
				}
			}
			if found != len(want) {
				t.Errorf("%s (duration %s): slotAt found %d slots, daySlots lists %d", day, r.Duration, found, len(want))
			}
		}
	}
}
