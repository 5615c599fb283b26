package schedule

import (
	"fmt"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/it"
)

// SanFrancesco is 4 October, a national holiday again from 2026 (Legge
// 151/2025). rickar/cal does not list it yet.
var SanFrancesco = &cal.Holiday{
	Name:      "San Francesco d'Assisi",
	Type:      cal.ObservancePublic,
	Month:     time.October,
	Day:       4,
	StartYear: 2026,
	Func:      cal.CalcDayOfMonth,
}

// Pasqua is Easter Sunday, a holiday by Legge 260/1949 that rickar/cal's
// Italian list leaves out (it matters to services open on Sundays).
var Pasqua = aa.Easter.Clone(&cal.Holiday{Name: "Pasqua", Type: cal.ObservancePublic})

// PatronDay is the municipality's patron saint's day, a local closure.
type PatronDay struct {
	Month time.Month
	Day   int
	Name  string
}

// ParsePatronDay reads "MM-DD" (Bari: "12-06"). The empty string means none.
func ParsePatronDay(s, name string) (*PatronDay, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse("01-02", s)
	if err != nil {
		return nil, fmt.Errorf("patron day %q: want MM-DD", s)
	}
	return &PatronDay{Month: t.Month(), Day: t.Day(), Name: name}, nil
}

// Holidays tells whether a date is a public holiday: the Italian national
// holidays (Easter and Easter Monday included) and the patron day. A nil
// *Holidays has none, which tests of pure time arithmetic use.
type Holidays struct {
	cal *cal.Calendar
}

// NewHolidays returns the national holidays plus the patron day, if any.
func NewHolidays(patron *PatronDay) *Holidays {
	c := &cal.Calendar{}
	c.AddHoliday(it.Holidays...)
	c.AddHoliday(Pasqua, SanFrancesco)
	if patron != nil {
		name := patron.Name
		if name == "" {
			name = "Santo patrono"
		}
		c.AddHoliday(&cal.Holiday{Name: name, Type: cal.ObservancePublic, Month: patron.Month, Day: patron.Day, Func: cal.CalcDayOfMonth})
	}
	return &Holidays{cal: c}
}

// On returns the name of the holiday on d, or "" when d is not one.
func (h *Holidays) On(d Date) string {
	if h == nil {
		return ""
	}
	actual, _, hol := h.cal.IsHoliday(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC))
	if !actual || hol == nil {
		return ""
	}
	return hol.Name
}
