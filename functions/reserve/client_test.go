package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/httpapi/admission"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// testHolds is reserve's counter on store, as main builds it, with the
// tests' key (and no waiting room opened by slow holds).
func testHolds(store *postgres.Store) *holds {
	return &holds{store: store, ids: &client.Identifier{Signer: apitest.Key}, tickets: &admission.Tickets{Signer: apitest.Key},
		log: apitest.Discard}
}

// browser is a client as reserve sees it: its cookies (once it has
// them) and its address.
type browser struct{ *apitest.Browser }

func newBrowser(h http.Handler, address string) browser {
	return browser{apitest.NewBrowser(h, address)}
}

// cookie is the browser's client cookie, nil before its first answer.
func (b browser) cookie() *http.Cookie { return b.Cookies[client.CookieName] }

func (b browser) hold(svc string, start time.Time) (*httptest.ResponseRecorder, heldJSON) {
	rec := b.Do("POST", "/api/holds", "", fmt.Sprintf(`{"service_id": %q, "start": %q}`, svc, apitest.RFC3339(start)))
	var h heldJSON
	_ = json.Unmarshal(rec.Body.Bytes(), &h)
	return rec, h
}

// openLimited is apitest.Open with the store's hold limits set first.
func openLimited(t *testing.T, limits booking.HoldLimits, svc pgtest.Service) (*postgres.Store, *clock.Fixed, http.Handler, string) {
	return apitest.Open(t, svc, func(store *postgres.Store) http.Handler {
		store.Limits = limits
		return handler(store)
	})
}

// statusOf reads a booking's status.
func statusOf(t *testing.T, store *postgres.Store, id string) string {
	t.Helper()
	var s string
	if err := store.Pool.QueryRow(t.Context(), `SELECT status FROM bookings WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func liveHoldsOf(t *testing.T, store *postgres.Store, svc string) int {
	t.Helper()
	var n int
	if err := store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM bookings WHERE service_id = $1 AND status = 'held'`, svc).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOneHoldPerClient: a browser that takes another time gives back the
// one it held, in the same statement, with a booking.released.v1; its
// cookie is an opaque signed token, not a database row.
func TestOneHoldPerClient(t *testing.T) {
	store, _, h, svc := openLimited(t, booking.HoldLimits{PerClient: 1}, pgtest.Service{Desks: 1})
	maria := newBrowser(h, "192.0.2.10")

	rec, first := maria.hold(svc, apitest.At("2027-03-02", "09:00"))
	if rec.Code != http.StatusCreated || maria.cookie() == nil || !maria.cookie().HttpOnly || maria.cookie().Path != "/api" {
		t.Fatalf("first hold: %d %s, cookie %+v", rec.Code, rec.Body, maria.cookie())
	}
	rec, second := maria.hold(svc, apitest.At("2027-03-02", "09:30"))
	if rec.Code != http.StatusCreated {
		t.Fatalf("second hold: %d %s", rec.Code, rec.Body)
	}
	if got := statusOf(t, store, first.HoldID); got != "released" {
		t.Errorf("the first hold is %s, want released", got)
	}
	if n := apitest.EventsOf(t, first.HoldID, events.BookingReleased); n != 1 {
		t.Errorf("%d released events for the first hold, want 1", n)
	}
	if got := statusOf(t, store, second.HoldID); got != "held" {
		t.Errorf("the second hold is %s", got)
	}
	// The slot given back is free for the next citizen at once.
	luca := newBrowser(h, "192.0.2.11")
	if rec, _ := luca.hold(svc, apitest.At("2027-03-02", "09:00")); rec.Code != http.StatusCreated {
		t.Errorf("another citizen on the released slot: %d %s", rec.Code, rec.Body)
	}
	// An office may allow more: two for this one.
	if _, err := store.Pool.Exec(t.Context(), `UPDATE offices SET max_holds_per_client = 2
		WHERE id = (SELECT office_id FROM services WHERE id = $1)`, svc); err != nil {
		t.Fatal(err)
	}
	store.Services.Reset()
	rec, third := maria.hold(svc, apitest.At("2027-03-02", "10:00"))
	if rec.Code != http.StatusCreated || statusOf(t, store, second.HoldID) != "held" || statusOf(t, store, third.HoldID) != "held" {
		t.Errorf("with the office's limit of two: %d, second %s, third %s", rec.Code, statusOf(t, store, second.HoldID), statusOf(t, store, third.HoldID))
	}
}

// TestOneClientRacingForEverySlot: one client (one cookie) fires twenty
// holds for twenty slots at once, as a script would; when they are done
// it holds one slot, every other hold it won was released with its event,
// and the other slots are free.
func TestOneClientRacingForEverySlot(t *testing.T) {
	store, _, h, svc := openLimited(t, booking.HoldLimits{PerClient: 1}, pgtest.Service{Desks: 1})
	greedy := newBrowser(h, "198.51.100.7")
	if rec, _ := greedy.hold(svc, apitest.At("2027-03-03", "09:00")); rec.Code != http.StatusCreated { // its cookie
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	held := clienttest.Race(20, func(i int) string {
		b := newBrowser(h, greedy.Address)
		b.Cookies[client.CookieName] = greedy.cookie()
		start := apitest.At("2027-03-02", "09:00").Add(time.Duration(i%8)*30*time.Minute).AddDate(0, 0, i/8)
		rec, held := b.hold(svc, start)
		if rec.Code >= 500 {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusCreated {
			return ""
		}
		return held.HoldID
	})
	won := slices.DeleteFunc(held, func(id string) bool { return id == "" })
	if n := liveHoldsOf(t, store, svc); n != 1 {
		t.Errorf("the client holds %d slots after the race, want 1", n)
	}
	released := 0
	for _, id := range won {
		released += apitest.EventsOf(t, id, events.BookingReleased)
	}
	// The first hold (before the race) was released too, unless it is the
	// one kept: every hold but one was released, with its event.
	if len(won) < 1 || released < len(won)-1 || released > len(won) {
		t.Errorf("%d holds won in the race, %d released events among them", len(won), released)
	}
}

// TestLimitsPerMinute: a client asks for at most ClientPerMinute holds a
// minute, an address for AddressPerMinute, counted in the database (so for
// every instance): the request over is a 429 with Retry-After to the next
// minute and writes no hold; another address is not affected; the next
// minute the address may ask again.
func TestLimitsPerMinute(t *testing.T) {
	_, clk, h, svc := openLimited(t, booking.HoldLimits{PerClient: 1, ClientPerMinute: 3, AddressPerMinute: 5}, pgtest.Service{Desks: 3})
	clk.Set(apitest.At("2027-03-01", "08:00").Add(15 * time.Second))
	at := func(i int) time.Time { // eight slots a day, from the next day on
		return apitest.At("2027-03-02", "09:00").AddDate(0, 0, i/8).Add(time.Duration(i%8) * 30 * time.Minute)
	}

	one := newBrowser(h, "203.0.113.1")
	for i := range 3 {
		if rec, _ := one.hold(svc, at(i)); rec.Code != http.StatusCreated {
			t.Fatalf("hold %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	snap := apitest.Snap(t)
	rec, _ := one.hold(svc, at(3))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "45" || !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) ||
		!strings.Contains(rec.Body.String(), `"limit":"client_per_minute"`) {
		t.Errorf("the client's fourth hold in a minute: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	apitest.Unchanged(t, "a refused hold", snap)

	// Ten browsers behind one address, racing: five get through.
	codes := clienttest.Race(10, func(i int) int {
		rec, _ := newBrowser(h, "203.0.113.2").hold(svc, at(4+i%4))
		return rec.Code
	})
	limited := 0
	for _, c := range codes {
		if c == http.StatusTooManyRequests {
			limited++
		} else if c >= 500 {
			t.Errorf("status %d", c)
		}
	}
	if limited != 5 {
		t.Errorf("%d of ten requests from one address refused, want 5 (the limit is 5 a minute)", limited)
	}
	other := newBrowser(h, "2001:db8:1:2::1")
	if rec, _ := other.hold(svc, at(9)); rec.Code != http.StatusCreated {
		t.Errorf("another address: %d %s", rec.Code, rec.Body)
	}
	clk.Advance(time.Minute)
	if rec, _ := newBrowser(h, "203.0.113.2").hold(svc, at(10)); rec.Code != http.StatusCreated {
		t.Errorf("the next minute: %d %s", rec.Code, rec.Body)
	}
}

// TestTakenSlotsDoNotCount: the limits count holds won, not requests: a
// citizen behind a busy address who tries taken times (409) keeps the
// whole allowance for the time it then finds free, and the holds over it,
// racing, are not kept.
func TestTakenSlotsDoNotCount(t *testing.T) {
	store, clk, h, svc := openLimited(t, booking.HoldLimits{PerClient: 1, ClientPerMinute: 2, AddressPerMinute: 3}, pgtest.Service{Desks: 1})
	clk.Set(apitest.At("2027-03-01", "08:00").Add(15 * time.Second))
	taken := apitest.At("2027-03-02", "09:00")
	if rec, _ := newBrowser(h, "198.51.100.9").hold(svc, taken); rec.Code != http.StatusCreated {
		t.Fatalf("the first hold: %d %s", rec.Code, rec.Body)
	}
	anna := newBrowser(h, "203.0.113.7")
	for i := range 5 {
		if rec, _ := anna.hold(svc, taken); rec.Code != http.StatusConflict {
			t.Fatalf("try %d at a taken time: %d %s, want 409", i, rec.Code, rec.Body)
		}
	}
	if rec, _ := anna.hold(svc, taken.Add(30*time.Minute)); rec.Code != http.StatusCreated {
		t.Fatalf("after five 409s, a free time: %d %s, want 201", rec.Code, rec.Body)
	}
	// Eight browsers behind the same address race for free times: two more
	// holds are kept (the address's third and fourth would be over three).
	snap := apitest.Snap(t)
	count := clienttest.Tally(clienttest.Race(8, func(i int) int {
		rec, _ := newBrowser(h, "203.0.113.7").hold(svc, taken.AddDate(0, 0, 1).Add(time.Duration(i)*30*time.Minute))
		return rec.Code
	}))
	if count[http.StatusCreated] != 2 || count[http.StatusTooManyRequests] != 6 {
		t.Errorf("eight racing holds from an address with one left: %v, want 2 created and 6 refused", count)
	}
	var held int
	if err := store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM bookings WHERE status = 'held' AND service_id = $1`, svc).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if after := apitest.Snap(t); held != 4 || after.Outbox != snap.Outbox+2 {
		t.Errorf("%d holds and %d new events after the race, want 4 holds and 2 events", held, after.Outbox-snap.Outbox)
	}
}

// TestRelease: a hold given back (DELETE with its secret, or the beacon's
// POST) frees its slot at once with one booking.released.v1; giving it back
// again is a quiet 204; a wrong secret is a 404 and a confirmed booking a
// 409, both writing nothing.
func TestRelease(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	maria := newBrowser(h, "192.0.2.20")
	start := apitest.At("2027-03-02", "09:00")
	_, held := maria.hold(svc, start)

	if rec := maria.Do("DELETE", "/api/holds/"+held.HoldID, held.HoldSecret, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := maria.Do("DELETE", "/api/holds/"+held.HoldID, held.HoldSecret, ""); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE again: %d %s", rec.Code, rec.Body)
	}
	if n := apitest.EventsOf(t, held.HoldID, events.BookingReleased); n != 1 {
		t.Errorf("%d released events, want 1", n)
	}
	luca := newBrowser(h, "192.0.2.21")
	rec, lucas := luca.hold(svc, start)
	if rec.Code != http.StatusCreated {
		t.Fatalf("the released slot: %d %s", rec.Code, rec.Body)
	}
	// The beacon's way.
	if rec := luca.Do("POST", "/api/holds/"+lucas.HoldID+"/release", "", `{"hold_secret": "`+lucas.HoldSecret+`"}`); rec.Code != http.StatusNoContent {
		t.Errorf("POST release: %d %s", rec.Code, rec.Body)
	}
	if got := statusOf(t, store, lucas.HoldID); got != "released" {
		t.Errorf("after the beacon: %s", got)
	}
	// A beacon whose page is gone before the answer (its request's
	// context cancelled) gives the hold back all the same.
	rec, again := luca.hold(svc, start)
	if rec.Code != http.StatusCreated {
		t.Fatalf("the slot again: %d %s", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	gone := httptest.NewRequest("POST", "/api/holds/"+again.HoldID+"/release", strings.NewReader(`{"hold_secret": "`+again.HoldSecret+`"}`)).WithContext(ctx)
	gone.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), gone)
	if got := statusOf(t, store, again.HoldID); got != "released" {
		t.Errorf("after a beacon whose page was gone: %s", got)
	}

	_, other := maria.hold(svc, start)
	confirmed, err := store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "10:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Confirm(t.Context(), confirmed.ID, confirmed.Secret, pgtest.Maria); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want apitest.Verdict
	}{
		{"wrong secret", deleteHold(other.HoldID, lucas.HoldSecret), apitest.Want(404, "not_found", "hold_id")},
		{"malformed secret", deleteHold(other.HoldID, "abc"), apitest.Want(404, "not_found", "hold_id")},
		{"no secret", deleteHold(other.HoldID, ""), apitest.Want(401, "unauthorized", "Authorization")},
		{"unknown hold", deleteHold("0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00", other.HoldSecret), apitest.Want(404, "not_found", "hold_id")},
		{"not an id", deleteHold("nope", other.HoldSecret), apitest.Want(404, "not_found", "hold_id")},
		{"a confirmed booking", deleteHold(confirmed.ID, confirmed.Secret), apitest.Want(409, "conflict", "hold_id")},
		{"beacon without secret", apitest.Post("/api/holds/"+other.HoldID+"/release", `{}`, "application/json"), apitest.Want(400, "invalid", "hold_secret")},
	} {
		apitest.RefusedServe(t, tc.name, tc.want, h, tc.r)
	}
	if got := statusOf(t, store, other.HoldID); got != "held" {
		t.Errorf("the hold after refused releases: %s", got)
	}
}

func deleteHold(id, secret string) *http.Request {
	r := httptest.NewRequest("DELETE", "/api/holds/"+id, nil)
	if secret != "" {
		r.Header.Set("Authorization", "Bearer "+secret)
	}
	return r
}

// admit gives the browser an admission to svc, as the waiting room does
// when its turn comes.
func (b browser) admit(t *testing.T, svc string, now time.Time) {
	t.Helper()
	f, err := apitest.Key.Check(b.cookie().Value, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	(&admission.Tickets{Signer: apitest.Key}).Grant(rec, httptest.NewRequest("POST", "/api/queue", nil), svc, f[0], now)
	c := rec.Result().Cookies()[0]
	b.Cookies[c.Name] = c
}

// TestWaitingRoomAtTheCounter: with a service's waiting room on, a hold
// without an admission is a 403 not_admitted writing nothing; the
// admission of this browser to this service lets it hold, another
// service's or another browser's does not. Holds slower than the
// threshold open the room of a service that has none, once they are
// enough.
func TestWaitingRoomAtTheCounter(t *testing.T) {
	store, clk := pgtest.Store(t, apitest.Monday)
	hs := testHolds(store)
	h := apitest.Validated(t, newHandler(hs, apitest.Discard))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	if _, err := store.Pool.Exec(t.Context(), `UPDATE services SET admission_per_minute = 30 WHERE id = $1`, svc); err != nil {
		t.Fatal(err)
	}
	maria, luca := newBrowser(h, "192.0.2.30"), newBrowser(h, "192.0.2.31")
	start := apitest.At("2027-03-02", "09:00")
	snap := apitest.Snap(t)
	rec, _ := maria.hold(svc, start)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"code":"not_admitted"`) || !strings.Contains(rec.Body.String(), `"queue":"/api/queue"`) {
		t.Fatalf("a hold without an admission: %d %s", rec.Code, rec.Body)
	}
	apitest.Unchanged(t, "a refused hold", snap)
	luca.hold(svc, start) // its client cookie
	maria.admit(t, "another-service", clk.Now())
	if rec, _ := maria.hold(svc, start); rec.Code != http.StatusForbidden {
		t.Errorf("with another service's admission: %d %s", rec.Code, rec.Body)
	}
	maria.admit(t, svc, clk.Now())
	luca.Cookies[admission.CookieName] = maria.Cookies[admission.CookieName] // passed on
	if rec, _ := luca.hold(svc, start); rec.Code != http.StatusForbidden {
		t.Errorf("with another browser's admission: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := maria.hold(svc, start); rec.Code != http.StatusCreated {
		t.Errorf("admitted: %d %s", rec.Code, rec.Body)
	}
	clk.Advance(16 * time.Minute)
	if rec, _ := maria.hold(svc, start.Add(30*time.Minute)); rec.Code != http.StatusForbidden {
		t.Errorf("after the admission's 15 minutes: %d %s", rec.Code, rec.Body)
	}

	// Slow holds open the room of a service without one: not the first
	// ones, once they are enough (TestSlowHolds).
	_, calm := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 2})
	hs.slow, hs.autoFor, hs.autoRate = time.Nanosecond, 10*time.Minute, 100
	for i := range slowHoldsAtLeast {
		at := start.Add(time.Duration(i) * 30 * time.Minute)
		if rec, _ := newBrowser(h, fmt.Sprintf("192.0.2.%d", 40+i)).hold(calm, at); rec.Code != http.StatusCreated {
			t.Fatalf("slow hold %d: %d %s", i+1, rec.Code, rec.Body)
		}
		rm, err := store.Room(t.Context(), calm)
		if err != nil {
			t.Fatal(err)
		}
		if last := i == slowHoldsAtLeast-1; rm.On() != last || (last && rm.Rate != 100) {
			t.Errorf("after %d slow holds the room is %+v; want it on (at 100 a minute) after %d", i+1, rm, slowHoldsAtLeast)
		}
	}
	if rec, _ := newBrowser(h, "192.0.2.60").hold(calm, start); rec.Code != http.StatusForbidden {
		t.Errorf("a hold once the room opened: %d %s", rec.Code, rec.Body)
	}
}

// TestSlowHolds: a service's holds open its room when, in one window of
// ten seconds, at least five of them and one in ten were slow; not for a
// few slow holds among many, nor for slow holds spread over windows.
func TestSlowHolds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		holds []string // in order: s slow, f fast, w the next window, b the clock gone back a second
		opens int      // the hold (from 1) at which the room opens; 0: never
	}{
		{"one slow hold", []string{"s"}, 0},
		{"five slow holds", []string{"s", "s", "s", "s", "s"}, 5},
		{"five slow among forty", append(repeat("f", 35), repeat("s", 5)...), 5 + 35},
		{"five slow among fifty-one", append(repeat("f", 46), repeat("s", 5)...), 0},
		{"a fast hold among them", append(repeat("s", 5)[:4], "f", "s"), 6},
		{"four, then four in the next window", append(append(repeat("s", 4), "w"), repeat("s", 4)...), 0},
		{"four, then a clock gone back", append(append(repeat("s", 4), "b"), repeat("s", 4)...), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFixed(apitest.Monday)
			h := &holds{store: &postgres.Store{Clock: clk}}
			opened, n := 0, 0
			for _, what := range tc.holds {
				switch what {
				case "w":
					clk.Advance(slowWindow)
					continue
				case "b":
					clk.Advance(-time.Second)
					continue
				}
				n++
				if h.staySlow("sue", what == "s") && opened == 0 {
					opened = n
				}
				if h.staySlow("anagrafe", false) { // another service's holds count apart
					t.Fatal("a fast hold of another service opened its room")
				}
			}
			if opened != tc.opens {
				t.Errorf("the room opens at hold %d, want %d (0: never)", opened, tc.opens)
			}
		})
	}
}

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }
