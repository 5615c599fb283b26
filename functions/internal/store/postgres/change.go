package postgres

// The change engine of the administration: every change an administrator
// makes runs through administer, which applies the stranded-bookings rule
// (domain/admin) to the changes that may strand bookings.
//
// Concurrency. Such a change takes the configuration lock (a transaction
// advisory lock) exclusively before it changes anything; every write that
// puts an active booking somewhere (Reserve, a reschedule) takes it shared
// before it reads the rules (Tx.lockConfigurationShared). So a reservation
// racing a change either commits first, and the change finds and handles
// its booking, or waits and is checked against the new rules: no booking
// is ever stranded unseen. The candidate rows are locked before the
// configuration lock is taken, so that a citizen rescheduling one of them
// (row lock, then the shared lock) cannot deadlock with the change;
// administrators take turns on a lock of their own; a deadlock or
// serialization failure that still happens is retried a few times.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Locks: administrators take turns on adminLock; configLock is shared by
// every booking write (Tx.lockConfigurationShared) and taken exclusively
// by a change that may strand bookings.
const (
	adminLock  = `SELECT pg_advisory_xact_lock(hashtextextended('sportello.administration', 0))`
	configLock = `SELECT pg_advisory_xact_lock(hashtextextended('sportello.configuration', 0))`
)

// change is one administrator's change.
type change struct {
	field string // the request field a refusal names
	// services lists the services whose future bookings the change may
	// strand (none: it strands nothing), read before the change.
	services func(ctx context.Context, tx *Tx) ([]string, error)
	apply    func(ctx context.Context, tx *Tx) error
	// emit writes the change's events and audit rows, knowing what it did
	// to bookings.
	emit func(ctx context.Context, tx *Tx, res admin.ChangeResult) error
}

// checkChange checks a change to the office, service, … id before it
// reads anything: invalid (what validating its input found) comes first,
// then an id that cannot name anything is notFound.
func checkChange(invalid error, id string, notFound func(field, id string) error) error {
	if invalid != nil {
		return invalid
	}
	if !booking.ValidID(id) {
		return notFound("id", id)
	}
	return nil
}

// administer runs c in a transaction and commits it (rolls it back in a
// dry run), retrying a few times on a deadlock or serialization failure.
func (s *Store) administer(ctx context.Context, opts admin.ChangeOptions, c *change) (admin.ChangeResult, error) {
	for attempt := 1; ; attempt++ {
		var res admin.ChangeResult
		run := s.InTx
		if opts.DryRun {
			run = s.DryRun
		}
		err := run(ctx, func(tx *Tx) error {
			var err error
			res, err = s.administerIn(ctx, tx, opts, c)
			return err
		})
		var pg *pgconn.PgError
		if attempt < 4 && errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001") {
			continue
		}
		return res, err
	}
}

func (s *Store) administerIn(ctx context.Context, tx *Tx, opts admin.ChangeOptions, c *change) (admin.ChangeResult, error) {
	res := admin.ChangeResult{DryRun: opts.DryRun, Cancelled: []admin.Affected{}, Reassigned: []events.DeskReassignment{}}
	if _, err := tx.Exec(ctx, adminLock); err != nil {
		return res, err
	}
	var services []string
	if c.services != nil {
		var err error
		if services, err = c.services(ctx, tx); err != nil {
			return res, err
		}
	}
	if len(services) > 0 {
		// Rows first (see above on deadlocks), then the lock.
		if _, err := tx.candidates(ctx, services); err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, configLock); err != nil {
			return res, err
		}
	}
	if err := c.apply(ctx, tx); err != nil {
		return res, err
	}
	if len(services) > 0 {
		if err := tx.settle(ctx, services, opts, c.field, &res); err != nil {
			return res, err
		}
	}
	if c.emit != nil {
		if err := c.emit(ctx, tx, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// candidate is a future active booking a change may strand.
type candidate struct {
	ev         events.Booking // the booking as its events carry it
	id         uuid.UUID
	deskActive bool
	blocked    time.Time // the end of the interval it blocks on its desk
	status     booking.Status
}

// candidates locks and returns the confirmed bookings and live holds of
// the services that start after now, by start. Lapsed holds are left out:
// they block nothing, and a reservation may be expiring them.
func (tx *Tx) candidates(ctx context.Context, services []string) ([]candidate, error) {
	rows, err := tx.Query(ctx, `
		SELECT `+EventColumns+`, d.active, upper(b.blocks), b.status
		FROM bookings b JOIN services s ON s.id = b.service_id JOIN desks d ON d.id = b.desk_id
		WHERE b.service_id = ANY($1) AND b.starts_at > $2
		  AND (b.status = 'confirmed' OR (b.status = 'held' AND b.hold_expires_at > $2))
		ORDER BY b.starts_at, b.id
		FOR UPDATE OF b`, services, tx.Now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := r.Scan(&c.id, &c.ev.ServiceID, &c.ev.OfficeID, &c.ev.Desk, &c.ev.Start, &c.ev.End, &c.ev.Sequence, &c.ev.Locale,
			&c.deskActive, &c.blocked, &c.status)
		c.ev.BookingID, c.ev.Start, c.ev.End = c.id.String(), tx.store.local(c.ev.Start), tx.store.local(c.ev.End)
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
func (tx *Tx) loadState(ctx context.Context, id string) (serviceState, error) {
	var st serviceState
	today := tx.store.Calendar.Today(tx.Now)
	err := tx.QueryRow(ctx, `SELECT `+serviceColumns+`, s.active, o.active
		FROM services s JOIN offices o ON o.id = s.office_id WHERE s.id = $1`, id).Scan(
		append(serviceFields(&st.svc), &st.active, &st.officeActive)...)
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
		return admin.StrandOfficeInactive
	case !st.active:
		return admin.StrandServiceInactive
	}
	r := st.svc.Rules()
	loc := s.Calendar.Location
	start, end := c.ev.Start, c.ev.End
	day := schedule.DateOf(start.In(loc))
	if s.Calendar.ClosedOn(r, day) != "" {
		return admin.StrandClosed
	}
	if end.Sub(start) < r.Duration {
		return admin.StrandDuration
	}
	for _, iv := range r.Hours[day.Weekday()] {
		if !start.Before(day.In(loc, iv.Opens)) && !end.After(day.In(loc, iv.Closes)) {
			return ""
		}
	}
	return admin.StrandOutsideHours
}

// settle re-examines the future bookings of services after the change:
// it moves bookings off deactivated desks where it can, expires the holds
// that no longer fit, and refuses (or cancels) the stranded bookings.
func (tx *Tx) settle(ctx context.Context, services []string, opts admin.ChangeOptions, field string, res *admin.ChangeResult) error {
	cands, err := tx.candidates(ctx, services)
	if err != nil {
		return err
	}
	states := map[string]serviceState{}
	var stranded []candidate
	var affected []admin.Affected
	for _, c := range cands {
		st, ok := states[c.ev.ServiceID]
		if !ok {
			if st, err = tx.loadState(ctx, c.ev.ServiceID); err != nil {
				return err
			}
			states[c.ev.ServiceID] = st
		}
		why := tx.store.strandedBy(st, c)
		if why == "" && !c.deskActive {
			label, err := tx.reassign(ctx, c, opts.Actor)
			if err != nil {
				return err
			}
			if label == "" {
				why = admin.StrandNoDesk
			} else {
				res.Reassigned = append(res.Reassigned, events.DeskReassignment{BookingID: c.ev.BookingID, Desk: label})
			}
		}
		if why == "" {
			continue
		}
		if c.status == booking.Held {
			if err := tx.expireHold(ctx, c); err != nil {
				return err
			}
			continue
		}
		stranded = append(stranded, c)
		affected = append(affected, admin.Affected{ID: c.ev.BookingID, ServiceID: c.ev.ServiceID, Start: c.ev.Start, End: c.ev.End, Desk: c.ev.Desk, Reason: why})
	}
	if affected == nil {
		affected = []admin.Affected{}
	}
	if len(stranded) > 0 && !opts.CancelAffected && !opts.DryRun {
		return admin.Stranded(field, affected)
	}
	for _, c := range stranded {
		if _, err := tx.cancel(ctx, c.id, booking.ByOperator, audit.Operator(opts.Actor)); err != nil {
			return err
		}
	}
	res.Cancelled = affected
	return nil
}

// reassign moves c to another active desk of its service that is free at
// its time, and records it in the audit log; it answers the new desk's
// label, or "" when none is free.
func (tx *Tx) reassign(ctx context.Context, c candidate, actor string) (string, error) {
	sp := span{serviceID: c.ev.ServiceID, start: c.ev.Start, blockEnd: c.blocked, except: &c.id}
	d, err := tx.place(ctx, sp, "active", func(d desk) (bool, error) {
		return tx.attempt(ctx, `UPDATE bookings SET desk_id = $2, updated_at = $3 WHERE id = $1`, c.id, d.id, tx.Now)
	})
	if apperr.Is(err, apperr.Conflict) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return d.label, tx.Audit(ctx, audit.Entry{
		Actor: audit.Operator(actor), Action: "booking.reassigned", TargetKind: "booking",
		TargetID: c.ev.BookingID, OfficeID: c.ev.OfficeID,
		Detail: map[string]string{"previous_desk": c.ev.Desk, "desk": d.label},
	})
}

// expireHold ends a live hold the new configuration no longer allows.
func (tx *Tx) expireHold(ctx context.Context, c candidate) error {
	if _, err := tx.Exec(ctx, `UPDATE bookings SET status = 'expired', updated_at = $2 WHERE id = $1`, c.id, tx.Now); err != nil {
		return err
	}
	return tx.expired(ctx, c.ev)
}

// recordSettings is Record for the event of an office's or a service's
// settings, by the administrator actor, with detail as the audit entry's
// detail: the event's data and the settings its schema does not carry.
func (tx *Tx) recordSettings(ctx context.Context, actor, officeID string, ev outbox.Event, detail any) error {
	if err := tx.Emit(ctx, ev); err != nil {
		return err
	}
	action := audit.ShortName(ev.Type)
	return tx.Audit(ctx, audit.Entry{
		Actor: audit.Operator(actor), Action: action, TargetKind: kindOf(action), TargetID: ev.Subject, OfficeID: officeID, Detail: detail,
	})
}

// servicesOf lists the active services of an office (of every office
// when officeID is nil).
func (tx *Tx) servicesOf(ctx context.Context, officeID *string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM services WHERE active AND ($1::text IS NULL OR office_id = $1) ORDER BY id`, officeID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
