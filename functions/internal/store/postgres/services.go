package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// The administration of services and their weekly opening hours.

const adminServiceSelect = `
	SELECT s.id, s.office_id, s.name, s.description, s.active, s.position, s.admission_per_minute, ` + termsColumns + `
	FROM services s`

func scanAdminService(row pgx.Row) (admin.Service, error) {
	var v admin.Service
	err := row.Scan(append([]any{&v.ID, &v.OfficeID, &v.Name, &v.Description, &v.Active, &v.Position, &v.AdmissionPerMinute},
		termsFields(&v.Terms)...)...)
	return v, err
}

// withDetails reads the hours and desks of v.
func withDetails(ctx context.Context, q querier, v admin.Service) (admin.Service, error) {
	var err error
	if v.Hours, err = hoursOf(ctx, q, v.ID); err != nil {
		return v, err
	}
	v.Desks, err = desksOf(ctx, q, v.ID)
	return v, err
}

// adminService reads a service with its hours and desks.
func adminService(ctx context.Context, q querier, id string, lock bool) (admin.Service, error) {
	sql := adminServiceSelect + ` WHERE s.id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	v, err := scanAdminService(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, admin.ServiceNotFound("id", id)
	}
	if err != nil {
		return v, err
	}
	return withDetails(ctx, q, v)
}

// AdminServices lists the services, inactive ones included, of one office
// (every office when officeID is ""), with their hours and desks.
func (s *Store) AdminServices(ctx context.Context, officeID string) ([]admin.Service, error) {
	var office *string
	if officeID != "" {
		office = &officeID
	}
	rows, err := s.Pool.Query(ctx, adminServiceSelect+` WHERE $1::text IS NULL OR s.office_id = $1 ORDER BY s.office_id, s.position, s.name`, office)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Service, error) { return scanAdminService(r) })
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = withDetails(ctx, s.Pool, list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// serviceEvent records the service.changed event of a service as tx sees
// it; its audit entry also shows the service's admission rate, which the
// event does not carry.
func (tx *Tx) serviceEvent(ctx context.Context, actor, change, id string, res admin.ChangeResult) error {
	v, err := adminService(ctx, tx, id, false)
	if err != nil {
		return err
	}
	hours := make([]events.OpeningHours, 0, len(v.Hours))
	for _, h := range v.Hours {
		hours = append(hours, events.OpeningHours{Weekday: h.Weekday, Opens: h.Opens, Closes: h.Closes})
	}
	data := events.ServiceChangedData{ServiceID: v.ID, OfficeID: v.OfficeID, Change: change, Name: v.Name,
		Description: v.Description, DurationMinutes: v.DurationMinutes, BufferMinutes: v.BufferMinutes,
		MinNoticeMinutes: v.MinNoticeMinutes, HorizonDays: v.HorizonDays, CancelCutoffMinutes: v.CancelCutoffMinutes,
		WhatToBring: v.WhatToBring, OpenOnHolidays: v.OpenOnHolidays, Active: v.Active, Position: v.Position,
		OpeningHours: hours, CancelledBookings: res.CancelledIDs()}
	return tx.recordSettings(ctx, actor, v.OfficeID, outbox.Event{Type: events.ServiceChanged, Subject: v.ID, Data: data},
		struct {
			events.ServiceChangedData
			AdmissionPerMinute *int `json:"admission_per_minute"`
		}{data, v.AdmissionPerMinute})
}

// officeActive reads whether the office id is active, naming field when it
// does not exist.
func (tx *Tx) officeActive(ctx context.Context, field, id string) (bool, error) {
	var active bool
	err := tx.QueryRow(ctx, `SELECT active FROM offices WHERE id = $1 FOR SHARE`, id).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, admin.OfficeNotFound(field, id)
	}
	return active, err
}

// CreateService adds an active service to an active office, without desks
// or hours, with its admission rate (nil: no waiting room of its own). Errors: Invalid, NotFound (office_id), Conflict (id: taken;
// office_id: the office is inactive).
func (s *Store) CreateService(ctx context.Context, actor string, in admin.ServiceInput) (admin.Service, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return admin.Service{}, err
	}
	var out admin.Service
	_, err := s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			active, err := tx.officeActive(ctx, "office_id", in.OfficeID)
			if err != nil {
				return err
			}
			if !active {
				return apperr.New(apperr.Conflict, "office_id", "the office is inactive: reactivate it first")
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO services (id, office_id, name, description, position, admission_per_minute, `+termsColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				append([]any{in.ID, in.OfficeID, in.Name, in.Description, in.Position, in.AdmissionPerMinute},
					termsFields(&in.Terms)...)...)
			if isConflict(err) {
				return apperr.New(apperr.Conflict, "id", "a service with id %q exists", in.ID)
			}
			return err
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			var err error
			if out, err = adminService(ctx, tx, in.ID, false); err != nil {
				return err
			}
			return tx.serviceEvent(ctx, actor, events.ChangeCreated, in.ID, res)
		},
	})
	return out, err
}

// UpdateService changes a service's settings; deactivating it is how a
// service is removed. Errors: Invalid, NotFound (id), Conflict (active: the
// office is inactive), Stranded (active, duration_minutes: longer, or
// open_on_holidays).
func (s *Store) UpdateService(ctx context.Context, id string, p admin.ServicePatch, opts admin.ChangeOptions) (admin.Service, admin.ChangeResult, error) {
	var v admin.Service
	if err := checkChange(p.Validate(), id, admin.ServiceNotFound); err != nil {
		return v, admin.ChangeResult{}, err
	}
	c := &change{}
	c.services = func(ctx context.Context, tx *Tx) ([]string, error) {
		var err error
		if v, err = adminService(ctx, tx, id, true); err != nil {
			return nil, err
		}
		if c.field = p.StrandingField(v); c.field == "" {
			return nil, nil
		}
		return []string{id}, nil
	}
	c.apply = func(ctx context.Context, tx *Tx) error {
		if p.Active != nil && *p.Active && !v.Active {
			active, err := tx.officeActive(ctx, "office_id", v.OfficeID)
			if err != nil {
				return err
			}
			if !active {
				return apperr.New(apperr.Conflict, "active", "the office %q is inactive: reactivate it first", v.OfficeID)
			}
		}
		v = p.Apply(v)
		_, err := tx.Exec(ctx, `
			UPDATE services SET (name, description, active, position, admission_per_minute, `+termsColumns+`)
			       = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			WHERE id = $1`, append([]any{v.ID, v.Name, v.Description, v.Active, v.Position, v.AdmissionPerMinute},
			termsFields(&v.Terms)...)...)
		return err
	}
	c.emit = func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
		return tx.serviceEvent(ctx, opts.Actor, events.ChangeUpdated, id, res)
	}
	res, err := s.administer(ctx, opts, c)
	return v, res, err
}

// hoursOf reads a service's weekly opening hours.
func hoursOf(ctx context.Context, q querier, serviceID string) ([]booking.Hours, error) {
	rows, err := q.Query(ctx, `
		SELECT weekday, to_char(opens, 'HH24:MI'), to_char(closes, 'HH24:MI')
		FROM opening_hours WHERE service_id = $1 ORDER BY weekday, opens`, serviceID)
	if err != nil {
		return nil, err
	}
	out := []booking.Hours{}
	var h booking.Hours
	_, err = pgx.ForEachRow(rows, []any{&h.Weekday, &h.Opens, &h.Closes}, func() error {
		out = append(out, fromDBHours(h))
		return nil
	})
	return out, err
}

// ReplaceHours replaces a service's weekly opening hours. Errors: Invalid
// (hours[i].*), NotFound (id), Stranded (hours).
func (s *Store) ReplaceHours(ctx context.Context, id string, hours []booking.Hours, opts admin.ChangeOptions) (admin.Service, admin.ChangeResult, error) {
	var v admin.Service
	if err := checkChange(admin.ValidateHours("hours", hours), id, admin.ServiceNotFound); err != nil {
		return v, admin.ChangeResult{}, err
	}
	res, err := s.administer(ctx, opts, &change{
		field: "hours",
		services: func(ctx context.Context, tx *Tx) ([]string, error) {
			if _, err := adminService(ctx, tx, id, true); err != nil {
				return nil, err
			}
			return []string{id}, nil
		},
		apply: func(ctx context.Context, tx *Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM opening_hours WHERE service_id = $1`, id); err != nil {
				return err
			}
			for _, h := range hours {
				if _, err := tx.Exec(ctx, `INSERT INTO opening_hours (service_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)`,
					id, h.Weekday, h.Opens, h.Closes); err != nil {
					return err
				}
			}
			return nil
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			var err error
			if v, err = adminService(ctx, tx, id, false); err != nil {
				return err
			}
			return tx.serviceEvent(ctx, opts.Actor, events.ChangeHours, id, res)
		},
	})
	return v, res, err
}
