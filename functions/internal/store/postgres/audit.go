package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/audit"
)

// kindOf is the target kind of an action: booking.cancelled → booking.
func kindOf(action string) string {
	kind, _, _ := strings.Cut(action, ".")
	return kind
}

// writeAudit records e in tx at time at.
func writeAudit(ctx context.Context, tx pgx.Tx, at time.Time, e audit.Entry) error {
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

// AuditLog returns the rows of the audit log f selects, newest first.
func (s *Store) AuditLog(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	return auditLog(ctx, s.Pool, f)
}

func auditLog(ctx context.Context, q querier, f audit.Filter) ([]audit.Record, error) {
	if f.Limit <= 0 || f.Limit > audit.MaxList {
		f.Limit = audit.MaxList
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
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Record, error) {
		var rec audit.Record
		err := r.Scan(&rec.ID, &rec.At, &rec.Actor.Kind, &rec.Actor.ID, &rec.Action, &rec.TargetKind, &rec.TargetID, &rec.OfficeID, &rec.Detail)
		return rec, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
