package password

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHashPassword: a hash is an argon2id PHC string with the default
// parameters and a fresh salt; it verifies its password and no other.
func TestHash(t *testing.T) {
	h1, err := Hash("sportello-demo")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := Hash("sportello-demo")
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want the argon2id PHC prefix with m=19456,t=2,p=1", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	p, salt, key, err := ParsePHC(h1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultParams, p); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	if len(salt) != 16 || len(key) != 32 {
		t.Errorf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"sportello-demo", true},
		{"sportello-demo ", false},
		{"Sportello-demo", false},
		{"", false},
	} {
		got, err := Verify(tc.password, h1)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.password, got, err, tc.want)
		}
	}
}

// TestVerifyKnownVector: a hash made elsewhere with other parameters
// (here the demo data's, and one with m=64 KiB) verifies: the parameters
// come from the string, not from DefaultParams.
func TestVerifyKnownVector(t *testing.T) {
	const demo = "$argon2id$v=19$m=19456,t=2,p=1$rYwWdJVRMalmroBsiERolw$ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw"
	if ok, err := Verify("sportello-demo", demo); !ok || err != nil {
		t.Errorf("the demo hash does not verify its password: %v, %v", ok, err)
	}
	small := Params{Memory: 64, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16}
	h, err := HashWith("pw", small)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=3,p=2$") {
		t.Errorf("hash %q", h)
	}
	if ok, err := Verify("pw", h); !ok || err != nil {
		t.Errorf("VerifyPassword = %v, %v", ok, err)
	}
}

// TestParsePHC: malformed or hostile strings are errors, never a match.
func TestParsePHC(t *testing.T) {
	const salt, key = "rYwWdJVRMalmroBsiERolw", "ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw"
	for _, phc := range []string{
		"",
		"sportello-demo",
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19x$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,k=3$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "==",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$c2hvcnQ",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$",
	} {
		if _, _, _, err := ParsePHC(phc); err == nil {
			t.Errorf("ParsePHC(%q) accepted it", phc)
		}
		if ok, err := Verify("sportello-demo", phc); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", phc, ok, err)
		}
	}
}

// TestDummyHashCostsAsMuchAsARealOne: an unknown account is verified
// against DummyHash, which must carry today's parameters — else a sign-in
// for an unknown email would answer faster than a wrong password.
func TestDummyHashCostsAsMuchAsARealOne(t *testing.T) {
	p, salt, key, err := ParsePHC(DummyHash)
	if err != nil {
		t.Fatal(err)
	}
	if p.Memory != DefaultParams.Memory || p.Time != DefaultParams.Time || p.Threads != DefaultParams.Threads ||
		len(salt) != int(DefaultParams.SaltLen) || len(key) != int(DefaultParams.KeyLen) {
		t.Errorf("DummyHash has %+v (salt %d, key %d bytes), want DefaultParams %+v", p, len(salt), len(key), DefaultParams)
	}
	if ok, err := Verify("sportello: no such operator", DummyHash); err != nil || !ok {
		t.Errorf("DummyHash does not verify its own password: %v %v", ok, err)
	}
}
