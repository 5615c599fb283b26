// Package audit is the vocabulary of the audit log: who did what to which
// booking, office, service, closure, desk or operator, and when. The store
// writes an Entry in the transaction of the change it records (so the log
// and the change commit together or not at all) and lists Records by
// Filter.
package audit

import (
	"encoding/json"
	"strings"
	"time"
)

// Actor is who made a change: a citizen (anonymous: the holder of a hold
// secret or manage token), an operator (by id) or the system (housekeeping,
// the video server).
type Actor struct {
	Kind string `json:"kind"`         // citizen, operator or system
	ID   string `json:"id,omitempty"` // the operator's id
}

// The actors without an id.
var (
	Citizen = Actor{Kind: "citizen"}
	System  = Actor{Kind: "system"}
)

// Operator is the operator with that id.
func Operator(id string) Actor { return Actor{Kind: "operator", ID: id} }

// Entry is one change to record.
type Entry struct {
	Actor      Actor
	Action     string // e.g. booking.cancelled, service.updated, session.started
	TargetKind string // booking, office, service, closure, desk, operator, session
	TargetID   string
	OfficeID   string // the office the target belongs to, if any: scopes who reads the row
	Detail     any    // JSON-encodable, without personal data; nil for none
}

// TargetKinds are the kinds of target the log records.
var TargetKinds = []string{"booking", "office", "service", "closure", "desk", "operator", "session"}

// ShortName is an event type without its reverse-DNS prefix and version:
// io.github.sportello.booking.cancelled.v1 → booking.cancelled. It is the
// action of the entry that records an event.
func ShortName(eventType string) string {
	s := strings.TrimPrefix(eventType, "io.github.sportello.")
	if i := strings.LastIndex(s, ".v"); i > 0 {
		s = s[:i]
	}
	return s
}

// Record is a row of the log.
type Record struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      Actor           `json:"actor"`
	Action     string          `json:"action"`
	TargetKind string          `json:"target_kind"`
	TargetID   string          `json:"target_id"`
	OfficeID   *string         `json:"office_id"`
	Detail     json.RawMessage `json:"detail"`
}

// Filter selects rows of the log. Empty fields select everything; Offices,
// when not nil, limits the rows to those offices (an operator's scope).
type Filter struct {
	TargetKind string
	TargetID   string
	ActorID    string
	Offices    []string
	Before     int64 // rows with a smaller id: the next page
	Limit      int   // default and maximum MaxList
}

// MaxList is the most rows a listing returns at once.
const MaxList = 200
