package text

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

func problems(fn func(v *apperr.Validation)) []apperr.FieldError {
	var v apperr.Validation
	fn(&v)
	return v.Fields()
}

func limit(n int64) *int64 { return &n }

// TestCheck: every rule of a text field, with its reason and limit.
func TestCheck(t *testing.T) {
	one := Rules{Required: true, Max: 5}
	multi := Rules{Max: 5, Multiline: true}
	for _, tc := range []struct {
		name string
		s    string
		r    Rules
		want []apperr.FieldError
	}{
		{"plain", "Maria", one, nil},
		{"accents count as one", "Nicolò", Rules{Max: 6}, nil},
		{"empty required", "", one, []apperr.FieldError{{Field: "f", Message: "required", Reason: apperr.Required}}},
		{"blank required", "   ", one, []apperr.FieldError{{Field: "f", Message: "required", Reason: apperr.Required}}},
		{"empty optional", "", multi, nil},
		{"too long", "Mariaa", one, []apperr.FieldError{{Field: "f", Message: "at most 5 characters", Reason: apperr.TooLong, Limit: limit(5)}}},
		{"invalid UTF-8", "a\xffb", one, []apperr.FieldError{{Field: "f", Message: "not valid UTF-8", Reason: apperr.InvalidText}}},
		{"NUL", "a\x00b", one, []apperr.FieldError{{Field: "f", Message: "contains control characters", Reason: apperr.InvalidText}}},
		{"newline on one line", "a\nb", one, []apperr.FieldError{{Field: "f", Message: "contains control characters", Reason: apperr.InvalidText}}},
		{"newline multi-line", "a\nb", multi, nil},
		{"escape multi-line", "a\x1bb", multi, []apperr.FieldError{{Field: "f", Message: "contains control characters", Reason: apperr.InvalidText}}},
		{"byte-order mark", "\uFEFFab", one, []apperr.FieldError{{Field: "f", Message: "contains control characters", Reason: apperr.InvalidText}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(func(v *apperr.Validation) { Check(v, "f", tc.s, tc.r) })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check(%q) (-want +got):\n%s", tc.s, diff)
			}
		})
	}
}

// TestEmail: plain addresses pass; display names, spaces, missing or
// undotted domains, control characters and over-long ones do not.
func TestEmail(t *testing.T) {
	for _, tc := range []struct {
		s      string
		reason apperr.Reason
	}{
		{"maria.rossi@example.it", ""},
		{"operatore.urp@comune.bari.it", ""},
		{"a+tag@sub.example.org", ""},
		{"", apperr.Required},
		{"maria", apperr.InvalidEmail},
		{"maria@localhost", apperr.InvalidEmail},
		{"maria@example.", apperr.InvalidEmail},
		{"maria@.example", apperr.InvalidEmail},
		{"Maria <maria@example.it>", apperr.InvalidEmail},
		{"maria rossi@example.it", apperr.InvalidEmail},
		{"maria@exa\x00mple.it", apperr.InvalidEmail},
		{"m\xffria@example.it", apperr.InvalidText},
		{strings.Repeat("a", 250) + "@example.it", apperr.TooLong},
	} {
		got := problems(func(v *apperr.Validation) { Email(v, "email", tc.s) })
		switch {
		case tc.reason == "" && len(got) != 0:
			t.Errorf("Email(%q) = %+v, want no problem", tc.s, got)
		case tc.reason != "" && (len(got) != 1 || got[0].Reason != tc.reason || got[0].Field != "email"):
			t.Errorf("Email(%q) = %+v, want one %s problem on email", tc.s, got, tc.reason)
		}
	}
}
