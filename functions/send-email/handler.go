package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Consumer is the name send-email records handled events under.
const Consumer = "send-email"

// Sender turns booking events into mails.
type Sender struct {
	Store     *postgres.Store // the database, the clock and the municipality's time zone (TIME_ZONE)
	SMTP      *SMTP
	From      *netmail.Address // MAIL_FROM, also the invite's ORGANIZER
	PublicURL string           // the site's origin, without a trailing slash
	Log       *slog.Logger
}

// Kind is what happened to the booking, as a mail tells it.
type Kind string

// The kinds of mail, one per consumed event type.
const (
	Confirmed   Kind = "confirmed"
	Rescheduled Kind = "rescheduled"
	Cancelled   Kind = "cancelled"
	Reminder    Kind = "reminder"
)

var kindOf = map[string]Kind{
	events.BookingConfirmed:   Confirmed,
	events.BookingRescheduled: Rescheduled,
	events.BookingCancelled:   Cancelled,
	events.BookingReminder:    Reminder,
}

// Notice is a consumed event, checked: the booking it is about and what
// the event says beyond that.
type Notice struct {
	Kind      Kind
	BookingID uuid.UUID
	Sequence  int
	// PreviousStart is the start before a reschedule (zero otherwise).
	PreviousStart time.Time
	// Reminder is events.Reminder24h or events.Reminder1h for a reminder.
	Reminder string
	// ByOffice: the office cancelled (cancelled_by operator), not the citizen.
	ByOffice bool
}

// payload is the union of the consumed events' data.
type payload struct {
	events.Booking
	PreviousStart *time.Time `json:"previous_start"`
	Reminder      string     `json:"reminder"`
	CancelledBy   string     `json:"cancelled_by"`
}

// parse checks a consumed event. Anything wrong with it is an
// apperr.Invalid naming the attribute or data field: the event can never be
// handled, so the broker dead-letters it instead of retrying.
func parse(ev cloudevents.Event) (Notice, error) {
	var n Notice
	kind, ok := kindOf[ev.Type()]
	if !ok {
		return n, apperr.New(apperr.Invalid, "type", "send-email does not consume %q", ev.Type())
	}
	n.Kind = kind
	if ct := ev.DataContentType(); ct != "" && ct != cloudevents.ApplicationJSON && !strings.HasPrefix(ct, cloudevents.ApplicationJSON+";") && !strings.HasSuffix(ct, "+json") {
		return n, apperr.New(apperr.Invalid, "datacontenttype", "data must be JSON, not %q", ct)
	}
	if len(ev.Data()) == 0 {
		return n, apperr.New(apperr.Invalid, "data", "the event has no data")
	}
	var p payload
	if err := json.Unmarshal(ev.Data(), &p); err != nil {
		return n, apperr.New(apperr.Invalid, "data", "data is not a %s payload: %s", ev.Type(), err)
	}
	var v apperr.Validation
	id, err := uuid.Parse(p.BookingID)
	switch {
	case p.BookingID == "":
		v.Required("data.booking_id")
	case err != nil:
		v.Add("data.booking_id", apperr.InvalidFormat, "not a booking id")
	case ev.Subject() != "" && ev.Subject() != p.BookingID:
		v.Add("subject", apperr.NotAllowed, "the subject is not data.booking_id")
	}
	if p.Sequence < 0 {
		v.Add("data.sequence", apperr.OutOfRange, "must not be negative")
	}
	if kind == Reminder && p.Reminder != events.Reminder24h && p.Reminder != events.Reminder1h {
		v.NotAllowed("data.reminder", events.Reminder24h, events.Reminder1h)
	}
	if kind == Rescheduled && (p.PreviousStart == nil || p.PreviousStart.IsZero()) {
		v.Required("data.previous_start")
	}
	if err := v.Err(); err != nil {
		return n, err
	}
	n.BookingID, n.Sequence, n.Reminder = id, p.Sequence, p.Reminder
	n.ByOffice = kind == Cancelled && p.CancelledBy == booking.ByOperator
	if kind == Rescheduled {
		n.PreviousStart = *p.PreviousStart
	}
	return n, nil
}

// Appointment is a booking as a mail describes it, read from the database.
// It holds personal data: never log it.
type Appointment struct {
	ID                    string
	Status                booking.Status
	Sequence              int
	Locale                string
	Start, End            time.Time
	Purged                bool
	Email                 string
	GivenName, FamilyName string
	Reason, Details       string
	Office, Service       string
	Desk, WhatToBring     string
}

// load reads the booking of a notice. An unknown id is an Invalid: the
// event was never written by Sportello (bookings are never deleted), so
// retrying cannot help.
func load(ctx context.Context, tx *postgres.Tx, id uuid.UUID) (Appointment, error) {
	var a Appointment
	var purgedAt *time.Time
	var email, given, family, reason, details *string
	err := tx.QueryRow(ctx, `
		SELECT b.id::text, b.status, b.sequence, b.locale, b.starts_at, b.ends_at, b.purged_at,
		       b.email, b.given_name, b.family_name, b.reason, b.details,
		       o.name, s.name, d.label, s.what_to_bring
		FROM bookings b
		JOIN services s ON s.id = b.service_id
		JOIN offices o ON o.id = s.office_id
		JOIN desks d ON d.id = b.desk_id
		WHERE b.id = $1`, id).Scan(
		&a.ID, &a.Status, &a.Sequence, &a.Locale, &a.Start, &a.End, &purgedAt,
		&email, &given, &family, &reason, &details,
		&a.Office, &a.Service, &a.Desk, &a.WhatToBring)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, apperr.New(apperr.Invalid, "data.booking_id", "no booking with this id")
	}
	if err != nil {
		return a, fmt.Errorf("load booking: %w", err)
	}
	a.Purged = purgedAt != nil
	a.Email, a.GivenName, a.FamilyName = deref(email), deref(given), deref(family)
	a.Reason, a.Details = deref(reason), deref(details)
	return a, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Outcomes of an event, as logged.
const (
	Sent      = "sent"
	Duplicate = "duplicate"     // handled before: nothing to do
	Stale     = "stale"         // an outdated event: a later one mails the current state
	NoAddress = "no_address"    // the personal data were purged, or there is no email
	Started   = "already_begun" // a reminder for an appointment that has begun
)

// skip says why a notice must not be mailed, or "" when it must.
func skip(n Notice, a Appointment, now time.Time) (string, error) {
	if n.Sequence > a.Sequence {
		// Events are written with the change they report: the booking
		// cannot be behind its own event.
		return "", apperr.New(apperr.Invalid, "data.sequence", "the event's sequence %d is ahead of the booking's %d", n.Sequence, a.Sequence)
	}
	if a.Purged || a.Email == "" {
		return NoAddress, nil
	}
	if n.Sequence < a.Sequence {
		return Stale, nil
	}
	want := booking.Confirmed
	if n.Kind == Cancelled {
		want = booking.Cancelled
	}
	if a.Status != want { // e.g. completed
		return Stale, nil
	}
	if n.Kind == Reminder && !now.Before(a.Start) {
		return Started, nil
	}
	return "", nil
}

// Handle mails one consumed event, once.
func (s *Sender) Handle(ctx context.Context, ev cloudevents.Event) error {
	n, err := parse(ev)
	if err != nil {
		return err
	}
	outcome := Sent
	var sent *string // the token of the mail that left, once it has
	ran, err := s.Store.Consume(ctx, Consumer, ev, func(tx *postgres.Tx) error {
		now := tx.Now
		a, err := load(ctx, tx, n.BookingID)
		if err != nil {
			return err
		}
		why, err := skip(n, a, now)
		if err != nil || why != "" {
			outcome = why
			return err
		}
		token := ""
		if n.Kind != Cancelled {
			// A cancelled booking has no room to join and nothing left
			// to change: its mail carries no secret link.
			if token, err = tx.IssueToken(ctx, a.ID, Consumer); err != nil {
				return err
			}
		}
		m, err := s.compose(n, a, token, now)
		if err != nil {
			return err
		}
		if err := s.SMTP.Send(ctx, m); err != nil {
			return err
		}
		sent = &token
		return nil
	})
	if err != nil && sent != nil && apperr.Is(postgres.Unavailable(err), apperr.Unavailable) {
		// The mail left, and the database was lost before the commit:
		// record it again once the database is back, rather than let the
		// broker's redelivery mail the citizen twice.
		ran, err = s.recordSent(ctx, ev, n.BookingID.String(), *sent)
	}
	if err != nil {
		return err
	}
	if !ran {
		outcome = Duplicate
	}
	s.Log.Info("event handled", "event_id", ev.ID(), "type", ev.Type(), "booking_id", n.BookingID.String(), "sequence", n.Sequence, "outcome", outcome)
	return nil
}

// recordSent records ev as handled, with the token its mail carries (""
// for none), retrying while the database cannot be reached, until ctx
// ends (the broker's delivery timeout): then the error comes back and the
// broker's redelivery sends the mail again, the one way left to repeat it.
func (s *Sender) recordSent(ctx context.Context, ev cloudevents.Event, bookingID, token string) (bool, error) {
	for {
		_, err := s.Store.Consume(ctx, Consumer, ev, func(tx *postgres.Tx) error {
			if token == "" {
				return nil
			}
			return tx.KeepToken(ctx, bookingID, Consumer, token)
		})
		if err == nil || !apperr.Is(postgres.Unavailable(err), apperr.Unavailable) {
			return true, err
		}
		s.Log.Warn("mail sent, its record waits for the database", "event_id", ev.ID(), "err", err)
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
