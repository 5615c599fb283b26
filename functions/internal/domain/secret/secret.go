// Package secret makes the random tokens carried by hold and manage links and
// the hashes under which they are stored. A token is never stored in clear.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// Bytes is the entropy of a token: 256 bits, above the 128 required.
const Bytes = 32

// New returns a fresh URL-safe token and its hash.
func New() (token string, hash []byte) {
	b := make([]byte, Bytes)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash is the stored form of a token. The token has 256 random bits, so a
// plain SHA-256 is enough: there is nothing to brute-force.
func Hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// WellFormed reports whether s could be a token made by New, so that
// garbage is turned away before it reaches the database.
func WellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(Bytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Matches reports whether token hashes to hash, in constant time.
func Matches(token string, hash []byte) bool {
	return subtle.ConstantTimeCompare(Hash(token), hash) == 1
}
