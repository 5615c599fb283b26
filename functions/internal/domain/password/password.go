// Package password hashes and verifies the operators' passwords with
// argon2id, stored as PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>").
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a password hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's first recommended argon2id configuration
// (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes, 1 thread,
// with a 16-byte salt and a 32-byte hash. About 30 ms on one core.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters read from a stored hash, so that a corrupt or
// hostile row cannot make Verify allocate gigabytes or spin.
const (
	maxMemory  = 1 << 20 // 1 GiB in KiB
	maxTime    = 16
	maxThreads = 16
	maxKeyLen  = 128
)

var b64 = base64.RawStdEncoding // the PHC string format's encoding

// ErrMalformedHash is returned by Verify for a stored hash that is not an
// argon2id PHC string it can read.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

// Hash hashes password with argon2id and DefaultParams and returns
// the PHC string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (salt and
// hash in unpadded standard base64).
func Hash(password string) (string, error) {
	return HashWith(password, DefaultParams)
}

// HashWith is Hash with explicit parameters.
func HashWith(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ParsePHC reads an argon2id PHC string into its parameters, salt and key.
func ParsePHC(phc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=...,t=...,p=...", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if n, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || n != 1 || version != argon2.Version ||
		parts[2] != fmt.Sprintf("v=%d", version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrMalformedHash, parts[2])
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, threads) {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformedHash, parts[3])
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > maxThreads ||
		p.Memory < 8*threads {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	p.Threads = uint8(threads)
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// Verify reports whether password matches the PHC string phc,
// comparing in constant time. A malformed phc is an error, never a match.
func Verify(password, phc string) (bool, error) {
	p, salt, key, err := ParsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// DummyHash is what a sign-in verifies a password against when there is no
// stored hash (an unknown account), so that it costs as much time as a
// wrong password: a hash with DefaultParams (a test holds it to them), made
// once and written here; a password matching it opens nothing, as there is
// no account behind it. Computing it at start-up cost every instance
// 19 MiB and 40 ms before its first request; written here it costs nothing,
// at start or at the first unknown account.
const DummyHash = "$argon2id$v=19$m=19456,t=2,p=1$dnRRzDprq6d1UNe1a9rt1w$6FoA0suyaf04gH3k8/SEF5f9TdN2n0IatGMKeeZuBtw"
