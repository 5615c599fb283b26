package postgres

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
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/telemetry"
	"github.com/sportello/sportello/functions/metrics"
)

// The citizen's booking: a hold, its confirmation, and what the manage
// link does (view, reschedule, cancel).

// slot checks start against the service's schedule at now and answers the
// slot and the span it blocks. Errors: NotFound (service_id), Invalid
// (start: not a bookable slot).
func (tx *Tx) slot(ctx context.Context, serviceID string, start time.Time, except *uuid.UUID) (booking.Service, schedule.Slot, span, error) {
	s := tx.store
	svc, err := s.Service(ctx, tx, serviceID, "service_id")
	if err != nil {
		return svc, schedule.Slot{}, span{}, err
	}
	slot, err := s.Calendar.Check(svc.Rules(), start, tx.Now, "start")
	if err != nil {
		return svc, slot, span{}, err
	}
	return svc, slot, span{serviceID: serviceID, start: slot.Start, blockEnd: slot.End.Add(svc.Buffer()), except: except}, nil
}

// Reserve holds the slot of a service that starts at start. It answers the
// hold's id and secret (shown once) and its expiry. Errors: NotFound
// (service_id), Invalid (start: not a bookable slot), Conflict (start: no
// desk is free).
//
// The click day's path: the service comes from the store's cache, the slot
// is checked in Go, and one statement (hold_slot, a server-side function)
// takes the configuration lock shared, chooses the desk, inserts the hold and
// its booking.held.v1 outbox row. The rare cases go the long way: a service
// changed since it was read is read again; a free desk held by a lapsed hold
// is placed by the transactional path (reserveInTx), which expires the hold
// first with its event. With Taken set, no more holds of this instance
// ask for a time at once than it has desks, and a time hold_slot found
// full less than Taken's MaxAge ago is refused before any of it, and
// again after the wait for a connection (see TakenSlots).
func (s *Store) Reserve(ctx context.Context, serviceID string, start time.Time, locale string) (booking.Hold, error) {
	return s.ReserveFor(ctx, booking.Client{}, serviceID, start, locale)
}

// ReserveFor is Reserve for a client: a hold won counts against the
// client's and its address's holds per minute (RateLimited, with the
// seconds to the next minute, when over: the hold is not kept), a request
// refused for a taken slot counts against nothing, and a hold placed
// releases the client's oldest live holds beyond its limit, each with a
// booking.released.v1 — all in the hold's one statement. A new client's
// first request is counted by its token, won or not.
func (s *Store) ReserveFor(ctx context.Context, client booking.Client, serviceID string, start time.Time, locale string) (booking.Hold, error) {
	var clientID *[16]byte
	if client.ID != "" {
		id, err := uuid.Parse(client.ID)
		if err != nil {
			return booking.Hold{}, fmt.Errorf("reserve: client id %q: %w", client.ID, err)
		}
		b := [16]byte(id)
		clientID = &b
	}
	var address *string
	if client.Address != "" {
		address = &client.Address
	}
	var endTurn func()
	for attempt := 0; ; attempt++ {
		svc, version, err := s.cachedService(ctx, serviceID, "service_id")
		if err != nil {
			return booking.Hold{}, err
		}
		now := s.Clock.Now()
		slot, err := s.Calendar.Check(svc.Rules(), start, now, "start")
		if err != nil && s.Services != nil && attempt == 0 {
			// The rules may have changed since they were read: refuse only
			// by the current ones.
			s.Services.Reset()
			continue
		}
		if err != nil {
			return booking.Hold{}, err
		}
		limits := svc.Limits.Or(s.Limits)
		clientLimit := limits.ClientPerMinute
		switch {
		case client.New:
			// Its first request, counted by its token: no holds of its own
			// yet, nothing to count or to release.
			limits.PerClient, clientLimit = 0, 0
		case clientLimit > 0 && client.Since.Truncate(time.Minute).Equal(now.Truncate(time.Minute)):
			// In the minute of its token, whose first request counts too.
			if clientLimit--; clientLimit == 0 {
				telemetry.HoldRefused(ctx, metrics.ReasonRateLimited)
				return booking.Hold{}, rateLimited(now, "client", limits.ClientPerMinute)
			}
		}
		if s.Taken != nil && endTurn == nil {
			// No more holds of this instance ask for this time at once
			// than it has desks: the others wait, then find it full in
			// memory if it was.
			if endTurn, err = s.Taken.Turn(ctx, serviceID, slot.Start, svc.Desks); err != nil {
				return booking.Hold{}, err
			}
			defer endTurn()
			now = s.Clock.Now()
		}
		if s.Taken != nil && s.Taken.Taken(serviceID, slot.Start, now) {
			return booking.Hold{}, refusedTaken(ctx)
		}
		id := uuid.New()
		token, hash := secret.New()
		expires := now.Add(s.holdTTL())
		hold := booking.Hold{ID: id.String(), Secret: token, ExpiresAt: expires, ServiceID: serviceID, Start: slot.Start, End: slot.End}
		ev, err := outbox.Prepare(outbox.Event{Type: events.BookingHeld, Subject: hold.ID, Data: events.BookingHeldData{
			Booking:       events.Booking{BookingID: hold.ID, OfficeID: svc.OfficeID, ServiceID: svc.ID, Start: s.local(slot.Start), End: s.local(slot.End), Locale: locale},
			HoldExpiresAt: s.local(expires),
		}})
		if err != nil {
			return booking.Hold{}, err
		}
		blockEnd := slot.End.Add(svc.Buffer())
		dayStart, dayEnd := s.dayOf(slot.Start)
		conn, err := s.Pool.Acquire(ctx)
		if err != nil {
			return booking.Hold{}, err
		}
		// The hold waited for its connection before it looks at the
		// memory again: on a click day every connection is busy, and the
		// time may have been found full meanwhile.
		if s.Taken != nil && s.Taken.Taken(serviceID, slot.Start, s.Clock.Now()) {
			conn.Release()
			return booking.Hold{}, refusedTaken(ctx)
		}
		var result string
		// [16]byte: pgx encodes it as a uuid directly (uuid.UUID goes
		// through its driver.Valuer, a text round trip).
		err = s.queryRow(ctx, conn, `SELECT hold_slot($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21, $22, $23, $24, $25)`,
			[16]byte(id), serviceID, slot.Start, slot.End, blockEnd, hash, expires, locale, now, dayStart, dayEnd, version,
			ev.ID, ev.Type, s.Source, ev.DataSchema, ev.Data,
			clientID, address, limits.PerClient, clientLimit, limits.AddressPerMinute,
			s.Calendar.Location.String(), events.BookingReleased, schemaOf(events.BookingReleased)).Scan(&result)
		conn.Release()
		if err != nil {
			return booking.Hold{}, err
		}
		switch result {
		case "held":
			s.delivered()
			telemetry.Committed(ctx, events.BookingHeld, nil)
			return hold, nil
		case "limited_client":
			telemetry.HoldRefused(ctx, metrics.ReasonRateLimited)
			return booking.Hold{}, rateLimited(now, "client", limits.ClientPerMinute)
		case "limited_address":
			telemetry.HoldRefused(ctx, metrics.ReasonRateLimited)
			return booking.Hold{}, rateLimited(now, "address", limits.AddressPerMinute)
		case "taken":
			if s.Taken != nil {
				s.Taken.Remember(serviceID, slot.Start, now)
			}
			return booking.Hold{}, refusedTaken(ctx)
		case "stale":
			if s.Services != nil {
				s.Services.Reset()
			}
			if attempt < 3 {
				continue
			}
		}
		// A lapsed hold in the way, or a configuration changing under a
		// busy counter: the transactional path.
		hold, err = s.reserveInTx(ctx, clientID, serviceID, start, locale)
		if apperr.CodeOf(err) == apperr.Conflict {
			telemetry.HoldRefused(ctx, metrics.ReasonTaken)
		}
		return hold, err
	}
}

// refusedTaken counts a hold refused because no desk is free at its time,
// and answers the refusal.
func refusedTaken(ctx context.Context) error {
	telemetry.HoldRefused(ctx, metrics.ReasonTaken)
	return noDeskFree("start")
}

// schemaOf is the dataschema of events of type t.
func schemaOf(t string) string {
	ty, _ := events.Lookup(t)
	return ty.DataSchema()
}

// rateLimited is the refusal of a hold over a per-minute limit of who
// ("client" or "address"), until the next minute.
func rateLimited(now time.Time, who string, perMinute int) error {
	e := apperr.New(apperr.RateLimited, "", "too many holds asked for from this %s: at most %d a minute; try again in a moment", who, perMinute)
	e.Members = map[string]any{"limit": who + "_per_minute", "max": perMinute}
	e.RetryAfter = now.Truncate(time.Minute).Add(time.Minute).Sub(now)
	return e
}

// dayOf is the local day of t, as an interval: desks are chosen least
// busy that day first.
func (s *Store) dayOf(t time.Time) (time.Time, time.Time) {
	loc := s.Calendar.Location
	local := t.In(loc)
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc),
		time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
}

// reserveInTx is Reserve in a transaction of the store, desk by desk
// (Tx.place), expiring the lapsed holds in the way.
func (s *Store) reserveInTx(ctx context.Context, clientID *[16]byte, serviceID string, start time.Time, locale string) (booking.Hold, error) {
	var hold booking.Hold
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.lockConfigurationShared(ctx); err != nil {
			return err
		}
		svc, slot, sp, err := tx.slot(ctx, serviceID, start, nil)
		if err != nil {
			return err
		}
		id := uuid.New()
		token, hash := secret.New()
		expires := tx.Now.Add(s.holdTTL())
		d, err := tx.place(ctx, sp, "start", func(d desk) (bool, error) {
			// ON CONFLICT DO NOTHING covers the exclusion constraint: when a
			// concurrent transaction took this desk, the next one is tried.
			tag, err := tx.Exec(ctx, `
				INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status,
				                      hold_secret_hash, hold_expires_at, locale, created_at, updated_at, client_id)
				VALUES ($1, $2, $3, $4, $5, tstzrange($4, $6), 'held', $7, $8, $9, $10, $10, $11)
				ON CONFLICT DO NOTHING`,
				id, serviceID, d.id, slot.Start, slot.End, sp.blockEnd, hash, expires, locale, tx.Now, clientID)
			return err == nil && tag.RowsAffected() == 1, err
		})
		if err != nil {
			return err
		}
		if clientID != nil {
			limits := svc.Limits.Or(s.Limits)
			if err := tx.stamp(ctx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT release_client_holds($1, $2, $3, $4, $5, $6, $7, $8)`, clientID, [16]byte(id),
				limits.PerClient, tx.Now, s.Calendar.Location.String(), events.BookingReleased, s.Source,
				schemaOf(events.BookingReleased)); err != nil {
				return err
			}
			tx.events++ // maybe: a relay kick costs nothing when there is none
		}
		hold = booking.Hold{ID: id.String(), Secret: token, ExpiresAt: expires, ServiceID: serviceID, Start: slot.Start, End: slot.End}
		return tx.Emit(ctx, outbox.Event{
			Type: events.BookingHeld, Subject: id.String(),
			Data: events.BookingHeldData{
				Booking:       events.Booking{BookingID: id.String(), OfficeID: svc.OfficeID, ServiceID: svc.ID, Desk: d.label, Start: s.local(slot.Start), End: s.local(slot.End), Locale: locale},
				HoldExpiresAt: s.local(expires),
			},
		})
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
	deskID                   int64
	desk                     string
	start, end, holdExpires  time.Time
	status                   booking.Status
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
	       b.desk_id, d.label, b.starts_at, b.ends_at, b.hold_expires_at, b.status,
	       b.hold_secret_hash, b.sequence, b.locale, b.given_name, b.family_name, b.address, b.email,
	       b.reason, b.details, b.confirmed_at, b.cancelled_at
	FROM bookings b
	JOIN services s ON s.id = b.service_id
	JOIN offices o ON o.id = s.office_id
	JOIN desks d ON d.id = b.desk_id`

// scanRecord reads the columns of recordSelect, after the leading ones
// (lead) of a statement that answers more.
func scanRecord(row pgx.Row, lead ...any) (record, error) {
	var r record
	err := row.Scan(append(lead, &r.id, &r.serviceID, &r.officeID, &r.serviceName, &r.officeName, &r.whatToBring, &r.cutoffMinutes,
		&r.deskID, &r.desk, &r.start, &r.end, &r.holdExpires, &r.status,
		&r.holdHash, &r.sequence, &r.locale, &r.givenName, &r.familyName, &r.address, &r.email,
		&r.reason, &r.details, &r.confirmedAt, &r.cancelledAt)...)
	return r, err
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// changeableUntil is when the booking stops being changeable by its
// citizen: its service's cancellation cutoff before its start.
func (r record) changeableUntil() time.Time {
	return r.start.Add(-time.Duration(r.cutoffMinutes) * time.Minute)
}

// toBooking converts a stored record into what the citizen sees.
func (r record) toBooking() booking.Booking {
	return booking.Booking{
		ID: r.id.String(), Status: r.status,
		Appointment: booking.Appointment{
			OfficeID: r.officeID, OfficeName: r.officeName, ServiceID: r.serviceID, ServiceName: r.serviceName,
			Start: r.start, End: r.end, Desk: r.desk, Sequence: r.sequence,
		},
		WhatToBring:     r.whatToBring,
		ChangeableUntil: r.changeableUntil(),
		Citizen: booking.Citizen{
			Applicant: booking.Applicant{
				GivenName: deref(r.givenName), FamilyName: deref(r.familyName), Address: deref(r.address),
				Email: deref(r.email), Reason: deref(r.reason), Details: deref(r.details),
			},
			PrivacyConsent: r.confirmedAt != nil, Locale: r.locale,
		},
		ConfirmedAt: r.confirmedAt, CancelledAt: r.cancelledAt,
	}
}

func (r record) event(s *Store) events.Booking {
	return events.Booking{BookingID: r.id.String(), OfficeID: r.officeID, ServiceID: r.serviceID, Desk: r.desk,
		Start: s.local(r.start), End: s.local(r.end), Sequence: r.sequence, Locale: r.locale}
}

// Confirm turns a hold into a booking with the citizen's data. It answers
// the booking and its manage token, which is shown only this once. The same
// confirmation sent again (a retry after a lost answer: same hold, secret
// and data) answers the same booking with a new manage token, and writes
// nothing else: no second event, so no second mail. Errors: Invalid
// (citizen.*), NotFound (hold_id: unknown id or wrong secret), Gone
// (hold_id: the hold expired), Conflict (hold_id: already confirmed with
// other data, or cancelled).
//
// A live hold is confirmed by one statement, confirmLive: the booking's
// update, its manage token, the booking.confirmed.v1 outbox row and the
// audit row, and the answer. Only when it confirms nothing does a second
// one, confirm_hold (a server-side function), tell why: a retry, a hold
// already confirmed, expired, or unknown.
func (s *Store) Confirm(ctx context.Context, holdID, holdSecret string, c booking.Citizen) (booking.Confirmation, error) {
	var out booking.Confirmation
	c = c.Normalize()
	if err := c.Validate("citizen"); err != nil {
		return out, err
	}
	notFound := apperr.New(apperr.NotFound, "hold_id", "no hold with this id and secret")
	id, err := uuid.Parse(holdID)
	if err != nil || !secret.WellFormed(holdSecret) {
		return out, notFound
	}
	ev, err := outbox.Prepare(outbox.Event{Type: events.BookingConfirmed, Subject: holdID, Data: events.BookingConfirmedData{}})
	if err != nil {
		return out, err
	}
	token, tokenHash := secret.New()
	p := &confirmation{id: [16]byte(id), secretHash: secret.Hash(holdSecret), tokenHash: tokenHash, at: s.Clock.Now(),
		locale: c.Locale, applicant: [6]string{c.GivenName, c.FamilyName, c.Address, c.Email, c.Reason, c.Details}, event: ev}
	// The confirmation's row carries the trace even when it is not
	// sampled: its columns cost nothing more in confirmLive, and the
	// consumers then continue the trace unsampled instead of starting new
	// ones of their own.
	if s.Traced {
		tc := telemetry.ContextOf(ctx)
		p.trace = [2]string{tc.TraceParent, tc.TraceState}
	}
	if s.Confirmations != nil {
		if err := s.Confirmations.confirm(ctx, p, s.confirmLive); err != nil {
			return out, err
		}
	} else {
		p.done = make(chan struct{})
		s.confirmLive(ctx, []*confirmation{p})
	}
	r, err, outcome := p.row, p.err, "confirmed"
	if err == nil && !p.confirmed {
		r, err = scanRecord(s.Pool.QueryRow(ctx, `SELECT * FROM confirm_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			p.id, p.secretHash, p.tokenHash, "confirm", p.at, p.locale, p.applicant[0], p.applicant[1], p.applicant[2],
			p.applicant[3], p.applicant[4], p.applicant[5], s.Calendar.Location.String(), ev.ID, ev.Type, s.Source, ev.DataSchema), &outcome)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return out, notFound
	}
	if err != nil {
		return out, err
	}
	switch outcome {
	case "conflict":
		return out, apperr.New(apperr.Conflict, "hold_id", "this hold was already confirmed")
	case "expired":
		return out, apperr.New(apperr.Gone, "hold_id", "the hold expired at %s: choose the slot again", s.local(r.holdExpires).Format(time.RFC3339))
	case "confirmed":
		s.delivered()
		telemetry.Committed(ctx, events.BookingConfirmed, nil)
	}
	return booking.Confirmation{Booking: r.toBooking(), ManageToken: token}, nil
}

// confirmLive confirms live holds, one a row of its arrays: the hold $2
// whose secret hashes to $3, with the citizen's locale and data ($6–$12)
// at $5, in one statement: the booking, its manage token ($4, issued by
// $16), the booking.confirmed.v1 outbox row (its id $13, type $17, source
// $18, schema $19, trace context $14 and $15) and the audit row, which both
// carry the event's data with its times in the zone $1. It answers each
// booking confirmed as recordSelect does, after the row's number in the
// arrays (from 1) and the outcome; no row for a hold that is not live, or
// not there, or whose secret is another: confirm_hold then tells which.
// Of one hold asked twice in the arrays, one row confirms it.
//
// A confirmation used to be confirm_hold alone, six statements in a
// plpgsql function; each statement's setup (the executor's, and the CHECK
// constraints and index predicates prepared again for every table
// written) cost more than its rows, and so does each statement's commit:
// hence one statement for all the confirmations that wait together
// (confirmations.go, docs/performance.md).
//
// The hold's status, expiry and secret are tested in one CASE beside its
// key: "status = 'held' AND hold_expires_at > $5" matches the index of live
// holds by expiry, which a generic plan could then read whole instead of
// the primary key (TestConfirmFindsTheHoldByItsKey); "id = ANY($2)" sends
// the plan to the primary key whatever it guesses of the arrays' length.
// The zone is set by the first CTE for this statement only; the event's
// times are written after it, in the answer's projection.
const confirmLive = `
	WITH zone AS MATERIALIZED (
	    SELECT set_config('TimeZone', $1::text, true)
	), asked AS (
	    SELECT * FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::timestamptz[], $6::text[], $7::text[], $8::text[],
	                         $9::text[], $10::text[], $11::text[], $12::text[], $13::uuid[], $14::text[], $15::text[])
	           WITH ORDINALITY AS a(id, secret_hash, token_hash, at, locale, given_name, family_name,
	                                address, email, reason, details, event_id, traceparent, tracestate, n)
	), confirmed AS (
	    UPDATE bookings b SET status = 'confirmed', locale = a.locale, given_name = a.given_name, family_name = a.family_name,
	           address = a.address, email = a.email, reason = a.reason, details = a.details,
	           privacy_consent_at = a.at, confirmed_at = a.at, updated_at = a.at
	      FROM asked a
	     WHERE b.id = ANY($2::uuid[]) AND b.id = a.id
	       AND CASE WHEN b.status = 'held' THEN b.hold_expires_at > a.at AND b.hold_secret_hash = a.secret_hash END
	    RETURNING b.*, a.n AS asked_n, a.token_hash AS asked_token_hash, a.at AS asked_at, a.event_id AS asked_event_id,
	              a.traceparent AS asked_traceparent, a.tracestate AS asked_tracestate
	), token AS (
	    INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at)
	    SELECT c.asked_token_hash, c.id, $16, c.asked_at FROM confirmed c
	), booked AS (
	    SELECT c.*, s.office_id, s.name AS service_name, o.name AS office_name, s.what_to_bring, s.cancel_cutoff_minutes,
	           d.label AS desk,
	           jsonb_build_object('booking_id', c.id, 'office_id', s.office_id, 'service_id', c.service_id, 'desk', d.label,
	                              'start', to_json(c.starts_at), 'end', to_json(c.ends_at), 'sequence', c.sequence,
	                              'locale', c.locale) AS data
	      FROM confirmed c
	      JOIN services s ON s.id = c.service_id
	      JOIN offices o ON o.id = s.office_id
	      JOIN desks d ON d.id = c.desk_id
	      CROSS JOIN zone
	), event AS (
	    INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at, traceparent, tracestate)
	    SELECT b.asked_event_id, $17, $18, b.id::text, $19, b.asked_at, b.data, b.asked_at,
	           NULLIF(b.asked_traceparent, ''), NULLIF(b.asked_tracestate, '')
	      FROM booked b
	), audit AS (
	    INSERT INTO audit_log (at, actor_kind, actor_id, action, target_kind, target_id, office_id, detail)
	    SELECT b.asked_at, 'citizen', NULL, 'booking.confirmed', 'booking', b.id::text, b.office_id, b.data FROM booked b
	)
	SELECT b.asked_n, 'confirmed', b.id, b.service_id, b.office_id, b.service_name, b.office_name, b.what_to_bring, b.cancel_cutoff_minutes,
	       b.desk_id, b.desk, b.starts_at, b.ends_at, b.hold_expires_at, b.status,
	       b.hold_secret_hash, b.sequence, b.locale, b.given_name, b.family_name, b.address, b.email,
	       b.reason, b.details, b.confirmed_at, b.cancelled_at
	  FROM booked b`

// IssueToken makes a new manage token for a booking, issued by issuedBy
// (confirm, or send-email, which puts one in every mail: a token is only
// stored as a hash, so the first cannot be sent again).
func (tx *Tx) IssueToken(ctx context.Context, bookingID, issuedBy string) (string, error) {
	token, _ := secret.New()
	return token, tx.KeepToken(ctx, bookingID, issuedBy, token)
}

// KeepToken stores token, one IssueToken made, as a manage token of
// bookingID: for a consumer whose transaction was lost after the token
// left in a mail, to record it again.
func (tx *Tx) KeepToken(ctx context.Context, bookingID, issuedBy, token string) error {
	_, err := tx.Exec(ctx, `INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at) VALUES ($1, $2, $3, $4)`,
		secret.Hash(token), bookingID, issuedBy, tx.Now)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	return nil
}

// byToken finds the booking of a manage token. An unknown or malformed
// token is a plain NotFound.
func byToken(ctx context.Context, q querier, token string, lock bool) (record, error) {
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

// Booking returns the booking of a manage token. Errors: NotFound (token).
func (s *Store) Booking(ctx context.Context, token string) (booking.Booking, error) {
	r, err := byToken(ctx, s.Pool, token, false)
	if err != nil {
		return booking.Booking{}, err
	}
	return r.toBooking(), nil
}

// changeable locks the booking of a manage token and checks that it can
// still be moved or cancelled now.
func (tx *Tx) changeable(ctx context.Context, token string) (record, error) {
	r, err := byToken(ctx, tx, token, true)
	if err != nil {
		return r, err
	}
	if r.status != booking.Confirmed {
		return r, apperr.New(apperr.Conflict, "token", "the booking is %s and can no longer be changed", r.status)
	}
	until := r.changeableUntil()
	if tx.Now.After(until) {
		return r, apperr.New(apperr.Unprocessable, "token", "the booking can be changed only until %s", tx.store.local(until).Format(time.RFC3339))
	}
	return r, nil
}

// Reschedule moves a booking to the slot starting at start, in one
// statement: the new slot is taken and the old one released atomically, so
// a failure leaves the booking exactly as it was. A confirmed booking
// already at start is answered as it is, with no event: a retry of a
// reschedule whose answer was lost. Errors: NotFound (token), Conflict
// (token: not confirmed; start: no free desk), Unprocessable (token: past
// the cutoff), Invalid (start).
func (s *Store) Reschedule(ctx context.Context, token string, start time.Time) (booking.Booking, error) {
	var out booking.Booking
	err := s.InTx(ctx, func(tx *Tx) error {
		if r, err := byToken(ctx, tx, token, true); err == nil && r.status == booking.Confirmed && start.Equal(r.start) {
			out = r.toBooking()
			return nil
		}
		r, err := tx.changeable(ctx, token)
		if err != nil {
			return err
		}
		r, err = tx.move(ctx, r, start, audit.Citizen)
		out = r.toBooking()
		return err
	})
	return out, err
}

// move moves the locked, confirmed booking r to the slot of its service
// starting at start, checked against the service's schedule (hours,
// closures, notice, horizon) at the transaction's time, on a desk free
// then, and records its booking.rescheduled.v1 by actor. It answers the
// moved record; a booking already at start is answered as it is, with no
// event. Errors: Invalid (start: not a bookable slot), Conflict (start: no
// free desk).
func (tx *Tx) move(ctx context.Context, r record, start time.Time, actor audit.Actor) (record, error) {
	if start.Equal(r.start) {
		return r, nil
	}
	if err := tx.lockConfigurationShared(ctx); err != nil {
		return r, err
	}
	svc, slot, sp, err := tx.slot(ctx, r.serviceID, start, &r.id)
	if err != nil {
		return r, err
	}
	d, err := tx.place(ctx, sp, "start", func(d desk) (bool, error) {
		return tx.attempt(ctx, `
			UPDATE bookings SET desk_id = $2, starts_at = $3, ends_at = $4, blocks = tstzrange($3, $5),
			       sequence = sequence + 1, updated_at = $6
			WHERE id = $1`, r.id, d.id, slot.Start, slot.End, sp.blockEnd, tx.Now)
	})
	if err != nil {
		return r, err
	}
	prev := r
	r.deskID, r.desk, r.start, r.end, r.sequence = d.id, d.label, slot.Start, slot.End, r.sequence+1
	r.cutoffMinutes = svc.CancelCutoffMinutes
	ev := r.event(tx.store)
	return r, tx.Record(ctx, actor, ev.OfficeID, outbox.Event{
		Type: events.BookingRescheduled, Subject: r.id.String(),
		Data: events.BookingRescheduledData{Booking: ev, PreviousStart: tx.store.local(prev.start), PreviousEnd: tx.store.local(prev.end), PreviousDesk: prev.desk},
	})
}

// Cancel cancels a booking; its slot is free again at once. Errors:
// NotFound (token), Conflict (token: not confirmed), Unprocessable (token:
// past the cutoff).
func (s *Store) Cancel(ctx context.Context, token string) (booking.Booking, error) {
	var out booking.Booking
	err := s.InTx(ctx, func(tx *Tx) error {
		if r, err := byToken(ctx, tx, token, true); err == nil && r.status == booking.Cancelled {
			out = r.toBooking() // a second cancel (a retry): the cancelled booking, no event
			return nil
		}
		r, err := tx.changeable(ctx, token)
		if err != nil {
			return err
		}
		ev, err := tx.cancel(ctx, r.id, booking.ByCitizen, audit.Citizen)
		now := tx.Now
		r.status, r.cancelledAt, r.sequence = booking.Cancelled, &now, ev.Sequence
		out = r.toBooking()
		return err
	})
	return out, err
}

// cancel cancels the booking id — its slot is free again at once — and
// records its booking.cancelled.v1 (cancelled_by by) by actor: the one
// cancel statement, for the citizen, the office and an administrator's
// change alike. It answers the booking as the event carries it.
func (tx *Tx) cancel(ctx context.Context, id uuid.UUID, by string, actor audit.Actor) (events.Booking, error) {
	ev, err := tx.store.scanEvent(tx.QueryRow(ctx, `
		UPDATE bookings b SET status = 'cancelled', cancelled_at = $2, sequence = b.sequence + 1, updated_at = $2
		FROM services s, desks d
		WHERE b.id = $1 AND s.id = b.service_id AND d.id = b.desk_id
		RETURNING `+EventColumns, id, tx.Now))
	if err != nil {
		return ev, fmt.Errorf("cancel: %w", err)
	}
	return ev, tx.Record(ctx, actor, ev.OfficeID, outbox.Event{
		Type: events.BookingCancelled, Subject: ev.BookingID,
		Data: events.BookingCancelledData{Booking: ev, CancelledBy: by},
	})
}

// Release gives a hold back before its expiry — the citizen went back,
// chose another service or left the page — and its slot is free again at
// once, with a booking.released.v1. A hold released or lapsed already is
// released again without a word (a retry, a page left twice). Errors:
// NotFound (hold_id: no hold with this id and secret), Conflict (hold_id:
// confirmed already: cancel the booking instead).
func (s *Store) Release(ctx context.Context, holdID, holdSecret string) error {
	notFound := apperr.New(apperr.NotFound, "hold_id", "no hold with this id and secret")
	id, err := uuid.Parse(holdID)
	if err != nil || !secret.WellFormed(holdSecret) {
		return notFound
	}
	var freed events.Booking
	err = s.InTx(ctx, func(tx *Tx) error {
		var status booking.Status
		var hash []byte
		// By its key alone (see migration 00012).
		err := tx.QueryRow(ctx, `SELECT status, hold_secret_hash FROM bookings WHERE id = $1 FOR UPDATE`, [16]byte(id)).Scan(&status, &hash)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !secret.Matches(holdSecret, hash)) {
			return notFound
		}
		if err != nil {
			return err
		}
		switch status {
		case booking.Expired, booking.Released:
			return nil
		case booking.Held:
		default:
			return apperr.New(apperr.Conflict, "hold_id", "this hold is a %s booking now: cancel it with its manage link instead", status)
		}
		ev, err := tx.store.scanEvent(tx.QueryRow(ctx, `
			UPDATE bookings b SET status = 'released', updated_at = $2
			FROM services s, desks d
			WHERE b.id = $1 AND s.id = b.service_id AND d.id = b.desk_id
			RETURNING `+EventColumns, [16]byte(id), tx.Now))
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		freed = ev
		return tx.Emit(ctx, outbox.Event{Type: events.BookingReleased, Subject: ev.BookingID, Data: events.BookingReleasedData{Booking: ev}})
	})
	if err == nil && s.Taken != nil && freed.ServiceID != "" {
		// Its time is free again: this instance holds it at once.
		s.Taken.Forget(freed.ServiceID, freed.Start)
	}
	return err
}
