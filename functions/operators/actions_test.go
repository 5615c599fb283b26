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
	lkauth "github.com/livekit/protocol/auth"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	clients "github.com/sportello/sportello/functions/internal/httpapi/client"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// A small but real PDF.
var pdf = []byte("%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n" +
	"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n")

// newRoutes are the routes of this round about one booking, each with a
// body that would be accepted.
func newRoutes(bookingID, docID string) []struct{ method, path, body string } {
	p := "/api/operator/bookings/" + bookingID
	return []struct{ method, path, body string }{
		{"POST", p + "/reschedule", `{"start": "2027-03-04T11:00:00+01:00"}`},
		{"POST", p + "/join", ""},
		{"POST", p + "/documents", `{"filename": "esito.pdf", "content_type": "application/pdf", "size": 100}`},
		{"POST", p + "/documents/" + docID + "/complete", ""},
		{"GET", p + "/documents", ""},
		{"GET", p + "/documents/" + docID, ""},
	}
}

// officeDocument stores an uploaded document of a booking (the row only)
// and returns its id.
func officeDocument(t *testing.T, store *postgres.Store, bookingID string) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := store.Pool.Exec(t.Context(), `
		INSERT INTO documents (id, booking_id, object_key, filename, content_type, size, uploaded_by, status, created_at, uploaded_at)
		VALUES ($1, $2, $3, 'esito.pdf', 'application/pdf', 100, 'office', 'uploaded', $4, $4)`,
		id, bookingID, documents.ObjectKey(bookingID, id), store.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

// auditRow is the gist of an audit row.
type auditRow struct{ Kind, ActorID, Action, Office string }

// lastAudit is the newest audit row about a booking.
func lastAudit(t *testing.T, bookingID string) auditRow {
	t.Helper()
	recs, err := pgtest.AuditLog(t, audit.Filter{TargetKind: "booking", TargetID: bookingID, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit rows of %s: %v, %v", bookingID, recs, err)
	}
	r := recs[0]
	office := "<nil>"
	if r.OfficeID != nil {
		office = *r.OfficeID
	}
	return auditRow{r.Actor.Kind, r.Actor.ID, r.Action, office}
}

// TestJoin: an operator of the booking's office gets, inside the window
// the citizen has, a LiveKit token for that booking's room only, with the
// identity livekit-webhook reads as an operator (operator-<id>) and their
// display name, allowed to publish data (the chat); the room exists on
// LiveKit, and the token connects. Before the window 409 not_yet_open with
// Retry-After, after it 410, nothing written either way.
func TestJoin(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email, opID := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	room := rooms.Name(b.ID)
	roomstest.Cleanup(t, e.lk, room)
	path := "/api/operator/bookings/" + b.ID + "/join"
	var c *apitest.Session

	outside := func(name string, now time.Time, want apitest.Verdict, retryAfter string) {
		t.Helper()
		e.clk.Set(now)
		c = e.signIn(email) // sessions idle out in 30 minutes
		before := apitest.Snap(t)
		rec := e.do(c, "POST", path, "")
		if diff := cmp.Diff(want, apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if got := rec.Header().Get("Retry-After"); got != retryAfter {
			t.Errorf("%s: Retry-After = %q, want %q", name, got, retryAfter)
		}
		p := apitest.Decode[windowProblem](t, rec.Body.Bytes())
		if apitest.RFC3339(p.OpensAt) != "2027-03-02T08:50:00+01:00" || apitest.RFC3339(p.ClosesAt) != "2027-03-02T09:45:00+01:00" {
			t.Errorf("%s: window %s – %s", name, p.OpensAt, p.ClosesAt)
		}
		if after := apitest.Snap(t); after != before {
			t.Errorf("%s wrote to the database", name)
		}
	}
	outside("before the window", apitest.At("2027-03-02", "08:49").Add(30*time.Second), apitest.Want(409, "not_yet_open", ""), "30")
	if roomstest.Room(t, e.lk, room) != nil {
		t.Error("the room was created before the window")
	}
	outside("after the window", apitest.At("2027-03-02", "09:45"), apitest.Want(410, "expired", ""), "")

	for _, now := range []time.Time{apitest.At("2027-03-02", "08:50"), apitest.At("2027-03-02", "09:44")} {
		e.clk.Set(now)
		c = e.signIn(email)
		rec := e.do(c, "POST", path, "{}")
		if rec.Code != http.StatusOK {
			t.Fatalf("at %s: status %d: %s", now, rec.Code, rec.Body)
		}
		res := apitest.Decode[JoinResponse](t, rec.Body.Bytes())
		got := JoinResponse{URL: res.URL, Room: res.Room, Identity: res.Identity, ExpiresAt: res.ExpiresAt, OpensAt: res.OpensAt, ClosesAt: res.ClosesAt}
		want := JoinResponse{URL: e.lk.PublicURL(), Room: room, Identity: "operator-" + opID,
			ExpiresAt: apitest.At("2027-03-02", "09:45"), OpensAt: apitest.At("2027-03-02", "08:50"), ClosesAt: apitest.At("2027-03-02", "09:45")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("at %s (-want +got):\n%s", now, diff)
		}
		v, err := lkauth.ParseAPIToken(res.Token)
		if err != nil {
			t.Fatal(err)
		}
		claims, grants, err := v.Verify(e.lk.Config.APISecret)
		if err != nil {
			t.Fatalf("the token does not verify: %v", err)
		}
		type grant struct {
			Identity, Name, Room            string
			Join, Publish, Data, Subscribe  bool
			CreateRoom, Admin, List, Record bool
		}
		g := grants.Video
		gotGrant := grant{grants.Identity, grants.Name, g.Room, g.RoomJoin, g.GetCanPublish(), g.GetCanPublishData(), g.GetCanSubscribe(),
			g.RoomCreate, g.RoomAdmin, g.RoomList, g.RoomRecord}
		wantGrant := grant{Identity: "operator-" + opID, Name: "Operatore di prova", Room: room, Join: true, Publish: true, Data: true, Subscribe: true}
		if diff := cmp.Diff(wantGrant, gotGrant); diff != "" {
			t.Errorf("grants at %s (-want +got):\n%s", now, diff)
		}
		// Valid until the window closes, counted from the real clock.
		if left := time.Until(claims.ExpiresAt.Time); left > apitest.At("2027-03-02", "09:45").Sub(now)+time.Minute || left <= 0 {
			t.Errorf("at %s the token is valid for %s more", now, left)
		}
		if roomstest.Room(t, e.lk, room) == nil {
			t.Fatalf("at %s the room is not on LiveKit", now)
		}
		if now.Equal(apitest.At("2027-03-02", "09:44")) {
			lr := clienttest.Connect(t, res.URL, res.Token, nil)
			if id := lr.LocalParticipant.Identity(); id != "operator-"+opID {
				t.Errorf("connected as %q", id)
			}
		}
	}
}

// TestJoinRefused: a cancelled or completed booking is 409 (its room is
// closed), another office's booking and an unknown one are 404, a body
// other than {} is 400; LiveKit down is 503.
func TestJoinRefused(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Desks: 3})
	_, otherSvc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email, _ := e.operator(operator.RoleOperator, office)
	start := apitest.At("2027-03-02", "09:00")
	cancelled := pgtest.Book(t, e.store, svc, start)
	if _, err := e.store.Cancel(t.Context(), cancelled.ManageToken); err != nil {
		t.Fatal(err)
	}
	completed := pgtest.Book(t, e.store, svc, start)
	open := pgtest.Book(t, e.store, svc, start)
	roomstest.Cleanup(t, e.lk, rooms.Name(open.ID))
	other := pgtest.Book(t, e.store, otherSvc, start)
	e.clk.Set(start.Add(5 * time.Minute))
	c := e.signIn(email)
	if rec := e.do(c, "POST", "/api/operator/bookings/"+completed.ID+"/outcome", `{"outcome": "completed"}`); rec.Code != http.StatusOK {
		t.Fatalf("outcome: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, id, body string
		want           apitest.Verdict
	}{
		{"cancelled", cancelled.ID, "", apitest.Want(409, "conflict", "id")},
		{"completed", completed.ID, "", apitest.Want(409, "conflict", "id")},
		{"another office's", other.ID, "", apitest.Want(404, "not_found", "id")},
		{"unknown", uuid.NewString(), "", apitest.Want(404, "not_found", "id")},
		{"a body", open.ID, `{"display_name": "Io"}`, apitest.Want(400, "invalid", "display_name")},
	} {
		rec := e.do(c, "POST", "/api/operator/bookings/"+tc.id+"/join", tc.body)
		if diff := cmp.Diff(tc.want, apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if roomstest.Room(t, e.lk, rooms.Name(other.ID)) != nil {
		t.Error("a room was made for another office's booking")
	}

	cfg := e.lk.Config
	cfg.URL = "http://127.0.0.1:1"
	down := apitest.Validated(t, newHandler(e.store, &auth.Authenticator{Store: e.store, Config: e.cfg}, &clients.Identifier{}, rooms.New(cfg), e.docs, apitest.Discard))
	rec := httptest.NewRecorder() // not apitest.Serve: this 5xx is expected
	down.ServeHTTP(rec, apitestRequest("POST", "/api/operator/bookings/"+open.ID+"/join", "", c))
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("LiveKit down: Cache-Control %q, Retry-After %q", cc, rec.Header().Get("Retry-After"))
	}
	if diff := cmp.Diff(apitest.Want(503, "unavailable", ""), apitest.VerdictNoStore(t, rec)); diff != "" {
		t.Errorf("LiveKit down (-want +got):\n%s", diff)
	}
}

// TestDocuments: the operator uploads a document for the citizen through
// the presigned POST (straight to the object store), completes it, and the
// citizen's documents list (the documents function's List) shows it,
// uploaded by the office; the operator lists and downloads it. The
// document.uploaded.v1 event says office, and its audit row names the
// operator. Bad input is a 4xx naming the field, nothing written.
func TestDocuments(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email, opID := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	c := e.signIn(email)
	base := "/api/operator/bookings/" + b.ID + "/documents"

	for _, tc := range []struct {
		name, body string
		want       apitest.Verdict
	}{
		{"no file name", `{"content_type": "application/pdf", "size": 10}`, apitest.Want(400, "invalid", "filename")},
		{"a path", `{"filename": "../x.pdf", "content_type": "application/pdf", "size": 10}`, apitest.Want(400, "invalid", "filename")},
		{"an executable", `{"filename": "x.exe", "content_type": "application/x-msdownload", "size": 10}`, apitest.Want(400, "invalid", "content_type")},
		{"too large", `{"filename": "x.pdf", "content_type": "application/pdf", "size": 20971521}`, apitest.Want(400, "invalid", "size")},
		{"unknown field", `{"filename": "x.pdf", "content_type": "application/pdf", "size": 10, "key": "bookings/x"}`, apitest.Want(400, "invalid", "key")},
		{"no body", ``, apitest.Want(400, "invalid", "")},
	} {
		before, docs := apitest.Snap(t), pgtest.Digest(t, "documents")
		rec := e.do(c, "POST", base, tc.body)
		if diff := cmp.Diff(tc.want, apitest.VerdictNoStore(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if apitest.Snap(t) != before || pgtest.Digest(t, "documents") != docs {
			t.Errorf("%s wrote to the database", tc.name)
		}
	}

	const name = "Esito istruttoria.pdf"
	rec := e.do(c, "POST", base, fmt.Sprintf(`{"filename": %q, "content_type": "application/pdf", "size": %d}`, name, len(pdf)))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d: %s", rec.Code, rec.Body)
	}
	up := apitest.Decode[documents.Upload](t, rec.Body.Bytes())
	if loc := rec.Header().Get("Location"); loc != base+"/"+up.DocumentID {
		t.Errorf("Location = %q", loc)
	}
	if got := up.Upload.Fields["key"]; got != documents.ObjectKey(b.ID, up.DocumentID) {
		t.Errorf("object key %q", got)
	}
	if got := apitest.VerdictNoStore(t, e.do(c, "POST", base+"/"+up.DocumentID+"/complete", "")); got != apitest.Want(409, "conflict", "doc") {
		t.Errorf("complete before the upload: %+v", got)
	}
	if res := clienttest.PostForm(t, up.Upload.URL, up.Upload.Fields, name, pdf); res.Status != http.StatusNoContent {
		t.Fatalf("upload: status %d: %s", res.Status, res.Body)
	}
	want := fmt.Sprintf(`{"id": %q, "filename": %q, "content_type": "application/pdf", "size": %d,
		"uploaded_by": "office", "uploaded_at": "2027-03-01T08:00:00+01:00"}`, up.DocumentID, name, len(pdf))
	rec = e.do(c, "POST", base+"/"+up.DocumentID+"/complete", "{}")
	if rec.Code != http.StatusOK {
		t.Fatalf("complete: status %d: %s", rec.Code, rec.Body)
	}
	apitest.SameJSON(t, rec.Body.Bytes(), want)

	// The citizen sees it, from the office.
	list, err := e.docs.List(t.Context(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != up.DocumentID || list[0].UploadedBy != booking.DocumentByOffice {
		t.Errorf("the citizen's list: %+v", list)
	}
	if d := outboxData(t, b.ID, events.DocumentUploaded); d["uploaded_by"] != "office" || d["document_id"] != up.DocumentID {
		t.Errorf("event: %v", d)
	}
	if diff := cmp.Diff(auditRow{"operator", opID, "document.uploaded", office}, lastAudit(t, b.ID)); diff != "" {
		t.Errorf("audit row (-want +got):\n%s", diff)
	}

	apitest.SameJSON(t, e.do(c, "GET", base, "").Body.Bytes(), `{"documents": [`+want+`]}`)
	rec = e.do(c, "GET", base+"/"+up.DocumentID, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("download: status %d: %s", rec.Code, rec.Body)
	}
	dl := apitest.Decode[documents.Download](t, rec.Body.Bytes())
	if got := clienttest.Get(t, dl.URL); got.Status != http.StatusOK || string(got.Body) != string(pdf) {
		t.Errorf("download: status %d, %d bytes", got.Status, len(got.Body))
	}
	if got := apitest.VerdictNoStore(t, e.do(c, "GET", base+"/"+uuid.NewString(), "")); got != apitest.Want(404, "not_found", "doc") {
		t.Errorf("unknown document: %+v", got)
	}
	// The booking detail lists it too, and its history has the upload.
	detail := apitest.Decode[operator.Booking](t, e.do(c, "GET", "/api/operator/bookings/"+b.ID, "").Body.Bytes())
	if len(detail.Documents) != 1 || detail.History[0].Action != "document.uploaded" {
		t.Errorf("detail: documents %+v, history %+v", detail.Documents, detail.History)
	}

	// A cancelled booking takes no more documents: 409 naming the booking.
	if _, err := e.store.CancelByOperator(t.Context(), operator.Scope{OperatorID: opID, Offices: []string{office}}, b.ID); err != nil {
		t.Fatal(err)
	}
	docs := pgtest.Digest(t, "documents")
	if got := apitest.VerdictNoStore(t, e.do(c, "POST", base, `{"filename": "x.pdf", "content_type": "application/pdf", "size": 10}`)); got != apitest.Want(409, "conflict", "id") {
		t.Errorf("cancelled booking: %+v", got)
	}
	if pgtest.Digest(t, "documents") != docs {
		t.Error("a refused upload wrote a row")
	}
}

// TestReschedule: an operator moves a booking on the citizen's behalf even
// inside the citizen's cutoff, to a free slot on the service's schedule:
// the answer is the moved booking, its booking.rescheduled.v1 is written
// (send-email tells the citizen, provision-room moves the room) with an
// audit row naming the operator, and the history shows it. The minimum
// notice still binds; a slot off the schedule, taken, or the same is
// refused; a booking cancelled or started cannot move. Refusals write
// nothing.
func TestReschedule(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Cutoff: 24 * 60, Notice: 120})
	email, opID := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "09:00"))
	pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "11:00")) // the 11:00 slot's one desk
	started := pgtest.Book(t, e.store, svc, apitest.At("2027-03-01", "12:00"))
	gone := pgtest.Book(t, e.store, svc, apitest.At("2027-03-02", "12:00"))
	if _, err := e.store.Cancel(t.Context(), gone.ManageToken); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(apitest.At("2027-03-01", "12:10")) // inside the 24-hour cutoff of b
	if _, err := e.store.Reschedule(t.Context(), b.ManageToken, apitest.At("2027-03-02", "10:00")); !apperrIs(err, "unprocessable") {
		t.Fatalf("the citizen could still move it: %v", err)
	}
	c := e.signIn(email)
	path := func(id string) string { return "/api/operator/bookings/" + id + "/reschedule" }
	body := func(start time.Time) string { return `{"start": "` + apitest.RFC3339(start) + `"}` }

	// To the time it has (a retry after a lost answer): the booking as it
	// is, nothing written.
	snap := apitest.Snap(t)
	if rec := e.do(c, "POST", path(b.ID), body(apitest.At("2027-03-02", "09:00"))); rec.Code != http.StatusOK ||
		!strings.Contains(rec.Body.String(), `"start":"2027-03-02T09:00:00+01:00"`) || !strings.Contains(rec.Body.String(), `"sequence":0`) {
		t.Errorf("reschedule to the same time: status %d: %s", rec.Code, rec.Body)
	}
	apitest.Unchanged(t, "a reschedule to the same time", snap)
	for _, tc := range []struct {
		name, id, body string
		want           apitest.Verdict
	}{
		{"no start", b.ID, `{}`, apitest.Want(400, "invalid", "start")},
		{"not a time", b.ID, `{"start": "tomorrow"}`, apitest.Want(400, "invalid", "start")},
		{"unknown field", b.ID, `{"start": "2027-03-02T10:00:00+01:00", "desk": 2}`, apitest.Want(400, "invalid", "desk")},
		{"off the schedule", b.ID, body(apitest.At("2027-03-02", "14:00")), apitest.Want(400, "invalid", "start")},
		{"off the grid", b.ID, body(apitest.At("2027-03-02", "10:10")), apitest.Want(400, "invalid", "start")},
		{"inside the notice", b.ID, body(apitest.At("2027-03-01", "13:00").Add(-30 * time.Minute)), apitest.Want(400, "invalid", "start")},
		{"in the past", b.ID, body(apitest.At("2027-03-01", "09:00")), apitest.Want(400, "invalid", "start")},
		{"taken", b.ID, body(apitest.At("2027-03-02", "11:00")), apitest.Want(409, "conflict", "start")},
		{"cancelled", gone.ID, body(apitest.At("2027-03-02", "10:00")), apitest.Want(409, "conflict", "id")},
		{"started", started.ID, body(apitest.At("2027-03-02", "10:00")), apitest.Want(422, "unprocessable", "id")},
		{"unknown", uuid.NewString(), body(apitest.At("2027-03-02", "10:00")), apitest.Want(404, "not_found", "id")},
	} {
		apitest.Refused(t, tc.name, tc.want, func() *httptest.ResponseRecorder { return e.do(c, "POST", path(tc.id), tc.body) })
	}

	before := apitest.Snap(t)
	rec := e.do(c, "POST", path(b.ID), body(apitest.At("2027-03-02", "10:00")))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := apitest.Decode[operator.Booking](t, rec.Body.Bytes())
	if apitest.RFC3339(got.Start) != "2027-03-02T10:00:00+01:00" || got.Sequence != 1 || got.Status != booking.Confirmed {
		t.Errorf("moved booking: start %s, sequence %d, status %s", got.Start, got.Sequence, got.Status)
	}
	if after := apitest.Snap(t); after.Outbox != before.Outbox+1 {
		t.Errorf("outbox %d -> %d, want one more event", before.Outbox, after.Outbox)
	}
	d := outboxData(t, b.ID, events.BookingRescheduled)
	instant := func(v any) string {
		s, _ := v.(string)
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Sprintf("%v", v)
		}
		return apitest.RFC3339(at)
	}
	if instant(d["previous_start"]) != "2027-03-02T09:00:00+01:00" || instant(d["start"]) != "2027-03-02T10:00:00+01:00" || d["sequence"] != float64(1) {
		t.Errorf("event: %v", d)
	}
	if diff := cmp.Diff(auditRow{"operator", opID, "booking.rescheduled", office}, lastAudit(t, b.ID)); diff != "" {
		t.Errorf("audit row (-want +got):\n%s", diff)
	}
	// The old slot is free, the new one taken.
	if _, err := e.store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "09:00"), "it"); err != nil {
		t.Errorf("the old slot is not free: %v", err)
	}
	if _, err := e.store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "10:00"), "it"); !apperrIs(err, "conflict") {
		t.Errorf("the new slot is still free: %v", err)
	}

	// The history: newest first, who and what.
	e.clk.Advance(time.Minute)
	if rec := e.do(c, "POST", "/api/operator/bookings/"+b.ID+"/cancel", ""); rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	rec = e.do(c, "GET", "/api/operator/bookings/"+b.ID, "")
	detail := apitest.Decode[struct {
		History json.RawMessage `json:"history"`
	}](t, rec.Body.Bytes())
	apitest.SameJSON(t, detail.History, `[
		{"at": "2027-03-01T12:11:00+01:00", "actor": {"kind": "operator", "id": "`+opID+`"}, "action": "booking.cancelled"},
		{"at": "2027-03-01T12:10:00+01:00", "actor": {"kind": "operator", "id": "`+opID+`"}, "action": "booking.rescheduled"},
		{"at": "2027-03-01T08:00:00+01:00", "actor": {"kind": "citizen"}, "action": "booking.confirmed"}]`)
}

// TestRescheduleRace: two operators and a citizen race, again and again,
// to move three bookings into the one free desk of a slot: exactly one
// wins each time, the others get 409, and no two active bookings overlap.
func TestRescheduleRace(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email1, _ := e.operator(operator.RoleOperator, office)
	email2, _ := e.operator(operator.RoleOperator, office)
	op1, op2 := e.signIn(email1), e.signIn(email2)
	const rounds = 6
	for i := range rounds {
		day := fmt.Sprintf("2027-03-%02d", 2+i)
		a := pgtest.Book(t, e.store, svc, apitest.At(day, "09:00"))
		b := pgtest.Book(t, e.store, svc, apitest.At(day, "09:30"))
		cz := pgtest.Book(t, e.store, svc, apitest.At(day, "10:00"))
		target := apitest.At(day, "12:00")
		body := `{"start": "` + apitest.RFC3339(target) + `"}`
		var wg sync.WaitGroup
		codes := make([]int, 3)
		gate := make(chan struct{})
		for j, run := range []func() int{
			func() int { return e.do(op1, "POST", "/api/operator/bookings/"+a.ID+"/reschedule", body).Code },
			func() int { return e.do(op2, "POST", "/api/operator/bookings/"+b.ID+"/reschedule", body).Code },
			func() int {
				_, err := e.store.Reschedule(t.Context(), cz.ManageToken, target)
				switch {
				case err == nil:
					return http.StatusOK
				case apperrIs(err, "conflict"):
					return http.StatusConflict
				}
				t.Errorf("citizen: %v", err)
				return 0
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				codes[j] = run()
			}()
		}
		close(gate)
		wg.Wait()
		won, lost := 0, 0
		for _, code := range codes {
			switch code {
			case http.StatusOK:
				won++
			case http.StatusConflict:
				lost++
			}
		}
		if won != 1 || lost != 2 {
			t.Errorf("round %d: %v; want one 200 and two 409", i, codes)
		}
	}
	var overlaps int
	if err := e.store.Pool.QueryRow(t.Context(), `
		SELECT count(*) FROM bookings x JOIN bookings y ON x.desk_id = y.desk_id AND x.id < y.id
		WHERE x.status IN ('held', 'confirmed') AND y.status IN ('held', 'confirmed') AND x.blocks && y.blocks`).Scan(&overlaps); err != nil || overlaps != 0 {
		t.Errorf("overlapping active bookings: %d, %v", overlaps, err)
	}
}

// TestNewRoutesIsolation: for every route of this round, an operator of
// office A gets the 404 of an unknown booking for office B's booking, and
// writes nothing (documents included); an administrator reaches it.
func TestNewRoutesIsolation(t *testing.T) {
	e := newEnv(t, apitest.Monday, auth.DefaultConfig)
	officeA, _ := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	_, svcB := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	b := pgtest.Book(t, e.store, svcB, apitest.At("2027-03-02", "09:00"))
	roomstest.Cleanup(t, e.lk, rooms.Name(b.ID))
	doc := officeDocument(t, e.store, b.ID)
	emailA, _ := e.operator(operator.RoleOperator, officeA)
	emailAdmin, _ := e.operator(operator.RoleAdministrator)
	e.clk.Set(apitest.At("2027-03-02", "08:55")) // the room is open
	opA, admin := e.signIn(emailA), e.signIn(emailAdmin)
	unknown := e.do(opA, "GET", "/api/operator/bookings/"+uuid.NewString(), "").Body.String()
	for _, rt := range newRoutes(b.ID, doc) {
		before, docs := apitest.Snap(t), pgtest.Digest(t, "documents")
		rec := e.do(opA, rt.method, rt.path, rt.body)
		if rec.Code != http.StatusNotFound || rec.Body.String() != unknown {
			t.Errorf("A's operator, %s %s: %d %s; want %s", rt.method, rt.path, rec.Code, rec.Body, unknown)
		}
		if apitest.Snap(t) != before || pgtest.Digest(t, "documents") != docs {
			t.Errorf("A's operator, %s %s wrote to the database", rt.method, rt.path)
		}
	}
	// The administrator reaches each (the answers other than 404 are the
	// routes' own: the document row has no object, so its download works
	// but its complete is already done).
	for _, rt := range newRoutes(b.ID, doc) {
		if strings.HasSuffix(rt.path, "/reschedule") {
			continue // tested elsewhere; it would move the booking
		}
		if rec := e.do(admin, rt.method, rt.path, rt.body); rec.Code == http.StatusNotFound || rec.Code >= 500 {
			t.Errorf("administrator, %s %s: %d %s", rt.method, rt.path, rec.Code, rec.Body)
		}
	}
}

func apperrIs(err error, code string) bool { return apperr.Is(err, apperr.Code(code)) }

// apitestRequest is a request as the signed-in browser c sends it.
func apitestRequest(method, path, body string, c *apitest.Session) *http.Request {
	return c.On(apitest.Request(method, path, "", body))
}

// windowProblem is the problem of a join outside the room's window: the
// window itself beside the problem's members.
type windowProblem struct {
	apitest.Problem
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
}
