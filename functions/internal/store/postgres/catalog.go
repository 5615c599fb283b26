package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
)

// The catalog: offices and services as citizens see them.

// termsColumns are the columns of a service's terms, in the order of
// termsFields. They are named without a table (only services has such
// columns, also in the queries that join offices), so that reads and
// writes (INSERT, UPDATE) share them.
const termsColumns = `duration_minutes, buffer_minutes, min_notice_minutes, horizon_days, cancel_cutoff_minutes,
	what_to_bring, open_on_holidays`

// termsFields are the fields of t in the order of termsColumns: where a
// scan reads them, or the values a write stores.
func termsFields(t *booking.Terms) []any {
	return []any{&t.DurationMinutes, &t.BufferMinutes, &t.MinNoticeMinutes, &t.HorizonDays, &t.CancelCutoffMinutes,
		&t.WhatToBring, &t.OpenOnHolidays}
}

// serviceColumns are the columns of a service as citizens see it (the
// services row s), in the order of serviceFields.
const serviceColumns = `s.id, s.office_id, s.name, s.description,
	(SELECT count(*) FROM desks d WHERE d.service_id = s.id AND d.active)::int, ` + termsColumns

// serviceFields are the fields of v in the order of serviceColumns.
func serviceFields(v *booking.Service) []any {
	return append([]any{&v.ID, &v.OfficeID, &v.Name, &v.Description, &v.Desks}, termsFields(&v.Terms)...)
}

func scanService(row pgx.Row) (booking.Service, error) {
	var v booking.Service
	err := row.Scan(serviceFields(&v)...)
	return v, err
}

// Catalog keeps the catalog Offices answers in memory, so that a click
// day's citizens, who each begin with it, do not read it from the database
// thousands of times a second. An administrator's change is seen within
// its MaxAge (default 1s).
type Catalog struct {
	cache[[]booking.Office]
}

// Offices returns every office with its active services, in display order.
// Offices without active services are left out. Through the store's Catalog
// (when it has one), the answer may be up to its MaxAge old, measured on
// the wall clock; callers must not change it.
func (s *Store) Offices(ctx context.Context) ([]booking.Office, error) {
	if s.Catalog == nil {
		return s.offices(ctx)
	}
	return s.Catalog.load(ctx, "", time.Now(), s.offices)
}

// offices reads the catalog from the database.
func (s *Store) offices(ctx context.Context) ([]booking.Office, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, description FROM offices ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	offices, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Office, error) {
		var o booking.Office
		err := r.Scan(&o.ID, &o.Name, &o.Description)
		o.Services = []booking.Service{}
		return o, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT `+serviceColumns+` FROM services s WHERE s.active ORDER BY s.office_id, s.position, s.name`)
	if err != nil {
		return nil, err
	}
	services, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Service, error) { return scanService(r) })
	if err != nil {
		return nil, err
	}
	hours, err := s.allHours(ctx)
	if err != nil {
		return nil, err
	}
	byOffice := map[string][]booking.Service{}
	for _, v := range services {
		v.Hours = hours[v.ID]
		byOffice[v.OfficeID] = append(byOffice[v.OfficeID], v)
	}
	out := offices[:0]
	for _, o := range offices {
		if len(byOffice[o.ID]) > 0 {
			o.Services = byOffice[o.ID]
			out = append(out, o)
		}
	}
	return out, nil
}

// allHours returns the opening hours of every service.
func (s *Store) allHours(ctx context.Context) (map[string][]booking.Hours, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT service_id, weekday, to_char(opens, 'HH24:MI'), to_char(closes, 'HH24:MI')
		FROM opening_hours ORDER BY service_id, weekday, opens`)
	if err != nil {
		return nil, err
	}
	out := map[string][]booking.Hours{}
	var sid string
	var h booking.Hours
	_, err = pgx.ForEachRow(rows, []any{&sid, &h.Weekday, &h.Opens, &h.Closes}, func() error {
		out[sid] = append(out[sid], fromDBHours(h))
		return nil
	})
	return out, err
}

// Service returns an active service with its opening hours and the closures
// from today on, in one query. An unknown or inactive id is a NotFound naming
// field.
func (s *Store) Service(ctx context.Context, q querier, id, field string) (booking.Service, error) {
	v, _, err := s.serviceAt(ctx, q, id, field)
	return v, err
}

// serviceAt is Service with the configuration version it was read at.
func (s *Store) serviceAt(ctx context.Context, q querier, id, field string) (booking.Service, int64, error) {
	if q == nil {
		q = s.Pool
	}
	if !booking.ValidID(id) {
		return booking.Service{}, 0, apperr.New(apperr.NotFound, field, "no service with id %q", id)
	}
	today := s.Calendar.Today(s.Clock.Now())
	var (
		v        booking.Service
		version  int64
		hours    []byte
		closures []byte
	)
	err := q.QueryRow(ctx, `SELECT `+serviceColumns+`,
		COALESCE((SELECT json_agg(json_build_object('weekday', h.weekday,
		                 'opens', to_char(h.opens, 'HH24:MI'), 'closes', to_char(h.closes, 'HH24:MI'))
		                 ORDER BY h.weekday, h.opens)
		          FROM opening_hours h WHERE h.service_id = s.id), '[]'),
		COALESCE((SELECT json_agg(json_build_object('first', to_char(c.first_day, 'YYYY-MM-DD'),
		                 'last', to_char(c.last_day, 'YYYY-MM-DD'), 'reason', c.reason) ORDER BY c.first_day)
		          FROM closures c WHERE (c.office_id IS NULL OR c.office_id = s.office_id) AND c.last_day >= $2::date), '[]'),
		(SELECT version FROM configuration),
		coalesce(o.max_holds_per_client, 0), coalesce(o.holds_per_minute_per_client, 0), coalesce(o.holds_per_minute_per_address, 0)
		FROM services s JOIN offices o ON o.id = s.office_id WHERE s.id = $1 AND s.active`, id, today.String()).Scan(
		append(serviceFields(&v), &hours, &closures, &version, &v.Limits.PerClient, &v.Limits.ClientPerMinute, &v.Limits.AddressPerMinute)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, 0, apperr.New(apperr.NotFound, field, "no service with id %q", id)
	}
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(hours, &v.Hours); err != nil {
		return v, 0, fmt.Errorf("hours of %s: %w", id, err)
	}
	for i := range v.Hours {
		v.Hours[i] = fromDBHours(v.Hours[i])
	}
	var rows []struct{ First, Last, Reason string }
	if err := json.Unmarshal(closures, &rows); err != nil {
		return v, 0, fmt.Errorf("closures of %s: %w", id, err)
	}
	list := make([]schedule.Closure, 0, len(rows))
	for _, r := range rows {
		f, err1 := schedule.ParseDate(r.First)
		l, err2 := schedule.ParseDate(r.Last)
		if err := errors.Join(err1, err2); err != nil {
			return v, 0, fmt.Errorf("closures of %s: %w", id, err)
		}
		list = append(list, schedule.Closure{First: f, Last: l, Reason: r.Reason})
	}
	return v.WithClosures(list), version, nil
}

// Services keeps the services a function reads in memory, each with the
// configuration version it was read at, so that the click day's holds and
// calendars do not read the same service thousands of times a second. A
// stale entry is harmless: hold_slot refuses a hold checked against an
// older version, and the cache is then emptied (Reset). Its MaxAge is the
// calendar's staleness.
type Services struct {
	cache[versionedService]
}

type versionedService struct {
	svc     booking.Service
	version int64
}

// cachedService is Service through the store's cache (when it has one),
// with the configuration version it was read at. The cache's age is
// measured on the wall clock: it bounds how long a change takes to be seen,
// whatever the domain's clock says.
func (s *Store) cachedService(ctx context.Context, id, field string) (booking.Service, int64, error) {
	if s.Services == nil {
		return s.serviceAt(ctx, nil, id, field)
	}
	e, err := s.Services.load(ctx, id, time.Now(), func(ctx context.Context) (versionedService, error) {
		v, version, err := s.serviceAt(ctx, nil, id, field)
		return versionedService{svc: v, version: version}, err
	})
	return e.svc, e.version, err
}

// fromDBHours is an opening period as read: a period that closes at
// midnight is stored as '24:00'::time, which prints as 00:00.
func fromDBHours(h booking.Hours) booking.Hours {
	if h.Closes == "00:00" {
		h.Closes = "24:00"
	}
	return h
}
