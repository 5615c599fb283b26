// Package signed makes and checks the small tokens a counter open to
// anonymous citizens hands out and takes back without a database read: a
// client token (who a browser is, without knowing who the citizen is) and
// a waiting room's admission ticket. A token is its kind, its fields and
// its expiry, signed with the counter's key (HMAC-SHA256, CLIENT_KEY, the
// same in every instance):
//
//	<kind>.<field>.<field>....<expiry, Unix seconds>.<signature>
//
// Fields are ids: they must not hold a dot. Nothing personal goes in.
package signed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinKey is the shortest key accepted, in bytes.
const MinKey = 32

// ErrInvalid is a token that is malformed, of another kind, altered or
// signed with another key; ErrExpired one past its expiry.
var (
	ErrInvalid = errors.New("signed: not a valid token")
	ErrExpired = errors.New("signed: the token has expired")
)

// Signer signs and checks tokens with one key.
type Signer struct{ key []byte }

// New returns a Signer for key, which must be at least MinKey bytes.
func New(key []byte) (*Signer, error) {
	if len(key) < MinKey {
		return nil, fmt.Errorf("signed: the key has %d bytes, at least %d are needed", len(key), MinKey)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign makes a token of kind with fields, valid until expires.
func (s *Signer) Sign(kind string, expires time.Time, fields ...string) string {
	body := strings.Join(append(append([]string{kind}, fields...), strconv.FormatInt(expires.Unix(), 10)), ".")
	return body + "." + s.mac(body)
}

// Check verifies a token of kind at now and answers its fields.
func (s *Signer) Check(token, kind string, now time.Time) ([]string, error) {
	fields, _, err := s.CheckExpiry(token, kind, now)
	return fields, err
}

// CheckExpiry is Check that also answers the token's expiry.
func (s *Signer) CheckExpiry(token, kind string, now time.Time) ([]string, time.Time, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || !hmac.Equal([]byte(token[i+1:]), []byte(s.mac(token[:i]))) {
		return nil, time.Time{}, ErrInvalid
	}
	parts := strings.Split(token[:i], ".")
	if len(parts) < 2 || parts[0] != kind {
		return nil, time.Time{}, ErrInvalid
	}
	exp, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil {
		return nil, time.Time{}, ErrInvalid
	}
	expires := time.Unix(exp, 0)
	if !now.Before(expires) {
		return nil, time.Time{}, ErrExpired
	}
	return parts[1 : len(parts)-1], expires, nil
}

func (s *Signer) mac(body string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
