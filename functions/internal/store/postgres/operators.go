package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/password"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Operators: the signed-in operator with their offices, and the
// administration of accounts.

// Operator reads an operator with their offices (every office for an
// administrator), in display order.
func (s *Store) Operator(ctx context.Context, q querier, id uuid.UUID) (operator.Operator, error) {
	var op operator.Operator
	var oid uuid.UUID
	if err := q.QueryRow(ctx, `SELECT id, email, display_name, role FROM operators WHERE id = $1`, id).
		Scan(&oid, &op.Email, &op.DisplayName, &op.Role); err != nil {
		return op, fmt.Errorf("operator: %w", err)
	}
	op.ID = oid.String()
	rows, err := q.Query(ctx, `
		SELECT f.id, f.name FROM offices f
		WHERE $2 = 'administrator' OR EXISTS (SELECT 1 FROM operator_offices x WHERE x.operator_id = $1 AND x.office_id = f.id)
		ORDER BY f.position, f.name`, id, op.Role)
	if err != nil {
		return op, fmt.Errorf("operator's offices: %w", err)
	}
	op.Offices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (operator.Office, error) {
		var f operator.Office
		return f, r.Scan(&f.ID, &f.Name)
	})
	if err != nil {
		return op, fmt.Errorf("operator's offices: %w", err)
	}
	return op, nil
}

const adminOperatorSelect = `
	SELECT o.id, o.email, o.display_name, o.role, o.active, o.created_at,
	       coalesce((SELECT array_agg(x.office_id ORDER BY x.office_id) FROM operator_offices x WHERE x.operator_id = o.id), '{}')
	FROM operators o`

func scanAdminOperator(row pgx.Row) (admin.Operator, error) {
	var o admin.Operator
	var id uuid.UUID
	err := row.Scan(&id, &o.Email, &o.DisplayName, &o.Role, &o.Active, &o.CreatedAt, &o.Offices)
	o.ID = id.String()
	return o, err
}

// AdminOperators lists every operator account by email.
func (s *Store) AdminOperators(ctx context.Context) ([]admin.Operator, error) {
	rows, err := s.Pool.Query(ctx, adminOperatorSelect+` ORDER BY o.email`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Operator, error) { return scanAdminOperator(r) })
}

// emitOperator is the emit of a change to the account id: its
// operator.changed event of kind change, the account read into *o.
func emitOperator(o *admin.Operator, actor, change string, id uuid.UUID) func(context.Context, *Tx, admin.ChangeResult) error {
	return func(ctx context.Context, tx *Tx, _ admin.ChangeResult) error {
		var err error
		*o, err = tx.operatorEvent(ctx, actor, change, id)
		return err
	}
}

// operatorEvent reads the account id as tx sees it and records its
// operator.changed event.
func (tx *Tx) operatorEvent(ctx context.Context, actor, change string, id uuid.UUID) (admin.Operator, error) {
	o, err := scanAdminOperator(tx.QueryRow(ctx, adminOperatorSelect+` WHERE o.id = $1`, id))
	if err != nil {
		return o, err
	}
	return o, tx.Record(ctx, audit.Operator(actor), "", outbox.Event{
		Type: events.OperatorChanged, Subject: o.ID,
		Data: events.OperatorChangedData{OperatorID: o.ID, Change: change, Role: o.Role, OfficeIDs: o.Offices, Active: o.Active},
	})
}

// setOffices replaces an operator's offices; an unknown office is Invalid
// naming its place in the list.
func (tx *Tx) setOffices(ctx context.Context, id uuid.UUID, offices []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM operator_offices WHERE operator_id = $1`, id); err != nil {
		return err
	}
	for i, o := range offices {
		tag, err := tx.Exec(ctx, `INSERT INTO operator_offices (operator_id, office_id) SELECT $1, id FROM offices WHERE id = $2`, id, o)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Field(fmt.Sprintf("offices[%d]", i), apperr.NoSuch, "no office with id %q", o)
		}
	}
	return nil
}

// CreateOperator adds an active operator account with an initial password
// (hashed with argon2id). Errors: Invalid (the fields; offices[i]: unknown),
// Conflict (email: taken).
func (s *Store) CreateOperator(ctx context.Context, actor string, in admin.OperatorInput) (admin.Operator, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return admin.Operator{}, err
	}
	hash, err := password.Hash(in.Password)
	if err != nil {
		return admin.Operator{}, err
	}
	id := uuid.New()
	var o admin.Operator
	_, err = s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			_, err := tx.Exec(ctx, `
				INSERT INTO operators (id, email, display_name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, in.Email, in.DisplayName, hash, in.Role, tx.Now)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "email", "an operator with this email exists")
			}
			if err != nil {
				return err
			}
			return tx.setOffices(ctx, id, in.Offices)
		},
		emit: emitOperator(&o, actor, events.ChangeCreated, id),
	})
	return o, err
}

// UpdateOperator changes an operator's name, role, offices or state. A
// deactivated operator's sessions end at once. An administrator cannot
// demote or deactivate themselves. Errors: Invalid, NotFound (id),
// Unprocessable (role, active: oneself).
func (s *Store) UpdateOperator(ctx context.Context, actor, id string, p admin.OperatorPatch) (admin.Operator, error) {
	var o admin.Operator
	if err := p.Validate(); err != nil {
		return o, err
	}
	oid, err := uuid.Parse(id)
	if err != nil {
		return o, admin.OperatorNotFound(id)
	}
	if oid.String() == actor {
		if p.Role != nil && *p.Role != operator.RoleAdministrator {
			return o, apperr.New(apperr.Unprocessable, "role", "an administrator cannot demote themselves")
		}
		if p.Active != nil && !*p.Active {
			return o, apperr.New(apperr.Unprocessable, "active", "an administrator cannot deactivate themselves")
		}
	}
	_, err = s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			var err error
			o, err = scanAdminOperator(tx.QueryRow(ctx, adminOperatorSelect+` WHERE o.id = $1 FOR UPDATE OF o`, oid))
			if errors.Is(err, pgx.ErrNoRows) {
				return admin.OperatorNotFound(id)
			}
			if err != nil {
				return err
			}
			if p.DisplayName != nil {
				o.DisplayName = strings.TrimSpace(*p.DisplayName)
			}
			if p.Role != nil {
				o.Role = *p.Role
			}
			if p.Active != nil {
				o.Active = *p.Active
			}
			if _, err := tx.Exec(ctx, `UPDATE operators SET display_name = $2, role = $3, active = $4 WHERE id = $1`,
				oid, o.DisplayName, o.Role, o.Active); err != nil {
				return err
			}
			if p.Offices != nil {
				if err := tx.setOffices(ctx, oid, *p.Offices); err != nil {
					return err
				}
				o.Offices = append([]string{}, *p.Offices...)
				sort.Strings(o.Offices)
			}
			if !o.Active {
				_, err = tx.Exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = $1`, oid)
			}
			return err
		},
		emit: emitOperator(&o, actor, events.ChangeUpdated, oid),
	})
	return o, err
}

// ResetPassword sets an operator's password, lifts a lockout and ends the
// operator's sessions. Errors: Invalid (password), NotFound (id).
func (s *Store) ResetPassword(ctx context.Context, actor, id, pw string) (admin.Operator, error) {
	var o admin.Operator
	if err := admin.ValidatePassword(pw); err != nil {
		return o, err
	}
	oid, err := uuid.Parse(id)
	if err != nil {
		return o, admin.OperatorNotFound(id)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return o, err
	}
	_, err = s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE operators SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1`, oid, hash)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return admin.OperatorNotFound(id)
			}
			_, err = tx.Exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = $1`, oid)
			return err
		},
		emit: emitOperator(&o, actor, events.ChangePasswordReset, oid),
	})
	return o, err
}
