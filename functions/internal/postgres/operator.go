package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/domain/text"
	"github.com/sportello/sportello/functions/internal/outbox"
)

// Scope is what an operator may see and act on: every office (an
// administrator) or the offices they serve. A booking outside the scope is
// answered as if it did not exist.
type Scope struct {
	OperatorID string   // recorded as outcome_by
	All        bool     // every office
	Offices    []string // office ids, when not All
}

// MaxOutcomeNote is the longest outcome note, in characters.
const MaxOutcomeNote = 500

// RecordedByOperator is the recorded_by of an outcome an operator recorded.
const RecordedByOperator = "operator"

// AgendaCitizen is the citizen as the agenda shows them.
type AgendaCitizen struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// AgendaEntry is one appointment in an operator's agenda.
type AgendaEntry struct {
	ID          string        `json:"id"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	OfficeID    string        `json:"office_id"`
	ServiceID   string        `json:"service_id"`
	ServiceName string        `json:"service_name"`
	Desk        string        `json:"desk"`
	Status      string        `json:"status"`  // confirmed or completed
	Outcome     *string       `json:"outcome"` // completed, no_show or null
	Citizen     AgendaCitizen `json:"citizen"`
}

// OperatorCitizen is the citizen's data as the office sees them.
type OperatorCitizen struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Address    string `json:"address"`
	Email      string `json:"email"`
	Reason     string `json:"reason"`
	Details    string `json:"details"`
	Locale     string `json:"locale"`
}

// Document is a document uploaded for a booking.
type Document struct {
	ID          string    `json:"id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	UploadedBy  string    `json:"uploaded_by"` // citizen or office
	UploadedAt  time.Time `json:"uploaded_at"`
}

// OperatorBooking is a booking in full, as the office sees it.
type OperatorBooking struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	OfficeID    string          `json:"office_id"`
	OfficeName  string          `json:"office_name"`
	ServiceID   string          `json:"service_id"`
	ServiceName string          `json:"service_name"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Desk        string          `json:"desk"`
	Sequence    int             `json:"sequence"`
	Citizen     OperatorCitizen `json:"citizen"`
	ConfirmedAt *time.Time      `json:"confirmed_at"`
	CancelledAt *time.Time      `json:"cancelled_at"`
	Outcome     *string         `json:"outcome"`
	OutcomeNote *string         `json:"outcome_note"`
	OutcomeAt   *time.Time      `json:"outcome_at"`
	OutcomeBy   *string         `json:"outcome_by"` // the operator's id; null when the system recorded it
	Purged      bool            `json:"purged"`     // the personal data were erased after the retention period
	Documents   []Document      `json:"documents"`
	Attendance  []Session       `json:"attendance"` // who was in the video room and when, from LiveKit's webhooks
	History     []HistoryEntry  `json:"history"`    // the booking's audit log, newest first
}

// HistoryEntry is a change to a booking as its history shows it: who did
// what, and when (the audit log's row, without its detail).
type HistoryEntry struct {
	At     time.Time   `json:"at"`
	Actor  audit.Actor `json:"actor"`
	Action string      `json:"action"` // e.g. booking.confirmed, booking.rescheduled, document.uploaded
}

// inScope is the SQL condition of a scope on the office column col, with
// the scope's All and Offices as parameters $a and $o.
func inScope(col string, a, o int) string {
	return fmt.Sprintf("($%d::bool OR %s = ANY($%d::text[]))", a, col, o)
}

func (sc Scope) offices() []string {
	if sc.Offices == nil {
		return []string{}
	}
	return sc.Offices
}

func (s *Store) local(t time.Time) time.Time { return t.In(s.Calendar.Location) }

func (s *Store) localPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := s.local(*t)
	return &v
}

// Agenda lists the confirmed and completed bookings of the scope's offices
// that start in [from, to), by start (then desk).
func (s *Store) Agenda(ctx context.Context, sc Scope, from, to time.Time) ([]AgendaEntry, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT b.id, b.starts_at, b.ends_at, s.office_id, s.id, s.name, d.label, b.status, b.outcome,
		       coalesce(b.given_name, ''), coalesce(b.family_name, '')
		FROM bookings b
		JOIN services s ON s.id = b.service_id
		JOIN desks d ON d.id = b.desk_id
		WHERE b.status IN ('confirmed', 'completed') AND b.starts_at >= $1 AND b.starts_at < $2
		  AND `+inScope("s.office_id", 3, 4)+`
		ORDER BY b.starts_at, s.office_id, s.id, d.label, b.id`, from, to, sc.All, sc.offices())
	if err != nil {
		return nil, fmt.Errorf("agenda: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgendaEntry, error) {
		var e AgendaEntry
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

func (s *Store) operatorBooking(ctx context.Context, q querier, sc Scope, id uuid.UUID, lock bool) (OperatorBooking, error) {
	sql := operatorSelect + inScope("s.office_id", 2, 3)
	if lock {
		sql += ` FOR UPDATE OF b`
	}
	var b OperatorBooking
	var bid uuid.UUID
	var by *uuid.UUID
	err := q.QueryRow(ctx, sql, id, sc.All, sc.offices()).Scan(&bid, &b.Status, &b.OfficeID, &b.OfficeName, &b.ServiceID,
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
	b.Documents, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) {
		var d Document
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
		b.Attendance = []Session{}
	}
	recs, err := audit.List(ctx, q, audit.Filter{TargetKind: "booking", TargetID: b.ID})
	if err != nil {
		return b, err
	}
	b.History = make([]HistoryEntry, 0, len(recs))
	for _, r := range recs {
		b.History = append(b.History, HistoryEntry{At: s.local(r.At), Actor: r.Actor, Action: r.Action})
	}
	return b, nil
}

// OperatorBooking returns a booking of the scope's offices in full, with
// its uploaded documents. Errors: NotFound (id: unknown, malformed, a hold,
// or in an office outside the scope — indistinguishable).
func (s *Store) OperatorBooking(ctx context.Context, sc Scope, id string) (OperatorBooking, error) {
	bid, err := uuid.Parse(id)
	if err != nil {
		return OperatorBooking{}, bookingNotFound()
	}
	return s.operatorBooking(ctx, s.Pool, sc, bid, false)
}

// ValidateOutcome checks an outcome and its note (trimmed by the caller).
// Errors: Invalid (outcome, note).
func ValidateOutcome(outcome, note string) error {
	var v apperr.Validation
	switch outcome {
	case events.OutcomeCompleted, events.OutcomeNoShow:
	case "":
		v.Add("outcome", apperr.Required, "required: completed or no_show").Allowed = []string{events.OutcomeCompleted, events.OutcomeNoShow}
	default:
		v.NotAllowed("outcome", events.OutcomeCompleted, events.OutcomeNoShow)
	}
	text.Check(&v, "note", note, text.Rules{Max: MaxOutcomeNote, Multiline: true})
	return v.Err()
}

// RecordOutcome records the outcome of an appointment of the scope's
// offices — completed, or no_show — with an optional note: the booking
// becomes completed, and its booking.completed.v1 (recorded_by operator)
// is written in the same transaction. Errors: Invalid (outcome, note),
// NotFound (id), Conflict (id: already completed — by an operator or as a
// no-show found by the system — or cancelled), Unprocessable (id: the
// appointment has not started yet).
func (s *Store) RecordOutcome(ctx context.Context, sc Scope, id, outcome, note string) (OperatorBooking, error) {
	var out OperatorBooking
	if err := ValidateOutcome(outcome, note); err != nil {
		return out, err
	}
	bid, err := uuid.Parse(id)
	if err != nil {
		return out, bookingNotFound()
	}
	by, err := uuid.Parse(sc.OperatorID)
	if err != nil {
		return out, fmt.Errorf("record outcome: operator id: %w", err)
	}
	var notePtr *string
	if note != "" {
		notePtr = &note
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		b, err := s.operatorBooking(ctx, tx, sc, bid, true)
		if err != nil {
			return err
		}
		switch {
		case b.Status == "completed":
			return apperr.New(apperr.Conflict, "id", "the outcome of this appointment was already recorded")
		case b.Status != "confirmed":
			return apperr.New(apperr.Conflict, "id", "the booking is %s: there is no outcome to record", b.Status)
		case now.Before(b.Start):
			return apperr.New(apperr.Unprocessable, "id", "the outcome can be recorded from the start of the appointment, %s",
				b.Start.Format(time.RFC3339))
		}
		var ev events.Booking
		var eid uuid.UUID
		err = tx.QueryRow(ctx, `
			UPDATE bookings b SET status = 'completed', outcome = $2, outcome_note = $3, outcome_at = $4, outcome_by = $5, updated_at = $4
			FROM services s, desks d
			WHERE b.id = $1 AND s.id = b.service_id AND d.id = b.desk_id
			RETURNING b.id, b.service_id, s.office_id, d.label, b.starts_at, b.ends_at, b.sequence, b.locale`,
			bid, outcome, notePtr, now, by).Scan(&eid, &ev.ServiceID, &ev.OfficeID, &ev.Desk, &ev.Start, &ev.End, &ev.Sequence, &ev.Locale)
		if err != nil {
			return fmt.Errorf("record outcome: %w", err)
		}
		ev.BookingID, ev.Start, ev.End = eid.String(), s.local(ev.Start), s.local(ev.End)
		if err := audit.Event(ctx, tx, s.Source, now, audit.Operator(sc.OperatorID), ev.OfficeID, outbox.Event{
			Type: events.BookingCompleted, Subject: ev.BookingID,
			Data: events.BookingCompletedData{Booking: ev, Outcome: outcome, RecordedBy: RecordedByOperator},
		}); err != nil {
			return err
		}
		out, err = s.operatorBooking(ctx, tx, sc, bid, false)
		return err
	})
	return out, err
}

// CancelByOperator cancels, on the citizen's behalf, a confirmed booking
// of the scope's offices that has not started yet; its slot is free again
// at once, and its booking.cancelled.v1 (cancelled_by operator) makes
// send-email tell the citizen and provision-room remove the room. The
// service's cancellation cutoff binds citizens, not the office. Errors:
// NotFound (id), Conflict (id: not confirmed), Unprocessable (id: the
// appointment has started: record its outcome instead).
func (s *Store) CancelByOperator(ctx context.Context, sc Scope, id string) (OperatorBooking, error) {
	var out OperatorBooking
	bid, err := uuid.Parse(id)
	if err != nil {
		return out, bookingNotFound()
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		b, err := s.operatorBooking(ctx, tx, sc, bid, true)
		if err != nil {
			return err
		}
		switch {
		case b.Status != "confirmed":
			return apperr.New(apperr.Conflict, "id", "the booking is %s and can no longer be cancelled", b.Status)
		case !now.Before(b.Start):
			return apperr.New(apperr.Unprocessable, "id", "the appointment started at %s: record its outcome instead",
				b.Start.Format(time.RFC3339))
		}
		var ev events.Booking
		var eid uuid.UUID
		err = tx.QueryRow(ctx, `
			UPDATE bookings b SET status = 'cancelled', cancelled_at = $2, sequence = b.sequence + 1, updated_at = $2
			FROM services s, desks d
			WHERE b.id = $1 AND s.id = b.service_id AND d.id = b.desk_id
			RETURNING b.id, b.service_id, s.office_id, d.label, b.starts_at, b.ends_at, b.sequence, b.locale`,
			bid, now).Scan(&eid, &ev.ServiceID, &ev.OfficeID, &ev.Desk, &ev.Start, &ev.End, &ev.Sequence, &ev.Locale)
		if err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		ev.BookingID, ev.Start, ev.End = eid.String(), s.local(ev.Start), s.local(ev.End)
		if err := audit.Event(ctx, tx, s.Source, now, audit.Operator(sc.OperatorID), ev.OfficeID, outbox.Event{
			Type: events.BookingCancelled, Subject: ev.BookingID,
			Data: events.BookingCancelledData{Booking: ev, CancelledBy: RecordedByOperator},
		}); err != nil {
			return err
		}
		out, err = s.operatorBooking(ctx, tx, sc, bid, false)
		return err
	})
	return out, err
}

// BookingRef is what an operator's action needs to know of a booking of
// its scope before acting on it: where it stands and when it is.
type BookingRef struct {
	ID       string
	Status   string // confirmed, cancelled or completed
	OfficeID string
	Start    time.Time
	End      time.Time
	Sequence int
}

// ScopedBooking returns a booking of the scope's offices (confirmed,
// cancelled or completed). Errors: NotFound (id: unknown, malformed, a hold,
// or in an office outside the scope — indistinguishable).
func (s *Store) ScopedBooking(ctx context.Context, sc Scope, id string) (BookingRef, error) {
	var b BookingRef
	bid, err := uuid.Parse(id)
	if err != nil {
		return b, bookingNotFound()
	}
	err = s.Pool.QueryRow(ctx, `
		SELECT b.status, s.office_id, b.starts_at, b.ends_at, b.sequence
		FROM bookings b JOIN services s ON s.id = b.service_id
		WHERE b.id = $1 AND b.status IN ('confirmed', 'cancelled', 'completed') AND `+inScope("s.office_id", 2, 3),
		bid, sc.All, sc.offices()).Scan(&b.Status, &b.OfficeID, &b.Start, &b.End, &b.Sequence)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, bookingNotFound()
	}
	if err != nil {
		return b, fmt.Errorf("booking: %w", err)
	}
	b.ID, b.Start, b.End = bid.String(), s.local(b.Start), s.local(b.End)
	return b, nil
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
// the room. Errors: NotFound (id), Conflict (id: not confirmed; start: no
// free desk), Unprocessable (id: the appointment has started), Invalid
// (start: the same time, or not a bookable slot).
func (s *Store) RescheduleByOperator(ctx context.Context, sc Scope, id string, start time.Time) (OperatorBooking, error) {
	var out OperatorBooking
	bid, err := uuid.Parse(id)
	if err != nil {
		return out, bookingNotFound()
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		r, err := scanRecord(tx.QueryRow(ctx, recordSelect+`
			WHERE b.id = $1 AND b.status IN ('confirmed', 'cancelled', 'completed') AND `+inScope("s.office_id", 2, 3)+`
			FOR UPDATE OF b`, bid, sc.All, sc.offices()))
		if errors.Is(err, pgx.ErrNoRows) {
			return bookingNotFound()
		}
		if err != nil {
			return fmt.Errorf("reschedule: %w", err)
		}
		switch {
		case r.status != "confirmed":
			return apperr.New(apperr.Conflict, "id", "the booking is %s and can no longer be moved", r.status)
		case !now.Before(r.start):
			return apperr.New(apperr.Unprocessable, "id", "the appointment started at %s: it can no longer be moved",
				s.local(r.start).Format(time.RFC3339))
		}
		if _, err := s.move(ctx, tx, r, start, now, audit.Operator(sc.OperatorID)); err != nil {
			return err
		}
		out, err = s.operatorBooking(ctx, tx, sc, bid, false)
		return err
	})
	return out, err
}
