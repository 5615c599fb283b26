package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/booking"
	"github.com/sportello/sportello/functions/internal/outbox"
	"github.com/sportello/sportello/functions/internal/secret"
)

// inTx runs fn in a transaction and commits it; events written by fn are
// announced to the relay after the commit.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		if isConflict(err) {
			return apperr.New(apperr.Conflict, "start", "the slot was taken in the meantime")
		}
		return err
	}
	s.committed()
	return nil
}

// lockConfigurationShared takes the configuration lock shared, for the
// rest of tx. Every write that puts a booking at a time and desk (a hold, a
// reschedule) takes it before it reads the service's rules; an
// administrator's change that can strand bookings takes it exclusively
// (admin.go). So either the booking is written first, and the change finds
// it and handles it, or the change commits first, and the booking is
// checked against the new rules (each statement sees what was committed
// before it began): no booking is ever stranded unseen. The row lock of a
// rescheduled booking is taken before this lock, and the change locks its
// candidate rows before taking it exclusively, so the two cannot deadlock.
func lockConfigurationShared(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended('sportello.configuration', 0))`)
	return err
}

type desk struct {
	id     int64
	label  string
	lapsed bool // a lapsed hold still marks the desk taken at that time
}

// freeDesks lists the service's active desks that are free over
// [start, end), counting holds past their expiry as gone: least busy that
// day first, ties in random order, so that load spreads across desks. A
// desk whose only obstacle is a lapsed hold says so (lapsed): the caller
// expires the hold before taking the desk. Another transaction may still
// take a desk before we do: the caller's insert or update is the real test.
func freeDesks(ctx context.Context, tx pgx.Tx, serviceID string, start, end, now time.Time, except *uuid.UUID, loc *time.Location) ([]desk, error) {
	local := start.In(loc)
	dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	dayEnd := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
	rows, err := tx.Query(ctx, `
		SELECT d.id, d.label,
		       EXISTS (SELECT 1 FROM bookings b
		               WHERE b.desk_id = d.id AND b.status = 'held' AND b.hold_expires_at <= $7
		                 AND b.blocks && tstzrange($2, $3))
		FROM desks d
		WHERE d.service_id = $1 AND d.active
		  AND NOT EXISTS (
		        SELECT 1 FROM bookings b
		        WHERE b.desk_id = d.id AND b.status IN ('held', 'confirmed')
		          AND (b.status <> 'held' OR b.hold_expires_at > $7)
		          AND b.blocks && tstzrange($2, $3) AND b.id IS DISTINCT FROM $6)
		ORDER BY (SELECT count(*) FROM bookings b
		          WHERE b.desk_id = d.id AND b.status IN ('held', 'confirmed')
		            AND b.starts_at >= $4 AND b.starts_at < $5), random()`,
		serviceID, start, end, dayStart, dayEnd, except, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk, error) {
		var d desk
		return d, r.Scan(&d.id, &d.label, &d.lapsed)
	})
}

// expireHolds marks as expired the holds past their expiry — of one
// service and overlapping [start, end) when serviceID is not empty, else
// all of them — and writes a booking.expired event for each.
func (s *Store) expireHolds(ctx context.Context, tx pgx.Tx, serviceID string, start, end, now time.Time) (int, error) {
	var svc *string
	var from, to *time.Time
	if serviceID != "" {
		svc, from, to = &serviceID, &start, &end
	}
	rows, err := tx.Query(ctx, `
		UPDATE bookings b SET status = 'expired', updated_at = $4
		FROM services s, desks d
		WHERE s.id = b.service_id AND d.id = b.desk_id
		  AND b.status = 'held' AND b.hold_expires_at <= $4
		  AND ($1::text IS NULL OR (b.service_id = $1 AND b.blocks && tstzrange($2, $3)))
		RETURNING b.id, b.service_id, s.office_id, d.label, b.starts_at, b.ends_at, b.sequence, b.locale`,
		svc, from, to, now)
	if err != nil {
		return 0, err
	}
	lapsed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.Booking, error) {
		var b events.Booking
		var id uuid.UUID
		err := r.Scan(&id, &b.ServiceID, &b.OfficeID, &b.Desk, &b.Start, &b.End, &b.Sequence, &b.Locale)
		b.BookingID = id.String()
		return b, err
	})
	if err != nil {
		return 0, err
	}
	for _, b := range lapsed {
		if _, err := outbox.Write(ctx, tx, s.Source, now, outbox.Event{
			Type: events.BookingExpired, Subject: b.BookingID, Data: events.BookingExpiredData{Booking: b},
		}); err != nil {
			return 0, err
		}
	}
	return len(lapsed), nil
}

// ExpireHolds marks every hold past its expiry as expired, with its event.
// Slots do not wait for it (a lapsed hold blocks nothing); it keeps the
// table and the event stream true. It returns how many holds lapsed.
func (s *Store) ExpireHolds(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = s.expireHolds(ctx, tx, "", time.Time{}, time.Time{}, s.Clock.Now())
		return err
	})
	return n, err
}

// Reserve holds the slot of a service that starts at start. It answers the
// hold's id and secret (shown once) and its expiry. Errors: NotFound
// (service_id), Invalid (start: not a bookable slot), Conflict (start: no
// desk is free).
func (s *Store) Reserve(ctx context.Context, serviceID string, start time.Time, locale string) (booking.Hold, error) {
	var hold booking.Hold
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockConfigurationShared(ctx, tx); err != nil {
			return err
		}
		now := s.Clock.Now()
		svc, err := s.Service(ctx, tx, serviceID, "service_id")
		if err != nil {
			return err
		}
		slot, err := s.Calendar.Check(svc.Rules(), start, now, "start")
		if err != nil {
			return err
		}
		blockEnd := slot.End.Add(svc.Buffer())
		desks, err := freeDesks(ctx, tx, serviceID, slot.Start, blockEnd, now, nil, s.Calendar.Location)
		if err != nil {
			return err
		}
		expired := false
		id := uuid.New()
		token, hash := secret.New()
		expires := now.Add(s.holdTTL())
		for _, d := range desks {
			if d.lapsed && !expired {
				if _, err := s.expireHolds(ctx, tx, serviceID, slot.Start, blockEnd, now); err != nil {
					return err
				}
				expired = true
			}
			// ON CONFLICT DO NOTHING covers the exclusion constraint: when a
			// concurrent transaction took this desk, we try the next one.
			tag, err := tx.Exec(ctx, `
				INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status,
				                      hold_secret_hash, hold_expires_at, locale, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, tstzrange($4, $6), 'held', $7, $8, $9, $10, $10)
				ON CONFLICT DO NOTHING`,
				id, serviceID, d.id, slot.Start, slot.End, blockEnd, hash, expires, locale, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			hold = booking.Hold{ID: id.String(), Secret: token, ExpiresAt: expires, ServiceID: serviceID, Start: slot.Start, End: slot.End}
			_, err = outbox.Write(ctx, tx, s.Source, now, outbox.Event{
				Type: events.BookingHeld, Subject: id.String(),
				Data: events.BookingHeldData{
					Booking:       events.Booking{BookingID: id.String(), OfficeID: svc.OfficeID, ServiceID: svc.ID, Desk: d.label, Start: slot.Start, End: slot.End, Locale: locale},
					HoldExpiresAt: expires,
				},
			})
			return err
		}
		return apperr.New(apperr.Conflict, "start", "no desk is free at this time: choose another slot")
	})
	return hold, err
}

// record is a booking row as stored.
type record struct {
	id                       uuid.UUID
	serviceID, officeID      string
	serviceName, officeName  string
	whatToBring              string
	cutoffMinutes            int
	bufferMinutes            int
	deskID                   int64
	desk                     string
	start, end, holdExpires  time.Time
	status                   string
	holdHash                 []byte
	sequence                 int
	locale                   string
	givenName, familyName    *string
	address, email           *string
	reason, details          *string
	confirmedAt, cancelledAt *time.Time
}

const recordSelect = `
	SELECT b.id, b.service_id, s.office_id, s.name, o.name, s.what_to_bring, s.cancel_cutoff_minutes,
	       s.buffer_minutes, b.desk_id, d.label, b.starts_at, b.ends_at, b.hold_expires_at, b.status,
	       b.hold_secret_hash, b.sequence, b.locale, b.given_name, b.family_name, b.address, b.email,
	       b.reason, b.details, b.confirmed_at, b.cancelled_at
	FROM bookings b
	JOIN services s ON s.id = b.service_id
	JOIN offices o ON o.id = s.office_id
	JOIN desks d ON d.id = b.desk_id`

func scanRecord(row pgx.Row) (record, error) {
	var r record
	err := row.Scan(&r.id, &r.serviceID, &r.officeID, &r.serviceName, &r.officeName, &r.whatToBring, &r.cutoffMinutes,
		&r.bufferMinutes, &r.deskID, &r.desk, &r.start, &r.end, &r.holdExpires, &r.status,
		&r.holdHash, &r.sequence, &r.locale, &r.givenName, &r.familyName, &r.address, &r.email,
		&r.reason, &r.details, &r.confirmedAt, &r.cancelledAt)
	return r, err
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// toBooking converts a stored record into what the citizen sees.
func (r record) toBooking() booking.Booking {
	st, err := booking.ParseStatus(r.status)
	if err != nil {
		panic(err) // the CHECK constraint allows only known statuses
	}
	return booking.Booking{
		ID: r.id.String(), Status: st,
		OfficeID: r.officeID, OfficeName: r.officeName, ServiceID: r.serviceID, ServiceName: r.serviceName,
		Start: r.start, End: r.end, Desk: r.desk, Sequence: r.sequence, WhatToBring: r.whatToBring,
		ChangeableUntil: r.start.Add(-time.Duration(r.cutoffMinutes) * time.Minute),
		Citizen: booking.Citizen{
			GivenName: deref(r.givenName), FamilyName: deref(r.familyName), Address: deref(r.address),
			Email: deref(r.email), Reason: deref(r.reason), Details: deref(r.details),
			PrivacyConsent: r.confirmedAt != nil, Locale: r.locale,
		},
		ConfirmedAt: r.confirmedAt, CancelledAt: r.cancelledAt,
	}
}

func (r record) event() events.Booking {
	return events.Booking{BookingID: r.id.String(), OfficeID: r.officeID, ServiceID: r.serviceID, Desk: r.desk,
		Start: r.start, End: r.end, Sequence: r.sequence, Locale: r.locale}
}

// Confirm turns a hold into a booking with the citizen's data. It answers
// the booking and its manage token, which is shown only this once. Errors:
// Invalid (citizen.*), NotFound (hold_id: unknown id or wrong secret),
// Gone (hold_id: the hold expired), Conflict (hold_id: already confirmed).
func (s *Store) Confirm(ctx context.Context, holdID, holdSecret string, c booking.Citizen) (booking.Confirmation, error) {
	var out booking.Confirmation
	c = c.Normalize()
	if err := c.Validate("citizen"); err != nil {
		return out, err
	}
	id, err := uuid.Parse(holdID)
	if err != nil || !secret.WellFormed(holdSecret) {
		return out, apperr.New(apperr.NotFound, "hold_id", "no hold with this id and secret")
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		r, err := scanRecord(tx.QueryRow(ctx, recordSelect+` WHERE b.id = $1 FOR UPDATE OF b`, id))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare(r.holdHash, secret.Hash(holdSecret)) != 1) {
			return apperr.New(apperr.NotFound, "hold_id", "no hold with this id and secret")
		}
		if err != nil {
			return err
		}
		switch {
		case r.status == "confirmed" || r.status == "cancelled" || r.status == "completed":
			return apperr.New(apperr.Conflict, "hold_id", "this hold was already confirmed")
		case r.status == "expired" || !r.holdExpires.After(now):
			return apperr.New(apperr.Gone, "hold_id", "the hold expired at %s: choose the slot again", r.holdExpires.In(s.Calendar.Location).Format(time.RFC3339))
		}
		token, hash := secret.New()
		_, err = tx.Exec(ctx, `
			WITH token AS (
			    INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at) VALUES ($2, $1, 'confirm', $10))
			UPDATE bookings SET status = 'confirmed', locale = $3,
			       given_name = $4, family_name = $5, address = $6, email = $7, reason = $8, details = $9,
			       privacy_consent_at = $10, confirmed_at = $10, updated_at = $10
			WHERE id = $1`,
			id, hash, c.Locale, c.GivenName, c.FamilyName, c.Address, c.Email, c.Reason, c.Details, now)
		if err != nil {
			return err
		}
		r.status, r.locale, r.confirmedAt = "confirmed", c.Locale, &now
		r.givenName, r.familyName, r.address, r.email, r.reason, r.details = &c.GivenName, &c.FamilyName, &c.Address, &c.Email, &c.Reason, &c.Details
		out = booking.Confirmation{Booking: r.toBooking(), ManageToken: token}
		ev := r.event()
		return audit.Event(ctx, tx, s.Source, now, audit.Citizen, ev.OfficeID, outbox.Event{
			Type: events.BookingConfirmed, Subject: id.String(),
			Data: events.BookingConfirmedData{Booking: ev},
		})
	})
	return out, err
}

// byToken finds the booking of a manage token. An unknown or malformed
// token is a plain NotFound.
func (s *Store) byToken(ctx context.Context, q querier, token string, lock bool) (record, error) {
	notFound := apperr.New(apperr.NotFound, "token", "no booking for this link")
	if !secret.WellFormed(token) {
		return record{}, notFound
	}
	sql := recordSelect + ` WHERE b.id = (SELECT booking_id FROM manage_tokens WHERE token_hash = $1)`
	if lock {
		sql += ` FOR UPDATE OF b`
	}
	r, err := scanRecord(q.QueryRow(ctx, sql, secret.Hash(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, notFound
	}
	return r, err
}

// IssueToken makes a new manage token for a booking, inside tx (send-email
// puts one in every mail: the first token is only stored as a hash).
func IssueToken(ctx context.Context, tx pgx.Tx, bookingID, issuedBy string, now time.Time) (string, error) {
	token, hash := secret.New()
	_, err := tx.Exec(ctx, `INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at) VALUES ($1, $2, $3, $4)`,
		hash, bookingID, issuedBy, now)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return token, nil
}

// Booking returns the booking of a manage token. Errors: NotFound (token).
func (s *Store) Booking(ctx context.Context, token string) (booking.Booking, error) {
	r, err := s.byToken(ctx, s.Pool, token, false)
	if err != nil {
		return booking.Booking{}, err
	}
	return r.toBooking(), nil
}

// changeable locks the booking of a manage token and checks that it can
// still be moved or cancelled now.
func (s *Store) changeable(ctx context.Context, tx pgx.Tx, token string, now time.Time) (record, error) {
	r, err := s.byToken(ctx, tx, token, true)
	if err != nil {
		return r, err
	}
	if r.status != "confirmed" {
		return r, apperr.New(apperr.Conflict, "token", "the booking is %s and can no longer be changed", r.status)
	}
	until := r.start.Add(-time.Duration(r.cutoffMinutes) * time.Minute)
	if now.After(until) {
		return r, apperr.New(apperr.Unprocessable, "token", "the booking can be changed only until %s", until.In(s.Calendar.Location).Format(time.RFC3339))
	}
	return r, nil
}

// Reschedule moves a booking to the slot starting at start, in one
// statement: the new slot is taken and the old one released atomically, so
// a failure leaves the booking exactly as it was. Errors: NotFound (token),
// Conflict (token: not confirmed; start: no free desk), Unprocessable
// (token: past the cutoff), Invalid (start).
func (s *Store) Reschedule(ctx context.Context, token string, start time.Time) (booking.Booking, error) {
	var out booking.Booking
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		r, err := s.changeable(ctx, tx, token, now)
		if err != nil {
			return err
		}
		r, err = s.move(ctx, tx, r, start, now, audit.Citizen)
		if err != nil {
			return err
		}
		out = r.toBooking()
		return nil
	})
	return out, err
}

// move moves the locked, confirmed booking r to the slot of its service
// starting at start, checked against the service's schedule (hours,
// closures, notice, horizon) at now, on a desk free then, and writes its
// booking.rescheduled.v1 and audit row by actor. It answers the moved
// record. Errors: Invalid (start: the same time, or not a bookable slot),
// Conflict (start: no free desk).
func (s *Store) move(ctx context.Context, tx pgx.Tx, r record, start, now time.Time, actor audit.Actor) (record, error) {
	if start.Equal(r.start) {
		return r, apperr.Field("start", apperr.Same, "the booking is already at this time")
	}
	if err := lockConfigurationShared(ctx, tx); err != nil {
		return r, err
	}
	svc, err := s.Service(ctx, tx, r.serviceID, "service_id")
	if err != nil {
		return r, err
	}
	slot, err := s.Calendar.Check(svc.Rules(), start, now, "start")
	if err != nil {
		return r, err
	}
	blockEnd := slot.End.Add(svc.Buffer())
	desks, err := freeDesks(ctx, tx, r.serviceID, slot.Start, blockEnd, now, &r.id, s.Calendar.Location)
	if err != nil {
		return r, err
	}
	expired := false
	for _, d := range desks {
		if d.lapsed && !expired {
			if _, err := s.expireHolds(ctx, tx, r.serviceID, slot.Start, blockEnd, now); err != nil {
				return r, err
			}
			expired = true
		}
		moved, err := moveBooking(ctx, tx, r.id, d.id, slot.Start, slot.End, blockEnd, now)
		if err != nil {
			return r, err
		}
		if !moved {
			continue
		}
		prev := r
		r.deskID, r.desk, r.start, r.end, r.sequence = d.id, d.label, slot.Start, slot.End, r.sequence+1
		r.cutoffMinutes = svc.CancelCutoffMinutes
		ev := r.event()
		return r, audit.Event(ctx, tx, s.Source, now, actor, ev.OfficeID, outbox.Event{
			Type: events.BookingRescheduled, Subject: r.id.String(),
			Data: events.BookingRescheduledData{Booking: ev, PreviousStart: prev.start, PreviousEnd: prev.end, PreviousDesk: prev.desk},
		})
	}
	return r, apperr.New(apperr.Conflict, "start", "no desk is free at this time: choose another slot")
}

// moveBooking updates the booking to a new desk and time inside a savepoint,
// so that losing the race for that desk does not abort the transaction.
func moveBooking(ctx context.Context, tx pgx.Tx, id uuid.UUID, deskID int64, start, end, blockEnd, now time.Time) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.Exec(ctx, `
		UPDATE bookings SET desk_id = $2, starts_at = $3, ends_at = $4, blocks = tstzrange($3, $5),
		       sequence = sequence + 1, updated_at = $6
		WHERE id = $1`, id, deskID, start, end, blockEnd, now)
	if isConflict(err) {
		return false, sp.Rollback(ctx)
	}
	if err != nil {
		_ = sp.Rollback(ctx)
		return false, fmt.Errorf("move booking: %w", err)
	}
	return true, sp.Commit(ctx)
}

// Cancel cancels a booking; its slot is free again at once. Errors:
// NotFound (token), Conflict (token: not confirmed), Unprocessable (token:
// past the cutoff).
func (s *Store) Cancel(ctx context.Context, token string) (booking.Booking, error) {
	var out booking.Booking
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.Clock.Now()
		r, err := s.changeable(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE bookings SET status = 'cancelled', cancelled_at = $2, sequence = sequence + 1, updated_at = $2
			WHERE id = $1`, r.id, now); err != nil {
			return err
		}
		r.status, r.cancelledAt, r.sequence = "cancelled", &now, r.sequence+1
		out = r.toBooking()
		ev := r.event()
		return audit.Event(ctx, tx, s.Source, now, audit.Citizen, ev.OfficeID, outbox.Event{
			Type: events.BookingCancelled, Subject: r.id.String(),
			Data: events.BookingCancelledData{Booking: ev, CancelledBy: "citizen"},
		})
	})
	return out, err
}
