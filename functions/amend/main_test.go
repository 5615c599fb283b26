package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// handler is the function on store, as the tests open it (apitest.Open).
func handler(store *postgres.Store) http.Handler { return newHandler(store, apitest.Discard) }

// serve runs one request through h with apitest.Serve, which fails the
// test on a 5xx. Every answer of amend carries personal data or is about a
// secret link: none may be cached, so each must also be no-store.
func serve(t *testing.T, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, h, r, apitest.NoStore)
}

// chunked gives r body as a chunked body, without a Content-Length.
func chunked(r *http.Request, body string) *http.Request {
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), -1
	return r
}

// bookingJSON is the booking as the manage link shows it.
func bookingJSON(c booking.Confirmation, status string, start time.Time, sequence int, cutoff time.Duration, cancelledAt string) string {
	cancelled := ""
	if cancelledAt != "" {
		cancelled = fmt.Sprintf(`, "cancelled_at": %q`, cancelledAt)
	}
	suffix := c.ServiceID[len("service-"):]
	return fmt.Sprintf(`{
		"booking_id": %q, "status": %q,
		"office_id": %q, "office_name": "Ufficio %s", "service_id": %q, "service_name": "Servizio %s",
		"start": %q, "end": %q, "desk": "Postazione 1", "sequence": %d,
		"what_to_bring": "Documento di identità", "changeable_until": %q,
		"citizen": {"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari",
			"email": "maria.rossi@example.it", "reason": "SCIA", "details": "Pratica 12/2027",
			"privacy_consent": true, "locale": "it"},
		"confirmed_at": "2027-03-01T08:00:00+01:00"%s}`,
		c.ID, status, c.OfficeID, suffix, c.ServiceID, suffix, apitest.RFC3339(start), apitest.RFC3339(start.Add(30*time.Minute)),
		sequence, apitest.RFC3339(start.Add(-cutoff)), cancelled)
}

// TestShow: GET /api/manage with the token answers the booking and the
// citizen's data (never the token again), not cacheable.
func TestShow(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Cutoff: 120}, handler)
	start := apitest.At("2027-03-02", "09:30")
	mine := pgtest.Book(t, store, svc, start)

	before := apitest.Snap(t)
	rec := serve(t, h, apitest.Send(http.MethodGet, "/api/manage", mine.ManageToken, "", ""))
	apitest.JSONAnswer(t, rec, http.StatusOK, "")
	apitest.SameJSON(t, rec.Body.Bytes(), bookingJSON(mine, "confirmed", start, 0, 2*time.Hour, ""))
	apitest.Unchanged(t, "showing a booking", before)
}

// TestReschedule: a booking moves to a free slot (here across the DST
// change) in one step: 200 with the new times and sequence, its event, and
// the old slot free again; the same request again answers the same and
// writes nothing.
func TestReschedule(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1, Cutoff: 60}, handler)
	start, next := apitest.At("2027-03-02", "09:00"), apitest.At("2027-03-30", "10:00")
	mine := pgtest.Book(t, store, svc, start)

	before := apitest.Snap(t)
	rec := serve(t, h, apitest.Send(http.MethodPost, "/api/manage/reschedule", mine.ManageToken,
		`{"start": "2027-03-30T10:00:00+02:00"}`, "application/json"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := bookingJSON(mine, "confirmed", next, 1, time.Hour, "")
	apitest.SameJSON(t, rec.Body.Bytes(), want)
	if !strings.Contains(rec.Body.String(), `"start":"2027-03-30T10:00:00+02:00"`) {
		t.Errorf("start not in the Rome offset of its day: %s", rec.Body)
	}
	apitest.Wrote(t, before, 0, 1)
	if n := apitest.EventsOf(t, mine.ID, events.BookingRescheduled); n != 1 {
		t.Errorf("%d rescheduled events, want 1", n)
	}

	// The manage link shows the new time; the old slot is free again.
	rec = serve(t, h, apitest.Send(http.MethodGet, "/api/manage", mine.ManageToken, "", ""))
	apitest.SameJSON(t, rec.Body.Bytes(), want)
	if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
		t.Errorf("the old slot is not free after the move: %v", err)
	}

	// The same request again (a retry after a lost answer): the booking as
	// it is now, no second event.
	snap := apitest.Snap(t)
	rec = serve(t, h, apitest.Send(http.MethodPost, "/api/manage/reschedule", mine.ManageToken,
		`{"start": "2027-03-30T10:00:00+02:00"}`, "application/json"))
	if rec.Code != http.StatusOK {
		t.Fatalf("the same reschedule again: status %d: %s", rec.Code, rec.Body)
	}
	apitest.SameJSON(t, rec.Body.Bytes(), want)
	apitest.Unchanged(t, "the same reschedule again", snap)
}

// TestCancel: a booking is cancelled (with or without an empty JSON body):
// 200 with status cancelled, its event, and the slot free again. A second
// cancel answers the same and writes nothing; a move of a cancelled booking
// is 409 and writes nothing. Times
// come back in the municipality's offset even when the clock, as the
// system clock of a container, is in UTC.
func TestCancel(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday.UTC())
	h := apitest.Validated(t, newHandler(store, apitest.Discard))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})

	for i, tc := range []struct {
		name, body, contentType string
	}{
		{"no body", "", ""},
		{"empty object", "{}", "application/json"},
		{"empty object, no Content-Type", " {} ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := apitest.At("2027-03-03", "09:00").Add(time.Duration(i) * 30 * time.Minute)
			mine := pgtest.Book(t, store, svc, start)
			before := apitest.Snap(t)
			rec := serve(t, h, apitest.Send(http.MethodPost, "/api/manage/cancel", mine.ManageToken, tc.body, tc.contentType))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			want := bookingJSON(mine, "cancelled", start, 1, 0, "2027-03-01T08:00:00+01:00")
			apitest.SameJSON(t, rec.Body.Bytes(), want)
			apitest.Wrote(t, before, 0, 1)
			if n := apitest.EventsOf(t, mine.ID, events.BookingCancelled); n != 1 {
				t.Errorf("%d cancelled events, want 1", n)
			}

			// Shown as cancelled; no longer changeable.
			rec = serve(t, h, apitest.Send(http.MethodGet, "/api/manage", mine.ManageToken, "", ""))
			apitest.SameJSON(t, rec.Body.Bytes(), want)
			// Cancelled again (a retry after a lost answer): the same answer,
			// nothing written. Moved: refused.
			snap := apitest.Snap(t)
			rec = serve(t, h, apitest.Send(http.MethodPost, "/api/manage/cancel", mine.ManageToken, "", ""))
			if rec.Code != http.StatusOK {
				t.Fatalf("second cancel: status %d: %s", rec.Code, rec.Body)
			}
			apitest.SameJSON(t, rec.Body.Bytes(), want)
			apitest.Unchanged(t, "a second cancel", snap)
			r := apitest.Send(http.MethodPost, "/api/manage/reschedule", mine.ManageToken, `{"start": "2027-03-04T09:00:00+01:00"}`, "application/json")
			apitest.RefusedServe(t, r.URL.Path, apitest.Want(409, "conflict", "token"), h, r)
			if _, err := store.Reserve(t.Context(), svc, start, "it"); err != nil {
				t.Errorf("the slot is not free after the cancellation: %v", err)
			}
		})
	}
}

// TestRescheduleBadInput: every bad request is a 4xx problem naming the
// field at fault, never a 5xx, not cacheable, and leaves the booking and
// the outbox exactly as they were.
func TestRescheduleBadInput(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(store, apitest.Discard))
	pool := store.Pool
	_, svc := pgtest.NewService(t, pool, pgtest.Service{Desks: 1, Horizon: 366})
	closedOffice, closedSvc := pgtest.NewService(t, pool, pgtest.Service{Desks: 1})
	pgtest.Close(t, pool, closedOffice, "2027-03-04", "2027-03-04", "Inventario")
	mine := pgtest.Book(t, store, svc, apitest.At("2027-03-02", "09:00"))
	pgtest.Book(t, store, svc, apitest.At("2027-03-02", "10:00")) // someone else's
	closedBooking := pgtest.Book(t, store, closedSvc, apitest.At("2027-03-03", "09:00"))
	tok := mine.ManageToken

	body := func(start string) string { return fmt.Sprintf(`{"start": %q}`, start) }
	bad := func(field string) apitest.Verdict { return apitest.Want(400, "invalid", field) }
	const json = "application/json" // shadows the package: only the media type is needed here
	refuseAll(t, h, "/api/manage/reschedule", []refusal{
		// The body.
		{"empty body", tok, "", json, bad("")},
		{"malformed JSON", tok, `{"start": "2027-03-03T09:00:00+01:00"`, json, bad("")},
		{"an array", tok, `["2027-03-03T09:00:00+01:00"]`, json, bad("")},
		{"two objects", tok, body("2027-03-03T09:00:00+01:00") + `{}`, json, bad("")},
		{"too large", tok, body(strings.Repeat("9", 70<<10)), json, apitest.Want(413, "too_large", "")},
		{"text/plain", tok, body("2027-03-03T09:00:00+01:00"), "text/plain", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"unknown field", tok, `{"start": "2027-03-03T09:00:00+01:00", "desk": "Postazione 2"}`, json, bad("desk")},
		{"start a number", tok, `{"start": 1804060800}`, json, bad("start")},
		{"start null", tok, `{"start": null}`, json, bad("start")},
		{"missing start", tok, `{}`, json, bad("start")},
		{"start without offset", tok, body("2027-03-03T09:00:00"), json, bad("start")},
		{"start in Italian", tok, body("3 marzo 2027, 9:00"), json, bad("start")},
		// The slot.
		{"in the past", tok, body("2027-02-26T09:00:00+01:00"), json, bad("start")},
		{"outside opening hours", tok, body("2027-03-03T15:00:00+01:00"), json, bad("start")},
		{"off the grid", tok, body("2027-03-03T09:15:00+01:00"), json, bad("start")},
		{"beyond the horizon", tok, body("2028-03-06T09:00:00+01:00"), json, bad("start")},
		{"Easter Monday", tok, body("2027-03-29T09:00:00+02:00"), json, bad("start")},
		{"patron day 6 December", tok, body("2027-12-06T09:00:00+01:00"), json, bad("start")},
		{"office closure", closedBooking.ManageToken, body("2027-03-04T09:00:00+01:00"), json, bad("start")},
		{"taken by someone else", tok, body("2027-03-02T10:00:00+01:00"), json, apitest.Want(409, "conflict", "start")},
		// The token.
		{"no Authorization", "", body("2027-03-03T09:00:00+01:00"), json, apitest.Want(401, "unauthorized", "Authorization")},
		{"unknown token", randomToken(), body("2027-03-03T09:00:00+01:00"), json, apitest.Want(404, "not_found", "token")},
		{"tampered token", tamper(tok), body("2027-03-03T09:00:00+01:00"), json, apitest.Want(404, "not_found", "token")},
	})
	rec := serve(t, h, apitest.Send(http.MethodGet, "/api/manage", tok, "", ""))
	apitest.SameJSON(t, rec.Body.Bytes(), bookingJSON(mine, "confirmed", apitest.At("2027-03-02", "09:00"), 0, 0, ""))
}

// refusal is a request that must be refused with want, writing nothing.
type refusal struct {
	name, token, body, contentType string
	want                           apitest.Verdict
}

// refuseAll POSTs each refusal to path with h.
func refuseAll(t *testing.T, h http.Handler, path string, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RefusedServe(t, "", tc.want, h, apitest.Send(http.MethodPost, path, tc.token, tc.body, tc.contentType))
		})
	}
}

// TestCancelBadInput: a cancel with a bad body or token is a 4xx problem
// and the booking stays confirmed.
func TestCancelBadInput(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	mine := pgtest.Book(t, store, svc, apitest.At("2027-03-02", "09:00"))
	tok := mine.ManageToken

	bad := func(field string) apitest.Verdict { return apitest.Want(400, "invalid", field) }
	refuseAll(t, h, "/api/manage/cancel", []refusal{
		{"unknown field", tok, `{"reason": "impegno"}`, "application/json", bad("reason")},
		{"malformed JSON", tok, `{`, "application/json", bad("")},
		{"an array", tok, `[]`, "application/json", bad("")},
		{"a string", tok, `"annulla"`, "application/json", bad("")},
		{"text/plain", tok, `{}`, "text/plain", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"too large", tok, `{"x": "` + strings.Repeat("x", 70<<10) + `"}`, "application/json", apitest.Want(413, "too_large", "")},
		{"no Authorization", "", "", "", apitest.Want(401, "unauthorized", "Authorization")},
		{"unknown token", randomToken(), "", "", apitest.Want(404, "not_found", "token")},
		{"tampered token", tamper(tok), "", "", apitest.Want(404, "not_found", "token")},
	})
	rec := serve(t, h, apitest.Send(http.MethodGet, "/api/manage", tok, "", ""))
	apitest.SameJSON(t, rec.Body.Bytes(), bookingJSON(mine, "confirmed", apitest.At("2027-03-02", "09:00"), 0, 0, ""))
}

func randomToken() string {
	tok, _ := secret.New()
	return tok
}

// tamper changes the first and last characters of a token.
func tamper(tok string) string {
	flip := func(c byte) byte {
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}
	return string(flip(tok[0])) + tok[1:len(tok)-1] + string(flip(tok[len(tok)-1]))
}

// TestTokens: without a credential the answer is 401; with an unknown,
// malformed or tampered token it is one and the same plain 404, which
// tells nothing about why; a hold secret is not a manage token.
func TestTokens(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	held, err := store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := store.Confirm(t.Context(), held.ID, held.Secret, pgtest.Maria)
	if err != nil {
		t.Fatal(err)
	}

	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/api/manage", ""},
		{http.MethodPost, "/api/manage/reschedule", `{"start": "2027-03-03T09:00:00+01:00"}`},
		{http.MethodPost, "/api/manage/cancel", ""},
	}
	for _, rt := range routes {
		t.Run(rt.path, func(t *testing.T) {
			var plain string // the one 404 body
			for _, tc := range []struct {
				name          string
				authorization string // "-" sends none
				want          apitest.Verdict
			}{
				{"no Authorization", "-", apitest.Want(401, "unauthorized", "Authorization")},
				{"empty Authorization", "", apitest.Want(401, "unauthorized", "Authorization")},
				{"Basic credentials", "Basic bWFyaWE6cm9zc2k=", apitest.Want(401, "unauthorized", "Authorization")},
				{"token without scheme", mine.ManageToken, apitest.Want(401, "unauthorized", "Authorization")},
				{"empty bearer", "Bearer ", apitest.Want(404, "not_found", "token")},
				{"garbage", "Bearer not-a-token", apitest.Want(404, "not_found", "token")},
				{"token with NUL", "Bearer " + mine.ManageToken[:20] + "\x00" + mine.ManageToken[21:], apitest.Want(404, "not_found", "token")},
				{"too long", "Bearer " + mine.ManageToken + "A", apitest.Want(404, "not_found", "token")},
				{"unknown", "Bearer " + randomToken(), apitest.Want(404, "not_found", "token")},
				{"tampered", "Bearer " + tamper(mine.ManageToken), apitest.Want(404, "not_found", "token")},
				{"the hold secret", "Bearer " + held.Secret, apitest.Want(404, "not_found", "token")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := apitest.Send(rt.method, rt.path, "", rt.body, "application/json")
					if tc.authorization != "-" {
						r.Header["Authorization"] = []string{tc.authorization}
					}
					before := apitest.Snap(t)
					rec := serve(t, h, r)
					p := apitest.ProblemOf(t, rec)
					if diff := cmp.Diff(tc.want, apitest.VerdictOf(rec, p)); diff != "" {
						t.Errorf("(-want +got):\n%s\nbody: %s", diff, rec.Body)
					}
					if rec.Code == http.StatusNotFound {
						if plain == "" {
							plain = rec.Body.String()
						} else if rec.Body.String() != plain {
							t.Errorf("404 differs from another wrong token's:\n%s\n%s", rec.Body, plain)
						}
					}
					apitest.Unchanged(t, "a refused request", before)
				})
			}
		})
	}
}

// TestCutoff: inside the service's cutoff the booking can be shown but not
// moved or cancelled (422 on token); up to the cutoff instant it can.
func TestCutoff(t *testing.T) {
	store, clk, h, svc := apitest.Open(t, pgtest.Service{Desks: 1, Cutoff: 24 * 60}, handler)
	start := apitest.At("2027-03-03", "09:00")
	mine := pgtest.Book(t, store, svc, start)
	other := pgtest.Book(t, store, svc, apitest.At("2027-03-03", "10:00"))

	clk.Set(start.Add(-24*time.Hour + time.Second))
	for _, r := range []*http.Request{
		apitest.Send(http.MethodPost, "/api/manage/reschedule", mine.ManageToken, `{"start": "2027-03-05T09:00:00+01:00"}`, "application/json"),
		apitest.Send(http.MethodPost, "/api/manage/cancel", mine.ManageToken, "", ""),
	} {
		apitest.RefusedServe(t, r.URL.Path, apitest.Want(422, "unprocessable", "token"), h, r)
	}
	rec := serve(t, h, apitest.Send(http.MethodGet, "/api/manage", mine.ManageToken, "", ""))
	if rec.Code != http.StatusOK {
		t.Errorf("show inside the cutoff: status %d: %s", rec.Code, rec.Body)
	}

	// At the cutoff instant itself a change is still allowed.
	clk.Set(apitest.At("2027-03-02", "10:00"))
	rec = serve(t, h, apitest.Send(http.MethodPost, "/api/manage/cancel", other.ManageToken, "", ""))
	if rec.Code != http.StatusOK {
		t.Errorf("cancel at the cutoff instant: status %d: %s", rec.Code, rec.Body)
	}
}

// TestUnknownRoutes: other paths and methods are a 404 problem.
func TestUnknownRoutes(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(store, apitest.Discard))
	for _, r := range []*http.Request{
		apitest.Send(http.MethodDelete, "/api/manage", "", "", ""),
		apitest.Get("/api/manage/cancel"),
		chunked(apitest.Post("/api/manage/delete", "", ""), "{}"),
	} {
		rec := serve(t, h, r)
		p := apitest.ProblemOf(t, rec)
		if diff := cmp.Diff(apitest.Want(404, "not_found", ""), apitest.VerdictOf(rec, p)); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", r.Method, r.URL, diff)
		}
	}
}

// TestLenientTransport: the Bearer scheme is case-insensitive, and a cancel
// with an empty chunked body (no Content-Length) is a cancel without body.
func TestLenientTransport(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	mine := pgtest.Book(t, store, svc, apitest.At("2027-03-02", "10:00"))

	r := apitest.Send(http.MethodGet, "/api/manage", "", "", "")
	r.Header.Set("Authorization", "bearer "+mine.ManageToken)
	if rec := serve(t, h, r); rec.Code != http.StatusOK {
		t.Fatalf("lower-case bearer: status %d: %s", rec.Code, rec.Body)
	}

	r = chunked(apitest.Send(http.MethodPost, "/api/manage/cancel", mine.ManageToken, "", ""), "") // chunked, empty
	rec := serve(t, h, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("empty chunked cancel: status %d: %s", rec.Code, rec.Body)
	}
	var got struct{ Status string }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != "cancelled" {
		t.Fatalf("after cancel: %s (%v)", rec.Body, err)
	}
}
