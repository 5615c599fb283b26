package rooms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/livekit/protocol/auth"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/domain/booking"
)

func TestWindow(t *testing.T) {
	cfg := rooms.Config{OpensBefore: 10 * time.Minute, Grace: 15 * time.Minute}
	start := time.Date(2027, 3, 2, 9, 30, 0, 0, time.UTC)
	w := cfg.Window(start, start.Add(30*time.Minute))
	want := booking.Window{OpensAt: start.Add(-10 * time.Minute), ClosesAt: start.Add(45 * time.Minute)}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Fatalf("window (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		at   time.Duration // from the start
		want booking.Phase
	}{
		{-11 * time.Minute, booking.BeforeWindow},
		{-10*time.Minute - time.Nanosecond, booking.BeforeWindow},
		{-10 * time.Minute, booking.InWindow},
		{0, booking.InWindow},
		{45*time.Minute - time.Nanosecond, booking.InWindow},
		{45 * time.Minute, booking.AfterWindow},
		{48 * time.Hour, booking.AfterWindow},
	} {
		if got := w.At(start.Add(tc.at)); got != tc.want {
			t.Errorf("At(start%+v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestName(t *testing.T) {
	id := uuid.NewString()
	if got := rooms.Name(id); got != "sportello-"+id {
		t.Fatalf("Name = %q", got)
	}
}

func TestValidate(t *testing.T) {
	ok := rooms.Config{URL: "ws://127.0.0.1:7880", APIKey: "k", APISecret: "s", MaxParticipants: 4, DepartureTimeout: time.Minute}
	for _, tc := range []struct {
		name    string
		change  func(*rooms.Config)
		wantErr string
	}{
		{"defaults", func(*rooms.Config) {}, ""},
		{"https", func(c *rooms.Config) { c.URL = "https://livekit.example.it" }, ""},
		{"no scheme", func(c *rooms.Config) { c.URL = "127.0.0.1:7880" }, "LIVEKIT_URL"},
		{"ftp public", func(c *rooms.Config) { c.PublicURL = "ftp://x" }, "LIVEKIT_PUBLIC_URL"},
		{"no secret", func(c *rooms.Config) { c.APISecret = "" }, "LIVEKIT_API_SECRET"},
		{"negative grace", func(c *rooms.Config) { c.Grace = -time.Minute }, "JOIN_GRACE"},
		{"one participant", func(c *rooms.Config) { c.MaxParticipants = 1 }, "ROOM_MAX_PARTICIPANTS"},
		{"no departure timeout", func(c *rooms.Config) { c.DepartureTimeout = 0 }, "ROOM_DEPARTURE_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one about %s", err, tc.wantErr)
			}
			if err == nil && c.PublicURL == "" {
				t.Error("PublicURL not defaulted to URL")
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:7880":          "ws://127.0.0.1:7880",
		"http://127.0.0.1:7880":        "ws://127.0.0.1:7880",
		"https://video.comune.bari.it": "wss://video.comune.bari.it",
		"wss://video.comune.bari.it":   "wss://video.comune.bari.it",
	} {
		lk := &rooms.LiveKit{Config: rooms.Config{PublicURL: in}}
		if got := lk.PublicURL(); got != want {
			t.Errorf("PublicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestToken: the token is for one identity and one room, with publish,
// subscribe and data rights and nothing administrative, signed with the
// API secret, valid for the asked duration.
func TestToken(t *testing.T) {
	lk := &rooms.LiveKit{Config: rooms.Config{APIKey: "devkey", APISecret: "a-secret-of-at-least-thirty-two-characters"}}
	jwt, err := lk.Token("sportello-x", rooms.Participant{Identity: "citizen-x", Name: "Maria"}, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.ParseAPIToken(jwt)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIKey() != "devkey" {
		t.Errorf("issuer %q", v.APIKey())
	}
	claims, grants, err := v.Verify(lk.Config.APISecret)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, _, err := v.Verify("another-secret-of-at-least-thirty-two-chars"); err == nil {
		t.Error("token verified with another secret")
	}
	yes := true
	want := &auth.VideoGrant{RoomJoin: true, Room: "sportello-x", CanPublish: &yes, CanSubscribe: &yes, CanPublishData: &yes}
	if diff := cmp.Diff(want, grants.Video); diff != "" {
		t.Errorf("video grant (-want +got):\n%s", diff)
	}
	if grants.Identity != "citizen-x" || grants.Name != "Maria" {
		t.Errorf("identity %q name %q", grants.Identity, grants.Name)
	}
	if claims.ExpiresAt == nil {
		t.Fatal("no expiry")
	}
	if d := time.Until(claims.ExpiresAt.Time); d < 19*time.Minute || d > 20*time.Minute {
		t.Errorf("token valid for %s, want 20m", d)
	}
}

// TestEnsure (real LiveKit): Ensure creates the room with the configured
// limits and an empty timeout that reaches the end of the window; calling
// it again changes nothing; a window moved later remakes the still empty
// room so that it lasts; Delete removes it, and deleting a missing room is
// fine.
func TestEnsure(t *testing.T) {
	lk := roomstest.LiveKit(t)
	name := rooms.Name(uuid.NewString())
	roomstest.Cleanup(t, lk, name)
	ctx := t.Context()
	// The domain's clock need not be LiveKit's: only durations cross over.
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	w := booking.Window{OpensAt: now.Add(time.Hour), ClosesAt: now.Add(2 * time.Hour)}

	room, err := lk.Ensure(ctx, name, w, now)
	if err != nil {
		t.Fatal(err)
	}
	listed := roomstest.Room(t, lk, name)
	if listed == nil {
		t.Fatal("room not listed after Ensure")
	}
	if listed.Sid != room.Sid || listed.MaxParticipants != 4 || listed.EmptyTimeout != 7200 || listed.DepartureTimeout != 300 {
		t.Errorf("room: sid %s (created %s), max %d, empty timeout %d, departure timeout %d; want max 4, 7200, 300",
			listed.Sid, room.Sid, listed.MaxParticipants, listed.EmptyTimeout, listed.DepartureTimeout)
	}

	again, err := lk.Ensure(ctx, name, w, now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again.Sid != room.Sid {
		t.Errorf("Ensure made the room again (%s -> %s) though it lasts long enough", room.Sid, again.Sid)
	}

	later := booking.Window{OpensAt: now.Add(24 * time.Hour), ClosesAt: now.Add(26 * time.Hour)}
	moved, err := lk.Ensure(ctx, name, later, now)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Sid == room.Sid {
		t.Error("the room kept its short empty timeout after the window moved a day later")
	}
	if listed := roomstest.Room(t, lk, name); listed == nil || listed.EmptyTimeout != 26*3600 {
		t.Errorf("room after the move: %v, want an empty timeout of 26h", listed)
	}

	if err := lk.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if roomstest.Room(t, lk, name) != nil {
		t.Error("room still listed after Delete")
	}
	if err := lk.Delete(ctx, name); err != nil {
		t.Errorf("deleting a missing room: %v", err)
	}
}

// TestUnreachable: with LiveKit down, Ensure and Delete fail (the caller
// answers 5xx and is retried) instead of pretending.
func TestUnreachable(t *testing.T) {
	cfg := rooms.Config{URL: "http://127.0.0.1:1", APIKey: "k", APISecret: "a-secret-of-at-least-thirty-two-characters",
		MaxParticipants: 4, DepartureTimeout: time.Minute, Timeout: 2 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	lk := rooms.New(cfg)
	now := time.Now()
	if _, err := lk.Ensure(t.Context(), "sportello-x", booking.Window{OpensAt: now, ClosesAt: now.Add(time.Hour)}, now); err == nil {
		t.Error("Ensure succeeded with LiveKit down")
	}
	if err := lk.Delete(t.Context(), "sportello-x"); err == nil {
		t.Error("Delete succeeded with LiveKit down")
	}
}
