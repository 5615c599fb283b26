package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/auth"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

type fixture struct {
	store   *postgres.Store
	clock   *clock.Fixed
	service string
	lk      *rooms.LiveKit
	h       http.Handler
}

// newFixture is a join handler in front of the real LiveKit server, on a
// store whose clock is fixed at now, with a service of the given shape.
func newFixture(t testing.TB, now time.Time, svc pgtest.Service) *fixture {
	t.Helper()
	store, clk := pgtest.Store(t, now)
	_, id := pgtest.NewService(t, store.Pool, svc)
	lk := roomstest.LiveKit(t)
	return &fixture{store: store, clock: clk, service: id, lk: lk, h: apitest.Validated(t, newHandler(store, lk, apitest.Discard))}
}

func (f *fixture) book(t testing.TB, start time.Time) booking.Confirmation {
	t.Helper()
	c := pgtest.Book(t, f.store, f.service, start)
	roomstest.Cleanup(t, f.lk, rooms.Name(c.ID))
	return c
}

// join posts to /api/join; an empty token sends no Authorization header,
// an empty body none.
func join(token, body string) *http.Request {
	return apitest.Request(http.MethodPost, "/api/join", token, body)
}

// serve runs a request through join: never a 5xx, always no-store.
func (f *fixture) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, f.h, r, apitest.NoStore)
}

// joined decodes a 200 answer.
func joined(t *testing.T, rec *httptest.ResponseRecorder) JoinResponse {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	res := apitest.Decode[JoinResponse](t, rec.Body.Bytes())
	return res
}

// grantsOf verifies a LiveKit token with the API secret and returns its
// claims and grants.
func grantsOf(t *testing.T, lk *rooms.LiveKit, jwt string) (time.Time, *auth.ClaimGrants) {
	t.Helper()
	v, err := auth.ParseAPIToken(jwt)
	if err != nil {
		t.Fatal(err)
	}
	claims, grants, err := v.Verify(lk.Config.APISecret)
	if err != nil {
		t.Fatalf("token does not verify with the API secret: %v", err)
	}
	return claims.ExpiresAt.Time, grants
}

// TestCredentials: no token is 401; an unknown, tampered or malformed
// token is a plain 404 that says nothing more; nothing is written.
func TestCredentials(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-01", "09:00"))
	f.clock.Set(apitest.At("2027-03-01", "08:55")) // inside the window: only the token can fail
	unknown, _ := secret.New()
	tampered := []byte(c.ManageToken)
	tampered[5] ^= 1
	if tampered[5] == '-' || tampered[5] == '_' {
		tampered[5] = 'A'
	}
	basic := join("", "")
	basic.Header.Set("Authorization", "Basic "+c.ManageToken)

	before := apitest.Snap(t)
	for _, tc := range []struct {
		name string
		r    *http.Request
		want apitest.Verdict
	}{
		{"no token", join("", ""), apitest.Want(401, "unauthorized", "Authorization")},
		{"not bearer", basic, apitest.Want(401, "unauthorized", "Authorization")},
		{"unknown", join(unknown, ""), apitest.Want(404, "not_found", "token")},
		{"tampered", join(string(tampered), ""), apitest.Want(404, "not_found", "token")},
		{"malformed", join("not-a-token", ""), apitest.Want(404, "not_found", "token")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.serve(t, tc.r)
			p := apitest.ProblemOf(t, rec, apitest.NoStore)
			if got := apitest.VerdictOf(rec, p); got != tc.want {
				t.Errorf("got %+v, want %+v: %s", got, tc.want, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "sportello-") {
				t.Errorf("the answer names a room: %s", rec.Body)
			}
		})
	}
	apitest.Unchanged(t, "the request", before)
	roomstest.Absent(t, f.lk, rooms.Name(c.ID), "a refused join")
}

// TestBeforeWindow: before the window join answers 409 not_yet_open with
// the opening time (and Retry-After), mints nothing and creates no room.
func TestBeforeWindow(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "09:30"))
	for _, tc := range []struct {
		now        time.Time
		retryAfter string
	}{
		{apitest.Monday, "91200"}, // 25h20m before 09:20 the next day
		{apitest.At("2027-03-02", "09:20").Add(-time.Second), "1"},
		{apitest.At("2027-03-02", "09:20").Add(-time.Millisecond), "1"},
	} {
		f.clock.Set(tc.now)
		before := apitest.Snap(t)
		rec := f.serve(t, join(c.ManageToken, ""))
		if rec.Code != http.StatusConflict {
			t.Fatalf("at %s: status %d, want 409: %s", tc.now, rec.Code, rec.Body)
		}
		apitest.ProblemOf(t, rec, apitest.NoStore)
		apitest.SameJSON(t, rec.Body.Bytes(), `{
			"type": "urn:sportello:problem:not_yet_open", "title": "Conflict", "status": 409, "code": "not_yet_open",
			"detail": "the room opens at 2027-03-02T09:20:00+01:00",
			"opens_at": "2027-03-02T09:20:00+01:00", "closes_at": "2027-03-02T10:15:00+01:00"}`)
		if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("at %s: Retry-After %q, want %q", tc.now, got, tc.retryAfter)
		}
		apitest.Unchanged(t, "the request", before)
	}
	roomstest.Absent(t, f.lk, rooms.Name(c.ID), "a join before the window")
}

// TestAfterWindow: from the end of the window join answers 410 expired;
// a moment before, it still lets the citizen in.
func TestAfterWindow(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "09:30"))
	closes := apitest.At("2027-03-02", "10:15")
	for _, now := range []time.Time{closes, closes.Add(time.Second), closes.AddDate(0, 1, 0)} {
		f.clock.Set(now)
		rec := f.serve(t, join(c.ManageToken, ""))
		if rec.Code != http.StatusGone {
			t.Fatalf("at %s: status %d, want 410: %s", now, rec.Code, rec.Body)
		}
		apitest.ProblemOf(t, rec, apitest.NoStore)
		apitest.SameJSON(t, rec.Body.Bytes(), `{
			"type": "urn:sportello:problem:expired", "title": "Gone", "status": 410, "code": "expired",
			"detail": "the room closed at 2027-03-02T10:15:00+01:00",
			"opens_at": "2027-03-02T09:20:00+01:00", "closes_at": "2027-03-02T10:15:00+01:00"}`)
	}
	roomstest.Absent(t, f.lk, rooms.Name(c.ID), "a join after the window")
	f.clock.Set(closes.Add(-time.Second))
	res := joined(t, f.serve(t, join(c.ManageToken, "")))
	if !res.ExpiresAt.Equal(closes) {
		t.Errorf("expires_at %s, want %s", res.ExpiresAt, closes)
	}
}

// TestCancelled: a cancelled booking has no room: 409.
func TestCancelled(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "10:00"))
	if _, err := f.store.Cancel(t.Context(), c.ManageToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(apitest.At("2027-03-02", "10:00"))
	rec := f.serve(t, join(c.ManageToken, ""))
	p := apitest.ProblemOf(t, rec, apitest.NoStore)
	if got, want := apitest.VerdictOf(rec, p), apitest.Want(409, "conflict", "token"); got != want {
		t.Errorf("got %+v, want %+v: %s", got, want, rec.Body)
	}
	roomstest.Absent(t, f.lk, rooms.Name(c.ID), "joining a cancelled booking")
}

// TestCompleted: once the office marks the appointment completed, the
// room is over even inside the window: 410 expired.
func TestCompleted(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "10:00"))
	if _, err := f.store.Pool.Exec(t.Context(), `UPDATE bookings SET status = 'completed' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(apitest.At("2027-03-02", "10:20"))
	rec := f.serve(t, join(c.ManageToken, ""))
	if p := apitest.ProblemOf(t, rec, apitest.NoStore); rec.Code != http.StatusGone || p.Code != string(apperr.Expired) {
		t.Errorf("status %d code %q, want 410 expired: %s", rec.Code, p.Code, rec.Body)
	}
}

// TestInsideWindow: inside the window join makes sure the room exists on
// LiveKit and answers a token for that room only, for the citizen's
// identity and name, until the window closes; the answer is not cacheable.
func TestInsideWindow(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "09:30"))
	now := apitest.At("2027-03-02", "09:20")
	f.clock.Set(now)

	rec := f.serve(t, join(c.ManageToken, ""))
	res := joined(t, rec)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	name := rooms.Name(c.ID)
	closes := apitest.At("2027-03-02", "10:15")
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	delete(body, "token")
	want := map[string]any{"url": os.Getenv("LIVEKIT_URL"), "room": name, "identity": "citizen-" + c.ID,
		"expires_at": apitest.RFC3339(closes), "opens_at": apitest.RFC3339(now), "closes_at": apitest.RFC3339(closes)}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("answer without the token (-want +got):\n%s", diff)
	}

	exp, grants := grantsOf(t, f.lk, res.Token)
	yes := true
	wantGrant := &auth.VideoGrant{RoomJoin: true, Room: name, CanPublish: &yes, CanSubscribe: &yes, CanPublishData: &yes}
	if diff := cmp.Diff(wantGrant, grants.Video); diff != "" {
		t.Errorf("video grant (-want +got):\n%s", diff)
	}
	if grants.Identity != "citizen-"+c.ID || grants.Name != "Maria" {
		t.Errorf("identity %q, name %q; want the booking's and the given name", grants.Identity, grants.Name)
	}
	// LiveKit counts from the real time of minting; the token lasts as
	// long as the window has left (55 minutes here).
	if left := time.Until(exp); left < 54*time.Minute || left > 55*time.Minute {
		t.Errorf("token valid for %s more, want 55m", left)
	}
	room := roomstest.Room(t, f.lk, name)
	if room == nil {
		t.Fatal("join did not create the room")
	}
	if room.MaxParticipants != 4 {
		t.Errorf("max participants %d, want 4", room.MaxParticipants)
	}

	// LiveKit dropped the room (empty timeout, restart): join brings it back.
	if err := f.lk.Delete(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	joined(t, f.serve(t, join(c.ManageToken, "")))
	if roomstest.Room(t, f.lk, name) == nil {
		t.Error("join did not create the room again")
	}
}

// TestDisplayName: the citizen may choose the name the operator sees, up
// to 60 characters; bad bodies are 4xx naming the field.
func TestDisplayName(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "09:30"))
	f.clock.Set(apitest.At("2027-03-02", "09:30"))
	sixty := strings.Repeat("è", 60)
	for _, tc := range []struct {
		body, want string
	}{
		{"", "Maria"},
		{`{}`, "Maria"},
		{`{"display_name": ""}`, "Maria"},
		{`{"display_name": "   "}`, "Maria"},
		{`{"display_name": " Arch. Bianchi "}`, "Arch. Bianchi"},
		{`{"display_name": "` + sixty + `"}`, sixty},
	} {
		res := joined(t, f.serve(t, join(c.ManageToken, tc.body)))
		if _, g := grantsOf(t, f.lk, res.Token); g.Name != tc.want {
			t.Errorf("body %s: name %q, want %q", tc.body, g.Name, tc.want)
		}
	}
	for _, tc := range []struct {
		name, body, contentType string
		want                    apitest.Verdict
	}{
		{"too long", `{"display_name": "` + sixty + `x"}`, "application/json", apitest.Want(400, "invalid", "display_name")},
		{"control character", `{"display_name": "Maria\u0007"}`, "application/json", apitest.Want(400, "invalid", "display_name")},
		{"not a string", `{"display_name": 42}`, "application/json", apitest.Want(400, "invalid", "display_name")},
		{"unknown field", `{"room": "sportello-other"}`, "application/json", apitest.Want(400, "invalid", "room")},
		{"not JSON", `display_name=Maria`, "application/x-www-form-urlencoded", apitest.Want(415, "unsupported_media_type", "Content-Type")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := apitest.Post("/api/join", tc.body, tc.contentType)
			r.Header.Set("Authorization", "Bearer "+c.ManageToken)
			rec := f.serve(t, r)
			p := apitest.ProblemOf(t, rec, apitest.NoStore)
			if got := apitest.VerdictOf(rec, p); got != tc.want {
				t.Errorf("got %+v, want %+v: %s", got, tc.want, rec.Body)
			}
		})
	}
}

// TestWindowFromRoomsRow: join follows the window provision-room recorded
// for the booking's current sequence, and computes it from the booking when
// the row is missing or behind (provision-room has not seen the reschedule).
func TestWindowFromRoomsRow(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	start := apitest.At("2027-03-02", "09:30")
	c := f.book(t, start)
	ctx := t.Context()
	// provision-room ran with JOIN_OPENS_BEFORE=30m.
	if _, err := f.store.Pool.Exec(ctx, `
		INSERT INTO rooms (booking_id, name, opens_at, closes_at, sequence, updated_at) VALUES ($1, $2, $3, $4, 0, $5)`,
		c.ID, rooms.Name(c.ID), start.Add(-30*time.Minute), start.Add(45*time.Minute), apitest.Monday); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(start.Add(-20 * time.Minute))
	res := joined(t, f.serve(t, join(c.ManageToken, "")))
	if !res.OpensAt.Equal(start.Add(-30 * time.Minute)) {
		t.Errorf("opens_at %s, want the recorded one", res.OpensAt)
	}

	// Rescheduled to 10:30; the row still says 09:30 (sequence 0).
	f.clock.Set(apitest.Monday)
	if _, err := f.store.Reschedule(ctx, c.ManageToken, apitest.At("2027-03-02", "10:30")); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(start)
	rec := f.serve(t, join(c.ManageToken, ""))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), `"opens_at":"2027-03-02T10:20:00+01:00"`) {
		t.Errorf("with a stale rooms row: status %d %s; want 409 opening at 10:20", rec.Code, rec.Body)
	}
}

// TestLiveKitDown: LiveKit unreachable inside the window is a 503 the page
// can retry, not a token for a room that may not exist.
func TestLiveKitDown(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	c := f.book(t, apitest.At("2027-03-02", "09:30"))
	f.clock.Set(apitest.At("2027-03-02", "09:30"))
	cfg := f.lk.Config
	cfg.URL, cfg.Timeout = "http://127.0.0.1:1", 2*time.Second
	h := apitest.Validated(t, newHandler(f.store, rooms.New(cfg), apitest.Discard))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, join(c.ManageToken, ""))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	p := apitest.ProblemOf(t, rec, apitest.NoStore)
	if p.Code != string(apperr.Unavailable) || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Body.String(), "token\"") {
		t.Errorf("problem %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
}

// TestMethods: only POST.
func TestMethods(t *testing.T) {
	f := newFixture(t, apitest.Monday, pgtest.Service{})
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, apitest.Get("/api/join"))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/join/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("other path: status %d", rec.Code)
	}
}

// TestCall (real LiveKit, real time): inside the window of a zero-notice
// booking, the citizen connects with the token join answered and the
// operator side with a token minted with the API key; each sees the other,
// under the name the other chose, and a data message goes across. The
// citizen's token opens their own room only: another booking's room stays
// empty.
//
// LiveKit tokens are not valid before the real time of minting, so this
// test books a slot around the real now: a service with 5-minute slots all
// day and no holidays.
func TestCall(t *testing.T) {
	all := map[int][][2]string{}
	for d := 1; d <= 7; d++ {
		all[d] = [][2]string{{"00:00", "24:00"}}
	}
	real := time.Now()
	f := newFixture(t, real.Add(-time.Hour), pgtest.Service{Duration: 5, Desks: 2, Hours: all})
	f.store.Calendar.Holidays = nil // whatever today is
	start := real.Truncate(5 * time.Minute)
	mine, other := f.book(t, start), f.book(t, start)
	f.clock.Set(time.Now())

	res := joined(t, f.serve(t, join(mine.ManageToken, `{"display_name": "Maria R."}`)))
	otherRes := joined(t, f.serve(t, join(other.ManageToken, "")))
	if res.Room != rooms.Name(mine.ID) || otherRes.Room == res.Room {
		t.Fatalf("rooms %q and %q", res.Room, otherRes.Room)
	}

	var mu sync.Mutex
	var received []string
	opCallback := lksdk.NewRoomCallback()
	opCallback.OnDataPacket = func(p lksdk.DataPacket, params lksdk.DataReceiveParams) {
		if u, ok := p.(*lksdk.UserDataPacket); ok {
			mu.Lock()
			received = append(received, params.SenderIdentity+": "+string(u.Payload))
			mu.Unlock()
		}
	}
	opToken, err := f.lk.Token(res.Room, rooms.Participant{Identity: "operator-test", Name: "Ufficio SUE"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	citizen := clienttest.Connect(t, res.URL, res.Token, nil)
	operator := clienttest.Connect(t, res.URL, opToken, opCallback)

	if citizen.Name() != res.Room || operator.Name() != res.Room {
		t.Fatalf("connected to %q and %q, want %q", citizen.Name(), operator.Name(), res.Room)
	}
	sees := func(r *lksdk.Room, identity, name string) func() bool {
		return func() bool {
			p := r.GetParticipantByIdentity(identity)
			return p != nil && p.Name() == name
		}
	}
	clienttest.Eventually(t, 15*time.Second, "the citizen does not see the operator", sees(citizen, "operator-test", "Ufficio SUE"))
	clienttest.Eventually(t, 15*time.Second, "the operator does not see the citizen", sees(operator, "citizen-"+mine.ID, "Maria R."))
	if n := len(citizen.GetRemoteParticipants()); n != 1 {
		t.Errorf("the citizen sees %d remote participants, want 1", n)
	}

	clienttest.Eventually(t, 15*time.Second, "the operator did not receive the citizen's message", func() bool {
		_ = citizen.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("buongiorno")), lksdk.WithDataPublishReliable(true))
		mu.Lock()
		defer mu.Unlock()
		return len(received) > 0
	})
	mu.Lock()
	if got, want := received[0], fmt.Sprintf("citizen-%s: buongiorno", mine.ID); got != want {
		t.Errorf("operator received %q, want %q", got, want)
	}
	mu.Unlock()

	// The other booking's room exists (join made it) and nobody is in it:
	// the citizen's token took them to their own room only.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ps, err := f.lk.Participants(ctx, otherRes.Room)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Errorf("%d participants in the other booking's room, want none", len(ps))
	}
	ps, err = f.lk.Participants(ctx, res.Room)
	if err != nil {
		t.Fatal(err)
	}
	var identities []string
	for _, p := range ps {
		identities = append(identities, p.Identity)
	}
	if diff := cmp.Diff([]string{"citizen-" + mine.ID, "operator-test"}, identities, cmp.Transformer("sort", sortStrings)); diff != "" {
		t.Errorf("participants of the citizen's room (-want +got):\n%s", diff)
	}
	if _, g := grantsOf(t, f.lk, res.Token); g.Video.Room != res.Room || g.Video.RoomAdmin || g.Video.RoomList || g.Video.RoomCreate {
		t.Errorf("the citizen's token grants %+v, want joining %s only", g.Video, res.Room)
	}
}

func sortStrings(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
