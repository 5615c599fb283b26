// Package roomstest connects tests to the real LiveKit server that make test
// starts (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET); package
// clienttest joins rooms as a participant would. It is for tests only: its
// functions fail the test they are given.
package roomstest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
)

// Config is the LiveKit configuration from the environment, with the
// defaults of the functions. Without a server it fails the test with a hint.
func Config(tb testing.TB) rooms.Config {
	tb.Helper()
	for _, v := range []string{"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} {
		if os.Getenv(v) == "" {
			tb.Fatalf("%s is not set: run `make test`, which starts LiveKit, or start livekit-server "+
				"(~/.cache/sportello/tools/livekit-server-v1.13.5/livekit-server) and export LIVEKIT_URL=ws://127.0.0.1:PORT, "+
				"LIVEKIT_API_KEY and LIVEKIT_API_SECRET", v)
		}
	}
	cfg, err := rooms.LoadConfig()
	if err != nil {
		tb.Fatalf("LiveKit configuration: %v", err)
	}
	return cfg
}

// LiveKit is a client of the test server.
func LiveKit(tb testing.TB) *rooms.LiveKit {
	tb.Helper()
	return rooms.New(Config(tb))
}

// Room returns the room called name as LiveKit lists it, or nil.
func Room(tb testing.TB, lk *rooms.LiveKit, name string) *rooms.Room {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := lk.Rooms(ctx, name)
	if err != nil {
		tb.Fatalf("list rooms: %v", err)
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// Absent fails the test when LiveKit lists room name: what (say, "a
// refused join") must not have created it.
func Absent(tb testing.TB, lk *rooms.LiveKit, name, what string) {
	tb.Helper()
	if Room(tb, lk, name) != nil {
		tb.Errorf("%s created the room %s", what, name)
	}
}

// Cleanup deletes room name from LiveKit when the test ends.
func Cleanup(tb testing.TB, lk *rooms.LiveKit, name string) {
	tb.Cleanup(func() { _ = lk.Delete(context.Background(), name) })
}
