package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/httpapi/admission"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

func testRoom(store *postgres.Store, joins int) *room {
	return &room{store: store, ids: &client.Identifier{Signer: apitest.Key}, tickets: &admission.Tickets{Signer: apitest.Key}, joins: joins}
}

// handlerOf makes the function on a store (as apitest.Open takes it), its
// room taking at most joins joins a minute from one address.
func handlerOf(joins int) func(*postgres.Store) http.Handler {
	return func(store *postgres.Store) http.Handler { return newHandler(testRoom(store, joins), apitest.Discard) }
}

// browser is a citizen's browser: its cookies and its address.
type browser struct{ *apitest.Browser }

func newBrowser(h http.Handler, address string) browser {
	return browser{apitest.NewBrowser(h, address)}
}

// do sends a request and reads the answer as the queue's Status (zero
// when it is not one).
func (b browser) do(method, path, body string) (*httptest.ResponseRecorder, Status) {
	rec := b.Do(method, path, "", body)
	var st Status
	_ = json.Unmarshal(rec.Body.Bytes(), &st)
	return rec, st
}

func (b browser) join(svc string) (*httptest.ResponseRecorder, Status) {
	return b.do("POST", "/api/queue", `{"service_id": "`+svc+`"}`)
}

// admitted tells whether the browser's admission cookie lets it hold a
// slot of svc, as reserve checks it.
func (b browser) admitted(svc string, now time.Time) bool {
	r := apitest.Post("/api/holds", "", "")
	for _, c := range b.Cookies {
		r.AddCookie(c)
	}
	who := (&client.Identifier{Signer: apitest.Key}).Of(httptest.NewRecorder(), r, now)
	return (&admission.Tickets{Signer: apitest.Key}).Admitted(r, svc, who.ID, now)
}

func setRate(t testing.TB, store *postgres.Store, svc string, rate int) {
	t.Helper()
	if _, err := store.Pool.Exec(t.Context(), `UPDATE services SET admission_per_minute = $2 WHERE id = $1`, svc, rate); err != nil {
		t.Fatal(err)
	}
}

// TestNoRoomAdmitsAtOnce: a service without a waiting room admits every
// citizen at once, writing nothing.
func TestNoRoomAdmitsAtOnce(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{}, handlerOf(60))
	maria := newBrowser(h, "192.0.2.1")
	snap := apitest.Snap(t)
	rec, st := maria.join(svc)
	if rec.Code != http.StatusOK || !st.Admitted || st.QueueToken != "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("join: %d %s", rec.Code, rec.Body)
	}
	if !maria.admitted(svc, apitest.Monday) || maria.admitted("another-service", apitest.Monday) {
		t.Error("the admission does not admit to this service only")
	}
	var rooms int
	_ = store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM waiting_rooms WHERE service_id = $1`, svc).Scan(&rooms)
	if after := apitest.Snap(t); after != snap || rooms != 0 {
		t.Errorf("a join without a room wrote (%d rooms)", rooms)
	}
}

// TestFirstComeFirstServed: with a room of one citizen a second, six
// browsers that come together are let in one a second in the order they
// came; a reload (the same token) keeps the place; another browser cannot
// use the token.
func TestFirstComeFirstServed(t *testing.T) {
	store, clk, h, svc := apitest.Open(t, pgtest.Service{}, handlerOf(60))
	setRate(t, store, svc, 60)
	t0 := clk.Now()
	var citizens []browser
	var tokens []string
	for i := range 6 {
		b := newBrowser(h, fmt.Sprintf("192.0.2.%d", 10+i))
		rec, st := b.join(svc)
		if rec.Code != http.StatusOK {
			t.Fatalf("join %d: %d %s", i, rec.Code, rec.Body)
		}
		switch {
		case i == 0 && !st.Admitted:
			t.Errorf("the first in an empty room waits: %s", rec.Body)
		case i > 0 && (st.Admitted || st.Position != int64(i) || *st.Ahead != int64(i-1) || *st.EstimateSeconds != int64(i) || st.RatePerMinute != 60):
			t.Errorf("the %d-th: %s, want position %d, %d ahead, %d s", i+1, rec.Body, i, i-1, i)
		}
		citizens = append(citizens, b)
		tokens = append(tokens, st.QueueToken)
	}
	for sec := 1; sec <= 5; sec++ {
		clk.Set(t0.Add(time.Duration(sec) * time.Second))
		for i := 1; i < 6; i++ {
			rec, st := citizens[i].do("GET", "/api/queue/"+tokens[i], "")
			if rec.Code != http.StatusOK {
				t.Fatalf("poll: %d %s", rec.Code, rec.Body)
			}
			if want := i <= sec; st.Admitted != want {
				t.Errorf("at +%ds the %d-th admitted = %v, want %v", sec, i+1, st.Admitted, want)
			}
			if st.Admitted != citizens[i].admitted(svc, clk.Now()) {
				t.Errorf("at +%ds the %d-th's answer and ticket disagree", sec, i+1)
			}
			if !st.Admitted && st.Position != int64(i-sec) {
				t.Errorf("at +%ds the %d-th is at %d, want %d", sec, i+1, st.Position, i-sec)
			}
		}
	}
	for _, tc := range []struct {
		name string
		b    browser
		tok  string
	}{
		{"another browser's token", newBrowser(h, "192.0.2.99"), tokens[3]},
		{"a forged token", citizens[3], forge(tokens[3])},
		{"garbage", citizens[3], "nonsense"},
	} {
		r := apitest.Get("/api/queue/" + tc.tok)
		for _, c := range tc.b.Cookies {
			r.AddCookie(c)
		}
		apitest.RefusedServe(t, tc.name, apitest.Want(404, "not_found", "queue_token"), h, r)
	}
}

// TestRacingJoins: forty browsers join at once; each takes its own place.
func TestRacingJoins(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{}, handlerOf(0))
	setRate(t, store, svc, 1)
	type joined struct {
		code     int
		admitted bool
		position int64
	}
	joins := clienttest.Race(40, func(i int) joined {
		rec, st := newBrowser(h, fmt.Sprintf("198.51.100.%d", i)).join(svc)
		if rec.Code != http.StatusOK {
			t.Errorf("join: %d %s", rec.Code, rec.Body)
		}
		return joined{rec.Code, st.Admitted, st.Position}
	})
	seen := map[int64]int{}
	admitted := 0
	for _, j := range joins {
		switch {
		case j.code != http.StatusOK:
		case j.admitted:
			admitted++
		default:
			seen[j.position]++
		}
	}
	if admitted != 1 || len(seen) != 39 {
		t.Errorf("%d admitted and %d distinct places for 39 waiting", admitted, len(seen))
	}
	for p := int64(1); p <= 39; p++ {
		if seen[p] != 1 {
			t.Errorf("place %d taken %d times", p, seen[p])
		}
	}
}

// TestJoinsPerAddress: one address joins at most so many times a minute;
// over, a 429 that takes no place.
func TestJoinsPerAddress(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{}, handlerOf(3))
	setRate(t, store, svc, 10)
	for i := range 3 {
		if rec, _ := newBrowser(h, "203.0.113.5").join(svc); rec.Code != http.StatusOK {
			t.Fatalf("join %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	r := apitest.Request("POST", "/api/queue", "", `{"service_id": "`+svc+`"}`)
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	r.RemoteAddr = "10.1.2.3:41000"
	apitest.RefusedServe(t, "the fourth join in a minute", apitest.Want(429, "rate_limited", ""), h, r)
	var next int64
	_ = store.Pool.QueryRow(t.Context(), `SELECT next_position FROM waiting_rooms WHERE service_id = $1`, svc).Scan(&next)
	if next != 3 {
		t.Errorf("%d places taken, want 3", next)
	}
}

// TestAutomaticRoom: a room opened because holds got slow queues the
// citizens of a service that has no rate of its own, until it closes.
func TestAutomaticRoom(t *testing.T) {
	store, clk, h, svc := apitest.Open(t, pgtest.Service{}, handlerOf(0))
	if err := store.OpenRoom(t.Context(), svc, clk.Now().Add(10*time.Minute), 6); err != nil {
		t.Fatal(err)
	}
	if _, st := newBrowser(h, "192.0.2.1").join(svc); st.Admitted {
		t.Error("the first after the room opened is admitted at once, want a place's time")
	}
	if _, st := newBrowser(h, "192.0.2.2").join(svc); st.Admitted || st.RatePerMinute != 6 || *st.EstimateSeconds != 20 {
		t.Errorf("the second: %+v, want 20 s at 6 a minute", st)
	}
	clk.Advance(11 * time.Minute)
	if _, st := newBrowser(h, "192.0.2.3").join(svc); !st.Admitted {
		t.Error("the room stayed open after its time")
	}
}

// forge moves a queue token's place to the head of the queue, keeping its
// signature.
func forge(tok string) string {
	f := strings.Split(tok, ".")
	f[2] = "1" // q1.<service>.<position>.<client>.<expiry>.<signature>
	return strings.Join(f, ".")
}
