package rooms

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// LiveKit's tokens are JWTs signed (HS256) with the API secret, issued by
// the API key, whose claims carry the grants (LiveKit's auth.ClaimGrants).

// videoGrant is what a token allows in LiveKit's rooms.
type videoGrant struct {
	RoomCreate     bool   `json:"roomCreate,omitempty"`
	RoomList       bool   `json:"roomList,omitempty"`
	RoomAdmin      bool   `json:"roomAdmin,omitempty"`
	RoomJoin       bool   `json:"roomJoin,omitempty"`
	Room           string `json:"room,omitempty"`
	CanPublish     *bool  `json:"canPublish,omitempty"`
	CanSubscribe   *bool  `json:"canSubscribe,omitempty"`
	CanPublishData *bool  `json:"canPublishData,omitempty"`
}

type claims struct {
	jwt.RegisteredClaims
	Name   string      `json:"name,omitempty"`
	Video  *videoGrant `json:"video,omitempty"`
	Sha256 string      `json:"sha256,omitempty"` // a webhook's body checksum
}

// sign makes a token with c, valid for validFor from the real time now
// (LiveKit sets not-before to the wall clock too).
func (l *LiveKit) sign(c claims, validFor time.Duration) (string, error) {
	now := time.Now()
	c.Issuer = l.Config.APIKey
	c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(validFor))
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(l.Config.APISecret))
	if err != nil {
		return "", fmt.Errorf("livekit: sign token: %w", err)
	}
	return token, nil
}

// Participant is who a join token is for.
type Participant struct {
	Identity string // unique in the room; LiveKit replaces an older connection with the same identity
	Name     string // shown to the others
}

// Token mints a token that lets p join room name only, publishing and
// subscribing to audio, video and data, valid for validFor from the real
// time of minting.
func (l *LiveKit) Token(name string, p Participant, validFor time.Duration) (string, error) {
	yes := true
	return l.sign(claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: p.Identity},
		Name:             p.Name,
		Video:            &videoGrant{RoomJoin: true, Room: name, CanPublish: &yes, CanSubscribe: &yes, CanPublishData: &yes},
	}, validFor)
}
