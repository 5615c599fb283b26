// Package operator holds the domain of the offices' side: operators and
// their roles, the scope of what an operator may see, the agenda, a
// booking as the office sees it, and the outcome of an appointment.
//
// An operator serves some offices; an administrator serves every office
// and configures them (package domain/admin). A booking outside an
// operator's scope is answered as if it did not exist.
package operator

import (
	"strings"
	"time"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/text"
)

// Roles.
const (
	RoleOperator      = "operator"
	RoleAdministrator = "administrator"
)

// Roles lists the roles an account can have.
var Roles = []string{RoleOperator, RoleAdministrator}

// MaxPassword is the longest password accepted, in bytes; MinPassword the
// shortest an administrator may set.
const (
	MaxPassword = 1024
	MinPassword = 12
)

// NormalizeEmail is the stored form of an operator's email: trimmed and
// lower-case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Office is an office an operator serves.
type Office struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Operator is a signed-in operator as the console sees them.
type Operator struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Offices     []Office `json:"offices"` // for an administrator: every office
}

// Administrator reports whether the operator administers every office.
func (o Operator) Administrator() bool { return o.Role == RoleAdministrator }

// OfficeIDs lists the ids of the operator's offices.
func (o Operator) OfficeIDs() []string {
	ids := make([]string, 0, len(o.Offices))
	for _, f := range o.Offices {
		ids = append(ids, f.ID)
	}
	return ids
}

// Scope is what the operator may see and act on.
func (o Operator) Scope() Scope {
	return Scope{OperatorID: o.ID, All: o.Administrator(), Offices: o.OfficeIDs()}
}

// Identity is the operator's identity in a video room, as the attendance
// records it and livekit-webhook reads it back.
func (o Operator) Identity() string { return "operator-" + o.ID }

// Scope is what an operator may see and act on: every office (an
// administrator) or the offices they serve.
type Scope struct {
	OperatorID string   // recorded as the actor of what they do
	All        bool     // every office
	Offices    []string // office ids, when not All
}

// OfficeList is Offices, never nil (for a query parameter).
func (sc Scope) OfficeList() []string {
	if sc.Offices == nil {
		return []string{}
	}
	return sc.Offices
}

// AgendaCitizen is the citizen as the agenda shows them.
type AgendaCitizen struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// AgendaEntry is one appointment in an operator's agenda.
type AgendaEntry struct {
	ID          string         `json:"id"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	OfficeID    string         `json:"office_id"`
	ServiceID   string         `json:"service_id"`
	ServiceName string         `json:"service_name"`
	Desk        string         `json:"desk"`
	Status      booking.Status `json:"status"`  // confirmed or completed
	Outcome     *string        `json:"outcome"` // completed, no_show or null
	Citizen     AgendaCitizen  `json:"citizen"`
}

// Citizen is the citizen's data as the office sees them: the applicant
// and the language the citizen reads.
type Citizen struct {
	booking.Applicant
	Locale string `json:"locale"`
}

// Booking is a booking in full, as the office sees it.
type Booking struct {
	ID     string         `json:"id"`
	Status booking.Status `json:"status"`
	booking.Appointment
	Citizen     Citizen              `json:"citizen"`
	ConfirmedAt *time.Time           `json:"confirmed_at"`
	CancelledAt *time.Time           `json:"cancelled_at"`
	Outcome     *string              `json:"outcome"`
	OutcomeNote *string              `json:"outcome_note"`
	OutcomeAt   *time.Time           `json:"outcome_at"`
	OutcomeBy   *string              `json:"outcome_by"` // the operator's id; null when the system recorded it
	Purged      bool                 `json:"purged"`     // the personal data were erased after the retention period
	Documents   []booking.Document   `json:"documents"`
	Attendance  []booking.Attendance `json:"attendance"` // who was in the video room and when, from LiveKit's webhooks
	History     []HistoryEntry       `json:"history"`    // the booking's audit log, newest first
}

// HistoryEntry is a change to a booking as its history shows it: who did
// what, and when (the audit log's row, without its detail).
type HistoryEntry struct {
	At     time.Time   `json:"at"`
	Actor  audit.Actor `json:"actor"`
	Action string      `json:"action"` // e.g. booking.confirmed, booking.rescheduled, document.uploaded
}

// BookingRef is what an operator's action needs to know of a booking of
// its scope before acting on it: where it stands and when it is.
type BookingRef struct {
	ID       string
	Status   booking.Status // confirmed, cancelled or completed
	OfficeID string
	Start    time.Time
	End      time.Time
	Sequence int
}

// MaxOutcomeNote is the longest outcome note, in characters.
const MaxOutcomeNote = 500

// Outcomes are the outcomes of an appointment.
var Outcomes = []string{events.OutcomeCompleted, events.OutcomeNoShow}

// ValidateOutcome checks an outcome and its note (trimmed by the caller).
// Errors: Invalid (outcome, note).
func ValidateOutcome(outcome, note string) error {
	var v apperr.Validation
	switch outcome {
	case events.OutcomeCompleted, events.OutcomeNoShow:
	case "":
		v.Add("outcome", apperr.Required, "required: completed or no_show").Allowed = Outcomes
	default:
		v.NotAllowed("outcome", Outcomes...)
	}
	text.Check(&v, "note", note, text.Rules{Max: MaxOutcomeNote, Multiline: true})
	return v.Err()
}
