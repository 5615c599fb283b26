// Package text is the one validator of the text people type into the
// counter — names, addresses, reasons, notes, labels, descriptions — and of
// email addresses, so that the citizen's form, the operators' console and
// the administration refuse the same things for the same reasons.
//
// Text is checked as it will be stored: valid UTF-8, no control characters
// (line breaks and tabs only where the field is multi-line), at most so
// many characters. Every problem is added to an apperr.Validation with its
// field, a stable reason and its limit.
package text

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// MaxEmail is the longest email address, in characters (RFC 5321's path).
const MaxEmail = 254

// Rules are what one text field accepts.
type Rules struct {
	Required  bool // blank (empty or only spaces) is refused
	Max       int  // the most characters
	Multiline bool // line breaks and tabs are allowed
}

// Check adds to v the first problem of s as the text of field, if any:
// invalid_text (not UTF-8, or a control character), required, or too_long.
func Check(v *apperr.Validation, field, s string, r Rules) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, apperr.InvalidText, "not valid UTF-8")
	case r.Required && strings.TrimSpace(s) == "":
		v.Required(field)
	case utf8.RuneCountInString(s) > r.Max:
		v.TooLong(field, r.Max)
	case hasControl(s, r.Multiline):
		v.Add(field, apperr.InvalidText, "contains control characters")
	}
}

// hasControl reports whether s holds a control character (other than a
// line break or tab, when multiline) or a byte-order mark.
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' {
			if !multiline {
				return true
			}
			continue
		}
		if unicode.IsControl(r) || r == '\uFEFF' {
			return true
		}
	}
	return false
}

// Email adds to v the first problem of s as the email address of field,
// if any: required, too_long, or invalid_email (not a plain address
// "name@domain.tld": no display name, no angle brackets, a dotted domain).
func Email(v *apperr.Validation, field, s string) {
	switch {
	case s == "":
		v.Required(field)
	case !utf8.ValidString(s):
		v.Add(field, apperr.InvalidText, "not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxEmail:
		v.TooLong(field, MaxEmail)
	case !ValidEmail(s):
		v.Add(field, apperr.InvalidEmail, "not a valid email address")
	}
}

// ValidEmail reports whether s is a plain address with a dotted domain.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || strings.ContainsAny(s, " <>") || hasControl(s, false) {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
