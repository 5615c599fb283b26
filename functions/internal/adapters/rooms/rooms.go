// Package rooms is what provision-room, join and operators share about the video room
// of a booking: the LiveKit configuration, the room's name, its window (the
// time during which join mints tokens), and a small LiveKit client that
// creates and deletes rooms and mints join tokens.
//
// A booking has one room, named after the booking's id (never after a
// person). The window opens JOIN_OPENS_BEFORE before the start and closes
// JOIN_GRACE after the end. Rooms are created on LiveKit as soon as the
// booking is confirmed, with an empty timeout long enough to reach the end of
// the window; join creates the room again (idempotently) whenever LiveKit has
// dropped it in the meantime, e.g. after a restart.
package rooms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/sportello/sportello/functions/internal/domain/booking"
)

// Config is the LiveKit part of the environment of provision-room and join.
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

// LiveKit creates and deletes rooms and mints join tokens.
type LiveKit struct {
	Config Config
	Rooms  *lksdk.RoomServiceClient
}

// New returns a LiveKit client for a validated configuration.
func New(c Config) *LiveKit {
	return &LiveKit{Config: c, Rooms: lksdk.NewRoomServiceClient(c.URL, c.APIKey, c.APISecret)}
}

func (l *LiveKit) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.Config.Timeout)
}

// Ensure makes sure the room exists on LiveKit and stays there, while
// nobody joins, until the window closes. It is idempotent. LiveKit counts
// the empty timeout from the room's creation and keeps the settings of a
// room that exists; a room still empty whose timeout falls short of the
// window (the booking moved later) is therefore made again.
func (l *LiveKit) Ensure(ctx context.Context, name string, w booking.Window, now time.Time) (*livekit.Room, error) {
	req := &livekit.CreateRoomRequest{
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
	left := time.Unix(room.CreationTime, 0).Add(time.Duration(room.EmptyTimeout) * time.Second).Sub(time.Now())
	if room.NumParticipants > 0 || left >= w.ClosesAt.Sub(now)-emptyTimeoutSlack {
		return room, nil
	}
	if err := l.Delete(ctx, name); err != nil {
		return nil, err
	}
	return l.create(ctx, req)
}

func (l *LiveKit) create(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	room, err := l.Rooms.CreateRoom(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("livekit: create room: %w", err)
	}
	return room, nil
}

// Delete removes the room from LiveKit, disconnecting whoever is in it. A
// room that does not exist is fine.
func (l *LiveKit) Delete(ctx context.Context, name string) error {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	_, err := l.Rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: name})
	var terr twirp.Error
	if errors.As(err, &terr) && terr.Code() == twirp.NotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("livekit: delete room: %w", err)
	}
	return nil
}

// Participant is who a join token is for.
type Participant struct {
	Identity string // unique in the room; LiveKit replaces an older connection with the same identity
	Name     string // shown to the others
}

// Token mints a token that lets p join room name only, publishing and
// subscribing to audio, video and data, valid for validFor from the real
// time of minting (LiveKit sets not-before to the wall clock).
func (l *LiveKit) Token(name string, p Participant, validFor time.Duration) (string, error) {
	yes := true
	tok := auth.NewAccessToken(l.Config.APIKey, l.Config.APISecret).
		SetIdentity(p.Identity).
		SetName(p.Name).
		SetValidFor(validFor).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:       true,
			Room:           name,
			CanPublish:     &yes,
			CanSubscribe:   &yes,
			CanPublishData: &yes,
		})
	jwt, err := tok.ToJWT()
	if err != nil {
		return "", fmt.Errorf("livekit: mint token: %w", err)
	}
	return jwt, nil
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
