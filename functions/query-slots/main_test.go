package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// handler is the function on store, as the tests open it (apitest.Open).
func handler(store *postgres.Store) http.Handler { return newHandler(store, apitest.Discard, 0) }

// The expected response: each day's slots as the tests state them (start,
// end, free desks), answered in the calendar's compact shape (MarshalJSON).
type (
	wantSlot struct {
		Start string
		End   string
		Free  int
	}
	wantDay struct {
		Date  string
		Slots []wantSlot
	}
	wantResponse struct {
		ServiceID       string    `json:"service_id"`
		DurationMinutes int       `json:"duration_minutes"`
		TimeZone        string    `json:"time_zone"`
		From            string    `json:"from"`
		To              string    `json:"to"`
		Days            []wantDay `json:"days"`
	}
)

// MarshalJSON writes the day as the calendar answers it: the local start
// times with their offsets ("09:00+01:00"), and the free desks of each.
func (d wantDay) MarshalJSON() ([]byte, error) {
	day := Day{Date: d.Date}
	for _, s := range d.Slots {
		day.Times = append(day.Times, s.Start[11:16]+s.Start[19:])
		day.Free = append(day.Free, s.Free)
	}
	return json.Marshal(day)
}

func query(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return "/api/slots?" + v.Encode()
}

// TestSlots: the free slots of a service, grouped by local day, in the
// offset of their day (+01:00 before the 2027-03-28 DST change, +02:00
// after), with holidays, the patron day, the horizon and past times left
// out.
func TestSlots(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(store, apitest.Discard, 0))
	pool := store.Pool
	// Mondays and Tuesdays 09:00-10:00, two desks, 30-minute meetings.
	_, monTue := pgtest.NewService(t, pool, pgtest.Service{Desks: 2,
		Hours: map[int][][2]string{1: {{"09:00", "10:00"}}, 2: {{"09:00", "10:00"}}}})
	// Every day 09:00-09:30, a year ahead.
	daily := map[int][][2]string{}
	for d := 1; d <= 7; d++ {
		daily[d] = [][2]string{{"09:00", "09:30"}}
	}
	_, yearly := pgtest.NewService(t, pool, pgtest.Service{Horizon: 366, Hours: daily})
	// Mondays and Tuesdays, bookable only 8 days ahead (up to 2027-03-09).
	_, short := pgtest.NewService(t, pool, pgtest.Service{Horizon: 8, Duration: 60,
		Hours: map[int][][2]string{1: {{"09:00", "10:00"}}, 2: {{"09:00", "10:00"}}}})

	slot := func(start, end string, free int) wantSlot { return wantSlot{start, end, free} }
	for _, tc := range []struct {
		name   string
		target string
		want   wantResponse
	}{
		{
			name:   "DST and Easter Monday",
			target: query("service_id", monTue, "from", "2027-03-22", "to", "2027-03-30"),
			want: wantResponse{ServiceID: monTue, DurationMinutes: 30, TimeZone: "Europe/Rome", From: "2027-03-22", To: "2027-03-30",
				Days: []wantDay{
					{"2027-03-22", []wantSlot{slot("2027-03-22T09:00:00+01:00", "2027-03-22T09:30:00+01:00", 2), slot("2027-03-22T09:30:00+01:00", "2027-03-22T10:00:00+01:00", 2)}},
					{"2027-03-23", []wantSlot{slot("2027-03-23T09:00:00+01:00", "2027-03-23T09:30:00+01:00", 2), slot("2027-03-23T09:30:00+01:00", "2027-03-23T10:00:00+01:00", 2)}},
					// 2027-03-29 is Easter Monday: closed.
					{"2027-03-30", []wantSlot{slot("2027-03-30T09:00:00+02:00", "2027-03-30T09:30:00+02:00", 2), slot("2027-03-30T09:30:00+02:00", "2027-03-30T10:00:00+02:00", 2)}},
				}},
		},
		{
			name:   "patron day 6 December",
			target: query("service_id", yearly, "from", "2027-12-05", "to", "2027-12-07"),
			want: wantResponse{ServiceID: yearly, DurationMinutes: 30, TimeZone: "Europe/Rome", From: "2027-12-05", To: "2027-12-07",
				Days: []wantDay{
					{"2027-12-05", []wantSlot{slot("2027-12-05T09:00:00+01:00", "2027-12-05T09:30:00+01:00", 1)}},
					{"2027-12-07", []wantSlot{slot("2027-12-07T09:00:00+01:00", "2027-12-07T09:30:00+01:00", 1)}},
				}},
		},
		{
			name:   "defaults: today and 30 days, cut at the horizon",
			target: query("service_id", short),
			want: wantResponse{ServiceID: short, DurationMinutes: 60, TimeZone: "Europe/Rome", From: "2027-03-01", To: "2027-03-31",
				Days: []wantDay{
					{"2027-03-01", []wantSlot{slot("2027-03-01T09:00:00+01:00", "2027-03-01T10:00:00+01:00", 1)}},
					{"2027-03-02", []wantSlot{slot("2027-03-02T09:00:00+01:00", "2027-03-02T10:00:00+01:00", 1)}},
					{"2027-03-08", []wantSlot{slot("2027-03-08T09:00:00+01:00", "2027-03-08T10:00:00+01:00", 1)}},
					{"2027-03-09", []wantSlot{slot("2027-03-09T09:00:00+01:00", "2027-03-09T10:00:00+01:00", 1)}},
				}},
		},
		{
			name:   "from alone runs 30 days",
			target: query("service_id", short, "from", "2027-03-09"),
			want: wantResponse{ServiceID: short, DurationMinutes: 60, TimeZone: "Europe/Rome", From: "2027-03-09", To: "2027-04-08",
				Days: []wantDay{{"2027-03-09", []wantSlot{slot("2027-03-09T09:00:00+01:00", "2027-03-09T10:00:00+01:00", 1)}}}},
		},
		{
			name:   "beyond the horizon: no days",
			target: query("service_id", short, "from", "2027-03-10", "to", "2027-03-20"),
			want:   wantResponse{ServiceID: short, DurationMinutes: 60, TimeZone: "Europe/Rome", From: "2027-03-10", To: "2027-03-20", Days: []wantDay{}},
		},
		{
			name:   "in the past: no days",
			target: query("service_id", short, "from", "2027-02-01", "to", "2027-02-28"),
			want:   wantResponse{ServiceID: short, DurationMinutes: 60, TimeZone: "Europe/Rome", From: "2027-02-01", To: "2027-02-28", Days: []wantDay{}},
		},
		{
			name:   "92 days is the most",
			target: query("service_id", short, "from", "2027-03-01", "to", "2027-05-31"),
			want: wantResponse{ServiceID: short, DurationMinutes: 60, TimeZone: "Europe/Rome", From: "2027-03-01", To: "2027-05-31",
				Days: []wantDay{
					{"2027-03-01", []wantSlot{slot("2027-03-01T09:00:00+01:00", "2027-03-01T10:00:00+01:00", 1)}},
					{"2027-03-02", []wantSlot{slot("2027-03-02T09:00:00+01:00", "2027-03-02T10:00:00+01:00", 1)}},
					{"2027-03-08", []wantSlot{slot("2027-03-08T09:00:00+01:00", "2027-03-08T10:00:00+01:00", 1)}},
					{"2027-03-09", []wantSlot{slot("2027-03-09T09:00:00+01:00", "2027-03-09T10:00:00+01:00", 1)}},
				}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := apitest.Snap(t)
			rec := apitest.Serve(t, h, apitest.Get(tc.target))
			apitest.JSONAnswer(t, rec, http.StatusOK, "no-cache")
			apitest.SameJSONValue(t, rec.Body.Bytes(), tc.want)
			apitest.Unchanged(t, "query-slots", before)
		})
	}
}

// TestSlotsCapacity: each slot counts its free desks; a full slot is left
// out; a lapsed hold stops counting at once; today's past slots are gone.
func TestSlotsCapacity(t *testing.T) {
	store, clk, h, svc := apitest.Open(t, pgtest.Service{Desks: 2,
		Hours: map[int][][2]string{1: {{"09:00", "10:00"}}, 2: {{"09:00", "10:00"}}}}, handler)
	ctx := t.Context()
	for _, start := range []time.Time{apitest.At("2027-03-02", "09:00"), apitest.At("2027-03-02", "09:30"), apitest.At("2027-03-02", "09:30")} {
		if _, err := store.Reserve(ctx, svc, start, "it"); err != nil {
			t.Fatal(err)
		}
	}
	target := query("service_id", svc, "from", "2027-03-01", "to", "2027-03-02")
	get := func() []byte {
		t.Helper()
		rec := apitest.Serve(t, h, apitest.Get(target))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	resp := func(monday []wantSlot, tuesday ...wantSlot) wantResponse {
		r := wantResponse{ServiceID: svc, DurationMinutes: 30, TimeZone: "Europe/Rome", From: "2027-03-01", To: "2027-03-02"}
		if len(monday) > 0 {
			r.Days = append(r.Days, wantDay{"2027-03-01", monday})
		}
		r.Days = append(r.Days, wantDay{"2027-03-02", tuesday})
		return r
	}
	mon := []wantSlot{{"2027-03-01T09:00:00+01:00", "2027-03-01T09:30:00+01:00", 2}, {"2027-03-01T09:30:00+01:00", "2027-03-01T10:00:00+01:00", 2}}

	// One hold at 09:00 leaves one desk; two at 09:30 leave none.
	apitest.SameJSONValue(t, get(), resp(mon, wantSlot{"2027-03-02T09:00:00+01:00", "2027-03-02T09:30:00+01:00", 1}))

	// Ten minutes and a second later the holds have lapsed.
	clk.Advance(10*time.Minute + time.Second)
	apitest.SameJSONValue(t, get(), resp(mon,
		wantSlot{"2027-03-02T09:00:00+01:00", "2027-03-02T09:30:00+01:00", 2},
		wantSlot{"2027-03-02T09:30:00+01:00", "2027-03-02T10:00:00+01:00", 2}))

	// At 09:15 today's 09:00 slot has begun: only 09:30 is left today.
	clk.Set(apitest.At("2027-03-01", "09:15"))
	apitest.SameJSONValue(t, get(), resp(mon[1:],
		wantSlot{"2027-03-02T09:00:00+01:00", "2027-03-02T09:30:00+01:00", 2},
		wantSlot{"2027-03-02T09:30:00+01:00", "2027-03-02T10:00:00+01:00", 2}))
}

// TestBadQuery: every malformed query is a 4xx problem naming the
// parameter at fault, never a 5xx, and writes nothing.
func TestBadQuery(t *testing.T) {
	_, _, h, svc := apitest.Open(t, pgtest.Service{}, handler)

	bad := func(field string) apitest.Verdict { return apitest.Want(400, "invalid", field) }
	notFound := apitest.Want(404, "not_found", "service_id")
	for _, tc := range []struct {
		name   string
		target string
		want   apitest.Verdict
	}{
		{"no parameters", "/api/slots", bad("service_id")},
		{"empty service_id", query("service_id", ""), bad("service_id")},
		{"missing service_id", query("from", "2027-03-01"), bad("service_id")},
		{"from not a date", query("service_id", svc, "from", "domani"), bad("from")},
		{"from without zero padding", query("service_id", svc, "from", "2027-3-1"), bad("from")},
		{"from 30 February", query("service_id", svc, "from", "2027-02-30"), bad("from")},
		{"from with a time", query("service_id", svc, "from", "2027-03-01T09:00:00+01:00"), bad("from")},
		{"to in Italian form", query("service_id", svc, "to", "01/03/2027"), bad("to")},
		{"to before from", query("service_id", svc, "from", "2027-03-10", "to", "2027-03-09"), bad("to")},
		{"to before today, from defaulted", query("service_id", svc, "to", "2027-02-28"), bad("to")},
		{"93 days", query("service_id", svc, "from", "2027-03-01", "to", "2027-06-01"), bad("to")},
		{"a year", query("service_id", svc, "from", "2027-03-01", "to", "2028-03-01"), bad("to")},
		{"unknown parameter", query("service_id", svc, "desk", "1"), bad("desk")},
		{"unknown service", query("service_id", "no-such-service"), notFound},
		{"service id with NUL", query("service_id", "a\x00b"), notFound},
		{"service id not UTF-8", "/api/slots?service_id=%ff%fe", notFound},
		{"service id with quotes", query("service_id", "x' OR '1'='1"), notFound},
		{"unknown path", "/api/slot?service_id=" + svc, apitest.Want(404, "not_found", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RefusedServe(t, "", tc.want, h, apitest.Get(tc.target))
		})
	}
}

// TestCalendarOnTheWire: a 60-day calendar of a 5-desk, 15-minute service
// is compressed when the client accepts gzip (the same JSON, far smaller),
// carries a weak ETag, and a client that has it gets a 304 without a body.
func TestCalendarOnTheWire(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(store, apitest.Discard, time.Second))
	week := map[int][][2]string{}
	for d := 1; d <= 5; d++ {
		week[d] = [][2]string{{"09:00", "13:00"}, {"14:00", "17:00"}}
	}
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 5, Duration: 15, Horizon: 90, Hours: week})
	target := query("service_id", svc, "from", "2027-03-01", "to", "2027-04-29")
	get := func(header ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := apitest.Get(target)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return apitest.Serve(t, h, r)
	}
	plain := get()
	zipped := get("Accept-Encoding", "gzip, deflate, br")
	if zipped.Code != http.StatusOK || zipped.Header().Get("Content-Encoding") != "gzip" || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("statuses %d %d, encodings %q %q", plain.Code, zipped.Code, plain.Header().Get("Content-Encoding"), zipped.Header().Get("Content-Encoding"))
	}
	wire := zipped.Body.Len()
	zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatalf("the gzip body is not the plain one: %v", err)
	}
	c := apitest.Decode[Calendar](t, plain.Body.Bytes())
	times := 0
	for _, d := range c.Days {
		times += len(d.Times)
	}
	if len(c.Days) < 40 || times != len(c.Days)*28 {
		t.Errorf("%d days, %d times: want about 42 working days of 28 starts each", len(c.Days), times)
	}
	if wire == 0 || wire > 20<<10 {
		t.Errorf("the 60-day calendar is %d bytes on the wire, want at most 20 KiB", wire)
	}
	t.Logf("60 days, %d starts: %d bytes of JSON, %d gzipped", times, plain.Body.Len(), wire)
	etag := plain.Header().Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) || zipped.Header().Get("ETag") != etag || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("ETags %q and %q, Vary %q", etag, zipped.Header().Get("ETag"), plain.Header().Get("Vary"))
	}
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag} {
		rec := get("If-None-Match", inm, "Accept-Encoding", "gzip")
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: status %d, %d bytes; want 304 without a body", inm, rec.Code, rec.Body.Len())
		}
	}
	if rec := get("If-None-Match", `W/"other"`); rec.Code != http.StatusOK {
		t.Errorf("another ETag: status %d, want 200", rec.Code)
	}
}

// TestCalendarReuse: within the maximum age an answer is reused — a hold
// made meanwhile shows after it, not before (the documented staleness) —
// and however many requests ask at once, the calendar is built once.
func TestCalendarReuse(t *testing.T) {
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := &answers{maxAge: time.Second, now: clock}
	var builds atomic.Int32
	build := func(at time.Time) (answer, error) {
		builds.Add(1)
		time.Sleep(20 * time.Millisecond) // a database query
		return answer{raw: []byte(fmt.Sprint(builds.Load())), made: at}, nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.get("k", build); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("50 requests at once built the calendar %d times, want 1", n)
	}
	mu.Lock()
	now = now.Add(999 * time.Millisecond)
	mu.Unlock()
	if got, _ := a.get("k", build); string(got.raw) != "1" {
		t.Errorf("within the maximum age the answer was built again: %s", got.raw)
	}
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	if got, _ := a.get("k", build); string(got.raw) != "2" {
		t.Errorf("after the maximum age the old answer was reused: %s", got.raw)
	}

	// Through the handler, on the database: a hold shows a second later.
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, newHandler(store, apitest.Discard, time.Second))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Hours: map[int][][2]string{2: {{"09:00", "09:30"}}}})
	target := query("service_id", svc, "from", "2027-03-02", "to", "2027-03-02")
	days := func() int {
		return len(apitest.Decode[Calendar](t, apitest.Serve(t, h, apitest.Get(target)).Body.Bytes()).Days)
	}
	if n := days(); n != 1 {
		t.Fatalf("%d days free before the hold, want 1", n)
	}
	if _, err := store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "09:00"), "it"); err != nil {
		t.Fatal(err)
	}
	stale := days()
	time.Sleep(time.Second)
	if fresh := days(); fresh != 0 {
		t.Errorf("a second after the hold the slot still shows free (%d days; at once: %d)", fresh, stale)
	}
}

// TestCalendarRefreshedAhead: past three quarters of its age an answer is
// built again in the background, once however many requests come, and
// they get the answer they had meanwhile without waiting for the build;
// the next requests get the new one. Past the whole age, a request waits.
func TestCalendarRefreshedAhead(t *testing.T) {
	t0 := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	set := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	a := &answers{maxAge: time.Second, now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	var builds atomic.Int32
	gate := make(chan struct{}, 10)
	build := func(at time.Time) (answer, error) {
		<-gate // the database's answer
		return answer{raw: []byte(fmt.Sprint(builds.Add(1))), made: at}, nil
	}
	get := func(when time.Duration) string {
		t.Helper()
		set(when)
		done := make(chan string, 1)
		go func() {
			got, err := a.get("k", build)
			if err != nil {
				t.Error(err)
			}
			done <- string(got.raw)
		}()
		select {
		case s := <-done:
			return s
		case <-time.After(2 * time.Second):
			t.Fatalf("at +%s the request waited for a build", when)
			return ""
		}
	}

	gate <- struct{}{}
	if got := get(0); got != "1" {
		t.Fatalf("the first answer: %s", got)
	}
	if got := get(700 * time.Millisecond); got != "1" || builds.Load() != 1 {
		t.Errorf("at +700ms: %s after %d builds, want the first answer and no build", got, builds.Load())
	}
	for range 20 { // the build is held at the gate meanwhile
		if got := get(800 * time.Millisecond); got != "1" {
			t.Errorf("at +800ms, during the build ahead: %s, want the answer of before", got)
		}
	}
	gate <- struct{}{}
	for deadline := time.Now().Add(5 * time.Second); builds.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); get(900*time.Millisecond) != "2" && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the build kept its answer just after counting
	}
	if got := get(900 * time.Millisecond); got != "2" {
		t.Errorf("after the build ahead: %s, want the new answer", got)
	}
	if n := builds.Load(); n != 2 {
		t.Errorf("21 requests past three quarters of the age built %d times in all, want 2", n)
	}
	// Past the whole age (the second answer was made at +800ms): the
	// request waits for a new build.
	set(1900 * time.Millisecond)
	waited := make(chan string, 1)
	go func() { got, _ := a.get("k", build); waited <- string(got.raw) }()
	select {
	case got := <-waited:
		t.Fatalf("past the whole age a request got %s without a build", got)
	case <-time.After(100 * time.Millisecond):
	}
	gate <- struct{}{}
	select {
	case got := <-waited:
		if got != "3" {
			t.Errorf("past the whole age: %s, want a new answer", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("past the whole age the build never answered")
	}

	// A build ahead that panics is an error, not the end of the process;
	// the answer of before is still served meanwhile.
	set(2700 * time.Millisecond)
	panics := func(time.Time) (answer, error) { panic("a bug") }
	if got, err := a.get("k", panics); err != nil || string(got.raw) != "3" {
		t.Errorf("during a build ahead that panics: %q, %v; want the answer of before", got.raw, err)
	}
	set(3 * time.Second)
	if _, err := a.get("k", panics); err == nil || !strings.Contains(err.Error(), "panic: a bug") {
		t.Errorf("a build that panics answered %v, want its panic as an error", err)
	}
}
