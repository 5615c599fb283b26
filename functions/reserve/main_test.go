package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// handler is the function on store, as the tests open it (apitest.Open).
func handler(store *postgres.Store) http.Handler {
	return newHandler(testHolds(store), apitest.Discard)
}

// post builds a POST to reserve; an empty contentType sends no Content-Type.
func post(body, contentType string) *http.Request {
	return apitest.Post("/api/holds", body, contentType)
}

// heldJSON is the exact shape of a 201 answer, with the secret parts
// checked apart.
type heldJSON struct {
	HoldID     string `json:"hold_id"`
	HoldSecret string `json:"hold_secret"`
	ExpiresAt  string `json:"expires_at"`
	ServiceID  string `json:"service_id"`
	Start      string `json:"start"`
	End        string `json:"end"`
}

// created checks a 201 answer: its headers, its exact keys, and that the
// hold is stored under the hash of its secret with its event. It returns
// the hold with its id and secret blanked, for comparison.
func created(t *testing.T, rec *httptest.ResponseRecorder, locale string) heldJSON {
	t.Helper()
	apitest.JSONAnswer(t, rec, http.StatusCreated, "no-store") // the answer holds a secret
	keys := apitest.Decode[map[string]any](t, rec.Body.Bytes())
	var got heldJSON
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || len(keys) != 6 {
		t.Fatalf("answer %s: want exactly the keys of a hold (%v)", rec.Body, err)
	}
	if _, err := uuid.Parse(got.HoldID); err != nil {
		t.Errorf("hold_id %q is not a UUID", got.HoldID)
	}
	if !secret.WellFormed(got.HoldSecret) {
		t.Errorf("hold_secret %q is not a 256-bit token", got.HoldSecret)
	}
	var (
		hash       []byte
		status     string
		loc        string
		expires    time.Time
		heldEvents int
	)
	pool := pgtest.Pool(t)
	err := pool.QueryRow(t.Context(), `SELECT hold_secret_hash, status, locale, hold_expires_at,
		(SELECT count(*) FROM outbox WHERE subject = b.id::text AND type = $2)
		FROM bookings b WHERE id = $1`, got.HoldID, events.BookingHeld).Scan(&hash, &status, &loc, &expires, &heldEvents)
	if err != nil {
		t.Fatalf("hold %s not stored: %v", got.HoldID, err)
	}
	if diff := cmp.Diff(
		[]any{secret.Hash(got.HoldSecret), "held", locale, apitest.Monday.Add(10 * time.Minute).UTC(), 1},
		[]any{hash, status, loc, expires.UTC(), heldEvents}); diff != "" {
		t.Errorf("stored hold (hash, status, locale, expiry, held events) (-want +got):\n%s", diff)
	}
	got.HoldID, got.HoldSecret = "", ""
	return got
}

// TestReserve: a hold is answered with its id, its secret and its expiry
// ten minutes after now; times come back in the municipality's offset,
// even when the clock, as the system clock of a container, is in UTC.
func TestReserve(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday.UTC())
	h := apitest.Validated(t, newHandler(testHolds(store), apitest.Discard))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})

	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		locale      string
		want        heldJSON
	}{
		{
			name: "Rome offset", body: `{"service_id": "` + svc + `", "start": "2027-03-02T09:30:00+01:00"}`, contentType: "application/json", locale: "it",
			want: heldJSON{ExpiresAt: "2027-03-01T08:10:00+01:00", ServiceID: svc, Start: "2027-03-02T09:30:00+01:00", End: "2027-03-02T10:00:00+01:00"},
		},
		{
			name: "UTC start, English", body: `{"service_id": "` + svc + `", "start": "2027-03-02T09:00:00Z", "locale": "en"}`, contentType: "application/json; charset=utf-8", locale: "en",
			want: heldJSON{ExpiresAt: "2027-03-01T08:10:00+01:00", ServiceID: svc, Start: "2027-03-02T10:00:00+01:00", End: "2027-03-02T10:30:00+01:00"},
		},
		{
			name: "no Content-Type, after the DST change", body: `{"service_id": "` + svc + `", "start": "2027-03-30T09:00:00+02:00"}`, locale: "it",
			want: heldJSON{ExpiresAt: "2027-03-01T08:10:00+01:00", ServiceID: svc, Start: "2027-03-30T09:00:00+02:00", End: "2027-03-30T09:30:00+02:00"},
		},
		{
			name: "last day of the horizon", body: `{"service_id": "` + svc + `", "start": "2027-04-30T12:30:00+02:00", "locale": ""}`, contentType: "application/json", locale: "it",
			want: heldJSON{ExpiresAt: "2027-03-01T08:10:00+01:00", ServiceID: svc, Start: "2027-04-30T12:30:00+02:00", End: "2027-04-30T13:00:00+02:00"},
		},
		{
			name: "today, first slot", body: `{"service_id": "` + svc + `", "start": "2027-03-01T09:00:00+01:00"}`, contentType: "application/json", locale: "it",
			want: heldJSON{ExpiresAt: "2027-03-01T08:10:00+01:00", ServiceID: svc, Start: "2027-03-01T09:00:00+01:00", End: "2027-03-01T09:30:00+01:00"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := apitest.Snap(t)
			rec := apitest.Serve(t, h, post(tc.body, tc.contentType))
			got := created(t, rec, tc.locale)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("hold (-want +got):\n%s", diff)
			}
			apitest.Wrote(t, before, 1, 1)
		})
	}
}

// TestReserveBadInput: every bad request is a 4xx problem naming the field
// at fault with a stable code, never a 5xx, and writes nothing.
func TestReserveBadInput(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(testHolds(store), apitest.Discard))
	pool := store.Pool
	_, svc := pgtest.NewService(t, pool, pgtest.Service{Desks: 1})
	_, yearly := pgtest.NewService(t, pool, pgtest.Service{Horizon: 366})
	_, notice := pgtest.NewService(t, pool, pgtest.Service{Notice: 120})
	closedOffice, closed := pgtest.NewService(t, pool, pgtest.Service{})
	pgtest.Close(t, pool, closedOffice, "2027-03-02", "2027-03-03", "Trasloco")

	body := func(service, start string) string {
		return fmt.Sprintf(`{"service_id": %q, "start": %q}`, service, start)
	}
	bad := func(field string) apitest.Verdict { return apitest.Want(400, "invalid", field) }
	const ok = "2027-03-02T09:30:00+01:00"
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		want        apitest.Verdict
	}{
		// The body.
		{"empty body", ``, "application/json", bad("")},
		{"only spaces", "  \n ", "application/json", bad("")},
		{"malformed JSON", `{"service_id": "` + svc + `", "start": `, "application/json", bad("")},
		{"unquoted keys", `{service_id: "x"}`, "application/json", bad("")},
		{"an array", `[]`, "application/json", bad("")},
		{"a string", `"hold"`, "application/json", bad("")},
		{"null", `null`, "application/json", bad("service_id")},
		{"two objects", body(svc, ok) + `{}`, "application/json", bad("")},
		{"trailing garbage", body(svc, ok) + `x`, "application/json", bad("")},
		{"too large", `{"service_id": "` + strings.Repeat("a", 70<<10) + `"}`, "application/json", apitest.Want(413, "too_large", "")},
		// The Content-Type.
		{"text/plain", body(svc, ok), "text/plain", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"form", "service_id=" + svc, "application/x-www-form-urlencoded", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"malformed Content-Type", body(svc, ok), "application/", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		// Fields and types.
		{"unknown field", `{"service_id": "` + svc + `", "start": "` + ok + `", "desk": "Postazione 1"}`, "application/json", bad("desk")},
		{"service_id a number", `{"service_id": 42, "start": "` + ok + `"}`, "application/json", bad("service_id")},
		{"start a number", `{"service_id": "` + svc + `", "start": 1804000000}`, "application/json", bad("start")},
		{"start an object", `{"service_id": "` + svc + `", "start": {"date": "2027-03-02"}}`, "application/json", bad("start")},
		{"locale a boolean", `{"service_id": "` + svc + `", "start": "` + ok + `", "locale": true}`, "application/json", bad("locale")},
		{"missing service_id", `{"start": "` + ok + `"}`, "application/json", bad("service_id")},
		{"missing start", `{"service_id": "` + svc + `"}`, "application/json", bad("start")},
		{"start without offset", body(svc, "2027-03-02T09:30:00"), "application/json", bad("start")},
		{"start with a space", body(svc, "2027-03-02 09:30:00+01:00"), "application/json", bad("start")},
		{"start a date", body(svc, "2027-03-02"), "application/json", bad("start")},
		{"unknown locale", `{"service_id": "` + svc + `", "start": "` + ok + `", "locale": "de"}`, "application/json", bad("locale")},
		// The service.
		{"unknown service", body("no-such-service", ok), "application/json", apitest.Want(404, "not_found", "service_id")},
		{"service id with NUL", `{"service_id": "a\u0000b", "start": "` + ok + `"}`, "application/json", apitest.Want(400, "invalid", "service_id")},
		{"service id in capitals", body(strings.ToUpper(svc), ok), "application/json", apitest.Want(404, "not_found", "service_id")},
		// The slot.
		{"in the past", body(svc, "2027-02-26T09:00:00+01:00"), "application/json", bad("start")},
		{"now", body(svc, "2027-03-01T08:00:00+01:00"), "application/json", bad("start")},
		{"before opening", body(svc, "2027-03-02T08:30:00+01:00"), "application/json", bad("start")},
		{"after closing", body(svc, "2027-03-02T14:00:00+01:00"), "application/json", bad("start")},
		{"ends after closing", body(svc, "2027-03-02T13:00:00+01:00"), "application/json", bad("start")},
		{"off the grid", body(svc, "2027-03-02T09:10:00+01:00"), "application/json", bad("start")},
		{"one second off", body(svc, "2027-03-02T09:30:01+01:00"), "application/json", bad("start")},
		{"half a second off", body(svc, "2027-03-02T09:30:00.5+01:00"), "application/json", bad("start")},
		{"wrong offset for the day", body(svc, "2027-03-02T09:30:00+02:00"), "application/json", bad("start")},
		{"beyond the horizon", body(svc, "2027-05-03T09:00:00+02:00"), "application/json", bad("start")},
		{"year 9999", body(svc, "9999-12-31T09:00:00+01:00"), "application/json", bad("start")},
		{"Easter Monday", body(svc, "2027-03-29T09:00:00+02:00"), "application/json", bad("start")},
		{"Easter Sunday, the DST day", body(svc, "2027-03-28T09:00:00+02:00"), "application/json", bad("start")},
		{"patron day 6 December", body(yearly, "2027-12-06T09:00:00+01:00"), "application/json", bad("start")},
		{"Christmas", body(yearly, "2027-12-25T09:00:00+01:00"), "application/json", bad("start")},
		{"office closure", body(closed, "2027-03-02T09:00:00+01:00"), "application/json", bad("start")},
		{"too little notice", body(notice, "2027-03-01T09:30:00+01:00"), "application/json", bad("start")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RefusedServe(t, "", tc.want, h, post(tc.body, tc.contentType))
		})
	}

	t.Run("wrong method and path", func(t *testing.T) {
		for _, r := range []*http.Request{
			apitest.Get("/api/holds"),
			httptest.NewRequest(http.MethodPost, "/api/hold", strings.NewReader(body(svc, ok))),
		} {
			rec := apitest.Serve(t, h, r)
			p := apitest.ProblemOf(t, rec, apitest.NoStore)
			if diff := cmp.Diff(apitest.Want(404, "not_found", ""), apitest.VerdictOf(rec, p)); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", r.Method, r.URL, diff)
			}
		}
	})
}

// TestReserveConflict: when no desk is free the answer is 409 on start and
// nothing is written; a lapsed hold no longer blocks.
func TestReserveConflict(t *testing.T) {
	store, clk, h, one := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	_, two := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	body := func(service string) string {
		return fmt.Sprintf(`{"service_id": %q, "start": "2027-03-02T11:00:00+01:00"}`, service)
	}

	created(t, apitest.Serve(t, h, post(body(one), "application/json")), "it")
	created(t, apitest.Serve(t, h, post(body(two), "application/json")), "it")
	created(t, apitest.Serve(t, h, post(body(two), "application/json")), "it")
	for _, svc := range []string{one, two} {
		apitest.RefusedServe(t, svc, apitest.Want(409, "conflict", "start"), h, post(body(svc), "application/json"))
	}

	// Ten minutes and a second later the hold has lapsed: the slot is free.
	clk.Advance(10*time.Minute + time.Second)
	rec := apitest.Serve(t, h, post(body(one), "application/json"))
	if rec.Code != http.StatusCreated {
		t.Fatalf("hold after the first lapsed: status %d: %s", rec.Code, rec.Body)
	}
	var expires struct {
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &expires); err != nil {
		t.Fatal(err)
	}
	if want := "2027-03-01T08:20:01+01:00"; expires.ExpiresAt != want {
		t.Errorf("expires_at = %s, want %s", expires.ExpiresAt, want)
	}
}

// TestReserveRace: 40 citizens race over HTTP for one slot of a 2-desk
// service: two get a hold, the others a 409, nobody a 5xx.
func TestReserveRace(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	srv := httptest.NewServer(apitest.Validated(t, newHandler(testHolds(store), apitest.Discard)))
	defer srv.Close()
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	body := fmt.Sprintf(`{"service_id": %q, "start": "2027-03-03T10:00:00+01:00"}`, svc)

	const racers = 40
	var (
		wg       sync.WaitGroup
		ready    = make(chan struct{})
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			resp, err := http.Post(srv.URL+"/api/holds", "application/json", strings.NewReader(body))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			resp.Body.Close()
			statuses[resp.StatusCode]++
		}()
	}
	close(ready)
	wg.Wait()
	if diff := cmp.Diff(map[int]int{201: 2, 409: racers - 2}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	var active int
	if err := store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM bookings WHERE service_id = $1 AND status = 'held'`, svc).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active != 2 {
		t.Errorf("%d holds stored, want 2", active)
	}
}
