// Package admin holds the domain of the administration: offices, services
// with their weekly hours and desks, closures and operator accounts as an
// administrator sees and changes them, what a change may do to the
// bookings already made (the stranded-bookings rule), and the validation
// of every input.
//
// The stranded-bookings rule. A change that can leave confirmed future
// bookings outside what the configuration allows (a closure, a deactivated
// desk, service or office, new hours, a longer duration, a service no
// longer open on public holidays) re-examines every future booking of the
// services concerned against the new configuration. A booking on a
// deactivated desk moves to another free desk at the same time where it
// can; a live hold that no longer fits expires; a confirmed booking that no
// longer fits is stranded: the change is refused (Stranded) unless the
// caller asked to cancel them (ChangeOptions.CancelAffected). A dry run
// does all of it and writes nothing. The store applies the rule.
package admin

import (
	"encoding/json"
	"time"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
)

// Limits of the administration's fields.
const (
	MaxName        = 200 // characters
	MaxDescription = 2000
	MaxAddress     = 300
	MaxLabel       = 100
	MaxReason      = 200
	MaxClosureDays = 366 // days in one closure
	MaxIntervals   = 50  // opening periods in one week
)

// The largest click-day limits of an office and admission rate of a
// service, as the database checks them (the smallest is 1).
const (
	MaxHoldsPerClient           = 100     // live holds of one client at once
	MaxHoldsPerMinutePerClient  = 10000   // holds one client asks for in a minute
	MaxHoldsPerMinutePerAddress = 1000000 // holds one network address asks for in a minute
	MaxAdmissionPerMinute       = 100000  // citizens a waiting room lets in per minute
)

// Nullable is a member of a change (a PATCH body) that may be left out
// (Set false: unchanged), null (Set, Value nil: back to the default) or a
// value.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the member was sent, null or a T. A value
// that is no T is the decoder's *json.UnmarshalTypeError, which names the
// member's path.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// Apply returns what n sets, or cur when n was left out.
func (n Nullable[T]) Apply(cur *T) *T {
	if n.Set {
		return n.Value
	}
	return cur
}

// OfficeLimits are an office's own click-day limits, which reserve applies
// to the holds of the office's services. A nil limit is the counter's
// default (reserve's MAX_HOLDS_PER_CLIENT, HOLDS_PER_MINUTE_PER_CLIENT and
// HOLDS_PER_MINUTE_PER_ADDRESS).
type OfficeLimits struct {
	MaxHoldsPerClient        *int `json:"max_holds_per_client"`         // live holds of one client at once; a new one releases the oldest
	HoldsPerMinutePerClient  *int `json:"holds_per_minute_per_client"`  // holds one client may ask for in a minute
	HoldsPerMinutePerAddress *int `json:"holds_per_minute_per_address"` // holds one network address may ask for in a minute
}

// OfficeLimitsPatch changes an office's limits: a member left out stays as
// it is, a null one goes back to the default.
type OfficeLimitsPatch struct {
	MaxHoldsPerClient        Nullable[int] `json:"max_holds_per_client"`
	HoldsPerMinutePerClient  Nullable[int] `json:"holds_per_minute_per_client"`
	HoldsPerMinutePerAddress Nullable[int] `json:"holds_per_minute_per_address"`
}

// Apply returns cur with the limits p sets.
func (p OfficeLimitsPatch) Apply(cur OfficeLimits) OfficeLimits {
	return OfficeLimits{
		MaxHoldsPerClient:        p.MaxHoldsPerClient.Apply(cur.MaxHoldsPerClient),
		HoldsPerMinutePerClient:  p.HoldsPerMinutePerClient.Apply(cur.HoldsPerMinutePerClient),
		HoldsPerMinutePerAddress: p.HoldsPerMinutePerAddress.Apply(cur.HoldsPerMinutePerAddress),
	}
}

// The reasons a booking is stranded.
const (
	StrandOfficeInactive  = "office_inactive"
	StrandServiceInactive = "service_inactive"
	StrandClosed          = "closed"        // a closure or a public holiday
	StrandOutsideHours    = "outside_hours" // not inside one of the day's opening periods
	StrandDuration        = "duration"      // the service's meetings now last longer than the booked time
	StrandNoDesk          = "no_desk"       // its desk was deactivated and no other is free
)

// ChangeOptions say how a change that may strand bookings is applied.
type ChangeOptions struct {
	Actor          string // the administrator's operator id
	CancelAffected bool   // cancel the stranded bookings instead of refusing
	DryRun         bool   // do everything, report it, and roll back
}

// Affected is a booking a change strands. It carries no personal data.
type Affected struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"service_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Desk      string    `json:"desk"`
	Reason    string    `json:"reason"` // one of the Strand* values
}

// ChangeResult is what a change did (or, in a dry run, would do) to
// bookings: the confirmed bookings it cancelled and those it moved to
// another desk. Holds it expired are not listed.
type ChangeResult struct {
	DryRun     bool                      `json:"dry_run"`
	Cancelled  []Affected                `json:"cancelled"`
	Reassigned []events.DeskReassignment `json:"reassigned"`
}

// CancelledIDs lists the ids of the bookings the change cancelled.
func (r ChangeResult) CancelledIDs() []string {
	ids := make([]string, 0, len(r.Cancelled))
	for _, a := range r.Cancelled {
		ids = append(ids, a.ID)
	}
	return ids
}

// Stranded is the refusal of a change that would strand confirmed
// bookings: a Conflict naming field, whose problem lists the bookings.
func Stranded(field string, bookings []Affected) *apperr.Error {
	e := apperr.New(apperr.Conflict, field, "the change would strand %d confirmed future booking(s), listed in \"bookings\": "+
		"send \"cancel_affected\": true to apply it and cancel them (their citizens are told by mail)", len(bookings))
	e.Members = map[string]any{"bookings": bookings}
	return e
}

// Office is an office as the administration sees it.
type Office struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Address     string       `json:"address"`
	Position    int          `json:"position"`
	Active      bool         `json:"active"`
	Limits      OfficeLimits `json:"limits"`
}

// OfficeInput creates an office. Limits left out or null are the defaults.
type OfficeInput struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Address     string       `json:"address"`
	Position    int          `json:"position"`
	Limits      OfficeLimits `json:"limits"`
}

// OfficePatch changes an office: nil fields stay as they are, and so do
// the limits Limits leaves out.
type OfficePatch struct {
	Name        *string            `json:"name"`
	Description *string            `json:"description"`
	Address     *string            `json:"address"`
	Position    *int               `json:"position"`
	Active      *bool              `json:"active"`
	Limits      *OfficeLimitsPatch `json:"limits"`
}

// Desk is a desk of a service: one booking at a time.
type Desk struct {
	ID        int64  `json:"id"`
	ServiceID string `json:"service_id"`
	Label     string `json:"label"`
	Active    bool   `json:"active"`
}

// DeskPatch changes a desk.
type DeskPatch struct {
	Label  *string `json:"label"`
	Active *bool   `json:"active"`
}

// Service is a service as the administration sees it.
type Service struct {
	ID          string `json:"id"`
	OfficeID    string `json:"office_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	booking.Terms
	Active             bool            `json:"active"`
	Position           int             `json:"position"`
	AdmissionPerMinute *int            `json:"admission_per_minute"` // nil: no waiting room of its own
	Hours              []booking.Hours `json:"opening_hours"`
	Desks              []Desk          `json:"desks"`
}

// ServiceInput creates a service (active, without desks or hours: add
// them). AdmissionPerMinute left out or null: no waiting room of its own.
type ServiceInput struct {
	ID          string `json:"id"`
	OfficeID    string `json:"office_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	booking.Terms
	Position           int  `json:"position"`
	AdmissionPerMinute *int `json:"admission_per_minute"`
}

// ServicePatch changes a service: nil fields stay as they are, and so
// does AdmissionPerMinute left out (null: no waiting room of its own).
type ServicePatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	TermsPatch
	Active             *bool         `json:"active"`
	Position           *int          `json:"position"`
	AdmissionPerMinute Nullable[int] `json:"admission_per_minute"`
}

// TermsPatch changes a service's terms: nil fields stay as they are.
type TermsPatch struct {
	DurationMinutes     *int    `json:"duration_minutes"`
	BufferMinutes       *int    `json:"buffer_minutes"`
	MinNoticeMinutes    *int    `json:"min_notice_minutes"`
	HorizonDays         *int    `json:"horizon_days"`
	CancelCutoffMinutes *int    `json:"cancel_cutoff_minutes"`
	WhatToBring         *string `json:"what_to_bring"`
	OpenOnHolidays      *bool   `json:"open_on_holidays"`
}

// patchOf is the patch that sets every term to t's.
func patchOf(t *booking.Terms) TermsPatch {
	return TermsPatch{&t.DurationMinutes, &t.BufferMinutes, &t.MinNoticeMinutes, &t.HorizonDays,
		&t.CancelCutoffMinutes, &t.WhatToBring, &t.OpenOnHolidays}
}

// StrandingField names the first field of p that may strand bookings of
// the service cur, or "" when none does.
func (p ServicePatch) StrandingField(cur Service) string {
	switch {
	case p.Active != nil && !*p.Active && cur.Active:
		return "active"
	case p.DurationMinutes != nil && *p.DurationMinutes > cur.DurationMinutes:
		return "duration_minutes"
	case p.OpenOnHolidays != nil && !*p.OpenOnHolidays && cur.OpenOnHolidays:
		return "open_on_holidays"
	}
	return ""
}

// Apply returns cur with the fields p sets (texts trimmed).
func (p ServicePatch) Apply(cur Service) Service {
	setText(&cur.Name, p.Name)
	setText(&cur.Description, p.Description)
	cur.Terms = p.TermsPatch.Apply(cur.Terms)
	if p.Position != nil {
		cur.Position = *p.Position
	}
	setBool(&cur.Active, p.Active)
	cur.AdmissionPerMinute = p.AdmissionPerMinute.Apply(cur.AdmissionPerMinute)
	return cur
}

// Apply returns cur with the terms p sets (what to bring trimmed).
func (p TermsPatch) Apply(cur booking.Terms) booking.Terms {
	for _, f := range []struct{ dst, src *int }{
		{&cur.DurationMinutes, p.DurationMinutes}, {&cur.BufferMinutes, p.BufferMinutes},
		{&cur.MinNoticeMinutes, p.MinNoticeMinutes}, {&cur.HorizonDays, p.HorizonDays},
		{&cur.CancelCutoffMinutes, p.CancelCutoffMinutes},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	setText(&cur.WhatToBring, p.WhatToBring)
	setBool(&cur.OpenOnHolidays, p.OpenOnHolidays)
	return cur
}

// Apply returns cur with the fields p sets (texts trimmed).
func (p OfficePatch) Apply(cur Office) Office {
	setText(&cur.Name, p.Name)
	setText(&cur.Description, p.Description)
	setText(&cur.Address, p.Address)
	if p.Position != nil {
		cur.Position = *p.Position
	}
	setBool(&cur.Active, p.Active)
	if p.Limits != nil {
		cur.Limits = p.Limits.Apply(cur.Limits)
	}
	return cur
}

// Closure is a closure of an office (OfficeID nil: of every office).
type Closure struct {
	ID       int64   `json:"id"`
	OfficeID *string `json:"office_id"`
	FirstDay string  `json:"first_day"`
	LastDay  string  `json:"last_day"`
	Reason   string  `json:"reason"`
}

// ClosureInput adds a closure.
type ClosureInput struct {
	OfficeID *string `json:"office_id"` // null or absent: every office
	FirstDay string  `json:"first_day"`
	LastDay  string  `json:"last_day"`
	Reason   string  `json:"reason"`
}

// Operator is an operator account. It carries personal data (the email and
// name): never log it.
type Operator struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Active      bool      `json:"active"`
	Offices     []string  `json:"offices"`
	CreatedAt   time.Time `json:"created_at"`
}

// OperatorInput creates an operator.
type OperatorInput struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Offices     []string `json:"offices"`
	Password    string   `json:"password"`
}

// OperatorPatch changes an operator: nil fields stay as they are.
type OperatorPatch struct {
	DisplayName *string   `json:"display_name"`
	Role        *string   `json:"role"`
	Offices     *[]string `json:"offices"`
	Active      *bool     `json:"active"`
}

func setText(dst, src *string) {
	if src != nil {
		*dst = trim(*src)
	}
}

func setBool(dst, src *bool) {
	if src != nil {
		*dst = *src
	}
}

func notFound(kind, field, id string) error {
	return apperr.New(apperr.NotFound, field, "no %s with id %q", kind, id)
}

// OfficeNotFound, ServiceNotFound, DeskNotFound, ClosureNotFound and
// OperatorNotFound are the answers to an unknown id named by field.
func OfficeNotFound(field, id string) error  { return notFound("office", field, id) }
func ServiceNotFound(field, id string) error { return notFound("service", field, id) }
func DeskNotFound(id string) error           { return notFound("desk", "id", id) }
func ClosureNotFound(id string) error        { return notFound("closure", "id", id) }
func OperatorNotFound(id string) error       { return notFound("operator", "id", id) }
