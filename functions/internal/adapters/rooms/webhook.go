package rooms

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The webhook events Sportello records.
const (
	EventParticipantJoined = "participant_joined"
	EventParticipantLeft   = "participant_left"
	EventRoomFinished      = "room_finished"
)

// WebhookEvent is a webhook LiveKit posts, with the fields Sportello reads
// (LiveKit writes it as the protobuf JSON mapping: lowerCamelCase names,
// 64-bit numbers as strings).
type WebhookEvent struct {
	Event     string `json:"event"`
	ID        string `json:"id"`
	CreatedAt Int64  `json:"createdAt"` // Unix seconds
	Room      *struct {
		Name string `json:"name"`
	} `json:"room"`
	Participant *struct {
		Identity   string `json:"identity"`
		JoinedAt   Int64  `json:"joinedAt"`   // Unix seconds
		JoinedAtMs Int64  `json:"joinedAtMs"` // Unix milliseconds
	} `json:"participant"`
}

// Why a webhook is refused.
var (
	ErrNoAuthHeader    = errors.New("no Authorization header")
	ErrUnknownKey      = errors.New("unknown API key")
	ErrInvalidToken    = errors.New("invalid token")
	ErrInvalidChecksum = errors.New("body checksum mismatch")
)

// ReceiveWebhook reads a webhook LiveKit posted and checks it as LiveKit's
// own webhook.Receive does: the Authorization header is a token signed
// (HS256) with the secret of the API key that issued it, not expired, whose
// sha256 claim is the base64 SHA-256 of the body. It answers the body and
// the event in it.
func ReceiveWebhook(r *http.Request, apiKey, apiSecret string) ([]byte, WebhookEvent, error) {
	return receive(r, func(key string) string {
		if key == apiKey {
			return apiSecret
		}
		return ""
	})
}

// ErrNotAnEvent is a webhook that verifies but is not a webhook event.
var ErrNotAnEvent = errors.New("not a LiveKit webhook event")

func receive(r *http.Request, secretOf func(apiKey string) string) ([]byte, WebhookEvent, error) {
	var ev WebhookEvent
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, ev, err
	}
	raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if raw == "" {
		return body, ev, ErrNoAuthHeader
	}
	var c claims
	_, err = jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		secret := secretOf(iss)
		if secret == "" {
			return nil, ErrUnknownKey
		}
		return []byte(secret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(jwtLeeway))
	switch {
	case errors.Is(err, ErrUnknownKey):
		return body, ev, ErrUnknownKey
	case err != nil:
		return body, ev, ErrInvalidToken
	}
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare([]byte(c.Sha256), []byte(base64.StdEncoding.EncodeToString(sum[:]))) != 1 {
		return body, ev, ErrInvalidChecksum
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Event == "" {
		return body, ev, ErrNotAnEvent
	}
	return body, ev, nil
}

// jwtLeeway tolerates clock differences between LiveKit and the function,
// as LiveKit's verifier does.
const jwtLeeway = time.Minute
