package booking

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

func valid() Citizen {
	return Citizen{Applicant: Applicant{GivenName: "Maria", FamilyName: "Rossi", Address: "Via Sparano 1, Bari",
		Email: "maria.rossi@example.it"}, PrivacyConsent: true, Locale: "it"}
}

func TestCitizenValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Citizen)
		fields []string // every field at fault, in order; nil when valid
	}{
		{"valid", func(*Citizen) {}, nil},
		{"accented names at the limit", func(c *Citizen) { c.GivenName = strings.Repeat("è", MaxNameLen) }, nil},
		{"details on several lines", func(c *Citizen) { c.Details = "riga 1\nriga 2" }, nil},
		{"missing everything", func(c *Citizen) { *c = Citizen{Locale: "it"} },
			[]string{"c.given_name", "c.family_name", "c.address", "c.email", "c.privacy_consent"}},
		{"name too long", func(c *Citizen) { c.FamilyName = strings.Repeat("a", MaxNameLen+1) }, []string{"c.family_name"}},
		{"address too long", func(c *Citizen) { c.Address = strings.Repeat("a", MaxAddressLen+1) }, []string{"c.address"}},
		{"reason too long", func(c *Citizen) { c.Reason = strings.Repeat("a", MaxReasonLen+1) }, []string{"c.reason"}},
		{"details too long", func(c *Citizen) { c.Details = strings.Repeat("a", MaxDetailsLen+1) }, []string{"c.details"}},
		{"control character in a name", func(c *Citizen) { c.GivenName = "Ma\x00ria" }, []string{"c.given_name"}},
		{"new line in the reason", func(c *Citizen) { c.Reason = "a\nb" }, []string{"c.reason"}},
		{"invalid UTF-8", func(c *Citizen) { c.Address = "Via \xff" }, []string{"c.address"}},
		{"email without domain dot", func(c *Citizen) { c.Email = "maria@localhost" }, []string{"c.email"}},
		{"email with display name", func(c *Citizen) { c.Email = "Maria <maria@example.it>" }, []string{"c.email"}},
		{"email without at", func(c *Citizen) { c.Email = "maria.example.it" }, []string{"c.email"}},
		{"email too long", func(c *Citizen) { c.Email = strings.Repeat("a", 250) + "@example.it" }, []string{"c.email"}},
		{"no consent", func(c *Citizen) { c.PrivacyConsent = false }, []string{"c.privacy_consent"}},
		{"unknown locale", func(c *Citizen) { c.Locale = "fr" }, []string{"c.locale"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate("c")
			var got []string
			var e *apperr.Error
			if errors.As(err, &e) {
				if e.Code != apperr.Invalid || e.Field != e.Fields[0].Field {
					t.Errorf("error %v: want Invalid naming the first field", err)
				}
				for _, f := range e.Fields {
					got = append(got, f.Field)
				}
			} else if err != nil {
				t.Fatalf("not an *apperr.Error: %v", err)
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCitizenNormalize(t *testing.T) {
	c := Citizen{Applicant: Applicant{GivenName: "  Maria ", Email: " Maria.Rossi@Example.IT "}, Locale: ""}.Normalize()
	if c.GivenName != "Maria" || c.Email != "Maria.Rossi@example.it" || c.Locale != "it" {
		t.Fatalf("normalized: %+v", c)
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range []Status{Held, Expired, Released, Confirmed, Cancelled, Completed} {
		got, err := ParseStatus(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseStatus("lost"); err == nil {
		t.Error("ParseStatus accepted an unknown status")
	}
}
