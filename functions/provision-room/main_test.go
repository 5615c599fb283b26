package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// fixture is a store with a fixed clock, a service and the provision-room
// handler in front of the real LiveKit server.
type fixture struct {
	store   *postgres.Store
	clock   *clock.Fixed
	service string
	lk      *rooms.LiveKit
	h       http.Handler
	kicks   int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, clk := pgtest.Store(t, apitest.Monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	f := &fixture{store: store, clock: clk, service: svc, lk: roomstest.LiveKit(t)}
	ps := *store
	ps.Source, ps.Delivered = "/sportello/provision-room", func() { f.kicks++ }
	p := &Provisioner{Store: &ps, LiveKit: f.lk}
	f.h = function.Events(apitest.Discard, p.Handle)
	return f
}

// book confirms a booking at start and removes its room from LiveKit when
// the test ends.
func (f *fixture) book(t *testing.T, start time.Time) booking.Confirmation {
	t.Helper()
	c := pgtest.Book(t, f.store, f.service, start)
	roomstest.Cleanup(t, f.lk, rooms.Name(c.ID))
	return c
}

// made books at start and delivers its confirmation, the clock being in
// the room's window: LiveKit must hold the room then. It returns the
// booking, its room's name and the confirmation.
func (f *fixture) made(t *testing.T, start time.Time) (booking.Confirmation, string, cloudevents.Event) {
	t.Helper()
	c := f.book(t, start)
	name := rooms.Name(c.ID)
	confirmed := pgtest.Emitted(t, c.ID, events.BookingConfirmed)
	f.deliver(t, confirmed, http.StatusAccepted)
	if roomstest.Room(t, f.lk, name) == nil {
		t.Fatalf("no room %s in the window", name)
	}
	return c, name, confirmed
}

// deliver posts ev to the handler and requires the given status.
func (f *fixture) deliver(t *testing.T, ev cloudevents.Event, want int) {
	t.Helper()
	rec := apitest.Deliver(f.h, apitest.Binary(ev))
	if rec.Code != want {
		t.Fatalf("%s: status %d, want %d: %s", ev.Type(), rec.Code, want, rec.Body)
	}
}

// row is a rooms row.
type row struct {
	Name               string
	OpensAt, ClosesAt  time.Time
	Sequence           int
	Deleted            bool
	UpdatedAt          time.Time
	ProcessedByBooking int // inbox rows of provision-room for the booking's events
}

func roomRow(t *testing.T, bookingID string) (row, bool) {
	t.Helper()
	var r row
	err := pgtest.Pool(t).QueryRow(t.Context(), `
		SELECT name, opens_at, closes_at, sequence, deleted_at IS NOT NULL, updated_at FROM rooms WHERE booking_id = $1`, bookingID).
		Scan(&r.Name, &r.OpensAt, &r.ClosesAt, &r.Sequence, &r.Deleted, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.OpensAt, r.ClosesAt, r.UpdatedAt = r.OpensAt.In(apitest.Rome), r.ClosesAt.In(apitest.Rome), r.UpdatedAt.In(apitest.Rome)
	return r, true
}

// sameInstants compares times as instants, whatever their zone.
var sameInstants = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// TestProvision: a confirmed booking gets its room's row and one
// room.provisioned event, but no room on LiveKit before its window opens
// (housekeeping creates it then); a second delivery of the same event
// changes nothing. A booking whose window is already open gets its room at
// once (listed, with the maximum of participants and timeouts that keep it
// until its window closes).
func TestProvision(t *testing.T) {
	f := newFixture(t)
	start := apitest.At("2027-03-02", "09:30")
	c := f.book(t, start)
	name := rooms.Name(c.ID)
	confirmed := pgtest.Emitted(t, c.ID, events.BookingConfirmed)

	f.deliver(t, confirmed, http.StatusAccepted)

	opens, closes := apitest.At("2027-03-02", "09:20"), apitest.At("2027-03-02", "10:15")
	got, ok := roomRow(t, c.ID)
	if !ok {
		t.Fatal("no rooms row")
	}
	want := row{Name: name, OpensAt: opens, ClosesAt: closes, Sequence: 0, UpdatedAt: apitest.Monday}
	if diff := cmp.Diff(want, got, sameInstants); diff != "" {
		t.Errorf("rooms row (-want +got):\n%s", diff)
	}
	if strings.Contains(name, "Maria") || strings.Contains(name, "Rossi") {
		t.Errorf("room name %q carries personal data", name)
	}
	if roomstest.Room(t, f.lk, name) != nil {
		t.Error("LiveKit holds the room of an appointment tomorrow")
	}
	wantEvents := []events.RoomData{{BookingID: c.ID, Room: name, OpensAt: opens, ClosesAt: closes, Sequence: 0}}
	if diff := cmp.Diff(wantEvents, pgtest.EventData[events.RoomData](t, c.ID, events.RoomProvisioned), sameInstants); diff != "" {
		t.Errorf("room.provisioned events (-want +got):\n%s", diff)
	}
	if f.kicks != 1 {
		t.Errorf("relay kicked %d times, want 1", f.kicks)
	}
	ev := pgtest.Emitted(t, c.ID, events.RoomProvisioned)
	if ev.Source() != "/sportello/provision-room" || ev.DataSchema() != events.SchemaBase+"room.provisioned.v1.json" {
		t.Errorf("event source %q dataschema %q", ev.Source(), ev.DataSchema())
	}

	// The broker delivers the same event again, later.
	f.clock.Advance(time.Minute)
	before := apitest.Snap(t)
	f.deliver(t, confirmed, http.StatusAccepted)
	if n := len(pgtest.EventData[events.RoomData](t, c.ID, events.RoomProvisioned)); n != 1 {
		t.Errorf("%d room.provisioned events after a duplicate delivery, want 1", n)
	}
	if again, _ := roomRow(t, c.ID); !again.UpdatedAt.Equal(apitest.Monday) {
		t.Errorf("the duplicate delivery touched the row: %+v", again)
	}
	apitest.Unchanged(t, "the duplicate delivery", before)

	// Booked five minutes before its start: the window is open, the room
	// is made now.
	f.clock.Set(apitest.At("2027-03-01", "10:55"))
	soon := f.book(t, apitest.At("2027-03-01", "11:00"))
	f.deliver(t, pgtest.Emitted(t, soon.ID, events.BookingConfirmed), http.StatusAccepted)
	room := roomstest.Room(t, f.lk, rooms.Name(soon.ID))
	if room == nil {
		t.Fatal("LiveKit does not list the room of a booking in its window")
	}
	if room.MaxParticipants != 4 || room.DepartureTimeout != 300 {
		t.Errorf("room max participants %d, departure timeout %d; want 4 and 300", room.MaxParticipants, room.DepartureTimeout)
	}
	if need := uint32(apitest.At("2027-03-01", "11:45").Sub(f.clock.Now()).Seconds()); room.EmptyTimeout < need {
		t.Errorf("empty timeout %ds ends before the window closes (%ds from now)", room.EmptyTimeout, need)
	}
	var opened *time.Time
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT opened_at FROM rooms WHERE booking_id = $1`, soon.ID).Scan(&opened); err != nil || opened == nil {
		t.Errorf("the room made at once is not marked opened: %v, %v", opened, err)
	}
}

// TestThousandsOfFutureBookings: LiveKit holds no room for the
// appointments of the coming weeks, however many they are.
func TestThousandsOfFutureBookings(t *testing.T) {
	f := newFixture(t)
	_, svc := pgtest.NewService(t, f.store.Pool, pgtest.Service{Desks: 25, Duration: 15, Horizon: 30})
	var names []string
	for day := 1; len(names) < 2000; day++ {
		date := apitest.Monday.AddDate(0, 0, day).Format(time.DateOnly)
		for m := 0; m < 16 && len(names) < 2000; m++ {
			for d := 0; d < 25 && len(names) < 2000; d++ {
				c := pgtest.Book(t, f.store, svc, apitest.At(date, "09:00").Add(time.Duration(m)*15*time.Minute))
				f.deliver(t, pgtest.Emitted(t, c.ID, events.BookingConfirmed), http.StatusAccepted)
				names = append(names, rooms.Name(c.ID))
			}
		}
	}
	held, err := f.lk.Rooms(t.Context(), names...)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 0 {
		t.Errorf("LiveKit holds %d rooms of %d future appointments, want none", len(held), len(names))
	}
	var rows int
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT count(*) FROM rooms WHERE name = ANY($1) AND opened_at IS NULL`, names).Scan(&rows); err != nil || rows != len(names) {
		t.Errorf("%d rooms recorded and waiting for their window, want %d (%v)", rows, len(names), err)
	}
}

// TestReschedule: a rescheduled booking moves its room's window and
// sequence and announces it; an older event delivered afterwards (even
// under a new id) is acknowledged and ignored.
func TestReschedule(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(apitest.At("2027-03-01", "09:25")) // the window is open: the room is made
	c, name, confirmed := f.made(t, apitest.At("2027-03-01", "09:30"))

	next := apitest.At("2027-03-30", "10:00") // a month later, across the DST change
	if _, err := f.store.Reschedule(t.Context(), c.ManageToken, next); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	f.deliver(t, pgtest.Emitted(t, c.ID, events.BookingRescheduled), http.StatusAccepted)

	opens, closes := apitest.At("2027-03-30", "09:50"), apitest.At("2027-03-30", "10:45")
	got, _ := roomRow(t, c.ID)
	want := row{Name: name, OpensAt: opens, ClosesAt: closes, Sequence: 1, UpdatedAt: apitest.At("2027-03-01", "10:25")}
	if diff := cmp.Diff(want, got, sameInstants); diff != "" {
		t.Errorf("rooms row (-want +got):\n%s", diff)
	}
	provisioned := pgtest.EventData[events.RoomData](t, c.ID, events.RoomProvisioned)
	if len(provisioned) != 2 {
		t.Fatalf("%d room.provisioned events, want 2", len(provisioned))
	}
	if diff := cmp.Diff(events.RoomData{BookingID: c.ID, Room: name, OpensAt: opens, ClosesAt: closes, Sequence: 1}, provisioned[1], sameInstants); diff != "" {
		t.Errorf("second room.provisioned (-want +got):\n%s", diff)
	}
	// The room of the old window is gone until the new one opens.
	if roomstest.Room(t, f.lk, name) != nil {
		t.Error("LiveKit still holds the room of the old window")
	}

	// The confirmed event again, as a replay with a new id: stale.
	before := apitest.Snap(t)
	stale := confirmed.Clone()
	stale.SetID(uuid.NewString())
	f.deliver(t, stale, http.StatusAccepted)
	if got, _ := roomRow(t, c.ID); got.Sequence != 1 || !got.OpensAt.Equal(opens) {
		t.Errorf("a stale event changed the row: %+v", got)
	}
	apitest.Unchanged(t, "a stale event", before)
}

// TestCancel: a cancelled booking's room is removed from LiveKit, its row
// marked deleted, and room.deleted emitted once; later deliveries of older
// events do not bring it back.
func TestCancel(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(apitest.At("2027-03-02", "10:52")) // the window is open: the room is made
	c, name, confirmed := f.made(t, apitest.At("2027-03-02", "11:00"))
	if _, err := f.store.Cancel(t.Context(), c.ManageToken); err != nil {
		t.Fatal(err)
	}
	cancelled := pgtest.Emitted(t, c.ID, events.BookingCancelled)
	f.clock.Advance(time.Minute)
	f.deliver(t, cancelled, http.StatusAccepted)

	if roomstest.Room(t, f.lk, name) != nil {
		t.Error("LiveKit still lists the room of a cancelled booking")
	}
	got, _ := roomRow(t, c.ID)
	opens, closes := apitest.At("2027-03-02", "10:50"), apitest.At("2027-03-02", "11:45")
	want := row{Name: name, OpensAt: opens, ClosesAt: closes, Sequence: 1, Deleted: true, UpdatedAt: apitest.At("2027-03-02", "10:53")}
	if diff := cmp.Diff(want, got, sameInstants); diff != "" {
		t.Errorf("rooms row (-want +got):\n%s", diff)
	}
	wantDeleted := []events.RoomData{{BookingID: c.ID, Room: name, OpensAt: opens, ClosesAt: closes, Sequence: 1}}
	if diff := cmp.Diff(wantDeleted, pgtest.EventData[events.RoomData](t, c.ID, events.RoomDeleted), sameInstants); diff != "" {
		t.Errorf("room.deleted events (-want +got):\n%s", diff)
	}

	before := apitest.Snap(t)
	f.deliver(t, cancelled, http.StatusAccepted) // duplicate
	replay := confirmed.Clone()
	replay.SetID(uuid.NewString())
	f.deliver(t, replay, http.StatusAccepted) // stale
	apitest.Unchanged(t, "a duplicate or stale event", before)
	if roomstest.Room(t, f.lk, name) != nil {
		t.Error("a stale confirmed event brought the room back")
	}
}

// TestCancelledFirst: events arrive in no fixed order. A cancellation
// handled before the confirmation leaves a deleted row behind, so the late
// confirmation creates no room.
func TestCancelledFirst(t *testing.T) {
	f := newFixture(t)
	c := f.book(t, apitest.At("2027-03-03", "09:00"))
	if _, err := f.store.Cancel(t.Context(), c.ManageToken); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, pgtest.Emitted(t, c.ID, events.BookingCancelled), http.StatusAccepted)
	f.deliver(t, pgtest.Emitted(t, c.ID, events.BookingConfirmed), http.StatusAccepted)

	if got, ok := roomRow(t, c.ID); !ok || !got.Deleted || got.Sequence != 1 {
		t.Errorf("rooms row %+v (exists %v), want deleted at sequence 1", got, ok)
	}
	roomstest.Absent(t, f.lk, rooms.Name(c.ID), "the late confirmation")
	if n := len(pgtest.EventData[events.RoomData](t, c.ID, events.RoomProvisioned)); n != 0 {
		t.Errorf("%d room.provisioned events, want none", n)
	}
	if n := len(pgtest.EventData[events.RoomData](t, c.ID, events.RoomDeleted)); n != 1 {
		t.Errorf("%d room.deleted events, want 1", n)
	}
}

// TestLiveKitDown: with LiveKit unreachable the event fails with a 503 (the
// broker retries) and leaves nothing behind, not even its inbox record; the
// retry after LiveKit is back provisions the room.
func TestLiveKitDown(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(apitest.At("2027-03-04", "08:55")) // in the window: provision-room calls LiveKit
	c := f.book(t, apitest.At("2027-03-04", "09:00"))
	confirmed := pgtest.Emitted(t, c.ID, events.BookingConfirmed)

	cfg := f.lk.Config
	cfg.URL, cfg.Timeout = "http://127.0.0.1:1", 2*time.Second
	ps := *f.store
	ps.Source = "/sportello/provision-room"
	down := &Provisioner{Store: &ps, LiveKit: rooms.New(cfg)}
	before := apitest.Snap(t)
	rec := apitest.Deliver(function.Events(apitest.Discard, down.Handle), apitest.Binary(confirmed))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d with LiveKit down, want 503: %s", rec.Code, rec.Body)
	}
	apitest.Unchanged(t, "a failed delivery", before)
	if _, ok := roomRow(t, c.ID); ok {
		t.Error("a failed delivery left a rooms row")
	}
	var inboxed int
	if err := pgtest.Pool(t).QueryRow(t.Context(),
		`SELECT count(*) FROM processed_events WHERE consumer = $1 AND id = $2`, Consumer, confirmed.ID()).Scan(&inboxed); err != nil {
		t.Fatal(err)
	}
	if inboxed != 0 {
		t.Error("a failed delivery was recorded as handled: its retry would be skipped")
	}

	f.deliver(t, confirmed, http.StatusAccepted)
	if roomstest.Room(t, f.lk, rooms.Name(c.ID)) == nil {
		t.Error("the retry did not create the room")
	}
	if n := len(pgtest.EventData[events.RoomData](t, c.ID, events.RoomProvisioned)); n != 1 {
		t.Errorf("%d room.provisioned events after the retry, want 1", n)
	}
}

// TestRefused: events provision-room can never handle answer 400, which
// the broker does not retry (they go to the dead letters), and write
// nothing.
func TestRefused(t *testing.T) {
	f := newFixture(t)
	c := f.book(t, apitest.At("2027-03-05", "09:00"))
	good := pgtest.Emitted(t, c.ID, events.BookingConfirmed)
	with := func(typ, data string) cloudevents.Event {
		ev := good.Clone()
		ev.SetID(uuid.NewString())
		if typ != "" {
			ev.SetType(typ)
		}
		if data != "" {
			if err := ev.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		return ev
	}
	unknown := uuid.NewString()
	for name, ev := range map[string]cloudevents.Event{
		"another type":     with(events.BookingHeld, ""),
		"not JSON":         with("", `{"booking_id":`),
		"no booking id":    with("", `{"start":"2027-03-05T09:00:00+01:00","end":"2027-03-05T09:30:00+01:00","sequence":0}`),
		"end before start": with("", `{"booking_id":"`+c.ID+`","start":"2027-03-05T09:00:00+01:00","end":"2027-03-05T08:30:00+01:00"}`),
		"unknown booking":  with("", `{"booking_id":"`+unknown+`","start":"2027-03-05T09:00:00+01:00","end":"2027-03-05T09:30:00+01:00"}`),
	} {
		t.Run(name, func(t *testing.T) {
			before := apitest.Snap(t)
			rec := apitest.Serve(t, f.h, apitest.Binary(ev))
			p := apitest.ProblemOf(t, rec)
			if rec.Code != http.StatusBadRequest || p.Code != "invalid" {
				t.Errorf("status %d code %q, want 400 invalid: %s", rec.Code, p.Code, rec.Body)
			}
			apitest.Unchanged(t, "the request", before)
		})
	}
	roomstest.Absent(t, f.lk, rooms.Name(unknown), "a delivery about an unknown booking")
}
