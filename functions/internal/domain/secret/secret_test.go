package secret

import (
	"bytes"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, hash := New()
		if !WellFormed(tok) || seen[tok] || !bytes.Equal(hash, Hash(tok)) || bytes.Contains(hash, []byte(tok)) {
			t.Fatalf("token %q: well-formed %v, repeated %v", tok, WellFormed(tok), seen[tok])
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "short", "not base64 at all but 43 characters long!!", string(make([]byte, 43))} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}
