package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// The administration of offices.

const officeSelect = `SELECT id, name, description, address, position, active,
	max_holds_per_client, holds_per_minute_per_client, holds_per_minute_per_address FROM offices`

func scanOffice(row pgx.Row) (admin.Office, error) {
	var o admin.Office
	l := &o.Limits
	err := row.Scan(&o.ID, &o.Name, &o.Description, &o.Address, &o.Position, &o.Active,
		&l.MaxHoldsPerClient, &l.HoldsPerMinutePerClient, &l.HoldsPerMinutePerAddress)
	return o, err
}

// AdminOffices lists every office, inactive ones included, in display order.
func (s *Store) AdminOffices(ctx context.Context) ([]admin.Office, error) {
	rows, err := s.Pool.Query(ctx, officeSelect+` ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Office, error) { return scanOffice(r) })
}

// officeEvent records the office.changed event of o; its audit entry also
// shows the office's limits, which the event does not carry.
func (tx *Tx) officeEvent(ctx context.Context, actor, change string, o admin.Office, res admin.ChangeResult) error {
	data := events.OfficeChangedData{OfficeID: o.ID, Change: change, Name: o.Name, Description: o.Description,
		Address: o.Address, Position: o.Position, Active: o.Active, CancelledBookings: res.CancelledIDs()}
	return tx.recordSettings(ctx, actor, o.ID, outbox.Event{Type: events.OfficeChanged, Subject: o.ID, Data: data},
		struct {
			events.OfficeChangedData
			Limits admin.OfficeLimits `json:"limits"`
		}{data, o.Limits})
}

// CreateOffice adds an active office, with its limits (nil: the
// defaults). Errors: Invalid (the fields, limits.<member>),
// Conflict (id: taken).
func (s *Store) CreateOffice(ctx context.Context, actor string, in admin.OfficeInput) (admin.Office, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return admin.Office{}, err
	}
	o := admin.Office{ID: in.ID, Name: in.Name, Description: in.Description, Address: in.Address, Position: in.Position, Active: true, Limits: in.Limits}
	l := o.Limits
	_, err := s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			_, err := tx.Exec(ctx, `
				INSERT INTO offices (id, name, description, address, position,
				                     max_holds_per_client, holds_per_minute_per_client, holds_per_minute_per_address)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				o.ID, o.Name, o.Description, o.Address, o.Position, l.MaxHoldsPerClient, l.HoldsPerMinutePerClient, l.HoldsPerMinutePerAddress)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "id", "an office with id %q exists", o.ID)
			}
			return err
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			return tx.officeEvent(ctx, actor, events.ChangeCreated, o, res)
		},
	})
	return o, err
}

// UpdateOffice changes an office (its limits too: reserve reads them with
// the configuration version the change bumps). Deactivating it deactivates its services
// (reactivating it does not reactivate them) and is subject to the
// stranded-bookings rule. Errors: Invalid, NotFound (id), Stranded
// (active).
func (s *Store) UpdateOffice(ctx context.Context, id string, p admin.OfficePatch, opts admin.ChangeOptions) (admin.Office, admin.ChangeResult, error) {
	var o admin.Office
	if err := checkChange(p.Validate(), id, admin.OfficeNotFound); err != nil {
		return o, admin.ChangeResult{}, err
	}
	var deactivated []string
	res, err := s.administer(ctx, opts, &change{
		field: "active",
		services: func(ctx context.Context, tx *Tx) ([]string, error) {
			var err error
			o, err = scanOffice(tx.QueryRow(ctx, officeSelect+` WHERE id = $1 FOR UPDATE`, id))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, admin.OfficeNotFound("id", id)
			}
			if err != nil || p.Active == nil || *p.Active || !o.Active {
				return nil, err
			}
			deactivated, err = tx.servicesOf(ctx, &id)
			return deactivated, err
		},
		apply: func(ctx context.Context, tx *Tx) error {
			o = p.Apply(o)
			l := o.Limits
			if _, err := tx.Exec(ctx, `
				UPDATE offices SET name = $2, description = $3, address = $4, position = $5, active = $6,
				       max_holds_per_client = $7, holds_per_minute_per_client = $8, holds_per_minute_per_address = $9
				WHERE id = $1`, o.ID, o.Name, o.Description, o.Address, o.Position, o.Active,
				l.MaxHoldsPerClient, l.HoldsPerMinutePerClient, l.HoldsPerMinutePerAddress); err != nil {
				return err
			}
			if len(deactivated) > 0 {
				_, err := tx.Exec(ctx, `UPDATE services SET active = false WHERE id = ANY($1)`, deactivated)
				return err
			}
			return nil
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			if err := tx.officeEvent(ctx, opts.Actor, events.ChangeUpdated, o, res); err != nil {
				return err
			}
			for _, sid := range deactivated {
				if err := tx.serviceEvent(ctx, opts.Actor, events.ChangeUpdated, sid, admin.ChangeResult{}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	return o, res, err
}
