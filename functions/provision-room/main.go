// Command provision-room keeps the video room of every confirmed booking:
// it records the room's window when the booking is confirmed, moves it when
// the booking is rescheduled, and removes the room when the booking is
// cancelled. The room itself exists on LiveKit just in time: housekeeping
// creates it when the window opens (or the first join does) and deletes it
// when the window closes, so LiveKit holds the appointments in progress,
// not the future ones. provision-room creates it at once only for a
// booking whose window is already open, and deletes a room whose booking
// moved. The rooms table records each booking's room, window, the booking
// sequence it follows and when the room was opened, warned and closed;
// join reads it.
//
// Consumes: io.github.sportello.booking.confirmed.v1,
// io.github.sportello.booking.rescheduled.v1 and
// io.github.sportello.booking.cancelled.v1, as CloudEvents posted to /.
// A redelivered event has no second effect, and an event older than the
// room's state (a lower sequence) is acknowledged and ignored. LiveKit
// unreachable answers 503, which the broker retries.
// Emits: io.github.sportello.room.provisioned.v1 and
// io.github.sportello.room.deleted.v1.
//
// Configuration, besides the common one: LIVEKIT_URL, LIVEKIT_API_KEY,
// LIVEKIT_API_SECRET, JOIN_OPENS_BEFORE (default 10m), JOIN_GRACE (15m),
// ROOM_MAX_PARTICIPANTS (4), ROOM_DEPARTURE_TIMEOUT (5m), LIVEKIT_TIMEOUT (5s).
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Consumer is this function's name in the inbox.
const Consumer = "provision-room"

func main() {
	cfg, err := rooms.LoadConfig()
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", Consumer, "err", err)
		os.Exit(1)
	}
	lk := rooms.New(cfg)
	function.Main(Consumer, func(env *function.Env) http.Handler {
		p := &Provisioner{Store: env.Store, LiveKit: lk}
		return function.Events(env.Log, p.Handle)
	})
}

// Provisioner handles the booking events.
type Provisioner struct {
	Store   *postgres.Store // the database, the clock, and the source of the room events
	LiveKit *rooms.LiveKit
}

// decode reads and checks the booking of ev. Anything wrong with it is an
// apperr.Invalid: the event can never be handled and goes to the dead
// letters.
func decode(ev cloudevents.Event) (events.Booking, uuid.UUID, error) {
	switch ev.Type() {
	case events.BookingConfirmed, events.BookingRescheduled, events.BookingCancelled:
	default:
		return events.Booking{}, uuid.Nil, apperr.New(apperr.Invalid, "type", "provision-room does not consume %q", ev.Type())
	}
	// The three types share events.Booking; what else they carry is not needed.
	var b events.Booking
	if err := ev.DataAs(&b); err != nil {
		return events.Booking{}, uuid.Nil, apperr.New(apperr.Invalid, "data", "cannot read the booking: %s", err)
	}
	id, err := uuid.Parse(b.BookingID)
	var v apperr.Validation
	if err != nil {
		v.Add("data.booking_id", apperr.InvalidFormat, "must be a UUID")
	}
	if b.Start.IsZero() || b.End.IsZero() || !b.End.After(b.Start) {
		v.Add("data.end", apperr.Order, "start and end are required, and end must follow start")
	}
	if b.Sequence < 0 {
		v.Add("data.sequence", apperr.OutOfRange, "must not be negative")
	}
	return b, id, v.Err()
}

// Handle is the function's event handler.
func (p *Provisioner) Handle(ctx context.Context, ev cloudevents.Event) error {
	b, id, err := decode(ev)
	if err != nil {
		return err
	}
	room := rooms.Name(id.String())
	w := p.LiveKit.Config.Window(b.Start, b.End)
	_, err = p.Store.Consume(ctx, Consumer, ev, func(tx *postgres.Tx) error {
		cancelled := ev.Type() == events.BookingCancelled
		current, err := tx.RecordRoom(ctx, id, room, w, b.Sequence, cancelled)
		if err != nil || !current {
			return err // a stale event changes nothing
		}
		typ := events.RoomProvisioned
		switch {
		case cancelled:
			typ = events.RoomDeleted
			err = p.LiveKit.Delete(ctx, room)
		case w.At(tx.Now) == booking.InWindow: // a booking for the next minutes
			if _, err = p.LiveKit.Ensure(ctx, room, w, tx.Now); err == nil {
				err = tx.RoomDone(ctx, postgres.OpenRoom, id)
			}
		case ev.Type() == events.BookingRescheduled: // the room of the old window, if it was opened
			err = p.LiveKit.Delete(ctx, room)
		}
		if err != nil {
			return err
		}
		loc := p.Store.Calendar.Location
		return tx.Emit(ctx, outbox.Event{Type: typ, Subject: id.String(), Data: events.RoomData{
			BookingID: id.String(), Room: room, OpensAt: w.OpensAt.In(loc), ClosesAt: w.ClosesAt.In(loc), Sequence: b.Sequence,
		}})
	})
	return err
}
