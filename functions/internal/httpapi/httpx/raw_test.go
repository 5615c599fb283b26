package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// problemOf is the field and reason of err's first field problem, or the
// code alone when it has none; "" for nil.
func problemOf(err error) string {
	if err == nil {
		return ""
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		return "not an apperr: " + err.Error()
	}
	if len(e.Fields) == 0 {
		return string(e.Code)
	}
	return e.Fields[0].Field + " " + string(e.Fields[0].Reason)
}

// TestCheckJSON: text no field could hold is refused on the raw bytes,
// naming the field, before encoding/json could quietly replace it; good
// text, escapes and all, passes.
func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth)
	deeper := strings.Repeat(`[`, MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"plain", `{"name": "Anna D'Amico", "n": 3, "ok": true, "none": null}`, ""},
		{"escapes that are text", `{"name": "Ren\u00e9e \"R\" \/ \\", "note": "two\nlines\tand\r"}`, ""},
		{"a surrogate pair", `{"name": "\ud83d\ude00"}`, ""},
		{"accents raw", `{"name": "Niccolò Sgrò"}`, ""},
		{"nested path", `{"citizen": {"name": "ok", "email": "a\u0000@b.it"}}`, "citizen.email invalid_text"},
		{"array path", `{"hours": [{"opens": "09:00"}, {"opens": "\u0007"}]}`, "hours[1].opens invalid_text"},
		{"path after a nested object", `{"citizen": {"name": "x"}, "reason": "\u0000"}`, "reason invalid_text"},
		{"invalid UTF-8", "{\"name\": \"a\xffb\"}", "name invalid_text"},
		{"overlong encoding", "{\"name\": \"\xc0\xafb\"}", "name invalid_text"},
		{"escaped NUL", `{"name": "a\u0000"}`, "name invalid_text"},
		{"backspace escape", `{"name": "a\b"}`, "name invalid_text"},
		{"form feed escape", `{"name": "a\f"}`, "name invalid_text"},
		{"DEL escaped", `{"name": "a\u007f"}`, "name invalid_text"},
		{"C1 raw", "{\"name\": \"a\u0085\"}", "name invalid_text"},
		{"lone high surrogate", `{"name": "\ud83d"}`, "name invalid_text"},
		{"high then not low", `{"name": "\ud83d\u0041"}`, "name invalid_text"},
		{"lone low surrogate", `{"name": "\ude00x"}`, "name invalid_text"},
		{"bad member name", `{"na\u0000me": "x"}`, " invalid_text"},
		{"twice", `{"name": "a", "name": "b"}`, "name duplicate"},
		{"twice in other case", `{"name": "a", "NAME": "b"}`, "NAME duplicate"},
		{"same name in two objects", `{"a": {"x": 1}, "b": {"x": 2}}`, ""},
		{"too long", `{"name": "` + strings.Repeat("é", MaxString+1) + `"}`, "name too_long"},
		{"just long enough", `{"name": "` + strings.Repeat("é", MaxString) + `"}`, ""},
		{"deep enough", deep, ""},
		{"too deep", deeper, strings.Repeat("[0]", MaxDepth) + " invalid_format"},
		{"huge number", `{"n": 1e400}`, "n out_of_range"},
		{"small number", `{"n": -1e-400}`, ""},
		{"syntax left to the decoder", `{"name": "a`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problemOf(CheckJSON([]byte(tc.body))); got != tc.want {
				t.Errorf("CheckJSON = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckQuery: the path and the query string are text without
// controls; a malformed query is refused.
func TestCheckQuery(t *testing.T) {
	for _, tc := range []struct {
		name, target, want string
	}{
		{"plain", "/api/slots?service_id=abc&from=2027-03-01", ""},
		{"accents", "/api/offices?q=Citt%C3%A0", ""},
		{"NUL in a value", "/api/slots?from=2027%00", "from invalid_text"},
		{"invalid UTF-8", "/api/slots?from=%FF", "from invalid_text"},
		{"newline", "/api/agenda?day=a%0Ab", "day invalid_text"},
		{"bad name", "/api/slots?%FF=1", "query invalid_text"},
		{"too long", "/api/slots?from=" + strings.Repeat("a", MaxQueryValue+1), "from too_long"},
		{"malformed escape", "/api/slots?from=%zz", "invalid"},
		{"NUL in the path", "/api/documents/a%00b", "path invalid_text"},
		{"invalid UTF-8 path", "/api/documents/%C3", "path invalid_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problemOf(CheckQuery(httptest.NewRequest("GET", tc.target, nil))); got != tc.want {
				t.Errorf("CheckQuery = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeRefusesBeforeDecoding: Decode answers the raw check's problem
// and leaves v as it was.
func TestDecodeRefusesBeforeDecoding(t *testing.T) {
	var v struct {
		Name string `json:"name"`
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader("{\"name\": \"a\xff\"}"))
	err := Decode(r, &v)
	if got := problemOf(err); got != "name invalid_text" || v.Name != "" {
		t.Fatalf("Decode = %q with name %q, want name invalid_text and nothing decoded", got, v.Name)
	}
	if s := Status(err); s != 400 {
		t.Errorf("status %d, want 400", s)
	}
}

// TestDecodeNamesMembersOfEmbeddedStructs: a mistyped member that an
// embedded struct brings is named by its path in the body, not by the Go
// name of the struct ("Patch.minutes").
func TestDecodeNamesMembersOfEmbeddedStructs(t *testing.T) {
	type Patch struct {
		Minutes *int `json:"minutes"`
	}
	type Inner struct {
		Patch
		Note string `json:"note"`
	}
	var v struct {
		Patch
		Inner Inner `json:"inner"`
	}
	for body, want := range map[string]string{
		`{"minutes": "x"}`:             "minutes wrong_type",
		`{"inner": {"minutes": true}}`: "inner.minutes wrong_type",
		`{"inner": {"note": 1}}`:       "inner.note wrong_type",
	} {
		if got := problemOf(Decode(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v)); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

// TestClientGone: a request whose client went away, failing on its
// cancelled context, is answered 499 (nobody reads it) and logged as
// nothing of ours; the same error with the client still there is ours.
func TestClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	rec := httptest.NewRecorder()
	Error(rec, httptest.NewRequest("POST", "/", nil).WithContext(ctx), log, fmt.Errorf("release: %w", context.Canceled))
	if rec.Code != 499 || !strings.Contains(rec.Body.String(), `"code":"client_closed"`) || logs.Len() != 0 {
		t.Errorf("client gone: %d %s, logged %q", rec.Code, rec.Body, logs.String())
	}
	rec = httptest.NewRecorder()
	Error(rec, httptest.NewRequest("POST", "/", nil), log, fmt.Errorf("release: %w", context.Canceled))
	if rec.Code != 500 || logs.Len() == 0 {
		t.Errorf("our own cancellation: %d %s, logged %q", rec.Code, rec.Body, logs.String())
	}
}
