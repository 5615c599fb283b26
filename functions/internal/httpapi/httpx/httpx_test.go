package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// TestStatusOfEveryCode: every code maps to its status, and an error that
// is not ours to explain is a 500 whose text is not sent.
func TestStatusOfEveryCode(t *testing.T) {
	want := map[apperr.Code]int{
		apperr.Invalid: 400, apperr.Unauthorized: 401, apperr.NotFound: 404, apperr.Conflict: 409,
		apperr.Gone: 410, apperr.TooLarge: 413, apperr.Unsupported: 415, apperr.Unprocessable: 422, apperr.Internal: 500,
	}
	for code, status := range want {
		if got := Status(apperr.New(code, "f", "m")); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
	}
	p := ProblemOf(errors.New("pq: password authentication failed for user x"))
	if p.Status != 500 || strings.Contains(p.Detail, "password") {
		t.Fatalf("internal error leaked: %+v", p)
	}
}

func TestDecode(t *testing.T) {
	type inner struct {
		Email string `json:"email"`
	}
	type body struct {
		Name    string `json:"name"`
		Age     int    `json:"age"`
		Citizen *inner `json:"citizen"`
	}
	tests := []struct {
		name, body, contentType string
		code                    apperr.Code
		field                   string
	}{
		{"ok", `{"name":"a","age":3,"citizen":{"email":"x"}}`, "application/json", "", ""},
		{"ok with charset", `{"name":"a"}`, "application/json; charset=utf-8", "", ""},
		{"empty", ``, "application/json", apperr.Invalid, ""},
		{"malformed", `{"name":`, "application/json", apperr.Invalid, ""},
		{"trailing", `{"name":"a"} {}`, "application/json", apperr.Invalid, ""},
		{"unknown field", `{"nome":"a"}`, "application/json", apperr.Invalid, "nome"},
		{"unknown nested field", `{"citizen":{"mail":"x"}}`, "application/json", apperr.Invalid, "citizen.mail"},
		{"wrong type", `{"age":"three"}`, "application/json", apperr.Invalid, "age"},
		{"wrong nested type", `{"citizen":{"email":3}}`, "application/json", apperr.Invalid, "citizen.email"},
		{"not an object", `[1]`, "application/json", apperr.Invalid, ""},
		{"form", `name=a`, "application/x-www-form-urlencoded", apperr.Unsupported, "Content-Type"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, "application/json", apperr.TooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			var v body
			err := Decode(r, &v)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("Decode = %v; want %s on %q", err, tc.code, tc.field)
			}
		})
	}
}

// TestProblemFieldReasons: a validation problem lists every field with its
// stable reason and, where the reason has them, its limits and allowed
// values, as JSON a client can read without parsing the English message.
func TestProblemFieldReasons(t *testing.T) {
	var v apperr.Validation
	v.Required("citizen.given_name")
	v.TooLong("citizen.address", 200)
	v.OutOfRange("days", 1, 7)
	v.NotAllowed("locale", "it", "en")
	rec := httptest.NewRecorder()
	Error(rec, httptest.NewRequest("POST", "/", nil), nil, v.Err())
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"field": "citizen.given_name", "message": "required", "reason": "required"},
		map[string]any{"field": "citizen.address", "message": "at most 200 characters", "reason": "too_long", "limit": 200.0},
		map[string]any{"field": "days", "message": "must be a whole number from 1 to 7", "reason": "out_of_range", "min": 1.0, "max": 7.0},
		map[string]any{"field": "locale", "message": `must be one of "it", "en"`, "reason": "not_allowed", "allowed": []any{"it", "en"}},
	}
	if diff := cmp.Diff(want, got["errors"]); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if got["status"] != 400.0 || got["code"] != "invalid" || got["field"] != "citizen.given_name" {
		t.Errorf("problem %v", got)
	}
}
