package admin

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/domain/text"
)

func trim(s string) string { return strings.TrimSpace(s) }

// Normalize trims the texts of an office to create.
func (in OfficeInput) Normalize() OfficeInput {
	in.Name, in.Description, in.Address = trim(in.Name), trim(in.Description), trim(in.Address)
	return in
}

// Normalize trims the texts of a service to create.
func (in ServiceInput) Normalize() ServiceInput {
	in.Name, in.Description, in.WhatToBring = trim(in.Name), trim(in.Description), trim(in.WhatToBring)
	return in
}

// Normalize trims the reason of a closure.
func (in ClosureInput) Normalize() ClosureInput {
	in.Reason = trim(in.Reason)
	return in
}

// Normalize trims the texts of an operator to create and lower-cases the
// email.
func (in OperatorInput) Normalize() OperatorInput {
	in.Email, in.DisplayName = operator.NormalizeEmail(in.Email), trim(in.DisplayName)
	if in.Offices == nil {
		in.Offices = []string{}
	}
	return in
}

// ValidateLabel checks a desk's label.
func ValidateLabel(label string) error {
	var v apperr.Validation
	line(&v, "label", label, true, MaxLabel)
	return v.Err()
}

// ValidatePassword checks a password an administrator sets.
func ValidatePassword(pw string) error {
	var v apperr.Validation
	checkPassword(&v, "password", pw)
	return v.Err()
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// line is a one-line text (a name, a label), long is a text that may span
// lines (a description, what to bring).
func line(v *apperr.Validation, field, s string, required bool, max int) {
	text.Check(v, field, s, text.Rules{Required: required, Max: max})
}

func long(v *apperr.Validation, field, s string, max int) {
	text.Check(v, field, s, text.Rules{Max: max, Multiline: true})
}

func checkRange(v *apperr.Validation, field string, n, min, max int) {
	if n < min || n > max {
		v.OutOfRange(field, int64(min), int64(max))
	}
}

// checkOptional checks a number that may be left to its default (nil):
// else a whole number from 1 to max.
func checkOptional(v *apperr.Validation, field string, n *int, max int) {
	if n != nil {
		checkRange(v, field, *n, 1, max)
	}
}

// checkLimits checks an office's limits, named limits.<member>.
func checkLimits(v *apperr.Validation, l OfficeLimits) {
	checkOptional(v, "limits.max_holds_per_client", l.MaxHoldsPerClient, MaxHoldsPerClient)
	checkOptional(v, "limits.holds_per_minute_per_client", l.HoldsPerMinutePerClient, MaxHoldsPerMinutePerClient)
	checkOptional(v, "limits.holds_per_minute_per_address", l.HoldsPerMinutePerAddress, MaxHoldsPerMinutePerAddress)
}

func checkID(v *apperr.Validation, field, id string) {
	if !booking.ValidID(id) {
		v.Add(field, apperr.InvalidFormat, "must be 1 to 63 lower-case letters, digits or dashes, starting with a letter or digit")
	}
}

// Validate checks an office to create.
func (in OfficeInput) Validate() error {
	var v apperr.Validation
	checkID(&v, "id", in.ID)
	checkNamed(&v, &in.Name, &in.Description)
	line(&v, "address", in.Address, false, MaxAddress)
	checkRange(&v, "position", in.Position, -1000000, 1000000)
	checkLimits(&v, in.Limits)
	return v.Err()
}

// Validate checks an office patch.
func (p OfficePatch) Validate() error {
	var v apperr.Validation
	checkNamed(&v, p.Name, p.Description)
	if p.Address != nil {
		line(&v, "address", *p.Address, false, MaxAddress)
	}
	if p.Position != nil {
		checkRange(&v, "position", *p.Position, -1000000, 1000000)
	}
	if p.Limits != nil {
		// The limits p sets, and only those: the others are nil.
		checkLimits(&v, p.Limits.Apply(OfficeLimits{}))
	}
	return v.Err()
}

// checkNamed checks the name and the description of an office or a
// service, those that are there (not nil).
func checkNamed(v *apperr.Validation, name, description *string) {
	if name != nil {
		line(v, "name", *name, true, MaxName)
	}
	if description != nil {
		long(v, "description", *description, MaxDescription)
	}
}

// checkTerms checks the terms p sets (not nil) and the service's position
// when set, in the order a service's fields are listed.
func checkTerms(v *apperr.Validation, p TermsPatch, position *int) {
	for _, c := range []struct {
		field    string
		n        *int
		min, max int
	}{
		{"duration_minutes", p.DurationMinutes, 5, 480},
		{"buffer_minutes", p.BufferMinutes, 0, 240},
		{"min_notice_minutes", p.MinNoticeMinutes, 0, 43200},
		{"horizon_days", p.HorizonDays, 1, 366},
		{"cancel_cutoff_minutes", p.CancelCutoffMinutes, 0, 43200},
		{"position", position, -1000000, 1000000},
	} {
		if c.n != nil {
			checkRange(v, c.field, *c.n, c.min, c.max)
		}
	}
	if p.WhatToBring != nil {
		long(v, "what_to_bring", *p.WhatToBring, MaxDescription)
	}
}

// Validate checks a service to create.
func (in ServiceInput) Validate() error {
	var v apperr.Validation
	checkID(&v, "id", in.ID)
	checkID(&v, "office_id", in.OfficeID)
	checkNamed(&v, &in.Name, &in.Description)
	checkTerms(&v, patchOf(&in.Terms), &in.Position)
	checkOptional(&v, "admission_per_minute", in.AdmissionPerMinute, MaxAdmissionPerMinute)
	return v.Err()
}

// Validate checks a service patch.
func (p ServicePatch) Validate() error {
	var v apperr.Validation
	checkNamed(&v, p.Name, p.Description)
	checkTerms(&v, p.TermsPatch, p.Position)
	checkOptional(&v, "admission_per_minute", p.AdmissionPerMinute.Value, MaxAdmissionPerMinute)
	return v.Err()
}

// ValidateHours checks a week of opening hours: weekdays 1 to 7, times
// HH:MM (closing at 24:00 allowed), each period opening before it closes,
// and no two periods of a day overlapping.
func ValidateHours(field string, hours []booking.Hours) error {
	var v apperr.Validation
	if len(hours) > MaxIntervals {
		v.Add(field, apperr.TooMany, "at most %d opening periods", MaxIntervals).With(MaxIntervals)
		return v.Err()
	}
	type iv struct{ i, opens, closes int }
	byDay := map[int][]iv{}
	for i, h := range hours {
		at := fmt.Sprintf("%s[%d]", field, i)
		ok := true
		if h.Weekday < 1 || h.Weekday > 7 {
			v.OutOfRange(at+".weekday", 1, 7)
			ok = false
		}
		if !hhmm.MatchString(h.Opens) {
			v.Add(at+".opens", apperr.InvalidFormat, "must be a time like 09:00")
			ok = false
		}
		if !hhmm.MatchString(h.Closes) && h.Closes != "24:00" {
			v.Add(at+".closes", apperr.InvalidFormat, "must be a time like 12:30 (24:00 for midnight)")
			ok = false
		}
		if !ok {
			continue
		}
		o, c := clockMinutes(h.Opens), clockMinutes(h.Closes)
		if o >= c {
			v.Add(at+".closes", apperr.Order, "must be after opens")
			continue
		}
		byDay[h.Weekday] = append(byDay[h.Weekday], iv{i, o, c})
	}
	days := make([]int, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	sort.Ints(days)
	for _, d := range days {
		ivs := byDay[d]
		sort.Slice(ivs, func(a, b int) bool { return ivs[a].opens < ivs[b].opens })
		for k := 1; k < len(ivs); k++ {
			if ivs[k].opens < ivs[k-1].closes {
				v.Add(fmt.Sprintf("%s[%d].opens", field, ivs[k].i), apperr.Overlap, "overlaps another opening period of the same day")
			}
		}
	}
	return v.Err()
}

func clockMinutes(s string) int {
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	return h*60 + m
}

// Validate checks a closure and returns its days.
func (in ClosureInput) Validate() (schedule.Date, schedule.Date, error) {
	var v apperr.Validation
	if in.OfficeID != nil {
		checkID(&v, "office_id", *in.OfficeID)
	}
	first, err1 := schedule.ParseDate(in.FirstDay)
	if err1 != nil {
		v.Add("first_day", apperr.InvalidFormat, "must be a date like 2027-12-06")
	}
	last, err2 := schedule.ParseDate(in.LastDay)
	if err2 != nil {
		v.Add("last_day", apperr.InvalidFormat, "must be a date like 2027-12-06")
	}
	if err1 == nil && err2 == nil {
		switch {
		case last.Before(first):
			v.Add("last_day", apperr.Order, "must not be before first_day")
		case first.DaysUntil(last) >= MaxClosureDays:
			v.Add("last_day", apperr.TooMany, "a closure lasts at most %d days", MaxClosureDays).With(MaxClosureDays)
		}
	}
	line(&v, "reason", in.Reason, false, MaxReason)
	return first, last, v.Err()
}

func checkRole(v *apperr.Validation, field, role string) {
	if role != operator.RoleOperator && role != operator.RoleAdministrator {
		v.NotAllowed(field, operator.Roles...)
	}
}

func checkOffices(v *apperr.Validation, field string, ids []string) {
	seen := map[string]bool{}
	for i, id := range ids {
		at := fmt.Sprintf("%s[%d]", field, i)
		checkID(v, at, id)
		if seen[id] {
			v.Add(at, apperr.Duplicate, "listed twice")
		}
		seen[id] = true
	}
}

func checkPassword(v *apperr.Validation, field, pw string) {
	switch {
	case len(pw) < operator.MinPassword:
		v.Add(field, apperr.TooShort, "at least %d characters", operator.MinPassword).With(operator.MinPassword)
	case len(pw) > operator.MaxPassword:
		v.Add(field, apperr.TooLong, "at most %d bytes", operator.MaxPassword).With(operator.MaxPassword)
	case !utf8.ValidString(pw):
		v.Add(field, apperr.InvalidText, "must be valid text")
	}
}

// Validate checks an operator to create.
func (in OperatorInput) Validate() error {
	var v apperr.Validation
	text.Email(&v, "email", operator.NormalizeEmail(in.Email))
	line(&v, "display_name", in.DisplayName, true, MaxName)
	checkRole(&v, "role", in.Role)
	checkOffices(&v, "offices", in.Offices)
	checkPassword(&v, "password", in.Password)
	return v.Err()
}

// Validate checks an operator patch.
func (p OperatorPatch) Validate() error {
	var v apperr.Validation
	if p.DisplayName != nil {
		line(&v, "display_name", *p.DisplayName, true, MaxName)
	}
	if p.Role != nil {
		checkRole(&v, "role", *p.Role)
	}
	if p.Offices != nil {
		checkOffices(&v, "offices", *p.Offices)
	}
	return v.Err()
}
