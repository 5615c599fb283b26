package postgres

// The offices' side: an operator's agenda, a booking as the office sees it,
// and what an operator does to one (outcome, cancel, reschedule), always
// within the operator's scope.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// inScope is the SQL condition of a scope on the office column col, with
// the scope's All and Offices as parameters $a and $o.
func inScope(col string, a, o int) string {
	return fmt.Sprintf("($%d::bool OR %s = ANY($%d::text[]))", a, col, o)
}

// Agenda lists the confirmed and completed bookings of the scope's offices
// that start in [from, to), by start (then desk).
func (s *Store) Agenda(ctx context.Context, sc operator.Scope, from, to time.Time) ([]operator.AgendaEntry, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT b.id, b.starts_at, b.ends_at, s.office_id, s.id, s.name, d.label, b.status, b.outcome,
		       coalesce(b.given_name, ''), coalesce(b.family_name, '')
		FROM bookings b
		JOIN services s ON s.id = b.service_id
		JOIN desks d ON d.id = b.desk_id
		WHERE b.status IN ('confirmed', 'completed') AND b.starts_at >= $1 AND b.starts_at < $2
		  AND `+inScope("s.office_id", 3, 4)+`
		ORDER BY b.starts_at, s.office_id, s.id, d.label, b.id`, from, to, sc.All, sc.OfficeList())
	if err != nil {
		return nil, fmt.Errorf("agenda: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (operator.AgendaEntry, error) {
		var e operator.AgendaEntry
		var id uuid.UUID
		err := r.Scan(&id, &e.Start, &e.End, &e.OfficeID, &e.ServiceID, &e.ServiceName, &e.Desk, &e.Status, &e.Outcome,
			&e.Citizen.GivenName, &e.Citizen.FamilyName)
		e.ID, e.Start, e.End = id.String(), s.local(e.Start), s.local(e.End)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("agenda: %w", err)
	}
	return out, nil
}

func bookingNotFound() error {
	return apperr.New(apperr.NotFound, "id", "no booking with this id")
}

// operatorSelect reads a booking the office may see: confirmed, cancelled
// or completed (holds carry no citizen and are nobody's business yet).
const operatorSelect = `
	SELECT b.id, b.status, s.office_id, o.name, s.id, s.name, b.starts_at, b.ends_at, d.label, b.sequence,
	       coalesce(b.given_name, ''), coalesce(b.family_name, ''), coalesce(b.address, ''), coalesce(b.email, ''),
	       coalesce(b.reason, ''), coalesce(b.details, ''), b.locale, b.confirmed_at, b.cancelled_at,
	       b.outcome, b.outcome_note, b.outcome_at, b.outcome_by, b.purged_at IS NOT NULL
	FROM bookings b
	JOIN services s ON s.id = b.service_id
	JOIN offices o ON o.id = s.office_id
	JOIN desks d ON d.id = b.desk_id
	WHERE b.id = $1 AND b.status IN ('confirmed', 'cancelled', 'completed') AND `

func (s *Store) operatorBooking(ctx context.Context, q querier, sc operator.Scope, id uuid.UUID, lock bool) (operator.Booking, error) {
	sql := operatorSelect + inScope("s.office_id", 2, 3)
	if lock {
		sql += ` FOR UPDATE OF b`
	}
	var b operator.Booking
	var bid uuid.UUID
	var by *uuid.UUID
	err := q.QueryRow(ctx, sql, id, sc.All, sc.OfficeList()).Scan(&bid, &b.Status, &b.OfficeID, &b.OfficeName, &b.ServiceID,
		&b.ServiceName, &b.Start, &b.End, &b.Desk, &b.Sequence,
		&b.Citizen.GivenName, &b.Citizen.FamilyName, &b.Citizen.Address, &b.Citizen.Email,
		&b.Citizen.Reason, &b.Citizen.Details, &b.Citizen.Locale, &b.ConfirmedAt, &b.CancelledAt,
		&b.Outcome, &b.OutcomeNote, &b.OutcomeAt, &by, &b.Purged)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, bookingNotFound()
	}
	if err != nil {
		return b, err
	}
	b.ID = bid.String()
	if by != nil {
		v := by.String()
		b.OutcomeBy = &v
	}
	b.Start, b.End = s.local(b.Start), s.local(b.End)
	b.ConfirmedAt, b.CancelledAt, b.OutcomeAt = s.localPtr(b.ConfirmedAt), s.localPtr(b.CancelledAt), s.localPtr(b.OutcomeAt)
	rows, err := q.Query(ctx, `
		SELECT id, coalesce(filename, ''), content_type, coalesce(size, 0), uploaded_by, uploaded_at
		FROM documents WHERE booking_id = $1 AND status = 'uploaded' ORDER BY uploaded_at, id`, id)
	if err != nil {
		return b, fmt.Errorf("documents: %w", err)
	}
	b.Documents, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Document, error) {
		var d booking.Document
		var did uuid.UUID
		err := r.Scan(&did, &d.Filename, &d.ContentType, &d.Size, &d.UploadedBy, &d.UploadedAt)
		d.ID, d.UploadedAt = did.String(), s.local(d.UploadedAt)
		return d, err
	})
	if err != nil {
		return b, fmt.Errorf("documents: %w", err)
	}
	if b.Attendance, err = s.attendance(ctx, q, id); err != nil {
		return b, fmt.Errorf("attendance: %w", err)
	}
	if b.Attendance == nil {
		b.Attendance = []booking.Attendance{}
	}
	recs, err := auditLog(ctx, q, audit.Filter{TargetKind: "booking", TargetID: b.ID})
	if err != nil {
		return b, err
	}
	b.History = make([]operator.HistoryEntry, 0, len(recs))
	for _, r := range recs {
		b.History = append(b.History, operator.HistoryEntry{At: s.local(r.At), Actor: r.Actor, Action: r.Action})
	}
	return b, nil
}

// OperatorBooking returns a booking of the scope's offices in full, with
// its uploaded documents. Errors: NotFound (id: unknown, malformed, a hold,
// or in an office outside the scope — indistinguishable).
func (s *Store) OperatorBooking(ctx context.Context, sc operator.Scope, id string) (operator.Booking, error) {
	bid, err := uuid.Parse(id)
	if err != nil {
		return operator.Booking{}, bookingNotFound()
	}
	return s.operatorBooking(ctx, s.Pool, sc, bid, false)
}

// RecordOutcome records the outcome of an appointment of the scope's
// offices — completed, or no_show — with an optional note: the booking
// becomes completed, and its booking.completed.v1 (recorded_by operator)
// is written in the same transaction. Errors: Invalid (outcome, note),
// NotFound (id), Conflict (id: already completed — by an operator or as a
// no-show found by the system — or cancelled), Unprocessable (id: the
// appointment has not started yet).
func (s *Store) RecordOutcome(ctx context.Context, sc operator.Scope, id, outcome, note string) (operator.Booking, error) {
	var out operator.Booking
	if err := operator.ValidateOutcome(outcome, note); err != nil {
		return out, err
	}
	by, err := uuid.Parse(sc.OperatorID)
	if err != nil {
		return out, fmt.Errorf("record outcome: operator id: %w", err)
	}
	var notePtr *string
	if note != "" {
		notePtr = &note
	}
	return s.operatorChange(ctx, sc, id, func(tx *Tx, b operator.Booking) error {
		switch {
		case b.Status == booking.Completed:
			return apperr.New(apperr.Conflict, "id", "the outcome of this appointment was already recorded")
		case b.Status != booking.Confirmed:
			return apperr.New(apperr.Conflict, "id", "the booking is %s: there is no outcome to record", b.Status)
		case tx.Now.Before(b.Start):
			return apperr.New(apperr.Unprocessable, "id", "the outcome can be recorded from the start of the appointment, %s",
				b.Start.Format(time.RFC3339))
		}
		ev, err := s.scanEvent(tx.QueryRow(ctx, `
			UPDATE bookings b SET status = 'completed', outcome = $2, outcome_note = $3, outcome_at = $4, outcome_by = $5, updated_at = $4
			FROM services s, desks d
			WHERE b.id = $1 AND s.id = b.service_id AND d.id = b.desk_id
			RETURNING `+EventColumns, b.ID, outcome, notePtr, tx.Now, by))
		if err != nil {
			return fmt.Errorf("record outcome: %w", err)
		}
		return tx.Record(ctx, audit.Operator(sc.OperatorID), ev.OfficeID, outbox.Event{
			Type: events.BookingCompleted, Subject: ev.BookingID,
			Data: events.BookingCompletedData{Booking: ev, Outcome: outcome, RecordedBy: booking.ByOperator},
		})
	})
}

// CancelByOperator cancels, on the citizen's behalf, a confirmed booking
// of the scope's offices that has not started yet; its slot is free again
// at once, and its booking.cancelled.v1 (cancelled_by operator) makes
// send-email tell the citizen and provision-room remove the room. The
// service's cancellation cutoff binds citizens, not the office. A booking
// cancelled already is answered as it is, with no event (a retry). Errors:
// NotFound (id), Conflict (id: completed), Unprocessable (id: the
// appointment has started: record its outcome instead).
func (s *Store) CancelByOperator(ctx context.Context, sc operator.Scope, id string) (operator.Booking, error) {
	return s.operatorChange(ctx, sc, id, func(tx *Tx, b operator.Booking) error {
		switch {
		case b.Status == booking.Cancelled:
			return nil // a second cancel (a retry): the cancelled booking, no event
		case b.Status != booking.Confirmed:
			return apperr.New(apperr.Conflict, "id", "the booking is %s and can no longer be cancelled", b.Status)
		case !tx.Now.Before(b.Start):
			return apperr.New(apperr.Unprocessable, "id", "the appointment started at %s: record its outcome instead",
				b.Start.Format(time.RFC3339))
		}
		_, err := tx.cancel(ctx, uuid.MustParse(b.ID), booking.ByOperator, audit.Operator(sc.OperatorID))
		return err
	})
}

// RescheduleByOperator moves, on the citizen's behalf, a confirmed booking
// of the scope's offices that has not started yet to the slot of its
// service starting at start, exactly as the citizen's Reschedule does: the
// slot must be on the service's schedule (opening hours, closures, minimum
// notice, horizon) and have a free desk, and the booking moves in one
// statement inside a savepoint, so a lost race leaves it as it was. The
// service's cancellation cutoff binds citizens, not the office; the minimum
// notice still does, so the citizen learns of the new time as early as a
// booking of their own would need. Its booking.rescheduled.v1 (audit actor:
// the operator) makes send-email tell the citizen and provision-room move
// the room. A booking already at start is answered as it is, with no event
// (a retry). Errors: NotFound (id), Conflict (id: not confirmed; start: no
// free desk), Unprocessable (id: the appointment has started), Invalid
// (start: not a bookable slot).
func (s *Store) RescheduleByOperator(ctx context.Context, sc operator.Scope, id string, start time.Time) (operator.Booking, error) {
	return s.operatorChange(ctx, sc, id, func(tx *Tx, b operator.Booking) error {
		switch {
		case b.Status == booking.Confirmed && start.Equal(b.Start):
			return nil // already there (a retry): the booking as it is, no event
		case b.Status != booking.Confirmed:
			return apperr.New(apperr.Conflict, "id", "the booking is %s and can no longer be moved", b.Status)
		case !tx.Now.Before(b.Start):
			return apperr.New(apperr.Unprocessable, "id", "the appointment started at %s: it can no longer be moved",
				b.Start.Format(time.RFC3339))
		}
		r, err := scanRecord(tx.QueryRow(ctx, recordSelect+` WHERE b.id = $1`, b.ID))
		if err != nil {
			return fmt.Errorf("reschedule: %w", err)
		}
		_, err = tx.move(ctx, r, start, audit.Operator(sc.OperatorID))
		return err
	})
}

// operatorChange runs change on the booking id of the scope's offices,
// locked, in a transaction, and answers the booking as it then is.
// Errors: NotFound (id), and change's.
func (s *Store) operatorChange(ctx context.Context, sc operator.Scope, id string, change func(*Tx, operator.Booking) error) (operator.Booking, error) {
	var out operator.Booking
	bid, err := uuid.Parse(id)
	if err != nil {
		return out, bookingNotFound()
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		b, err := s.operatorBooking(ctx, tx, sc, bid, true)
		if err != nil {
			return err
		}
		if err := change(tx, b); err != nil {
			return err
		}
		out, err = s.operatorBooking(ctx, tx, sc, bid, false)
		return err
	})
	return out, err
}

// ScopedBooking returns a booking of the scope's offices (confirmed,
// cancelled or completed). Errors: NotFound (id: unknown, malformed, a hold,
// or in an office outside the scope — indistinguishable).
func (s *Store) ScopedBooking(ctx context.Context, sc operator.Scope, id string) (operator.BookingRef, error) {
	var b operator.BookingRef
	bid, err := uuid.Parse(id)
	if err != nil {
		return b, bookingNotFound()
	}
	err = s.Pool.QueryRow(ctx, `
		SELECT b.status, s.office_id, b.starts_at, b.ends_at, b.sequence
		FROM bookings b JOIN services s ON s.id = b.service_id
		WHERE b.id = $1 AND b.status IN ('confirmed', 'cancelled', 'completed') AND `+inScope("s.office_id", 2, 3),
		bid, sc.All, sc.OfficeList()).Scan(&b.Status, &b.OfficeID, &b.Start, &b.End, &b.Sequence)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, bookingNotFound()
	}
	if err != nil {
		return b, fmt.Errorf("booking: %w", err)
	}
	b.ID, b.Start, b.End = bid.String(), s.local(b.Start), s.local(b.End)
	return b, nil
}
