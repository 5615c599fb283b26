package booking

import (
	"strings"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/text"
)

// Field limits, in characters.
const (
	MaxNameLen    = 100
	MaxAddressLen = 200
	MaxReasonLen  = 200 // motivo
	MaxDetailsLen = 200 // dettagli
)

// Applicant is who asks for a booking and what for: the personal data a
// booking needs (nome, cognome, indirizzo di residenza, email) and the
// optional reason and details, as the citizen gives them and the office
// reads them. It is personal data: never log it.
type Applicant struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Address    string `json:"address"`
	Email      string `json:"email"`
	Reason     string `json:"reason"`
	Details    string `json:"details"`
}

// Citizen is what a citizen gives to confirm a booking: the applicant,
// the privacy consent and the language for messages.
type Citizen struct {
	Applicant
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
	text.Check(&v, p("given_name"), c.GivenName, text.Rules{Required: true, Max: MaxNameLen})
	text.Check(&v, p("family_name"), c.FamilyName, text.Rules{Required: true, Max: MaxNameLen})
	text.Check(&v, p("address"), c.Address, text.Rules{Required: true, Max: MaxAddressLen})
	text.Email(&v, p("email"), c.Email)
	text.Check(&v, p("reason"), c.Reason, text.Rules{Max: MaxReasonLen})
	text.Check(&v, p("details"), c.Details, text.Rules{Max: MaxDetailsLen, Multiline: true})
	if !c.PrivacyConsent {
		v.Add(p("privacy_consent"), apperr.Required, "the privacy consent is required")
	}
	CheckLocale(&v, p("locale"), c.Locale)
	return v.Err()
}

// Locales are the languages of the messages a citizen receives.
var Locales = []string{"it", "en"}

// CheckLocale adds a problem to v unless locale is one of Locales.
func CheckLocale(v *apperr.Validation, field, locale string) {
	for _, l := range Locales {
		if locale == l {
			return
		}
	}
	v.NotAllowed(field, Locales...)
}
