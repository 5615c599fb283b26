// Package rooms is what provision-room, housekeeping, join and operators
// share about the video room of a booking: the LiveKit configuration, the
// room's name, its window (the time during which join mints tokens), and a
// small LiveKit client that creates, warns and deletes rooms and mints join
// tokens.
//
// A booking has one room, named after the booking's id (never after a
// person). The window opens JOIN_OPENS_BEFORE before the start and closes
// JOIN_GRACE after the end. Rooms exist on LiveKit just in time: created
// when the window opens (housekeeping's tick, or the first join, whichever
// comes first) with an empty timeout reaching the end of the window, the
// participants warned ROOM_CLOSING_WARNING before it closes, and the room
// deleted when it closes. LiveKit holds the appointments in progress, never
// the future ones.
//
// The client speaks LiveKit's room service API (Twirp, JSON) and signs its
// tokens with golang-jwt: no function links LiveKit's protocol package or
// server SDK, whose generated types pull in a WebRTC stack (~15 MB of each
// binary). LiveKit's own packages verify it in the tests.
package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/domain/booking"
)

// Config is the LiveKit part of the environment of the functions that use it.
type Config struct {
	// URL is where the functions reach LiveKit's API: ws(s):// or
	// http(s)://; ws is turned into http for the room service.
	URL string `envconfig:"LIVEKIT_URL" required:"true"`
	// PublicURL is the URL browsers connect to (join answers it); default URL.
	PublicURL string `envconfig:"LIVEKIT_PUBLIC_URL"`
	APIKey    string `envconfig:"LIVEKIT_API_KEY" required:"true"`
	APISecret string `envconfig:"LIVEKIT_API_SECRET" required:"true"`
	// OpensBefore is how long before the start the room can be joined.
	OpensBefore time.Duration `envconfig:"JOIN_OPENS_BEFORE" default:"10m"`
	// Grace is how long after the end the room can still be joined.
	Grace time.Duration `envconfig:"JOIN_GRACE" default:"15m"`
	// MaxParticipants: the citizen, the operator and room for one more each
	// (a colleague, an interpreter).
	MaxParticipants uint32 `envconfig:"ROOM_MAX_PARTICIPANTS" default:"4"`
	// DepartureTimeout is how long LiveKit keeps a room after the last
	// participant left, so that a dropped connection can come back.
	DepartureTimeout time.Duration `envconfig:"ROOM_DEPARTURE_TIMEOUT" default:"5m"`
	// Timeout bounds each call to LiveKit's API.
	Timeout time.Duration `envconfig:"LIVEKIT_TIMEOUT" default:"5s"`
	// ClosingWarning is how long before the window closes the participants
	// are told that the room will close.
	ClosingWarning time.Duration `envconfig:"ROOM_CLOSING_WARNING" default:"5m"`
}

// LoadConfig reads Config from the environment and checks it.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks the configuration and fills PublicURL.
func (c *Config) Validate() error {
	var errs []error
	for _, u := range []struct{ name, value string }{{"LIVEKIT_URL", c.URL}, {"LIVEKIT_PUBLIC_URL", c.PublicURL}} {
		if u.value == "" {
			continue
		}
		p, err := url.Parse(u.value)
		if err != nil || p.Host == "" || !map[string]bool{"ws": true, "wss": true, "http": true, "https": true}[p.Scheme] {
			errs = append(errs, fmt.Errorf("%s: want a ws://, wss://, http:// or https:// URL, not %q", u.name, u.value))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = c.URL
	}
	if c.APIKey == "" || c.APISecret == "" {
		errs = append(errs, errors.New("LIVEKIT_API_KEY and LIVEKIT_API_SECRET are required"))
	}
	if c.OpensBefore < 0 || c.Grace < 0 {
		errs = append(errs, errors.New("JOIN_OPENS_BEFORE and JOIN_GRACE must not be negative"))
	}
	if c.MaxParticipants < 2 {
		errs = append(errs, errors.New("ROOM_MAX_PARTICIPANTS must be at least 2: the citizen and the operator"))
	}
	if c.DepartureTimeout < time.Second {
		errs = append(errs, errors.New("ROOM_DEPARTURE_TIMEOUT must be at least 1s"))
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ClosingWarning < 0 {
		errs = append(errs, errors.New("ROOM_CLOSING_WARNING must not be negative"))
	}
	return errors.Join(errs...)
}

// Name is the LiveKit room name of a booking. It carries no personal data.
func Name(bookingID string) string { return "sportello-" + bookingID }

// Window returns the window of a meeting from start to end: it opens
// OpensBefore the start and closes Grace after the end.
func (c Config) Window(start, end time.Time) booking.Window {
	return booking.Window{OpensAt: start.Add(-c.OpensBefore), ClosesAt: end.Add(c.Grace)}
}

// minEmptyTimeout is the shortest empty timeout a room is created with, so
// that a room made right before (or after) its window closes does not
// vanish before its creator's next step.
const minEmptyTimeout = 5 * time.Minute

// emptyTimeoutSlack absorbs the rounding of LiveKit's creation time to
// whole seconds and small clock differences when Ensure checks a room's
// empty timeout.
const emptyTimeoutSlack = time.Minute

// Ensure makes sure the room exists on LiveKit and stays there, while
// nobody joins, until the window closes. It is idempotent. LiveKit counts
// the empty timeout from the room's creation and keeps the settings of a
// room that exists; a room still empty whose timeout falls short of the
// window (the booking moved later) is therefore made again.
func (l *LiveKit) Ensure(ctx context.Context, name string, w booking.Window, now time.Time) (*Room, error) {
	req := createRoom{
		Name:             name,
		EmptyTimeout:     seconds(max(w.ClosesAt.Sub(now), minEmptyTimeout)),
		DepartureTimeout: seconds(l.Config.DepartureTimeout),
		MaxParticipants:  l.Config.MaxParticipants,
	}
	room, err := l.create(ctx, req)
	if err != nil {
		return nil, err
	}
	// LiveKit's timeouts run on its wall clock: what is left of this one
	// is measured on the real clock, what is needed on the domain's.
	left := time.Unix(int64(room.CreationTime), 0).Add(time.Duration(room.EmptyTimeout) * time.Second).Sub(time.Now())
	if room.NumParticipants > 0 || left >= w.ClosesAt.Sub(now)-emptyTimeoutSlack {
		return room, nil
	}
	if err := l.Delete(ctx, name); err != nil {
		return nil, err
	}
	return l.create(ctx, req)
}

func (l *LiveKit) create(ctx context.Context, req createRoom) (*Room, error) {
	var room Room
	if err := l.call(ctx, "CreateRoom", videoGrant{RoomCreate: true}, req, &room); err != nil {
		return nil, fmt.Errorf("livekit: create room: %w", err)
	}
	return &room, nil
}

// Delete removes the room from LiveKit, disconnecting whoever is in it. A
// room that does not exist is fine.
func (l *LiveKit) Delete(ctx context.Context, name string) error {
	err := l.call(ctx, "DeleteRoom", videoGrant{RoomCreate: true}, map[string]string{"room": name}, nil)
	if err != nil && !notFound(err) {
		return fmt.Errorf("livekit: delete room: %w", err)
	}
	return nil
}

// ClosingTopic is the topic of the data message that tells the people in a
// room when it closes; its payload is {"kind": "closing", "closes_at":
// RFC 3339}.
const ClosingTopic = "sportello.room"

// Warn tells everyone in room name that it closes at closesAt, with a
// reliable data message on ClosingTopic. A room that does not exist is
// fine: there is nobody to tell.
func (l *LiveKit) Warn(ctx context.Context, name string, closesAt time.Time) error {
	payload, _ := json.Marshal(map[string]string{"kind": "closing", "closes_at": closesAt.Format(time.RFC3339)})
	req := map[string]any{"room": name, "data": payload, "kind": "RELIABLE", "topic": ClosingTopic}
	err := l.call(ctx, "SendData", videoGrant{RoomAdmin: true, Room: name}, req, nil)
	if err != nil && !notFound(err) {
		return fmt.Errorf("livekit: warn room: %w", err)
	}
	return nil
}

// PublicURL is the URL browsers connect to, as a WebSocket URL.
func (l *LiveKit) PublicURL() string {
	u := l.Config.PublicURL
	switch {
	case strings.HasPrefix(u, "http://"):
		return "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		return "wss://" + strings.TrimPrefix(u, "https://")
	}
	return u
}

func seconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(s)
}
