package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// The administration of desks: how many bookings a service takes at once.

const deskSelect = `SELECT id, service_id, label, active FROM desks`

func scanDesk(row pgx.Row) (admin.Desk, error) {
	var d admin.Desk
	err := row.Scan(&d.ID, &d.ServiceID, &d.Label, &d.Active)
	return d, err
}

func desksOf(ctx context.Context, q querier, serviceID string) ([]admin.Desk, error) {
	rows, err := q.Query(ctx, deskSelect+` WHERE service_id = $1 ORDER BY label`, serviceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Desk, error) { return scanDesk(r) })
}

func (tx *Tx) deskEvent(ctx context.Context, actor, change string, d admin.Desk, res admin.ChangeResult) error {
	var office string
	if err := tx.QueryRow(ctx, `SELECT office_id FROM services WHERE id = $1`, d.ServiceID).Scan(&office); err != nil {
		return err
	}
	return tx.Record(ctx, audit.Operator(actor), office, outbox.Event{
		Type: events.DeskChanged, Subject: strconv.FormatInt(d.ID, 10),
		Data: events.DeskChangedData{DeskID: d.ID, ServiceID: d.ServiceID, OfficeID: office, Change: change, Label: d.Label,
			Active: d.Active, Reassigned: res.Reassigned, CancelledBookings: res.CancelledIDs()},
	})
}

func labelTaken(label string) error {
	return apperr.New(apperr.Conflict, "label", "the service has a desk labelled %q", label)
}

// AddDesk adds an active desk to a service: one more booking at a time.
// Errors: Invalid (label), NotFound (id: the service), Conflict (label:
// the service has a desk with that label).
func (s *Store) AddDesk(ctx context.Context, actor, serviceID, label string) (admin.Desk, error) {
	label = strings.TrimSpace(label)
	if err := checkChange(admin.ValidateLabel(label), serviceID, admin.ServiceNotFound); err != nil {
		return admin.Desk{}, err
	}
	d := admin.Desk{ServiceID: serviceID, Label: label, Active: true}
	_, err := s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			if _, err := adminService(ctx, tx, serviceID, true); err != nil {
				return err
			}
			err := tx.QueryRow(ctx, `INSERT INTO desks (service_id, label) VALUES ($1, $2) RETURNING id`, serviceID, label).Scan(&d.ID)
			if isConflict(err) {
				return labelTaken(label)
			}
			return err
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			return tx.deskEvent(ctx, actor, events.ChangeCreated, d, res)
		},
	})
	return d, err
}

// UpdateDesk renames, deactivates or reactivates a desk. Deactivating it
// moves its future bookings to other free desks of the service where it
// can, and is subject to the stranded-bookings rule for the rest. Errors:
// Invalid (label), NotFound (id), Conflict (label), Stranded (active).
func (s *Store) UpdateDesk(ctx context.Context, id string, p admin.DeskPatch, opts admin.ChangeOptions) (admin.Desk, admin.ChangeResult, error) {
	var d admin.Desk
	if p.Label != nil {
		if err := admin.ValidateLabel(*p.Label); err != nil {
			return d, admin.ChangeResult{}, err
		}
	}
	deskID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || deskID <= 0 {
		return d, admin.ChangeResult{}, admin.DeskNotFound(id)
	}
	res, err := s.administer(ctx, opts, &change{
		field: "active",
		services: func(ctx context.Context, tx *Tx) ([]string, error) {
			var err error
			d, err = scanDesk(tx.QueryRow(ctx, deskSelect+` WHERE id = $1 FOR UPDATE`, deskID))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, admin.DeskNotFound(id)
			}
			if err != nil || p.Active == nil || *p.Active || !d.Active {
				return nil, err
			}
			return []string{d.ServiceID}, nil
		},
		apply: func(ctx context.Context, tx *Tx) error {
			if p.Label != nil {
				d.Label = strings.TrimSpace(*p.Label)
			}
			if p.Active != nil {
				d.Active = *p.Active
			}
			_, err := tx.Exec(ctx, `UPDATE desks SET label = $2, active = $3 WHERE id = $1`, d.ID, d.Label, d.Active)
			if isConflict(err) {
				return labelTaken(d.Label)
			}
			return err
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			return tx.deskEvent(ctx, opts.Actor, events.ChangeUpdated, d, res)
		},
	})
	return d, res, err
}
