package admin

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
)

// decode reads a JSON body into a T, failing the test when it cannot.
func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func fieldsOf(err error) []string {
	var out []string
	if e, ok := err.(*apperr.Error); ok {
		for _, f := range e.Fields {
			out = append(out, f.Field+" "+string(f.Reason))
		}
	}
	return out
}

func num(n int) *int { return &n }

// TestOfficeLimitsPatch: a member left out keeps the limit, null resets it,
// a number sets it; only the numbers sent are checked.
func TestOfficeLimitsPatch(t *testing.T) {
	cur := OfficeLimits{MaxHoldsPerClient: num(2), HoldsPerMinutePerClient: num(30)}
	for _, tc := range []struct {
		name   string
		body   string
		want   OfficeLimits
		fields []string
	}{
		{"nothing", `{}`, cur, nil},
		{"null limits", `{"limits":null}`, cur, nil},
		{"empty limits", `{"limits":{}}`, cur, nil},
		{"one reset", `{"limits":{"max_holds_per_client":null}}`, OfficeLimits{HoldsPerMinutePerClient: num(30)}, nil},
		{"one set", `{"limits":{"holds_per_minute_per_address":900}}`, OfficeLimits{MaxHoldsPerClient: num(2), HoldsPerMinutePerClient: num(30), HoldsPerMinutePerAddress: num(900)}, nil},
		{"out of range", `{"limits":{"max_holds_per_client":0,"holds_per_minute_per_client":10001,"holds_per_minute_per_address":1000001}}`, cur,
			[]string{"limits.max_holds_per_client out_of_range", "limits.holds_per_minute_per_client out_of_range", "limits.holds_per_minute_per_address out_of_range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decode[OfficePatch](t, tc.body)
			if diff := cmp.Diff(tc.fields, fieldsOf(p.Validate())); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
			if tc.fields != nil {
				return
			}
			if diff := cmp.Diff(tc.want, p.Apply(Office{Limits: cur}).Limits); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmissionPerMinute: the same for a service's admission rate, on
// creation and in a patch.
func TestAdmissionPerMinute(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		cur    *int
		want   *int
		fields []string
	}{
		{"left out", `{}`, num(50), num(50), nil},
		{"null", `{"admission_per_minute":null}`, num(50), nil, nil},
		{"set", `{"admission_per_minute":100000}`, nil, num(100000), nil},
		{"zero", `{"admission_per_minute":0}`, nil, nil, []string{"admission_per_minute out_of_range"}},
		{"too many", `{"admission_per_minute":100001}`, nil, nil, []string{"admission_per_minute out_of_range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decode[ServicePatch](t, tc.body)
			if diff := cmp.Diff(tc.fields, fieldsOf(p.Validate())); diff != "" {
				t.Errorf("patch: fields at fault (-want +got):\n%s", diff)
			}
			in := ServiceInput{ID: "s", OfficeID: "o", Name: "S", Terms: booking.Terms{DurationMinutes: 30, HorizonDays: 30}}
			if err := json.Unmarshal([]byte(tc.body), &in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.fields, fieldsOf(in.Validate())); diff != "" {
				t.Errorf("input: fields at fault (-want +got):\n%s", diff)
			}
			if tc.fields == nil {
				if diff := cmp.Diff(tc.want, p.Apply(Service{AdmissionPerMinute: tc.cur}).AdmissionPerMinute); diff != "" {
					t.Errorf("admission rate (-want +got):\n%s", diff)
				}
			}
		})
	}
}
