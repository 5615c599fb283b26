// Package audit keeps the audit log: who did what to which booking, office,
// service, closure, desk or operator, and when. Write adds a row in the
// transaction of the change, so the log and the change commit together or
// not at all; Event does that for a change that also emits a CloudEvent
// (the row's detail is the event's data, which carries no personal data).
// List reads the log, newest first.
//
// Consumes: nothing. Emits: nothing (rows in audit_log).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/outbox"
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

// Write records e in tx at time at.
func Write(ctx context.Context, tx pgx.Tx, at time.Time, e Entry) error {
	if e.Action == "" || e.TargetKind == "" || e.TargetID == "" {
		return errors.New("audit: an entry needs an action and a target")
	}
	detail := []byte("{}")
	if e.Detail != nil {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return fmt.Errorf("audit: encode detail: %w", err)
		}
	}
	var actorID, officeID *string
	if e.Actor.ID != "" {
		actorID = &e.Actor.ID
	}
	if e.OfficeID != "" {
		officeID = &e.OfficeID
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_log (at, actor_kind, actor_id, action, target_kind, target_id, office_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		at, e.Actor.Kind, actorID, e.Action, e.TargetKind, e.TargetID, officeID, detail)
	if err != nil {
		return fmt.Errorf("audit: write %s: %w", e.Action, err)
	}
	return nil
}

// Event writes ev to the outbox and records it in the log, both in tx: the
// action is the event type's short name (io.github.sportello.booking.cancelled.v1
// → booking.cancelled), the target its subject, the detail its data.
func Event(ctx context.Context, tx pgx.Tx, source string, now time.Time, actor Actor, officeID string, ev outbox.Event) error {
	if _, err := outbox.Write(ctx, tx, source, now, ev); err != nil {
		return err
	}
	action := ShortName(ev.Type)
	kind, _, _ := strings.Cut(action, ".")
	return Write(ctx, tx, now, Entry{
		Actor: actor, Action: action, TargetKind: kind, TargetID: ev.Subject, OfficeID: officeID, Detail: ev.Data,
	})
}

// ShortName is an event type without its reverse-DNS prefix and version:
// io.github.sportello.booking.cancelled.v1 → booking.cancelled.
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
	Limit      int   // default and maximum 200
}

// Querier is what a pool and a transaction have in common.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// MaxList is the most rows List returns at once.
const MaxList = 200

// List returns the rows f selects, newest first.
func List(ctx context.Context, q Querier, f Filter) ([]Record, error) {
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = MaxList
	}
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.TargetKind != "" {
		add("target_kind = $%d", f.TargetKind)
	}
	if f.TargetID != "" {
		add("target_id = $%d", f.TargetID)
	}
	if f.ActorID != "" {
		add("actor_id::text = $%d", f.ActorID)
	}
	if f.Offices != nil {
		add("office_id = ANY($%d)", f.Offices)
	}
	if f.Before > 0 {
		add("id < $%d", f.Before)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, f.Limit)
	rows, err := q.Query(ctx, fmt.Sprintf(`
		SELECT id, at, actor_kind, coalesce(actor_id::text, ''), action, target_kind, target_id, office_id, detail
		FROM audit_log %s ORDER BY id DESC LIMIT $%d`, where, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var rec Record
		err := r.Scan(&rec.ID, &rec.At, &rec.Actor.Kind, &rec.Actor.ID, &rec.Action, &rec.TargetKind, &rec.TargetID, &rec.OfficeID, &rec.Detail)
		return rec, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
