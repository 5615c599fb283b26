package booking

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidID: ValidID accepts exactly what the schema's pattern for
// office and service ids accepts.
func TestValidID(t *testing.T) {
	schema := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	for _, id := range []string{
		"", "a", "0", "-", "-a", "a-", "anagrafe", "carta-identita", "Anagrafe", "a_b", "a b", "à", "a\x00",
		"\xff", strings.Repeat("a", 63), strings.Repeat("a", 64), "9" + strings.Repeat("-", 62), "a/b", "a.b",
	} {
		if got, want := ValidID(id), schema.MatchString(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
