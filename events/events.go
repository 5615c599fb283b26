// Package events is the contract between Sportello and whoever listens to it:
// the CloudEvents types the booking functions emit, their Go payloads and
// their JSON Schemas (in schemas/, embedded here).
//
// Every event has:
//   - type: a versioned reverse-DNS name, io.github.sportello.<entity>.<verb>.v<N>;
//   - source: /sportello/<function> (the function that wrote it);
//   - subject: the booking id;
//   - id: fixed when the state change is written, so a redelivery carries the
//     same id and consumers can deduplicate on (source, id);
//   - dataschema: the URL of the JSON Schema of data;
//   - datacontenttype: application/json.
//
// Payloads carry no personal data (no name, address or email): a consumer that
// needs them reads the booking through Sportello. This package imports only
// the standard library, so integrators can import it cheaply.
package events

import (
	"embed"
	"time"
)

// The event types. A breaking change to a payload gets a new version suffix.
const (
	BookingHeld        = "io.github.sportello.booking.held.v1"
	BookingConfirmed   = "io.github.sportello.booking.confirmed.v1"
	BookingRescheduled = "io.github.sportello.booking.rescheduled.v1"
	BookingCancelled   = "io.github.sportello.booking.cancelled.v1"
	BookingExpired     = "io.github.sportello.booking.expired.v1"
	BookingReleased    = "io.github.sportello.booking.released.v1"
	BookingReminder    = "io.github.sportello.booking.reminder.v1"
	BookingPurged      = "io.github.sportello.booking.purged.v1"
	RoomProvisioned    = "io.github.sportello.room.provisioned.v1"
	RoomDeleted        = "io.github.sportello.room.deleted.v1"
	DocumentUploaded   = "io.github.sportello.document.uploaded.v1"
	BookingCompleted   = "io.github.sportello.booking.completed.v1"
	ParticipantJoined  = "io.github.sportello.participant.joined.v1"
	ParticipantLeft    = "io.github.sportello.participant.left.v1"
	RoomFinished       = "io.github.sportello.room.finished.v1"

	// The administration's changes to the configuration (subject: the
	// changed entity's id).
	OfficeChanged   = "io.github.sportello.office.changed.v1"
	ServiceChanged  = "io.github.sportello.service.changed.v1"
	ClosureAdded    = "io.github.sportello.closure.added.v1"
	ClosureRemoved  = "io.github.sportello.closure.removed.v1"
	DeskChanged     = "io.github.sportello.desk.changed.v1"
	OperatorChanged = "io.github.sportello.operator.changed.v1"
)

// Ping is the type of the periodic events of a Knative PingSource (in the
// local stack, of its ticker); they drive housekeeping.
const Ping = "dev.knative.sources.ping"

// SchemaBase is where the schemas are published; dataschema is SchemaBase
// followed by the schema's file name.
const SchemaBase = "https://github.com/sportello/sportello/blob/main/events/schemas/"

// Schemas holds the JSON Schemas, one file per event type.
//
//go:embed schemas/*.json
var Schemas embed.FS

// Type describes one event type.
type Type struct {
	Name        string // the CloudEvents type
	Description string
	SchemaFile  string // file name in schemas/
	Example     any    // a payload value, also used by the tests
}

// DataSchema is the dataschema attribute of events of this type.
func (t Type) DataSchema() string { return SchemaBase + t.SchemaFile }

// Catalog lists every event type Sportello emits.
var Catalog = []Type{
	{BookingHeld, "A citizen holds a slot while entering their data. The hold lapses at hold_expires_at unless confirmed.", "booking.held.v1.json", BookingHeldData{}},
	{BookingConfirmed, "A hold became a booking: the citizen confirmed with their data and consent.", "booking.confirmed.v1.json", BookingConfirmedData{}},
	{BookingRescheduled, "A confirmed booking moved to another slot; the previous slot is free again.", "booking.rescheduled.v1.json", BookingRescheduledData{}},
	{BookingCancelled, "A confirmed booking was cancelled; its slot is free again.", "booking.cancelled.v1.json", BookingCancelledData{}},
	{BookingExpired, "A hold lapsed without being confirmed; its slot is free again.", "booking.expired.v1.json", BookingExpiredData{}},
	{BookingReleased, "A hold was given back before its expiry — the citizen went back, took another time or left — and its slot is free again.", "booking.released.v1.json", BookingReleasedData{}},
	{BookingReminder, "A confirmed booking starts soon: 24 hours or 1 hour before, once each.", "booking.reminder.v1.json", BookingReminderData{}},
	{BookingPurged, "The personal data of a past booking were erased after the retention period.", "booking.purged.v1.json", BookingPurgedData{}},
	{RoomProvisioned, "The video room of a booking exists on LiveKit (created, or moved with a reschedule).", "room.provisioned.v1.json", RoomData{}},
	{RoomDeleted, "The video room of a cancelled booking was removed.", "room.deleted.v1.json", RoomData{}},
	{DocumentUploaded, "A document was uploaded for a booking, by the citizen or the office.", "document.uploaded.v1.json", DocumentUploadedData{}},
	{BookingCompleted, "The office recorded the outcome of an appointment: held (completed) or the citizen did not come (no_show).", "booking.completed.v1.json", BookingCompletedData{}},
	{ParticipantJoined, "Someone joined a booking's video room (from a verified LiveKit webhook).", "participant.joined.v1.json", ParticipantData{}},
	{ParticipantLeft, "Someone left a booking's video room (from a verified LiveKit webhook).", "participant.left.v1.json", ParticipantData{}},
	{RoomFinished, "A booking's video room closed on LiveKit (from a verified LiveKit webhook).", "room.finished.v1.json", RoomFinishedData{}},
	{OfficeChanged, "An administrator created an office or changed its settings (a deactivated office also deactivates its services).", "office.changed.v1.json", OfficeChangedData{}},
	{ServiceChanged, "An administrator created a service or changed its settings or its weekly opening hours.", "service.changed.v1.json", ServiceChangedData{}},
	{ClosureAdded, "An administrator closed an office, or every office, for a range of days.", "closure.added.v1.json", ClosureData{}},
	{ClosureRemoved, "An administrator removed a closure: its days open again.", "closure.removed.v1.json", ClosureData{}},
	{DeskChanged, "An administrator added a desk (a unit of parallel capacity) to a service, or renamed, deactivated or reactivated one.", "desk.changed.v1.json", DeskChangedData{}},
	{OperatorChanged, "An administrator created an operator account, or changed its role, offices or state, or reset its password.", "operator.changed.v1.json", OperatorChangedData{}},
}

// Lookup returns the catalog entry of a type name.
func Lookup(name string) (Type, bool) {
	for _, t := range Catalog {
		if t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// Booking is what every booking event says about the booking.
type Booking struct {
	BookingID string    `json:"booking_id"` // also the event's subject
	OfficeID  string    `json:"office_id"`
	ServiceID string    `json:"service_id"`
	Desk      string    `json:"desk"`     // the desk's label
	Start     time.Time `json:"start"`    // RFC 3339 with offset
	End       time.Time `json:"end"`      // end of the meeting (without buffer)
	Sequence  int       `json:"sequence"` // grows with every change, as in iCalendar
	Locale    string    `json:"locale"`   // "it" or "en": the citizen's language
}

// BookingHeldData is the data of BookingHeld.
type BookingHeldData struct {
	Booking
	HoldExpiresAt time.Time `json:"hold_expires_at"`
}

// BookingConfirmedData is the data of BookingConfirmed.
type BookingConfirmedData struct {
	Booking
}

// BookingRescheduledData is the data of BookingRescheduled.
type BookingRescheduledData struct {
	Booking
	PreviousStart time.Time `json:"previous_start"`
	PreviousEnd   time.Time `json:"previous_end"`
	PreviousDesk  string    `json:"previous_desk"`
}

// BookingCancelledData is the data of BookingCancelled.
type BookingCancelledData struct {
	Booking
	CancelledBy string `json:"cancelled_by"` // "citizen", "operator" (an operator or administrator) or "system"
}

// BookingExpiredData is the data of BookingExpired.
type BookingExpiredData struct {
	Booking
}

// BookingReleasedData is the data of BookingReleased.
type BookingReleasedData struct {
	Booking
}

// Reminder kinds.
const (
	Reminder24h = "24h"
	Reminder1h  = "1h"
)

// BookingReminderData is the data of BookingReminder.
type BookingReminderData struct {
	Booking
	Reminder string `json:"reminder"` // Reminder24h or Reminder1h
}

// BookingPurgedData is the data of BookingPurged.
type BookingPurgedData struct {
	BookingID string    `json:"booking_id"`
	PurgedAt  time.Time `json:"purged_at"`
}

// RoomData is the data of RoomProvisioned and RoomDeleted.
type RoomData struct {
	BookingID string    `json:"booking_id"`
	Room      string    `json:"room"`      // the LiveKit room name
	OpensAt   time.Time `json:"opens_at"`  // when join starts minting tokens
	ClosesAt  time.Time `json:"closes_at"` // when join stops minting tokens
	Sequence  int       `json:"sequence"`  // the booking's sequence this room follows
}

// DocumentUploadedData is the data of DocumentUploaded. The file name is
// left out: it often holds a person's name.
type DocumentUploadedData struct {
	BookingID   string `json:"booking_id"`
	DocumentID  string `json:"document_id"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	UploadedBy  string `json:"uploaded_by"` // "citizen" or "office"
}

// Outcomes of an appointment.
const (
	OutcomeCompleted = "completed"
	OutcomeNoShow    = "no_show"
)

// BookingCompletedData is the data of BookingCompleted. The operator's note
// is left out: it may hold personal data.
type BookingCompletedData struct {
	Booking
	Outcome    string `json:"outcome"`     // OutcomeCompleted or OutcomeNoShow
	RecordedBy string `json:"recorded_by"` // "operator" or "system" (a no-show found by housekeeping)
}

// ParticipantData is the data of ParticipantJoined and ParticipantLeft.
type ParticipantData struct {
	BookingID string    `json:"booking_id"`
	Room      string    `json:"room"`
	Role      string    `json:"role"`     // "citizen" or "operator"
	Identity  string    `json:"identity"` // the LiveKit identity: citizen-<booking_id> or operator-<operator_id>
	At        time.Time `json:"at"`
}

// RoomFinishedData is the data of RoomFinished.
type RoomFinishedData struct {
	BookingID string    `json:"booking_id"`
	Room      string    `json:"room"`
	At        time.Time `json:"at"`
}

// The change an administration event reports.
const (
	ChangeCreated       = "created"        // the entity is new
	ChangeUpdated       = "updated"        // its settings changed
	ChangeHours         = "hours"          // a service's weekly opening hours were replaced
	ChangePasswordReset = "password_reset" // an operator's password was reset
)

// OfficeChangedData is the data of OfficeChanged: the office's settings
// after the change. CancelledBookings lists the bookings the change
// cancelled (each also has its booking.cancelled.v1), never null.
type OfficeChangedData struct {
	OfficeID          string   `json:"office_id"`
	Change            string   `json:"change"` // ChangeCreated or ChangeUpdated
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Address           string   `json:"address"`
	Position          int      `json:"position"`
	Active            bool     `json:"active"`
	CancelledBookings []string `json:"cancelled_bookings"`
}

// OpeningHours is one weekly opening period, local wall-clock time.
type OpeningHours struct {
	Weekday int    `json:"weekday"` // 1 = Monday ... 7 = Sunday
	Opens   string `json:"opens"`   // "09:00"
	Closes  string `json:"closes"`  // "12:30"; "24:00" is midnight
}

// ServiceChangedData is the data of ServiceChanged: the service's settings
// and weekly hours after the change.
type ServiceChangedData struct {
	ServiceID           string         `json:"service_id"`
	OfficeID            string         `json:"office_id"`
	Change              string         `json:"change"` // ChangeCreated, ChangeUpdated or ChangeHours
	Name                string         `json:"name"`
	Description         string         `json:"description"`
	DurationMinutes     int            `json:"duration_minutes"`
	BufferMinutes       int            `json:"buffer_minutes"`
	MinNoticeMinutes    int            `json:"min_notice_minutes"`
	HorizonDays         int            `json:"horizon_days"`
	CancelCutoffMinutes int            `json:"cancel_cutoff_minutes"`
	WhatToBring         string         `json:"what_to_bring"`
	OpenOnHolidays      bool           `json:"open_on_holidays"`
	Active              bool           `json:"active"`
	Position            int            `json:"position"`
	OpeningHours        []OpeningHours `json:"opening_hours"`
	CancelledBookings   []string       `json:"cancelled_bookings"`
}

// ClosureData is the data of ClosureAdded and ClosureRemoved.
type ClosureData struct {
	ClosureID         int64    `json:"closure_id"`
	OfficeID          *string  `json:"office_id"` // null: every office
	FirstDay          string   `json:"first_day"` // YYYY-MM-DD, local
	LastDay           string   `json:"last_day"`  // included
	Reason            string   `json:"reason"`
	CancelledBookings []string `json:"cancelled_bookings"`
}

// DeskReassignment is a booking moved to another desk of its service, at
// the same time, because its desk was deactivated.
type DeskReassignment struct {
	BookingID string `json:"booking_id"`
	Desk      string `json:"desk"` // the label of its new desk
}

// DeskChangedData is the data of DeskChanged.
type DeskChangedData struct {
	DeskID            int64              `json:"desk_id"`
	ServiceID         string             `json:"service_id"`
	OfficeID          string             `json:"office_id"`
	Change            string             `json:"change"` // ChangeCreated or ChangeUpdated
	Label             string             `json:"label"`
	Active            bool               `json:"active"`
	Reassigned        []DeskReassignment `json:"reassigned"`
	CancelledBookings []string           `json:"cancelled_bookings"`
}

// OperatorChangedData is the data of OperatorChanged. The operator's email
// and name are left out: they are personal data.
type OperatorChangedData struct {
	OperatorID string   `json:"operator_id"`
	Change     string   `json:"change"` // ChangeCreated, ChangeUpdated or ChangePasswordReset
	Role       string   `json:"role"`   // operator or administrator
	OfficeIDs  []string `json:"office_ids"`
	Active     bool     `json:"active"`
}
