package main

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// bookOnLiveKit makes the housekeeping of f work on the real LiveKit of
// make test and books at start; the booking's room is removed from LiveKit
// when the test ends. It returns LiveKit, the booking and its room's name.
func (f *fixture) bookOnLiveKit(t *testing.T, start time.Time) (*rooms.LiveKit, booking.Confirmation, string) {
	t.Helper()
	f.hk.LiveKit = roomstest.LiveKit(t)
	c := f.book(t, start)
	name := rooms.Name(c.ID)
	roomstest.Cleanup(t, f.hk.LiveKit, name)
	return f.hk.LiveKit, c, name
}

// TestRoomThroughItsWindow: a booking's room is not on LiveKit until its
// window opens; the tick that finds it open creates it; the one inside the
// warning's lead tells the people in the room when it closes; the one
// after the window deletes it, which disconnects them.
func TestRoomThroughItsWindow(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	lk, c, name := f.bookOnLiveKit(t, apitest.At("2027-03-02", "09:00"))
	win := lk.Config.Window(c.Start, c.End) // 08:50 to 09:45
	if err := f.store.InTx(t.Context(), func(tx *postgres.Tx) error {
		_, err := tx.RecordRoom(t.Context(), mustUUID(t, c.ID), name, win, 0, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tick := func(when time.Time) Report {
		t.Helper()
		f.clk.Set(when)
		rep, err := f.hk.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	if rep := tick(win.OpensAt.Add(-time.Minute)); rep.RoomsOpened != 0 || roomstest.Room(t, lk, name) != nil {
		t.Fatalf("a minute before the window: %+v, room on LiveKit %v", rep, roomstest.Room(t, lk, name) != nil)
	}
	if rep := tick(win.OpensAt); rep.RoomsOpened != 1 || roomstest.Room(t, lk, name) == nil {
		t.Fatalf("when the window opens: %+v, want the room created", rep)
	}
	if rep := tick(win.OpensAt.Add(time.Minute)); rep.RoomsOpened != 0 {
		t.Errorf("the next tick opened the room again: %+v", rep)
	}

	var mu sync.Mutex
	var closing []string
	disconnected := make(chan struct{}, 1)
	cb := lksdk.NewRoomCallback()
	cb.OnDataPacket = func(p lksdk.DataPacket, params lksdk.DataReceiveParams) {
		if u, ok := p.(*lksdk.UserDataPacket); ok && params.Topic == rooms.ClosingTopic {
			mu.Lock()
			closing = append(closing, string(u.Payload))
			mu.Unlock()
		}
	}
	cb.OnDisconnected = func() { disconnected <- struct{}{} }
	token, err := lk.Token(name, rooms.Participant{Identity: "citizen-" + c.ID, Name: "Maria"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Connect(t, lk.PublicURL(), token, cb)
	// A data message reaches a participant whose connection is up: on a
	// busy machine joining may take a moment more than Connect.
	clienttest.Eventually(t, 20*time.Second, "the participant's connection is not up", func() bool {
		ps, err := lk.Participants(t.Context(), name)
		return err == nil && len(ps) == 1 && ps[0].State == "ACTIVE"
	})

	lead := lk.Config.ClosingWarning
	if rep := tick(win.ClosesAt.Add(-lead - time.Minute)); rep.RoomsWarned != 0 {
		t.Errorf("warned before the lead: %+v", rep)
	}
	if rep := tick(win.ClosesAt.Add(-lead + time.Second)); rep.RoomsWarned != 1 {
		t.Fatalf("inside the warning's lead: %+v, want one room warned", rep)
	}
	clienttest.Eventually(t, 10*time.Second, "the participant was not told that the room closes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(closing) == 1
	})
	var msg struct {
		Kind     string `json:"kind"`
		ClosesAt string `json:"closes_at"`
	}
	if err := json.Unmarshal([]byte(closing[0]), &msg); err != nil || msg.Kind != "closing" ||
		msg.ClosesAt != win.ClosesAt.In(apitest.Rome).Format(time.RFC3339) {
		t.Errorf("closing message %s (%v)", closing[0], err)
	}

	if rep := tick(win.ClosesAt); rep.RoomsClosed != 1 || roomstest.Room(t, lk, name) != nil {
		t.Fatalf("when the window closes: %+v, want the room deleted", rep)
	}
	select {
	case <-disconnected:
	case <-time.After(10 * time.Second):
		t.Error("the participant was not disconnected when the room closed")
	}
	if rep := tick(win.ClosesAt.Add(time.Minute)); rep.RoomsClosed != 0 || rep.RoomsOpened != 0 {
		t.Errorf("the next tick touched the room again: %+v", rep)
	}
}

// TestCancelledRoomsStayClosed: the room of a cancelled booking is never
// opened, even inside its window.
func TestCancelledRoomsStayClosed(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	lk, c, name := f.bookOnLiveKit(t, apitest.At("2027-03-02", "10:00"))
	win := lk.Config.Window(c.Start, c.End)
	if err := f.store.InTx(t.Context(), func(tx *postgres.Tx) error {
		_, err := tx.RecordRoom(t.Context(), mustUUID(t, c.ID), name, booking.Window{OpensAt: win.OpensAt, ClosesAt: win.ClosesAt}, 1, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(win.OpensAt.Add(time.Minute))
	rep, err := f.hk.Tick(t.Context())
	if err != nil || rep.RoomsOpened != 0 || roomstest.Room(t, lk, name) != nil {
		t.Fatalf("a cancelled booking's room: %+v, %v; on LiveKit: %v", rep, err, roomstest.Room(t, lk, name) != nil)
	}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
