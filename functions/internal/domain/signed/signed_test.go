package signed

import (
	"strings"
	"testing"
	"time"
)

func TestSignAndCheck(t *testing.T) {
	key := []byte(strings.Repeat("k", MinKey))
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New([]byte(strings.Repeat("o", MinKey)))
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	tok := s.Sign("c1", now.Add(time.Hour), "0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00")
	fields, err := s.Check(tok, "c1", now)
	if err != nil || len(fields) != 1 || fields[0] != "0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00" {
		t.Fatalf("Check = %v, %v", fields, err)
	}
	for name, tc := range map[string]struct {
		tok, kind string
		at        time.Time
		want      error
	}{
		"expired":        {tok, "c1", now.Add(time.Hour), ErrExpired},
		"another kind":   {tok, "a1", now, ErrInvalid},
		"another key":    {other.Sign("c1", now.Add(time.Hour), "x"), "c1", now, ErrInvalid},
		"a field edited": {strings.Replace(tok, "0b6f", "0b6e", 1), "c1", now, ErrInvalid},
		"expiry moved":   {strings.Replace(tok, ".", ".9", 2), "c1", now, ErrInvalid},
		"garbage":        {"not a token", "c1", now, ErrInvalid},
		"empty":          {"", "c1", now, ErrInvalid},
	} {
		if _, err := s.Check(tc.tok, tc.kind, tc.at); err != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}
