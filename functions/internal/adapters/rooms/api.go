package rooms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// LiveKit creates, warns and deletes rooms and mints join tokens. It calls
// LiveKit's room service (Twirp, JSON over HTTP) with requests signed by
// the API key: four methods, a few fields each, so no function needs
// LiveKit's protocol package (its generated types pull in a WebRTC stack).
type LiveKit struct {
	Config Config
	api    string // the room service's base URL
	client *http.Client
}

// New returns a LiveKit client for a validated configuration.
func New(c Config) *LiveKit {
	u := strings.TrimSuffix(c.URL, "/")
	switch {
	case strings.HasPrefix(u, "ws://"):
		u = "http://" + strings.TrimPrefix(u, "ws://")
	case strings.HasPrefix(u, "wss://"):
		u = "https://" + strings.TrimPrefix(u, "wss://")
	}
	return &LiveKit{Config: c, api: u + "/twirp/livekit.RoomService/", client: &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "livekit " + path.Base(r.URL.Path) }))}}
}

// Room is a room as LiveKit describes it (the fields Sportello reads).
type Room struct {
	Sid              string `json:"sid"`
	Name             string `json:"name"`
	EmptyTimeout     uint32 `json:"empty_timeout"`
	DepartureTimeout uint32 `json:"departure_timeout"`
	MaxParticipants  uint32 `json:"max_participants"`
	CreationTime     Int64  `json:"creation_time"` // Unix seconds
	NumParticipants  uint32 `json:"num_participants"`
}

// ParticipantInfo is a participant as LiveKit lists them.
type ParticipantInfo struct {
	Sid      string `json:"sid"`
	Identity string `json:"identity"`
	Name     string `json:"name"`
	JoinedAt Int64  `json:"joined_at"`
	State    string `json:"state"` // JOINING, JOINED, ACTIVE (its connection is up), DISCONNECTED
}

type createRoom struct {
	Name             string `json:"name"`
	EmptyTimeout     uint32 `json:"empty_timeout"`
	DepartureTimeout uint32 `json:"departure_timeout"`
	MaxParticipants  uint32 `json:"max_participants"`
}

// Int64 is a 64-bit number as LiveKit's JSON writes it: a string (the
// protobuf JSON mapping), or a number.
type Int64 int64

func (n *Int64) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = Int64(v)
	return err
}

// apiError is an error answered by LiveKit's API.
type apiError struct {
	Status int
	Code   string `json:"code"`
	Msg    string `json:"msg"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

func notFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Code == "not_found"
}

// call posts req to a method of the room service, signed with grant, and
// decodes the answer into resp (unless nil), within the configured timeout.
func (l *LiveKit) call(ctx context.Context, method string, grant videoGrant, req, resp any) error {
	token, err := l.sign(claims{Video: &grant}, time.Minute)
	if err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, l.Config.Timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, l.api+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	res, err := l.client.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		e := &apiError{Status: res.StatusCode}
		_ = json.Unmarshal(data, e)
		return e
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(data, resp)
}

// Rooms lists the rooms LiveKit holds (all of them when names is empty).
func (l *LiveKit) Rooms(ctx context.Context, names ...string) ([]Room, error) {
	var res struct {
		Rooms []Room `json:"rooms"`
	}
	if err := l.call(ctx, "ListRooms", videoGrant{RoomList: true}, map[string]any{"names": names}, &res); err != nil {
		return nil, fmt.Errorf("livekit: list rooms: %w", err)
	}
	return res.Rooms, nil
}

// Participants lists the participants in room name.
func (l *LiveKit) Participants(ctx context.Context, name string) ([]ParticipantInfo, error) {
	var res struct {
		Participants []ParticipantInfo `json:"participants"`
	}
	if err := l.call(ctx, "ListParticipants", videoGrant{RoomAdmin: true, Room: name}, map[string]string{"room": name}, &res); err != nil {
		return nil, fmt.Errorf("livekit: list participants: %w", err)
	}
	return res.Participants, nil
}
