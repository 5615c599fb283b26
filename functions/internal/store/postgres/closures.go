package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// The administration of closures: days an office (or every office) is
// closed, beside the public holidays.

const closureColumns = `id, office_id, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), reason`

func scanClosure(row pgx.Row) (admin.Closure, error) {
	var c admin.Closure
	return c, row.Scan(&c.ID, &c.OfficeID, &c.FirstDay, &c.LastDay, &c.Reason)
}

// AdminClosures lists the closures that end today or later, of one office
// and every office (of all offices when officeID is ""), by first day.
func (s *Store) AdminClosures(ctx context.Context, officeID string) ([]admin.Closure, error) {
	var office *string
	if officeID != "" {
		office = &officeID
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT `+closureColumns+`
		FROM closures WHERE last_day >= $1::date AND ($2::text IS NULL OR office_id IS NULL OR office_id = $2)
		ORDER BY first_day, id`, s.Calendar.Today(s.Clock.Now()).String(), office)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Closure, error) { return scanClosure(r) })
}

func (tx *Tx) closureEvent(ctx context.Context, actor, typ string, c admin.Closure, res admin.ChangeResult) error {
	office := ""
	if c.OfficeID != nil {
		office = *c.OfficeID
	}
	return tx.Record(ctx, audit.Operator(actor), office, outbox.Event{
		Type: typ, Subject: strconv.FormatInt(c.ID, 10),
		Data: events.ClosureData{ClosureID: c.ID, OfficeID: c.OfficeID, FirstDay: c.FirstDay, LastDay: c.LastDay,
			Reason: c.Reason, CancelledBookings: res.CancelledIDs()},
	})
}

// AddClosure closes an office (every office when in.OfficeID is nil) for a
// range of days. Errors: Invalid, NotFound (office_id), Stranded
// (first_day).
func (s *Store) AddClosure(ctx context.Context, in admin.ClosureInput, opts admin.ChangeOptions) (admin.Closure, admin.ChangeResult, error) {
	in = in.Normalize()
	first, last, err := in.Validate()
	if err != nil {
		return admin.Closure{}, admin.ChangeResult{}, err
	}
	c := admin.Closure{OfficeID: in.OfficeID, FirstDay: first.String(), LastDay: last.String(), Reason: in.Reason}
	res, err := s.administer(ctx, opts, &change{
		field: "first_day",
		services: func(ctx context.Context, tx *Tx) ([]string, error) {
			if in.OfficeID != nil {
				if _, err := tx.officeActive(ctx, "office_id", *in.OfficeID); err != nil {
					return nil, err
				}
			}
			return tx.servicesOf(ctx, in.OfficeID)
		},
		apply: func(ctx context.Context, tx *Tx) error {
			return tx.QueryRow(ctx, `INSERT INTO closures (office_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4) RETURNING id`,
				c.OfficeID, c.FirstDay, c.LastDay, c.Reason).Scan(&c.ID)
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			return tx.closureEvent(ctx, opts.Actor, events.ClosureAdded, c, res)
		},
	})
	return c, res, err
}

// RemoveClosure removes a closure: its days open again. Errors: NotFound (id).
func (s *Store) RemoveClosure(ctx context.Context, actor, id string) (admin.Closure, error) {
	var c admin.Closure
	cid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || cid <= 0 {
		return c, admin.ClosureNotFound(id)
	}
	_, err = s.administer(ctx, admin.ChangeOptions{Actor: actor}, &change{
		apply: func(ctx context.Context, tx *Tx) error {
			var err error
			c, err = scanClosure(tx.QueryRow(ctx, `DELETE FROM closures WHERE id = $1 RETURNING `+closureColumns, cid))
			if errors.Is(err, pgx.ErrNoRows) {
				return admin.ClosureNotFound(id)
			}
			return err
		},
		emit: func(ctx context.Context, tx *Tx, res admin.ChangeResult) error {
			return tx.closureEvent(ctx, actor, events.ClosureRemoved, c, res)
		},
	})
	return c, err
}
