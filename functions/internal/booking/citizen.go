package booking

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sportello/sportello/functions/internal/apperr"
)

// Field limits, in characters.
const (
	MaxNameLen    = 100
	MaxAddressLen = 200
	MaxEmailLen   = 254
	MaxReasonLen  = 200 // motivo
	MaxDetailsLen = 200 // dettagli
)

// Citizen is the personal data a booking needs (nome, cognome, indirizzo di
// residenza, email), the optional reason and details, the privacy consent
// and the language for messages. It is personal data: never log it.
type Citizen struct {
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	Address        string `json:"address"`
	Email          string `json:"email"`
	Reason         string `json:"reason"`
	Details        string `json:"details"`
	PrivacyConsent bool   `json:"privacy_consent"`
	Locale         string `json:"locale"`
}

// Normalize trims surrounding spaces and lower-cases the email's domain.
func (c Citizen) Normalize() Citizen {
	c.GivenName = strings.TrimSpace(c.GivenName)
	c.FamilyName = strings.TrimSpace(c.FamilyName)
	c.Address = strings.TrimSpace(c.Address)
	c.Email = strings.TrimSpace(c.Email)
	if at := strings.LastIndexByte(c.Email, '@'); at > 0 {
		c.Email = c.Email[:at] + strings.ToLower(c.Email[at:])
	}
	c.Reason = strings.TrimSpace(c.Reason)
	c.Details = strings.TrimSpace(c.Details)
	c.Locale = strings.ToLower(strings.TrimSpace(c.Locale))
	if c.Locale == "" {
		c.Locale = "it"
	}
	return c
}

// Validate checks every field and reports all problems at once, each with
// its path under prefix ("citizen").
func (c Citizen) Validate(prefix string) error {
	var v apperr.Validation
	p := func(f string) string {
		if prefix == "" {
			return f
		}
		return prefix + "." + f
	}
	text(&v, p("given_name"), c.GivenName, MaxNameLen, true, false)
	text(&v, p("family_name"), c.FamilyName, MaxNameLen, true, false)
	text(&v, p("address"), c.Address, MaxAddressLen, true, false)
	if c.Email == "" {
		v.Add(p("email"), "required")
	} else if utf8.RuneCountInString(c.Email) > MaxEmailLen {
		v.Add(p("email"), "at most %d characters", MaxEmailLen)
	} else if !validEmail(c.Email) {
		v.Add(p("email"), "not a valid email address")
	}
	text(&v, p("reason"), c.Reason, MaxReasonLen, false, false)
	text(&v, p("details"), c.Details, MaxDetailsLen, false, true)
	if !c.PrivacyConsent {
		v.Add(p("privacy_consent"), "the privacy consent is required")
	}
	if c.Locale != "it" && c.Locale != "en" {
		v.Add(p("locale"), `must be "it" or "en"`)
	}
	return v.Err()
}

func text(v *apperr.Validation, field, s string, max int, required, multiline bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "not valid UTF-8")
	case required && s == "":
		v.Add(field, "required")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "at most %d characters", max)
	default:
		for _, r := range s {
			if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
				v.Add(field, "contains control characters")
				return
			}
		}
	}
}

// validEmail accepts a plain address (no display name) with a dotted domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.ContainsAny(s, " <>")
}
