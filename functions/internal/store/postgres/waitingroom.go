package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/queue"
)

// The waiting room of each service (domain/queue, migration 00015): its
// rate is the service's admission_per_minute, or for a while the automatic
// rate reserve sets when its holds get slow; its counter is a row of
// waiting_rooms. Waiting citizens' polls read the room through the store's
// Rooms cache: a second at most per instance, whatever the crowd.

// Rooms keeps the rooms read in memory for MaxAge (default 1s).
type Rooms struct {
	cache[queue.Room]
}

// roomSelect reads a service's room at $2: its rate in effect and its
// counter (a room never joined counts from 1970: it has caught up).
const roomSelect = `
	SELECT ` + roomRate + `,
	       coalesce(w.next_position, 0), coalesce(w.admitted_base, 0), coalesce(w.base_at, 'epoch')
	FROM services s LEFT JOIN waiting_rooms w ON w.service_id = s.id
	WHERE s.id = $1 AND s.active`

func scanRoom(row pgx.Row, serviceID string) (queue.Room, error) {
	var r queue.Room
	err := row.Scan(&r.Rate, &r.Next, &r.AdmittedBase, &r.BaseAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, apperr.New(apperr.NotFound, "service_id", "no service with id %q", serviceID)
	}
	return r, err
}

// Room answers the waiting room of a service, from the Rooms cache when
// it is fresh. Errors: NotFound (service_id).
func (s *Store) Room(ctx context.Context, serviceID string) (queue.Room, error) {
	if !booking.ValidID(serviceID) {
		return queue.Room{}, apperr.New(apperr.NotFound, "service_id", "no service with id %q", serviceID)
	}
	read := func(ctx context.Context) (queue.Room, error) {
		return scanRoom(s.Pool.QueryRow(ctx, roomSelect, serviceID, s.Clock.Now()), serviceID)
	}
	if s.Rooms == nil {
		return read(ctx)
	}
	return s.Rooms.load(ctx, serviceID, time.Now(), read)
}

// joinSQL takes the next position in a service's room at $2 in one
// statement, queue.Room.Join's arithmetic in SQL: the row is locked only
// while the statement runs. (Read, then written back, in a transaction, it
// stayed locked over three round trips to the function, and every join of
// a click day waited for all those before it: 9 ms a join in the bench,
// the largest share of PostgreSQL's time once the room was on.) The SET
// expressions read the row as it was; RETURNING, as it is now.
//
// Only the row being updated (w) may appear in the expressions besides the
// service (s): PostgreSQL recomputes them on the newest version of the row
// when a racing join changed it first, which it would not do for a second
// read of the row in FROM.
const joinSQL = `
	UPDATE waiting_rooms w
	SET next_position = w.next_position + 1,
	    admitted_base = CASE WHEN ` + caughtUp + ` THEN w.next_position + 1 ELSE w.admitted_base END,
	    base_at = CASE WHEN ` + caughtUp + ` THEN $2 ELSE w.base_at END
	FROM services s
	WHERE w.service_id = $1 AND s.id = w.service_id AND s.active
	RETURNING ` + roomRate + `, w.next_position, w.admitted_base, w.base_at`

// roomRate is a room's rate in effect at $2 (queue.Room.Rate), of the
// service s and its row w of waiting_rooms.
const roomRate = `coalesce(s.admission_per_minute, CASE WHEN w.auto_until > $2 THEN w.auto_rate END, 0)`

// caughtUp tells whether, at $2, the room is on and has admitted beyond its
// last position (queue.Room.Join): the newcomer goes in at once. The places
// admitted are counted in integers as queue.Room.AdmittedThrough counts
// them, from the whole microseconds since base_at.
const caughtUp = `(` + roomRate + ` > 0 AND w.admitted_base + ` + roomRate + ` * (` + sinceBase + ` / 60000000) + ` +
	roomRate + ` * (` + sinceBase + ` % 60000000) / 60000000 > w.next_position)`

// sinceBase is the whole microseconds from the room's base_at to $2, none
// when $2 is before it.
const sinceBase = `greatest((extract(epoch FROM $2::timestamptz - w.base_at) * 1000000)::bigint, 0)`

// JoinQueue takes the next position in a service's waiting room and
// answers it with the room as it then is: queue.Room.Join, done by
// PostgreSQL in one statement (joinSQL), so that racing joins take each a
// place of their own. Errors: NotFound (service_id).
func (s *Store) JoinQueue(ctx context.Context, serviceID string) (queue.Room, int64, error) {
	if !booking.ValidID(serviceID) {
		return queue.Room{}, 0, apperr.New(apperr.NotFound, "service_id", "no service with id %q", serviceID)
	}
	now := s.Clock.Now()
	room, err := scanRoom(s.Pool.QueryRow(ctx, joinSQL, serviceID, now), serviceID)
	if apperr.CodeOf(err) == apperr.NotFound {
		// A room never joined has no row yet: made, counting from 1970
		// (it has caught up), then joined. A service that is not there,
		// or not active, is still not found.
		if _, err := s.Pool.Exec(ctx, `INSERT INTO waiting_rooms (service_id, base_at)
			SELECT id, 'epoch' FROM services WHERE id = $1 AND active ON CONFLICT DO NOTHING`, serviceID); err != nil {
			return queue.Room{}, 0, err
		}
		room, err = scanRoom(s.Pool.QueryRow(ctx, joinSQL, serviceID, now), serviceID)
	}
	if err != nil {
		return queue.Room{}, 0, err
	}
	if s.Rooms != nil {
		s.Rooms.put(serviceID, room, time.Now())
	}
	return room, room.Next, nil
}

// OpenRoom turns a service's waiting room on until until at rate, unless
// it is on longer already: reserve calls it when its holds get slow. A
// room turned on starts its count afresh.
func (s *Store) OpenRoom(ctx context.Context, serviceID string, until time.Time, rate int) error {
	now := s.Clock.Now()
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO waiting_rooms (service_id, next_position, admitted_base, base_at, auto_until, auto_rate)
		SELECT id, 0, 0, $2, $3, $4 FROM services WHERE id = $1
		ON CONFLICT (service_id) DO UPDATE SET auto_until = $3, auto_rate = $4,
		    admitted_base = CASE WHEN waiting_rooms.auto_until > $2 THEN waiting_rooms.admitted_base ELSE waiting_rooms.next_position END,
		    base_at = CASE WHEN waiting_rooms.auto_until > $2 THEN waiting_rooms.base_at ELSE $2 END
		WHERE waiting_rooms.auto_until IS NULL OR waiting_rooms.auto_until < $3`, serviceID, now, until, rate)
	return err
}

// CountRequest counts one request of key (e.g. "queue:address:<ip>") in
// the current minute, for every instance, and tells whether it goes over
// limit (0: no limit, nothing counted).
func (s *Store) CountRequest(ctx context.Context, key string, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	var over bool
	err := s.Pool.QueryRow(ctx, `SELECT count_request($1, $2, $3)`, key, s.Clock.Now(), limit).Scan(&over)
	return over, err
}
