// Package booking holds the domain of the counter as citizens meet it:
// offices, services, free slots, holds, the states of a booking, the
// citizen's data with its validation, the documents exchanged and who was
// in the video room.
//
// A booking starts as a hold (Held), which lapses (Expired) unless the
// citizen confirms it (Confirmed) or gives it back (Released: going back,
// taking another time, leaving the page); a confirmed booking is later
// Cancelled or Completed. Storage lives in package store/postgres; slot arithmetic in
// domain/schedule.
package booking

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/schedule"
)

// Status is the state of a booking. It is a struct so that only the values
// below exist (no stray strings).
type Status struct{ s string }

// The states of a booking.
var (
	Held      = Status{"held"}
	Expired   = Status{"expired"}
	Released  = Status{"released"}
	Confirmed = Status{"confirmed"}
	Cancelled = Status{"cancelled"}
	Completed = Status{"completed"}
)

// String returns the stored form of the status.
func (s Status) String() string { return s.s }

// MarshalText writes the status in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.s), nil }

// UnmarshalText reads the status from JSON.
func (s *Status) UnmarshalText(b []byte) error {
	st, err := ParseStatus(string(b))
	*s = st
	return err
}

// ParseStatus reads a stored status.
func ParseStatus(v string) (Status, error) {
	for _, s := range []Status{Held, Expired, Released, Confirmed, Cancelled, Completed} {
		if s.s == v {
			return s, nil
		}
	}
	return Status{}, fmt.Errorf("booking: unknown status %q", v)
}

// Active reports whether the booking holds its desk: a hold (until it
// lapses) or a confirmed booking.
func (s Status) Active() bool { return s == Held || s == Confirmed }

// Scan reads a status from the database.
func (s *Status) Scan(src any) error {
	v, ok := src.(string)
	if !ok {
		return fmt.Errorf("booking: a status is text, not %T", src)
	}
	st, err := ParseStatus(v)
	*s = st
	return err
}

// Value writes a status to the database.
func (s Status) Value() (driver.Value, error) { return s.s, nil }

// Who cancelled a booking (booking.cancelled.v1's cancelled_by) and who
// recorded its outcome (booking.completed.v1's recorded_by).
const (
	ByCitizen  = "citizen"
	ByOperator = "operator" // the office: an operator, or an administrator's change
	BySystem   = "system"   // housekeeping: a no-show nobody recorded by hand
)

// Office is a municipal office (ufficio) that offers services.
type Office struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Services    []Service `json:"services"`
}

// Service is what a citizen books: a meeting of a fixed duration with one of
// the service's desks, on the service's terms.
type Service struct {
	ID          string `json:"id"`
	OfficeID    string `json:"office_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Terms
	Desks    int        `json:"desks"`
	Hours    []Hours    `json:"opening_hours"`
	Limits   HoldLimits `json:"-"` // the office's own limits (zero: the counter's defaults)
	closures []schedule.Closure
}

// Terms are the terms on which a service is booked: how long a meeting
// lasts and the free time kept after it, how late and how far ahead it can
// be booked, until when it can be changed, what the citizen brings, and
// whether the service opens on public holidays. A service (as citizens and
// as the administration see it) embeds them, so its JSON carries them as
// members of its own.
type Terms struct {
	DurationMinutes     int    `json:"duration_minutes"`
	BufferMinutes       int    `json:"buffer_minutes"`        // free time kept after each meeting
	MinNoticeMinutes    int    `json:"min_notice_minutes"`    // how long before its start a meeting can still be booked
	HorizonDays         int    `json:"horizon_days"`          // how many days ahead it can be booked
	CancelCutoffMinutes int    `json:"cancel_cutoff_minutes"` // how long before its start a booking can still be changed
	WhatToBring         string `json:"what_to_bring"`
	OpenOnHolidays      bool   `json:"open_on_holidays"`
}

// Hours is one weekly opening period of a service, in local wall-clock time.
type Hours struct {
	Weekday int    `json:"weekday"` // 1 = Monday ... 7 = Sunday
	Opens   string `json:"opens"`   // "09:00"
	Closes  string `json:"closes"`  // "12:30"
}

// Rules returns the scheduling rules of the service: its terms, weekly
// hours and closures.
func (s Service) Rules() schedule.Rules {
	r := schedule.Rules{
		Duration:       inMinutes(s.DurationMinutes),
		Buffer:         s.Buffer(),
		MinNotice:      inMinutes(s.MinNoticeMinutes),
		HorizonDays:    s.HorizonDays,
		OpenOnHolidays: s.OpenOnHolidays,
		Hours:          map[time.Weekday][]schedule.Interval{},
		Closures:       s.closures,
	}
	for _, h := range s.Hours {
		wd := time.Weekday(h.Weekday % 7) // ISO 7 (Sunday) is Go's 0
		r.Hours[wd] = append(r.Hours[wd], schedule.Interval{Opens: minutes(h.Opens), Closes: minutes(h.Closes)})
	}
	return r
}

// WithClosures returns the service with the closures that apply to it.
func (s Service) WithClosures(c []schedule.Closure) Service {
	s.closures = c
	return s
}

// CancelCutoff is how long before the start a booking can still be changed.
func (t Terms) CancelCutoff() time.Duration { return inMinutes(t.CancelCutoffMinutes) }

// Buffer is the free time kept after each meeting.
func (t Terms) Buffer() time.Duration { return inMinutes(t.BufferMinutes) }

func inMinutes(n int) time.Duration { return time.Duration(n) * time.Minute }

// minutes reads a wall-clock time "HH:MM" as minutes from midnight.
func minutes(hhmm string) int {
	h, m, _ := strings.Cut(hhmm, ":")
	hours, _ := strconv.Atoi(h)
	mins, _ := strconv.Atoi(m)
	return hours*60 + mins
}

// FreeSlot is a slot with its remaining capacity: the number of free desks.
type FreeSlot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Free  int       `json:"free"`
}

// Hold is what reserve answers: the id and secret that confirm needs.
type Hold struct {
	ID        string    `json:"hold_id"`
	Secret    string    `json:"hold_secret"`
	ExpiresAt time.Time `json:"expires_at"`
	ServiceID string    `json:"service_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// Appointment is where and when a booking stands: its office, service and
// desk, its time, and its sequence, which grows with every change (as in
// iCalendar). The citizen's view of a booking and the office's share it.
type Appointment struct {
	OfficeID    string    `json:"office_id"`
	OfficeName  string    `json:"office_name"`
	ServiceID   string    `json:"service_id"`
	ServiceName string    `json:"service_name"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Desk        string    `json:"desk"`
	Sequence    int       `json:"sequence"`
}

// Booking is a booking as its citizen sees it through the manage link.
type Booking struct {
	ID     string `json:"booking_id"`
	Status Status `json:"status"`
	Appointment
	WhatToBring     string     `json:"what_to_bring"`
	ChangeableUntil time.Time  `json:"changeable_until"`
	Citizen         Citizen    `json:"citizen"`
	ConfirmedAt     *time.Time `json:"confirmed_at,omitempty"`
	CancelledAt     *time.Time `json:"cancelled_at,omitempty"`
}

// Confirmation is what confirm answers, once: the manage token is never
// shown again.
type Confirmation struct {
	Booking
	ManageToken string `json:"manage_token"`
}

// Document is a document exchanged for a booking, as both sides list it.
type Document struct {
	ID          string    `json:"id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	UploadedBy  string    `json:"uploaded_by"` // DocumentByCitizen or DocumentByOffice
	UploadedAt  time.Time `json:"uploaded_at"`
}

// Who uploaded a document.
const (
	DocumentByCitizen = "citizen"
	DocumentByOffice  = "office"
)

// The roles in a booking's video room, as attendance and the participant
// events name them.
const (
	ParticipantCitizen  = "citizen"
	ParticipantOperator = "operator"
)

// Attendance is one stay of one participant in a booking's room.
type Attendance struct {
	Identity string     `json:"identity"`  // citizen-<booking_id> or operator-<operator_id>
	Role     string     `json:"role"`      // ParticipantCitizen or ParticipantOperator
	JoinedAt time.Time  `json:"joined_at"` // LiveKit's join time of the connection
	LeftAt   *time.Time `json:"left_at"`   // nil while in the room
}

// ValidID reports whether id is an office's or a service's id as the
// schema allows them: 1 to 63 lower-case letters, digits or dashes,
// starting with a letter or digit. Garbage from a request (a NUL byte,
// invalid UTF-8), which PostgreSQL would refuse with an error of its own,
// is turned away with it before it reaches the database.
//
// A loop, not the regular expression ^[a-z0-9][a-z0-9-]{0,62}$: compiling
// that one (its repetition unrolled 62 times) took a millisecond of every
// function's start.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Window is when a booking's video room can be joined: [OpensAt, ClosesAt),
// from a little before the start to a little after the end.
type Window struct {
	OpensAt  time.Time
	ClosesAt time.Time
}

// Phase says where a moment falls with respect to a window.
type Phase int

// The phases of a window.
const (
	BeforeWindow Phase = iota // not open yet
	InWindow                  // the room can be joined
	AfterWindow               // over
)

// At returns the phase of the window at now.
func (w Window) At(now time.Time) Phase {
	switch {
	case now.Before(w.OpensAt):
		return BeforeWindow
	case now.Before(w.ClosesAt):
		return InWindow
	default:
		return AfterWindow
	}
}
