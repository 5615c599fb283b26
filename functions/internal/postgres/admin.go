package postgres

// Administration: offices, services, weekly hours, closures, desks and
// operator accounts, changed by an administrator.
//
// The stranded-bookings rule. A change that can leave confirmed future
// bookings outside what the configuration allows (a closure, a deactivated
// desk, service or office, new hours, a longer duration, a service no
// longer open on public holidays) is
// applied inside one transaction that then re-examines every future active
// booking of the services concerned against the NEW configuration (see
// strandedBy: can the booking still take place as booked?):
//   - a booking on a deactivated desk moves to another free active desk of
//     its service at the same time, if there is one (listed in Reassigned);
//   - a live hold that no longer fits is expired, with its booking.expired.v1;
//   - a confirmed booking that no longer fits is stranded. Unless the caller
//     asked to cancel them (CancelAffected), the change is refused with a
//     *StrandedError listing them and nothing is written; with it, each one is
//     cancelled in the same transaction with its booking.cancelled.v1
//     (cancelled_by "operator", the administrator as the audit actor), so the
//     mail chain tells its citizen.
//
// A dry run does all of it and rolls back, so its answer is exactly what the
// change would do.
//
// Concurrency. Such a change takes the configuration lock (a transaction
// advisory lock) exclusively before it changes anything; every write that
// puts an active booking somewhere (Reserve, a reschedule) takes it shared
// before it reads the rules (lockConfigurationShared in bookings.go). So a
// reservation racing a change either commits first, and the change finds
// and handles its booking, or waits and is checked against the new rules:
// no booking is ever stranded unseen. The candidate rows are locked before
// the configuration lock is taken, so that a citizen rescheduling one of
// them (row lock, then the shared lock) cannot deadlock with the change;
// administrators take turns on a lock of their own; a deadlock or
// serialization failure that still happens is
// retried a few times.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/auth"
	"github.com/sportello/sportello/functions/internal/booking"
	"github.com/sportello/sportello/functions/internal/domain/text"
	"github.com/sportello/sportello/functions/internal/outbox"
	"github.com/sportello/sportello/functions/internal/schedule"
)

// Limits of the administration's text fields, in characters.
const (
	MaxName        = 200
	MaxDescription = 2000
	MaxAddress     = 300
	MaxLabel       = 100
	MaxReason      = 200
	MaxClosureDays = 366
	MaxIntervals   = 50 // opening periods in one week
	MinPassword    = 12 // bytes
)

// The reasons a booking is stranded.
const (
	StrandOfficeInactive  = "office_inactive"
	StrandServiceInactive = "service_inactive"
	StrandClosed          = "closed"        // a closure or a public holiday
	StrandOutsideHours    = "outside_hours" // not inside one of the day's opening periods
	StrandDuration        = "duration"      // the service's meetings now last longer than the booked time
	StrandNoDesk          = "no_desk"       // its desk was deactivated and no other is free
)

// CancelledByOperator is the cancelled_by of a booking an administrator's
// change cancelled: the office, as an operator's cancellation.
const CancelledByOperator = "operator"

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

// StrandedError refuses a change that would strand confirmed bookings.
// It is a Conflict naming Field.
type StrandedError struct {
	Field    string
	Bookings []Affected
}

func (e *StrandedError) Error() string {
	return fmt.Sprintf("conflict (%s): the change would strand %d confirmed booking(s)", e.Field, len(e.Bookings))
}

// Detail is the message of the refusal.
func (e *StrandedError) Detail() string {
	return fmt.Sprintf("the change would strand %d confirmed future booking(s), listed in \"bookings\": "+
		"send \"cancel_affected\": true to apply it and cancel them (their citizens are told by mail)", len(e.Bookings))
}

// AdminOffice is an office as the administration sees it.
type AdminOffice struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Address     string `json:"address"`
	Position    int    `json:"position"`
	Active      bool   `json:"active"`
}

// OfficeInput creates an office.
type OfficeInput struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Address     string `json:"address"`
	Position    int    `json:"position"`
}

// OfficePatch changes an office: nil fields stay as they are.
type OfficePatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Address     *string `json:"address"`
	Position    *int    `json:"position"`
	Active      *bool   `json:"active"`
}

// AdminDesk is a desk of a service.
type AdminDesk struct {
	ID        int64  `json:"id"`
	ServiceID string `json:"service_id"`
	Label     string `json:"label"`
	Active    bool   `json:"active"`
}

// AdminService is a service as the administration sees it.
type AdminService struct {
	ID                  string          `json:"id"`
	OfficeID            string          `json:"office_id"`
	Name                string          `json:"name"`
	Description         string          `json:"description"`
	DurationMinutes     int             `json:"duration_minutes"`
	BufferMinutes       int             `json:"buffer_minutes"`
	MinNoticeMinutes    int             `json:"min_notice_minutes"`
	HorizonDays         int             `json:"horizon_days"`
	CancelCutoffMinutes int             `json:"cancel_cutoff_minutes"`
	WhatToBring         string          `json:"what_to_bring"`
	OpenOnHolidays      bool            `json:"open_on_holidays"`
	Active              bool            `json:"active"`
	Position            int             `json:"position"`
	Hours               []booking.Hours `json:"opening_hours"`
	Desks               []AdminDesk     `json:"desks"`
}

// ServiceInput creates a service (active, without desks or hours: add them).
type ServiceInput struct {
	ID                  string `json:"id"`
	OfficeID            string `json:"office_id"`
	Name                string `json:"name"`
	Description         string `json:"description"`
	DurationMinutes     int    `json:"duration_minutes"`
	BufferMinutes       int    `json:"buffer_minutes"`
	MinNoticeMinutes    int    `json:"min_notice_minutes"`
	HorizonDays         int    `json:"horizon_days"`
	CancelCutoffMinutes int    `json:"cancel_cutoff_minutes"`
	WhatToBring         string `json:"what_to_bring"`
	OpenOnHolidays      bool   `json:"open_on_holidays"`
	Position            int    `json:"position"`
}

// ServicePatch changes a service: nil fields stay as they are.
type ServicePatch struct {
	Name                *string `json:"name"`
	Description         *string `json:"description"`
	DurationMinutes     *int    `json:"duration_minutes"`
	BufferMinutes       *int    `json:"buffer_minutes"`
	MinNoticeMinutes    *int    `json:"min_notice_minutes"`
	HorizonDays         *int    `json:"horizon_days"`
	CancelCutoffMinutes *int    `json:"cancel_cutoff_minutes"`
	WhatToBring         *string `json:"what_to_bring"`
	OpenOnHolidays      *bool   `json:"open_on_holidays"`
	Active              *bool   `json:"active"`
	Position            *int    `json:"position"`
}

// AdminClosure is a closure of an office (OfficeID nil: of every office).
type AdminClosure struct {
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

// DeskPatch changes a desk.
type DeskPatch struct {
	Label  *string `json:"label"`
	Active *bool   `json:"active"`
}

// AdminOperator is an operator account. It carries personal data (the
// email and name): never log it.
type AdminOperator struct {
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

// ---- validation ----

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

func checkID(v *apperr.Validation, field, id string) {
	if !wellFormedID.MatchString(id) {
		v.Add(field, apperr.InvalidFormat, "must be 1 to 63 lower-case letters, digits or dashes, starting with a letter or digit")
	}
}

// Validate checks an office to create.
func (in OfficeInput) Validate() error {
	var v apperr.Validation
	checkID(&v, "id", in.ID)
	line(&v, "name", in.Name, true, MaxName)
	long(&v, "description", in.Description, MaxDescription)
	line(&v, "address", in.Address, false, MaxAddress)
	checkRange(&v, "position", in.Position, -1000000, 1000000)
	return v.Err()
}

// Validate checks an office patch.
func (p OfficePatch) Validate() error {
	var v apperr.Validation
	if p.Name != nil {
		line(&v, "name", *p.Name, true, MaxName)
	}
	if p.Description != nil {
		long(&v, "description", *p.Description, MaxDescription)
	}
	if p.Address != nil {
		line(&v, "address", *p.Address, false, MaxAddress)
	}
	if p.Position != nil {
		checkRange(&v, "position", *p.Position, -1000000, 1000000)
	}
	return v.Err()
}

func checkServiceNumbers(v *apperr.Validation, duration, buffer, notice, horizon, cutoff, position *int) {
	for _, c := range []struct {
		field    string
		n        *int
		min, max int
	}{
		{"duration_minutes", duration, 5, 480},
		{"buffer_minutes", buffer, 0, 240},
		{"min_notice_minutes", notice, 0, 43200},
		{"horizon_days", horizon, 1, 366},
		{"cancel_cutoff_minutes", cutoff, 0, 43200},
		{"position", position, -1000000, 1000000},
	} {
		if c.n != nil {
			checkRange(v, c.field, *c.n, c.min, c.max)
		}
	}
}

// Validate checks a service to create.
func (in ServiceInput) Validate() error {
	var v apperr.Validation
	checkID(&v, "id", in.ID)
	checkID(&v, "office_id", in.OfficeID)
	line(&v, "name", in.Name, true, MaxName)
	long(&v, "description", in.Description, MaxDescription)
	checkServiceNumbers(&v, &in.DurationMinutes, &in.BufferMinutes, &in.MinNoticeMinutes, &in.HorizonDays, &in.CancelCutoffMinutes, &in.Position)
	long(&v, "what_to_bring", in.WhatToBring, MaxDescription)
	return v.Err()
}

// Validate checks a service patch.
func (p ServicePatch) Validate() error {
	var v apperr.Validation
	if p.Name != nil {
		line(&v, "name", *p.Name, true, MaxName)
	}
	if p.Description != nil {
		long(&v, "description", *p.Description, MaxDescription)
	}
	checkServiceNumbers(&v, p.DurationMinutes, p.BufferMinutes, p.MinNoticeMinutes, p.HorizonDays, p.CancelCutoffMinutes, p.Position)
	if p.WhatToBring != nil {
		long(&v, "what_to_bring", *p.WhatToBring, MaxDescription)
	}
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
	if role != auth.RoleOperator && role != auth.RoleAdministrator {
		v.NotAllowed(field, auth.RoleOperator, auth.RoleAdministrator)
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
	case len(pw) < MinPassword:
		v.Add(field, apperr.TooShort, "at least %d characters", MinPassword).With(MinPassword)
	case len(pw) > auth.MaxPassword:
		v.Add(field, apperr.TooLong, "at most %d bytes", auth.MaxPassword).With(auth.MaxPassword)
	case !utf8.ValidString(pw):
		v.Add(field, apperr.InvalidText, "must be valid text")
	}
}

// Validate checks an operator to create.
func (in OperatorInput) Validate() error {
	var v apperr.Validation
	text.Email(&v, "email", auth.NormalizeEmail(in.Email))
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

// ---- the change engine ----

// Locks: administrators take turns on adminLock; configLock is shared by
// every booking write (lockConfigurationShared) and taken exclusively by a change that
// may strand bookings.
const (
	adminLock  = `SELECT pg_advisory_xact_lock(hashtextextended('sportello.administration', 0))`
	configLock = `SELECT pg_advisory_xact_lock(hashtextextended('sportello.configuration', 0))`
)

// change is one administrator's change.
type change struct {
	field string // the request field a refusal names
	// services lists the services whose future bookings the change may
	// strand (none: it strands nothing), read before the change.
	services func(ctx context.Context, tx pgx.Tx) ([]string, error)
	apply    func(ctx context.Context, tx pgx.Tx, now time.Time) error
	// emit writes the change's events and audit rows, knowing what it did
	// to bookings.
	emit func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error
}

// administer runs c in a transaction and commits it (rolls it back in a
// dry run), retrying a few times on a deadlock or serialization failure.
func (s *Store) administer(ctx context.Context, opts ChangeOptions, c *change) (ChangeResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := s.administerOnce(ctx, opts, c)
		var pg *pgconn.PgError
		if attempt < 4 && errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001") {
			continue
		}
		return res, err
	}
}

func (s *Store) administerOnce(ctx context.Context, opts ChangeOptions, c *change) (ChangeResult, error) {
	res := ChangeResult{DryRun: opts.DryRun, Cancelled: []Affected{}, Reassigned: []events.DeskReassignment{}}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(ctx)
	now := s.Clock.Now()
	if _, err := tx.Exec(ctx, adminLock); err != nil {
		return res, err
	}
	var services []string
	if c.services != nil {
		if services, err = c.services(ctx, tx); err != nil {
			return res, err
		}
	}
	if len(services) > 0 {
		// Rows first (see the package comment on deadlocks), then the lock.
		if _, err := s.candidates(ctx, tx, services, now); err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, configLock); err != nil {
			return res, err
		}
	}
	if err := c.apply(ctx, tx, now); err != nil {
		return res, err
	}
	if len(services) > 0 {
		if err := s.settle(ctx, tx, services, now, opts, c.field, &res); err != nil {
			return res, err
		}
	}
	if c.emit != nil {
		if err := c.emit(ctx, tx, now, res); err != nil {
			return res, err
		}
	}
	if opts.DryRun {
		return res, nil // the deferred rollback undoes everything
	}
	if err := tx.Commit(ctx); err != nil {
		return res, err
	}
	s.committed()
	return res, nil
}

// candidate is a future active booking a change may strand.
type candidate struct {
	id                  uuid.UUID
	serviceID, officeID string
	deskID              int64
	desk                string
	deskActive          bool
	start, end, blocked time.Time
	status              string
	sequence            int
	locale              string
}

// candidates locks and returns the confirmed bookings and live holds of
// the services that start after now, by start. Lapsed holds are left out:
// they block nothing, and a reservation may be expiring them.
func (s *Store) candidates(ctx context.Context, tx pgx.Tx, services []string, now time.Time) ([]candidate, error) {
	rows, err := tx.Query(ctx, `
		SELECT b.id, b.service_id, s.office_id, b.desk_id, d.label, d.active, b.starts_at, b.ends_at, upper(b.blocks),
		       b.status, b.sequence, b.locale
		FROM bookings b JOIN services s ON s.id = b.service_id JOIN desks d ON d.id = b.desk_id
		WHERE b.service_id = ANY($1) AND b.starts_at > $2
		  AND (b.status = 'confirmed' OR (b.status = 'held' AND b.hold_expires_at > $2))
		ORDER BY b.starts_at, b.id
		FOR UPDATE OF b`, services, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := r.Scan(&c.id, &c.serviceID, &c.officeID, &c.deskID, &c.desk, &c.deskActive, &c.start, &c.end, &c.blocked,
			&c.status, &c.sequence, &c.locale)
		return c, err
	})
}

// serviceState is a service's configuration as a change left it.
type serviceState struct {
	svc          booking.Service // with its closures
	active       bool
	officeActive bool
}

// loadState reads a service's configuration, active or not, in tx.
func (s *Store) loadState(ctx context.Context, tx pgx.Tx, id string, now time.Time) (serviceState, error) {
	var st serviceState
	today := s.Calendar.Today(now)
	err := tx.QueryRow(ctx, `SELECT `+serviceColumns+`, s.active, o.active
		FROM services s JOIN offices o ON o.id = s.office_id WHERE s.id = $1`, id).Scan(
		&st.svc.ID, &st.svc.OfficeID, &st.svc.Name, &st.svc.Description, &st.svc.DurationMinutes, &st.svc.BufferMinutes,
		&st.svc.MinNoticeMinutes, &st.svc.HorizonDays, &st.svc.CancelCutoffMinutes, &st.svc.WhatToBring, &st.svc.Desks,
		&st.svc.OpenOnHolidays, &st.active, &st.officeActive)
	if err != nil {
		return st, fmt.Errorf("service %s: %w", id, err)
	}
	if st.svc.Hours, err = hoursOf(ctx, tx, id); err != nil {
		return st, err
	}
	rows, err := tx.Query(ctx, `
		SELECT to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), reason FROM closures
		WHERE (office_id IS NULL OR office_id = $1) AND last_day >= $2::date`, st.svc.OfficeID, today.String())
	if err != nil {
		return st, err
	}
	var closures []schedule.Closure
	var first, last, reason string
	if _, err := pgx.ForEachRow(rows, []any{&first, &last, &reason}, func() error {
		f, err1 := schedule.ParseDate(first)
		l, err2 := schedule.ParseDate(last)
		closures = append(closures, schedule.Closure{First: f, Last: l, Reason: reason})
		return errors.Join(err1, err2)
	}); err != nil {
		return st, err
	}
	st.svc = st.svc.WithClosures(closures)
	return st, nil
}

func hoursOf(ctx context.Context, q querier, serviceID string) ([]booking.Hours, error) {
	rows, err := q.Query(ctx, `
		SELECT weekday, to_char(opens, 'HH24:MI'), to_char(closes, 'HH24:MI')
		FROM opening_hours WHERE service_id = $1 ORDER BY weekday, opens`, serviceID)
	if err != nil {
		return nil, err
	}
	out := []booking.Hours{}
	var h booking.Hours
	_, err = pgx.ForEachRow(rows, []any{&h.Weekday, &h.Opens, &h.Closes}, func() error {
		if h.Closes == "00:00" { // '24:00'::time prints as 00:00
			h.Closes = "24:00"
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// strandedBy tells why the configuration st no longer allows booking c
// to take place as booked ("" when it does): its office or service is
// inactive, its day is closed (a closure, or a public holiday for a
// service that closes on them), the meeting no longer lies inside one of
// the day's opening periods, or the service's meetings now last longer
// than the booked time. The slot grid, notice, horizon and buffer bind new
// bookings only: a booking off the new grid still takes place.
func (s *Store) strandedBy(st serviceState, c candidate) string {
	switch {
	case !st.officeActive:
		return StrandOfficeInactive
	case !st.active:
		return StrandServiceInactive
	}
	r := st.svc.Rules()
	day := schedule.DateOf(c.start.In(s.Calendar.Location))
	if s.Calendar.ClosedOn(r, day) != "" {
		return StrandClosed
	}
	if c.end.Sub(c.start) < r.Duration {
		return StrandDuration
	}
	for _, iv := range r.Hours[day.Weekday()] {
		if !c.start.Before(day.In(s.Calendar.Location, iv.Opens)) && !c.end.After(day.In(s.Calendar.Location, iv.Closes)) {
			return ""
		}
	}
	return StrandOutsideHours
}

// settle re-examines the future bookings of services after the change:
// it moves bookings off deactivated desks where it can, expires the holds
// that no longer fit, and refuses (or cancels) the stranded bookings.
func (s *Store) settle(ctx context.Context, tx pgx.Tx, services []string, now time.Time, opts ChangeOptions, field string, res *ChangeResult) error {
	cands, err := s.candidates(ctx, tx, services, now)
	if err != nil {
		return err
	}
	states := map[string]serviceState{}
	var stranded []candidate
	var reasons []string
	for _, c := range cands {
		st, ok := states[c.serviceID]
		if !ok {
			if st, err = s.loadState(ctx, tx, c.serviceID, now); err != nil {
				return err
			}
			states[c.serviceID] = st
		}
		why := s.strandedBy(st, c)
		if why == "" && !c.deskActive {
			label, err := s.reassign(ctx, tx, c, now)
			if err != nil {
				return err
			}
			if label == "" {
				why = StrandNoDesk
			} else {
				res.Reassigned = append(res.Reassigned, events.DeskReassignment{BookingID: c.id.String(), Desk: label})
				if err := audit.Write(ctx, tx, now, audit.Entry{
					Actor: audit.Operator(opts.Actor), Action: "booking.reassigned", TargetKind: "booking",
					TargetID: c.id.String(), OfficeID: c.officeID,
					Detail: map[string]string{"previous_desk": c.desk, "desk": label},
				}); err != nil {
					return err
				}
			}
		}
		if why == "" {
			continue
		}
		if c.status == "held" {
			if err := s.expireHold(ctx, tx, c, now); err != nil {
				return err
			}
			continue
		}
		stranded = append(stranded, c)
		reasons = append(reasons, why)
	}
	affected := make([]Affected, len(stranded))
	for i, c := range stranded {
		affected[i] = Affected{ID: c.id.String(), ServiceID: c.serviceID, Start: s.local(c.start), End: s.local(c.end), Desk: c.desk, Reason: reasons[i]}
	}
	if len(stranded) > 0 && !opts.CancelAffected && !opts.DryRun {
		return &StrandedError{Field: field, Bookings: affected}
	}
	for _, c := range stranded {
		if err := s.cancelStranded(ctx, tx, c, now, opts.Actor); err != nil {
			return err
		}
	}
	res.Cancelled = affected
	return nil
}

// reassign moves c to another active desk of its service that is free at
// its time; it answers the new desk's label, or "" when none is.
func (s *Store) reassign(ctx context.Context, tx pgx.Tx, c candidate, now time.Time) (string, error) {
	if _, err := s.expireHolds(ctx, tx, c.serviceID, c.start, c.blocked, now); err != nil {
		return "", err
	}
	rows, err := tx.Query(ctx, `
		SELECT d.id, d.label FROM desks d
		WHERE d.service_id = $1 AND d.active
		  AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.desk_id = d.id AND b.status IN ('held', 'confirmed')
		                  AND b.blocks && tstzrange($2, $3))
		ORDER BY d.label`, c.serviceID, c.start, c.blocked)
	if err != nil {
		return "", err
	}
	free, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk, error) {
		var d desk
		return d, r.Scan(&d.id, &d.label)
	})
	if err != nil {
		return "", err
	}
	for _, d := range free {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return "", err
		}
		_, err = sp.Exec(ctx, `UPDATE bookings SET desk_id = $2, updated_at = $3 WHERE id = $1`, c.id, d.id, now)
		if isConflict(err) {
			if err := sp.Rollback(ctx); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			return "", fmt.Errorf("reassign booking: %w", err)
		}
		return d.label, sp.Commit(ctx)
	}
	return "", nil
}

func (c candidate) event() events.Booking {
	return events.Booking{BookingID: c.id.String(), OfficeID: c.officeID, ServiceID: c.serviceID, Desk: c.desk,
		Start: c.start, End: c.end, Sequence: c.sequence, Locale: c.locale}
}

// expireHold ends a live hold the new configuration no longer allows.
func (s *Store) expireHold(ctx context.Context, tx pgx.Tx, c candidate, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE bookings SET status = 'expired', updated_at = $2 WHERE id = $1`, c.id, now); err != nil {
		return err
	}
	ev := c.event()
	ev.Start, ev.End = s.local(ev.Start), s.local(ev.End)
	_, err := outbox.Write(ctx, tx, s.Source, now, outbox.Event{
		Type: events.BookingExpired, Subject: ev.BookingID, Data: events.BookingExpiredData{Booking: ev},
	})
	return err
}

// cancelStranded cancels a stranded confirmed booking on the office's
// behalf, with its event: send-email tells the citizen.
func (s *Store) cancelStranded(ctx context.Context, tx pgx.Tx, c candidate, now time.Time, actor string) error {
	if _, err := tx.Exec(ctx, `
		UPDATE bookings SET status = 'cancelled', cancelled_at = $2, sequence = sequence + 1, updated_at = $2
		WHERE id = $1`, c.id, now); err != nil {
		return err
	}
	ev := c.event()
	ev.Start, ev.End, ev.Sequence = s.local(ev.Start), s.local(ev.End), c.sequence+1
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), c.officeID, outbox.Event{
		Type: events.BookingCancelled, Subject: ev.BookingID,
		Data: events.BookingCancelledData{Booking: ev, CancelledBy: CancelledByOperator},
	})
}

func cancelledIDs(res ChangeResult) []string {
	ids := make([]string, 0, len(res.Cancelled))
	for _, a := range res.Cancelled {
		ids = append(ids, a.ID)
	}
	return ids
}

// servicesOf lists the active services of an office (of every office
// when officeID is nil).
func servicesOf(ctx context.Context, tx pgx.Tx, officeID *string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM services WHERE active AND ($1::text IS NULL OR office_id = $1) ORDER BY id`, officeID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ---- offices ----

const officeSelect = `SELECT id, name, description, address, position, active FROM offices`

func scanOffice(row pgx.Row) (AdminOffice, error) {
	var o AdminOffice
	err := row.Scan(&o.ID, &o.Name, &o.Description, &o.Address, &o.Position, &o.Active)
	return o, err
}

func officeNotFound(field, id string) error {
	return apperr.New(apperr.NotFound, field, "no office with id %q", id)
}

// AdminOffices lists every office, inactive ones included, in display order.
func (s *Store) AdminOffices(ctx context.Context) ([]AdminOffice, error) {
	rows, err := s.Pool.Query(ctx, officeSelect+` ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminOffice, error) { return scanOffice(r) })
}

func (s *Store) officeEvent(ctx context.Context, tx pgx.Tx, now time.Time, actor, change string, o AdminOffice, res ChangeResult) error {
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), o.ID, outbox.Event{
		Type: events.OfficeChanged, Subject: o.ID,
		Data: events.OfficeChangedData{OfficeID: o.ID, Change: change, Name: o.Name, Description: o.Description,
			Address: o.Address, Position: o.Position, Active: o.Active, CancelledBookings: cancelledIDs(res)},
	})
}

// CreateOffice adds an active office. Errors: Invalid (the fields),
// Conflict (id: taken).
func (s *Store) CreateOffice(ctx context.Context, actor string, in OfficeInput) (AdminOffice, error) {
	in.Name, in.Description, in.Address = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description), strings.TrimSpace(in.Address)
	if err := in.Validate(); err != nil {
		return AdminOffice{}, err
	}
	o := AdminOffice{ID: in.ID, Name: in.Name, Description: in.Description, Address: in.Address, Position: in.Position, Active: true}
	_, err := s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			_, err := tx.Exec(ctx, `INSERT INTO offices (id, name, description, address, position) VALUES ($1, $2, $3, $4, $5)`,
				o.ID, o.Name, o.Description, o.Address, o.Position)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "id", "an office with id %q exists", o.ID)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.officeEvent(ctx, tx, now, actor, events.ChangeCreated, o, res)
		},
	})
	return o, err
}

// UpdateOffice changes an office. Deactivating it deactivates its services
// (reactivating it does not reactivate them) and is subject to the
// stranded-bookings rule. Errors: Invalid, NotFound (id), *StrandedError
// (active).
func (s *Store) UpdateOffice(ctx context.Context, id string, p OfficePatch, opts ChangeOptions) (AdminOffice, ChangeResult, error) {
	var o AdminOffice
	if err := p.Validate(); err != nil {
		return o, ChangeResult{}, err
	}
	if !wellFormedID.MatchString(id) {
		return o, ChangeResult{}, officeNotFound("id", id)
	}
	var deactivated []string
	res, err := s.administer(ctx, opts, &change{
		field: "active",
		services: func(ctx context.Context, tx pgx.Tx) ([]string, error) {
			var err error
			o, err = scanOffice(tx.QueryRow(ctx, officeSelect+` WHERE id = $1 FOR UPDATE`, id))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, officeNotFound("id", id)
			}
			if err != nil || p.Active == nil || *p.Active || !o.Active {
				return nil, err
			}
			deactivated, err = servicesOf(ctx, tx, &id)
			return deactivated, err
		},
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			if p.Name != nil {
				o.Name = strings.TrimSpace(*p.Name)
			}
			if p.Description != nil {
				o.Description = strings.TrimSpace(*p.Description)
			}
			if p.Address != nil {
				o.Address = strings.TrimSpace(*p.Address)
			}
			if p.Position != nil {
				o.Position = *p.Position
			}
			if p.Active != nil {
				o.Active = *p.Active
			}
			if _, err := tx.Exec(ctx, `UPDATE offices SET name = $2, description = $3, address = $4, position = $5, active = $6 WHERE id = $1`,
				o.ID, o.Name, o.Description, o.Address, o.Position, o.Active); err != nil {
				return err
			}
			if len(deactivated) > 0 {
				_, err := tx.Exec(ctx, `UPDATE services SET active = false WHERE id = ANY($1)`, deactivated)
				return err
			}
			return nil
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			if err := s.officeEvent(ctx, tx, now, actor(opts), events.ChangeUpdated, o, res); err != nil {
				return err
			}
			for _, sid := range deactivated {
				if err := s.serviceEvent(ctx, tx, now, actor(opts), events.ChangeUpdated, sid, ChangeResult{}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	return o, res, err
}

func actor(opts ChangeOptions) string { return opts.Actor }

// ---- services ----

func serviceNotFound(field, id string) error {
	return apperr.New(apperr.NotFound, field, "no service with id %q", id)
}

const adminServiceSelect = `
	SELECT s.id, s.office_id, s.name, s.description, s.duration_minutes, s.buffer_minutes, s.min_notice_minutes,
	       s.horizon_days, s.cancel_cutoff_minutes, s.what_to_bring, s.open_on_holidays, s.active, s.position
	FROM services s`

func scanAdminService(row pgx.Row) (AdminService, error) {
	var v AdminService
	err := row.Scan(&v.ID, &v.OfficeID, &v.Name, &v.Description, &v.DurationMinutes, &v.BufferMinutes, &v.MinNoticeMinutes,
		&v.HorizonDays, &v.CancelCutoffMinutes, &v.WhatToBring, &v.OpenOnHolidays, &v.Active, &v.Position)
	return v, err
}

func desksOf(ctx context.Context, q querier, serviceID string) ([]AdminDesk, error) {
	rows, err := q.Query(ctx, `SELECT id, service_id, label, active FROM desks WHERE service_id = $1 ORDER BY label`, serviceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminDesk, error) {
		var d AdminDesk
		return d, r.Scan(&d.ID, &d.ServiceID, &d.Label, &d.Active)
	})
}

// adminService reads a service with its hours and desks.
func adminService(ctx context.Context, q querier, id string, lock bool) (AdminService, error) {
	sql := adminServiceSelect + ` WHERE s.id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	v, err := scanAdminService(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, serviceNotFound("id", id)
	}
	if err != nil {
		return v, err
	}
	if v.Hours, err = hoursOf(ctx, q, id); err != nil {
		return v, err
	}
	v.Desks, err = desksOf(ctx, q, id)
	return v, err
}

// AdminServices lists the services, inactive ones included, of one office
// (every office when officeID is ""), with their hours and desks.
func (s *Store) AdminServices(ctx context.Context, officeID string) ([]AdminService, error) {
	var office *string
	if officeID != "" {
		office = &officeID
	}
	rows, err := s.Pool.Query(ctx, adminServiceSelect+` WHERE $1::text IS NULL OR s.office_id = $1 ORDER BY s.office_id, s.position, s.name`, office)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminService, error) { return scanAdminService(r) })
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Hours, err = hoursOf(ctx, s.Pool, list[i].ID); err != nil {
			return nil, err
		}
		if list[i].Desks, err = desksOf(ctx, s.Pool, list[i].ID); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// serviceEvent writes the service.changed event of a service as tx sees it.
func (s *Store) serviceEvent(ctx context.Context, tx pgx.Tx, now time.Time, actor, change, id string, res ChangeResult) error {
	v, err := adminService(ctx, tx, id, false)
	if err != nil {
		return err
	}
	hours := make([]events.OpeningHours, 0, len(v.Hours))
	for _, h := range v.Hours {
		hours = append(hours, events.OpeningHours{Weekday: h.Weekday, Opens: h.Opens, Closes: h.Closes})
	}
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), v.OfficeID, outbox.Event{
		Type: events.ServiceChanged, Subject: v.ID,
		Data: events.ServiceChangedData{ServiceID: v.ID, OfficeID: v.OfficeID, Change: change, Name: v.Name,
			Description: v.Description, DurationMinutes: v.DurationMinutes, BufferMinutes: v.BufferMinutes,
			MinNoticeMinutes: v.MinNoticeMinutes, HorizonDays: v.HorizonDays, CancelCutoffMinutes: v.CancelCutoffMinutes,
			WhatToBring: v.WhatToBring, OpenOnHolidays: v.OpenOnHolidays, Active: v.Active, Position: v.Position,
			OpeningHours: hours, CancelledBookings: cancelledIDs(res)},
	})
}

// CreateService adds an active service to an active office, without desks
// or hours. Errors: Invalid, NotFound (office_id), Conflict (id: taken;
// office_id: the office is inactive).
func (s *Store) CreateService(ctx context.Context, actor string, in ServiceInput) (AdminService, error) {
	in.Name, in.Description, in.WhatToBring = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description), strings.TrimSpace(in.WhatToBring)
	if err := in.Validate(); err != nil {
		return AdminService{}, err
	}
	var out AdminService
	_, err := s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			var active bool
			err := tx.QueryRow(ctx, `SELECT active FROM offices WHERE id = $1 FOR SHARE`, in.OfficeID).Scan(&active)
			if errors.Is(err, pgx.ErrNoRows) {
				return officeNotFound("office_id", in.OfficeID)
			}
			if err != nil {
				return err
			}
			if !active {
				return apperr.New(apperr.Conflict, "office_id", "the office is inactive: reactivate it first")
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO services (id, office_id, name, description, duration_minutes, buffer_minutes, min_notice_minutes,
				                      horizon_days, cancel_cutoff_minutes, what_to_bring, open_on_holidays, position)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				in.ID, in.OfficeID, in.Name, in.Description, in.DurationMinutes, in.BufferMinutes, in.MinNoticeMinutes,
				in.HorizonDays, in.CancelCutoffMinutes, in.WhatToBring, in.OpenOnHolidays, in.Position)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "id", "a service with id %q exists", in.ID)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			var err error
			if out, err = adminService(ctx, tx, in.ID, false); err != nil {
				return err
			}
			return s.serviceEvent(ctx, tx, now, actor, events.ChangeCreated, in.ID, res)
		},
	})
	return out, err
}

// strandingField names the first field of p that may strand bookings, or
// "" when none does.
func (p ServicePatch) strandingField(cur AdminService) string {
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

// UpdateService changes a service's settings; deactivating it is how a
// service is removed. Errors: Invalid, NotFound (id), Conflict (active: the
// office is inactive), *StrandedError (active, duration_minutes: longer,
// or open_on_holidays).
func (s *Store) UpdateService(ctx context.Context, id string, p ServicePatch, opts ChangeOptions) (AdminService, ChangeResult, error) {
	var v AdminService
	if err := p.Validate(); err != nil {
		return v, ChangeResult{}, err
	}
	if !wellFormedID.MatchString(id) {
		return v, ChangeResult{}, serviceNotFound("id", id)
	}
	c := &change{}
	c.services = func(ctx context.Context, tx pgx.Tx) ([]string, error) {
		var err error
		if v, err = adminService(ctx, tx, id, true); err != nil {
			return nil, err
		}
		if c.field = p.strandingField(v); c.field == "" {
			return nil, nil
		}
		return []string{id}, nil
	}
	c.apply = func(ctx context.Context, tx pgx.Tx, now time.Time) error {
		if p.Active != nil && *p.Active && !v.Active {
			var officeActive bool
			if err := tx.QueryRow(ctx, `SELECT active FROM offices WHERE id = $1`, v.OfficeID).Scan(&officeActive); err != nil {
				return err
			}
			if !officeActive {
				return apperr.New(apperr.Conflict, "active", "the office %q is inactive: reactivate it first", v.OfficeID)
			}
		}
		setStr := func(dst *string, src *string) {
			if src != nil {
				*dst = strings.TrimSpace(*src)
			}
		}
		setInt := func(dst *int, src *int) {
			if src != nil {
				*dst = *src
			}
		}
		setStr(&v.Name, p.Name)
		setStr(&v.Description, p.Description)
		setStr(&v.WhatToBring, p.WhatToBring)
		setInt(&v.DurationMinutes, p.DurationMinutes)
		setInt(&v.BufferMinutes, p.BufferMinutes)
		setInt(&v.MinNoticeMinutes, p.MinNoticeMinutes)
		setInt(&v.HorizonDays, p.HorizonDays)
		setInt(&v.CancelCutoffMinutes, p.CancelCutoffMinutes)
		setInt(&v.Position, p.Position)
		if p.OpenOnHolidays != nil {
			v.OpenOnHolidays = *p.OpenOnHolidays
		}
		if p.Active != nil {
			v.Active = *p.Active
		}
		_, err := tx.Exec(ctx, `
			UPDATE services SET name = $2, description = $3, duration_minutes = $4, buffer_minutes = $5,
			       min_notice_minutes = $6, horizon_days = $7, cancel_cutoff_minutes = $8, what_to_bring = $9,
			       open_on_holidays = $10, active = $11, position = $12
			WHERE id = $1`, v.ID, v.Name, v.Description, v.DurationMinutes, v.BufferMinutes, v.MinNoticeMinutes,
			v.HorizonDays, v.CancelCutoffMinutes, v.WhatToBring, v.OpenOnHolidays, v.Active, v.Position)
		return err
	}
	c.emit = func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
		return s.serviceEvent(ctx, tx, now, opts.Actor, events.ChangeUpdated, id, res)
	}
	res, err := s.administer(ctx, opts, c)
	return v, res, err
}

// ReplaceHours replaces a service's weekly opening hours. Errors: Invalid
// (hours[i].*), NotFound (id), *StrandedError (hours).
func (s *Store) ReplaceHours(ctx context.Context, id string, hours []booking.Hours, opts ChangeOptions) (AdminService, ChangeResult, error) {
	var v AdminService
	if err := ValidateHours("hours", hours); err != nil {
		return v, ChangeResult{}, err
	}
	if !wellFormedID.MatchString(id) {
		return v, ChangeResult{}, serviceNotFound("id", id)
	}
	res, err := s.administer(ctx, opts, &change{
		field: "hours",
		services: func(ctx context.Context, tx pgx.Tx) ([]string, error) {
			if _, err := adminService(ctx, tx, id, true); err != nil {
				return nil, err
			}
			return []string{id}, nil
		},
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			if _, err := tx.Exec(ctx, `DELETE FROM opening_hours WHERE service_id = $1`, id); err != nil {
				return err
			}
			for _, h := range hours {
				if _, err := tx.Exec(ctx, `INSERT INTO opening_hours (service_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)`,
					id, h.Weekday, h.Opens, h.Closes); err != nil {
					return err
				}
			}
			return nil
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			var err error
			if v, err = adminService(ctx, tx, id, false); err != nil {
				return err
			}
			return s.serviceEvent(ctx, tx, now, opts.Actor, events.ChangeHours, id, res)
		},
	})
	return v, res, err
}

// ---- desks ----

func deskNotFound(id string) error {
	return apperr.New(apperr.NotFound, "id", "no desk with id %q", id)
}

func (s *Store) deskEvent(ctx context.Context, tx pgx.Tx, now time.Time, actor, change string, d AdminDesk, res ChangeResult) error {
	var office string
	if err := tx.QueryRow(ctx, `SELECT office_id FROM services WHERE id = $1`, d.ServiceID).Scan(&office); err != nil {
		return err
	}
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), office, outbox.Event{
		Type: events.DeskChanged, Subject: strconv.FormatInt(d.ID, 10),
		Data: events.DeskChangedData{DeskID: d.ID, ServiceID: d.ServiceID, OfficeID: office, Change: change, Label: d.Label,
			Active: d.Active, Reassigned: res.Reassigned, CancelledBookings: cancelledIDs(res)},
	})
}

// AddDesk adds an active desk to a service: one more booking at a time.
// Errors: Invalid (label), NotFound (id: the service), Conflict (label:
// the service has a desk with that label).
func (s *Store) AddDesk(ctx context.Context, actor, serviceID, label string) (AdminDesk, error) {
	label = strings.TrimSpace(label)
	var v apperr.Validation
	line(&v, "label", label, true, MaxLabel)
	if err := v.Err(); err != nil {
		return AdminDesk{}, err
	}
	if !wellFormedID.MatchString(serviceID) {
		return AdminDesk{}, serviceNotFound("id", serviceID)
	}
	d := AdminDesk{ServiceID: serviceID, Label: label, Active: true}
	_, err := s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			if _, err := adminService(ctx, tx, serviceID, true); err != nil {
				return err
			}
			err := tx.QueryRow(ctx, `INSERT INTO desks (service_id, label) VALUES ($1, $2) RETURNING id`, serviceID, label).Scan(&d.ID)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "label", "the service has a desk labelled %q", label)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.deskEvent(ctx, tx, now, actor, events.ChangeCreated, d, res)
		},
	})
	return d, err
}

// UpdateDesk renames, deactivates or reactivates a desk. Deactivating it
// moves its future bookings to other free desks of the service where it
// can, and is subject to the stranded-bookings rule for the rest. Errors:
// Invalid (label), NotFound (id), Conflict (label), *StrandedError (active).
func (s *Store) UpdateDesk(ctx context.Context, id string, p DeskPatch, opts ChangeOptions) (AdminDesk, ChangeResult, error) {
	var d AdminDesk
	var v apperr.Validation
	if p.Label != nil {
		line(&v, "label", *p.Label, true, MaxLabel)
	}
	if err := v.Err(); err != nil {
		return d, ChangeResult{}, err
	}
	deskID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || deskID <= 0 {
		return d, ChangeResult{}, deskNotFound(id)
	}
	res, err := s.administer(ctx, opts, &change{
		field: "active",
		services: func(ctx context.Context, tx pgx.Tx) ([]string, error) {
			err := tx.QueryRow(ctx, `SELECT id, service_id, label, active FROM desks WHERE id = $1 FOR UPDATE`, deskID).
				Scan(&d.ID, &d.ServiceID, &d.Label, &d.Active)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, deskNotFound(id)
			}
			if err != nil || p.Active == nil || *p.Active || !d.Active {
				return nil, err
			}
			return []string{d.ServiceID}, nil
		},
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			if p.Label != nil {
				d.Label = strings.TrimSpace(*p.Label)
			}
			if p.Active != nil {
				d.Active = *p.Active
			}
			_, err := tx.Exec(ctx, `UPDATE desks SET label = $2, active = $3 WHERE id = $1`, d.ID, d.Label, d.Active)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "label", "the service has a desk labelled %q", d.Label)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.deskEvent(ctx, tx, now, opts.Actor, events.ChangeUpdated, d, res)
		},
	})
	return d, res, err
}

// ---- closures ----

// AdminClosures lists the closures that end today or later, of one office
// and every office (of all offices when officeID is ""), by first day.
func (s *Store) AdminClosures(ctx context.Context, officeID string) ([]AdminClosure, error) {
	var office *string
	if officeID != "" {
		office = &officeID
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, office_id, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), reason
		FROM closures WHERE last_day >= $1::date AND ($2::text IS NULL OR office_id IS NULL OR office_id = $2)
		ORDER BY first_day, id`, s.Calendar.Today(s.Clock.Now()).String(), office)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminClosure, error) {
		var c AdminClosure
		return c, r.Scan(&c.ID, &c.OfficeID, &c.FirstDay, &c.LastDay, &c.Reason)
	})
}

func (s *Store) closureEvent(ctx context.Context, tx pgx.Tx, now time.Time, actor, typ string, c AdminClosure, res ChangeResult) error {
	office := ""
	if c.OfficeID != nil {
		office = *c.OfficeID
	}
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), office, outbox.Event{
		Type: typ, Subject: strconv.FormatInt(c.ID, 10),
		Data: events.ClosureData{ClosureID: c.ID, OfficeID: c.OfficeID, FirstDay: c.FirstDay, LastDay: c.LastDay,
			Reason: c.Reason, CancelledBookings: cancelledIDs(res)},
	})
}

// AddClosure closes an office (every office when in.OfficeID is nil) for a
// range of days. Errors: Invalid, NotFound (office_id), *StrandedError
// (first_day).
func (s *Store) AddClosure(ctx context.Context, in ClosureInput, opts ChangeOptions) (AdminClosure, ChangeResult, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	first, last, err := in.Validate()
	if err != nil {
		return AdminClosure{}, ChangeResult{}, err
	}
	c := AdminClosure{OfficeID: in.OfficeID, FirstDay: first.String(), LastDay: last.String(), Reason: in.Reason}
	res, err := s.administer(ctx, opts, &change{
		field: "first_day",
		services: func(ctx context.Context, tx pgx.Tx) ([]string, error) {
			if in.OfficeID != nil {
				var one int
				err := tx.QueryRow(ctx, `SELECT 1 FROM offices WHERE id = $1`, *in.OfficeID).Scan(&one)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil, officeNotFound("office_id", *in.OfficeID)
				}
				if err != nil {
					return nil, err
				}
			}
			return servicesOf(ctx, tx, in.OfficeID)
		},
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			return tx.QueryRow(ctx, `INSERT INTO closures (office_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4) RETURNING id`,
				c.OfficeID, c.FirstDay, c.LastDay, c.Reason).Scan(&c.ID)
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.closureEvent(ctx, tx, now, opts.Actor, events.ClosureAdded, c, res)
		},
	})
	return c, res, err
}

// RemoveClosure removes a closure: its days open again. Errors: NotFound (id).
func (s *Store) RemoveClosure(ctx context.Context, actor, id string) (AdminClosure, error) {
	var c AdminClosure
	cid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || cid <= 0 {
		return c, apperr.New(apperr.NotFound, "id", "no closure with id %q", id)
	}
	_, err = s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			err := tx.QueryRow(ctx, `
				DELETE FROM closures WHERE id = $1
				RETURNING id, office_id, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), reason`, cid).
				Scan(&c.ID, &c.OfficeID, &c.FirstDay, &c.LastDay, &c.Reason)
			if errors.Is(err, pgx.ErrNoRows) {
				return apperr.New(apperr.NotFound, "id", "no closure with id %q", id)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.closureEvent(ctx, tx, now, actor, events.ClosureRemoved, c, res)
		},
	})
	return c, err
}

// ---- operators ----

func operatorNotFound(id string) error {
	return apperr.New(apperr.NotFound, "id", "no operator with id %q", id)
}

const adminOperatorSelect = `
	SELECT o.id, o.email, o.display_name, o.role, o.active, o.created_at,
	       coalesce((SELECT array_agg(x.office_id ORDER BY x.office_id) FROM operator_offices x WHERE x.operator_id = o.id), '{}')
	FROM operators o`

func scanAdminOperator(row pgx.Row) (AdminOperator, error) {
	var o AdminOperator
	var id uuid.UUID
	err := row.Scan(&id, &o.Email, &o.DisplayName, &o.Role, &o.Active, &o.CreatedAt, &o.Offices)
	o.ID = id.String()
	return o, err
}

// AdminOperators lists every operator account by email.
func (s *Store) AdminOperators(ctx context.Context) ([]AdminOperator, error) {
	rows, err := s.Pool.Query(ctx, adminOperatorSelect+` ORDER BY o.email`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminOperator, error) { return scanAdminOperator(r) })
}

func (s *Store) operatorEvent(ctx context.Context, tx pgx.Tx, now time.Time, actor, change string, o AdminOperator) error {
	return audit.Event(ctx, tx, s.Source, now, audit.Operator(actor), "", outbox.Event{
		Type: events.OperatorChanged, Subject: o.ID,
		Data: events.OperatorChangedData{OperatorID: o.ID, Change: change, Role: o.Role, OfficeIDs: o.Offices, Active: o.Active},
	})
}

// setOffices replaces an operator's offices; an unknown office is Invalid
// naming its place in the list.
func setOffices(ctx context.Context, tx pgx.Tx, id uuid.UUID, offices []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM operator_offices WHERE operator_id = $1`, id); err != nil {
		return err
	}
	for i, o := range offices {
		tag, err := tx.Exec(ctx, `INSERT INTO operator_offices (operator_id, office_id) SELECT $1, id FROM offices WHERE id = $2`, id, o)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Field(fmt.Sprintf("offices[%d]", i), apperr.NoSuch, "no office with id %q", o)
		}
	}
	return nil
}

// CreateOperator adds an active operator account with an initial password
// (hashed with argon2id). Errors: Invalid (the fields; offices[i]: unknown),
// Conflict (email: taken).
func (s *Store) CreateOperator(ctx context.Context, actor string, in OperatorInput) (AdminOperator, error) {
	in.Email, in.DisplayName = auth.NormalizeEmail(in.Email), strings.TrimSpace(in.DisplayName)
	if in.Offices == nil {
		in.Offices = []string{}
	}
	if err := in.Validate(); err != nil {
		return AdminOperator{}, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return AdminOperator{}, err
	}
	id := uuid.New()
	var o AdminOperator
	_, err = s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			_, err := tx.Exec(ctx, `
				INSERT INTO operators (id, email, display_name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, in.Email, in.DisplayName, hash, in.Role, now)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "email", "an operator with this email exists")
			}
			if err != nil {
				return err
			}
			return setOffices(ctx, tx, id, in.Offices)
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			var err error
			if o, err = scanAdminOperator(tx.QueryRow(ctx, adminOperatorSelect+` WHERE o.id = $1`, id)); err != nil {
				return err
			}
			return s.operatorEvent(ctx, tx, now, actor, events.ChangeCreated, o)
		},
	})
	return o, err
}

// UpdateOperator changes an operator's name, role, offices or state. A
// deactivated operator's sessions end at once. An administrator cannot
// demote or deactivate themselves. Errors: Invalid, NotFound (id),
// Unprocessable (role, active: oneself).
func (s *Store) UpdateOperator(ctx context.Context, actor, id string, p OperatorPatch) (AdminOperator, error) {
	var o AdminOperator
	if err := p.Validate(); err != nil {
		return o, err
	}
	oid, err := uuid.Parse(id)
	if err != nil {
		return o, operatorNotFound(id)
	}
	if oid.String() == actor {
		if p.Role != nil && *p.Role != auth.RoleAdministrator {
			return o, apperr.New(apperr.Unprocessable, "role", "an administrator cannot demote themselves")
		}
		if p.Active != nil && !*p.Active {
			return o, apperr.New(apperr.Unprocessable, "active", "an administrator cannot deactivate themselves")
		}
	}
	_, err = s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			var err error
			o, err = scanAdminOperator(tx.QueryRow(ctx, adminOperatorSelect+` WHERE o.id = $1 FOR UPDATE OF o`, oid))
			if errors.Is(err, pgx.ErrNoRows) {
				return operatorNotFound(id)
			}
			if err != nil {
				return err
			}
			if p.DisplayName != nil {
				o.DisplayName = strings.TrimSpace(*p.DisplayName)
			}
			if p.Role != nil {
				o.Role = *p.Role
			}
			if p.Active != nil {
				o.Active = *p.Active
			}
			if _, err := tx.Exec(ctx, `UPDATE operators SET display_name = $2, role = $3, active = $4 WHERE id = $1`,
				oid, o.DisplayName, o.Role, o.Active); err != nil {
				return err
			}
			if p.Offices != nil {
				if err := setOffices(ctx, tx, oid, *p.Offices); err != nil {
					return err
				}
				o.Offices = append([]string{}, *p.Offices...)
				sort.Strings(o.Offices)
			}
			if !o.Active {
				_, err = tx.Exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = $1`, oid)
			}
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			return s.operatorEvent(ctx, tx, now, actor, events.ChangeUpdated, o)
		},
	})
	return o, err
}

// ResetPassword sets an operator's password, lifts a lockout and ends the
// operator's sessions. Errors: Invalid (password), NotFound (id).
func (s *Store) ResetPassword(ctx context.Context, actor, id, password string) (AdminOperator, error) {
	var o AdminOperator
	var v apperr.Validation
	checkPassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return o, err
	}
	oid, err := uuid.Parse(id)
	if err != nil {
		return o, operatorNotFound(id)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return o, err
	}
	_, err = s.administer(ctx, ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
			tag, err := tx.Exec(ctx, `UPDATE operators SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1`, oid, hash)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return operatorNotFound(id)
			}
			_, err = tx.Exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = $1`, oid)
			return err
		},
		emit: func(ctx context.Context, tx pgx.Tx, now time.Time, res ChangeResult) error {
			var err error
			if o, err = scanAdminOperator(tx.QueryRow(ctx, adminOperatorSelect+` WHERE o.id = $1`, oid)); err != nil {
				return err
			}
			return s.operatorEvent(ctx, tx, now, actor, events.ChangePasswordReset, o)
		},
	})
	return o, err
}
