package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/protojson"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// The key pair the handler under test trusts.
const (
	testKey    = "webhookkey"
	testSecret = "a-webhook-secret-of-at-least-32-characters"
)

type fixture struct {
	store   *postgres.Store
	service string
	logs    *apitest.Logs
	h       http.Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	store, _ := pgtest.Store(t, apitest.Monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 4})
	logs := apitest.NewLogs(t)
	return &fixture{store: store, service: svc, logs: logs,
		h: apitest.Validated(t, newHandler(store, testKey, testSecret, logs.Logger))}
}

// book makes a confirmed booking at 09:00 on the fixture's Monday.
func (f *fixture) book(t testing.TB) booking.Confirmation {
	t.Helper()
	return pgtest.Book(t, f.store, f.service, apitest.At("2027-03-01", "09:00"))
}

// The moments of the test call. LiveKit gives join times in milliseconds
// and an event's time in seconds: the times of leaving are whole seconds.
var (
	t0 = apitest.At("2027-03-01", "08:55").Add(123 * time.Millisecond)
	t1 = apitest.At("2027-03-01", "08:58").Add(456 * time.Millisecond)
	t2 = apitest.At("2027-03-01", "09:27").Add(789 * time.Millisecond)
	t3 = apitest.At("2027-03-01", "09:29").Add(12 * time.Millisecond)
)

// sec is t as LiveKit gives an event's time: in whole seconds.
func sec(t time.Time) time.Time { return t.Truncate(time.Second) }

// participant is a participant webhook as LiveKit sends it: joinedAt is
// LiveKit's join time of the connection, at the event's time.
func participant(event, room, identity string, joinedAt, at time.Time) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{
		Id: "EV_" + uuid.NewString()[:12], Event: event, CreatedAt: at.Unix(),
		Room: &livekit.Room{Sid: "RM_test", Name: room},
		Participant: &livekit.ParticipantInfo{Sid: "PA_test", Identity: identity, Name: "Maria Rossi",
			JoinedAt: joinedAt.Unix(), JoinedAtMs: joinedAt.UnixMilli(), State: livekit.ParticipantInfo_ACTIVE},
	}
}

func finished(room string, at time.Time) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Id: "EV_" + uuid.NewString()[:12], Event: "room_finished", CreatedAt: at.Unix(),
		Room: &livekit.Room{Sid: "RM_test", Name: room}}
}

func encode(t testing.TB, ev *livekit.WebhookEvent) []byte {
	t.Helper()
	b, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs body as LiveKit does: a JWT of the key pair whose sha256
// claim is the body's SHA-256 in base64.
func sign(t testing.TB, key, secret string, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	jwt, err := auth.NewAccessToken(key, secret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// expired is a signature of body, right but for its expiry ten minutes
// ago (LiveKit allows a minute of leeway). AccessToken cannot make one.
func expired(t *testing.T, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": testKey, "nbf": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix(),
		"sha256": base64.StdEncoding.EncodeToString(sum[:]),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// request posts body with the Authorization header auth ("" sends none).
func request(body []byte, authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/livekit/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/webhook+json")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

// attendance is what the store recorded of the booking's call.
func (f *fixture) attendance(t *testing.T, bookingID string) []booking.Attendance {
	t.Helper()
	sessions, err := f.store.Attendance(t.Context(), bookingID)
	if err != nil {
		t.Fatal(err)
	}
	return sessions
}

func (f *fixture) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, f.h, r, apitest.NoStore)
}

// post sends ev signed with the test's key and wants 200 with result.
func (f *fixture) post(t *testing.T, ev *livekit.WebhookEvent, result string) {
	t.Helper()
	body := encode(t, ev)
	rec := f.serve(t, request(body, sign(t, testKey, testSecret, body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %s\nlogs: %s", ev.Event, rec.Code, rec.Body, f.logs)
	}
	apitest.SameJSONValue(t, rec.Body.Bytes(), Response{Result: result})
}

// written counts what the handler can write: attendance, outbox and
// processed_events rows.
type written struct{ Attendance, Outbox, Processed int }

func state(t *testing.T) written {
	t.Helper()
	var w written
	err := pgtest.Pool(t).QueryRow(t.Context(), `
		SELECT (SELECT count(*) FROM attendance), (SELECT count(*) FROM outbox),
		       (SELECT count(*) FROM processed_events WHERE consumer = $1)`, Name).Scan(&w.Attendance, &w.Outbox, &w.Processed)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// emitted returns the data of the events of type typ about a booking, in
// the order written.
func emitted[T any](t *testing.T, bookingID, typ string) []T {
	t.Helper()
	rows, err := pgtest.Pool(t).Query(t.Context(),
		`SELECT data FROM outbox WHERE subject = $1 AND type = $2 ORDER BY (data->>'at')::timestamptz`, bookingID, typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		v := apitest.Decode[T](t, raw)
		out = append(out, v)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestSignature: only a webhook signed with the trusted key pair over this
// very body is taken; anything else is 401 and writes nothing.
func TestSignature(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	room := rooms.Name(c.ID)
	body := encode(t, participant("participant_joined", room, "citizen-"+c.ID, t0, t0))
	tampered := bytes.Replace(body, []byte("citizen-"), []byte("operator-"), 1)
	if bytes.Equal(body, tampered) {
		t.Fatal("the tampered body is the body")
	}
	for _, tc := range []struct {
		name          string
		body          []byte
		authorization string
	}{
		{"no Authorization header", body, ""},
		{"another secret", body, sign(t, testKey, "another-secret-of-at-least-32-characters!", body)},
		{"an unknown key", body, sign(t, "otherkey", testSecret, body)},
		{"a tampered body", tampered, sign(t, testKey, testSecret, body)},
		{"the signature of another body", body, sign(t, testKey, testSecret, encode(t, finished(room, t0)))},
		{"not a JWT", body, "Bearer " + testSecret},
		{"an expired token", body, expired(t, body)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t)
			rec := f.serve(t, request(tc.body, tc.authorization))
			if diff := cmp.Diff(apitest.Want(http.StatusUnauthorized, "unauthorized", "Authorization"), apitest.VerdictOf(rec, apitest.ProblemOf(t, rec))); diff != "" {
				t.Errorf("verdict (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, state(t)); diff != "" {
				t.Errorf("written (-before +after):\n%s", diff)
			}
		})
	}
	// The same body, signed right, is taken.
	f.post(t, participant("participant_joined", room, "citizen-"+c.ID, t0, t0), Recorded)
}

// TestJoinedAndLeft: the citizen and an operator join, and leave; each is a
// session in attendance and an event, with LiveKit's times.
func TestJoinedAndLeft(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	room := rooms.Name(c.ID)
	citizen, operator := "citizen-"+c.ID, "operator-"+uuid.NewString()

	f.post(t, participant("participant_joined", room, citizen, t0, t0), Recorded)
	f.post(t, participant("participant_joined", room, operator, t1, t1), Recorded)
	sessions := f.attendance(t, c.ID)
	want := []booking.Attendance{
		{Identity: citizen, Role: "citizen", JoinedAt: t0},
		{Identity: operator, Role: "operator", JoinedAt: t1},
	}
	if diff := cmp.Diff(want, sessions); diff != "" {
		t.Errorf("attendance after the joins (-want +got):\n%s", diff)
	}

	f.post(t, participant("participant_left", room, operator, t1, t2), Recorded)
	f.post(t, participant("participant_left", room, citizen, t0, t3), Recorded)
	sessions = f.attendance(t, c.ID)
	want[0].LeftAt, want[1].LeftAt = ptr(sec(t3)), ptr(sec(t2))
	if diff := cmp.Diff(want, sessions); diff != "" {
		t.Errorf("attendance after the leaves (-want +got):\n%s", diff)
	}

	wantJoined := []events.ParticipantData{
		{BookingID: c.ID, Room: room, Role: "citizen", Identity: citizen, At: t0},
		{BookingID: c.ID, Room: room, Role: "operator", Identity: operator, At: t1},
	}
	if diff := cmp.Diff(wantJoined, emitted[events.ParticipantData](t, c.ID, events.ParticipantJoined)); diff != "" {
		t.Errorf("participant.joined events (-want +got):\n%s", diff)
	}
	wantLeft := []events.ParticipantData{
		{BookingID: c.ID, Room: room, Role: "operator", Identity: operator, At: sec(t2)},
		{BookingID: c.ID, Room: room, Role: "citizen", Identity: citizen, At: sec(t3)},
	}
	if diff := cmp.Diff(wantLeft, emitted[events.ParticipantData](t, c.ID, events.ParticipantLeft)); diff != "" {
		t.Errorf("participant.left events (-want +got):\n%s", diff)
	}
	// The display name LiveKit sends is personal data: nowhere.
	var stored int
	if err := f.store.Pool.QueryRow(t.Context(),
		`SELECT count(*) FROM outbox WHERE subject = $1 AND data::text LIKE '%Rossi%'`, c.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 || strings.Contains(f.logs.String(), "Rossi") {
		t.Errorf("the display name was emitted (%d events) or logged: %s", stored, f.logs)
	}
}

// TestComesBack: a citizen who leaves and comes back has two sessions; a
// leave that arrives before its join still closes the right one.
func TestComesBack(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	room, citizen := rooms.Name(c.ID), "citizen-"+c.ID
	f.post(t, participant("participant_joined", room, citizen, t0, t0), Recorded)
	f.post(t, participant("participant_left", room, citizen, t0, t1), Recorded)
	// The second stay: its leave is delivered first.
	f.post(t, participant("participant_left", room, citizen, t2, t3), Recorded)
	f.post(t, participant("participant_joined", room, citizen, t2, t2), Recorded)
	sessions := f.attendance(t, c.ID)
	want := []booking.Attendance{
		{Identity: citizen, Role: "citizen", JoinedAt: t0, LeftAt: ptr(sec(t1))},
		{Identity: citizen, Role: "citizen", JoinedAt: t2, LeftAt: ptr(sec(t3))},
	}
	if diff := cmp.Diff(want, sessions); diff != "" {
		t.Errorf("attendance (-want +got):\n%s", diff)
	}
	if n := len(emitted[events.ParticipantData](t, c.ID, events.ParticipantJoined)); n != 2 {
		t.Errorf("%d participant.joined events, want 2", n)
	}
}

// TestDuplicate: LiveKit retries; the same webhook, again or at the same
// time, is one session and one event.
func TestDuplicate(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	ev := participant("participant_joined", rooms.Name(c.ID), "citizen-"+c.ID, t0, t0)
	f.post(t, ev, Recorded)
	f.post(t, ev, Duplicate)

	left := participant("participant_left", rooms.Name(c.ID), "citizen-"+c.ID, t0, t1)
	body := encode(t, left)
	results := make(chan string, 8)
	var wg sync.WaitGroup
	for range cap(results) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, request(body, sign(t, testKey, testSecret, body)))
			var res Response
			_ = json.Unmarshal(rec.Body.Bytes(), &res)
			results <- res.Result
		}()
	}
	wg.Wait()
	close(results)
	count := map[string]int{}
	for r := range results {
		count[r]++
	}
	if diff := cmp.Diff(map[string]int{Recorded: 1, Duplicate: cap(results) - 1}, count); diff != "" {
		t.Errorf("concurrent deliveries (-want +got):\n%s", diff)
	}
	sessions := f.attendance(t, c.ID)
	if diff := cmp.Diff([]booking.Attendance{{Identity: "citizen-" + c.ID, Role: "citizen", JoinedAt: t0, LeftAt: ptr(sec(t1))}}, sessions); diff != "" {
		t.Errorf("attendance (-want +got):\n%s", diff)
	}
	for typ, want := range map[string]int{events.ParticipantJoined: 1, events.ParticipantLeft: 1} {
		if n := apitest.EventsOf(t, c.ID, typ); n != want {
			t.Errorf("%d %s events, want %d", n, typ, want)
		}
	}
}

// TestRoomFinished: the room's end is an event and ends the sessions still
// open.
func TestRoomFinished(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	room := rooms.Name(c.ID)
	operator := "operator-" + uuid.NewString()
	f.post(t, participant("participant_joined", room, "citizen-"+c.ID, t0, t0), Recorded)
	f.post(t, participant("participant_joined", room, operator, t1, t1), Recorded)
	f.post(t, participant("participant_left", room, operator, t1, t2), Recorded)
	end := finished(room, t3)
	f.post(t, end, Recorded)
	f.post(t, end, Duplicate)
	sessions := f.attendance(t, c.ID)
	want := []booking.Attendance{
		{Identity: "citizen-" + c.ID, Role: "citizen", JoinedAt: t0, LeftAt: ptr(sec(t3))},
		{Identity: operator, Role: "operator", JoinedAt: t1, LeftAt: ptr(sec(t2))},
	}
	if diff := cmp.Diff(want, sessions); diff != "" {
		t.Errorf("attendance (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]events.RoomFinishedData{{BookingID: c.ID, Room: room, At: sec(t3)}},
		emitted[events.RoomFinishedData](t, c.ID, events.RoomFinished)); diff != "" {
		t.Errorf("room.finished events (-want +got):\n%s", diff)
	}
}

// TestIgnored: webhooks that are not about a booking's room, its citizen
// or an operator are answered 200 (LiveKit must not retry them) and write
// nothing.
func TestIgnored(t *testing.T) {
	f := newFixture(t)
	c := f.book(t)
	room := rooms.Name(c.ID)
	other := uuid.NewString()
	track := participant("track_published", room, "citizen-"+c.ID, t0, t0)
	for _, tc := range []struct {
		name string
		ev   *livekit.WebhookEvent
	}{
		{"another room", participant("participant_joined", "lobby", "citizen-"+c.ID, t0, t0)},
		{"a room that is no uuid", participant("participant_joined", "sportello-42", "citizen-42", t0, t0)},
		{"a room of an unknown booking", participant("participant_joined", rooms.Name(other), "citizen-"+other, t0, t0)},
		{"another booking's citizen", participant("participant_joined", room, "citizen-"+other, t0, t0)},
		{"an identity of nobody known", participant("participant_joined", room, "interpreter", t0, t0)},
		{"an operator without id", participant("participant_joined", room, "operator-", t0, t0)},
		{"an event not recorded", track},
		{"room_started", &livekit.WebhookEvent{Id: "EV_started", Event: "room_started", Room: &livekit.Room{Name: room}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t)
			f.post(t, tc.ev, Ignored)
			after := state(t)
			// An unknown booking's webhook id is remembered; nothing else.
			after.Processed = before.Processed
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("written (-before +after):\n%s", diff)
			}
		})
	}
}

// TestBadRequests: a verified body that is not a webhook is 400, a body
// over the limit 413, another method 405; nothing is written.
func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	before := state(t)
	notJSON := []byte("participant_joined")
	rec := f.serve(t, request(notJSON, sign(t, testKey, testSecret, notJSON)))
	if diff := cmp.Diff(apitest.Want(http.StatusBadRequest, "invalid", "body"), apitest.VerdictOf(rec, apitest.ProblemOf(t, rec))); diff != "" {
		t.Errorf("not JSON (-want +got):\n%s", diff)
	}
	huge := bytes.Repeat([]byte(" "), MaxBody+1)
	rec = f.serve(t, request(huge, sign(t, testKey, testSecret, huge)))
	if diff := cmp.Diff(apitest.Want(http.StatusRequestEntityTooLarge, "too_large", "body"), apitest.VerdictOf(rec, apitest.ProblemOf(t, rec))); diff != "" {
		t.Errorf("too large (-want +got):\n%s", diff)
	}
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, apitest.Get("/api/livekit/webhook"))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d, Allow %q; want 405, POST", rec.Code, rec.Header().Get("Allow"))
	}
	if diff := cmp.Diff(before, state(t)); diff != "" {
		t.Errorf("written (-before +after):\n%s", diff)
	}
}
