package postgres

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
)

// EventColumns are a booking as its events carry it (events.Booking), read
// from bookings b joined with services s and desks d: the one list every
// statement that reports a booking in an event returns, for scanEvent.
const EventColumns = `b.id, b.service_id, s.office_id, d.label, b.starts_at, b.ends_at, b.sequence, b.locale`

// scanEvent reads EventColumns, with the times in the municipality's zone.
func (s *Store) scanEvent(row pgx.Row) (events.Booking, error) {
	var b events.Booking
	var id uuid.UUID
	err := row.Scan(&id, &b.ServiceID, &b.OfficeID, &b.Desk, &b.Start, &b.End, &b.Sequence, &b.Locale)
	b.BookingID, b.Start, b.End = id.String(), s.local(b.Start), s.local(b.End)
	return b, err
}

// CollectEvents reads every row of EventColumns, with the times in the
// municipality's zone.
func (s *Store) CollectEvents(rows pgx.Rows) ([]events.Booking, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.Booking, error) { return s.scanEvent(r) })
}
