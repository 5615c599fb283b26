package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
)

// How long the chain test waits for what the events set off (a mail, a
// room); every wait polls until its deadline.
const chainWait = 30 * time.Second

// maxDocument is the documents function's MAX_DOCUMENT_BYTES in the chain
// test's stack: small, so that an upload over it stays small too.
const maxDocument = 64 << 10

// The zero-notice service the chain test adds to the stack's database:
// 5-minute meetings all day, every day, holidays included, so that a slot
// starts within minutes of now and its room can be joined at once.
const (
	nowOffice  = "e2e-subito"
	nowService = "e2e-subito"
)

// A small but real PDF.
var chainPDF = []byte("%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n" +
	"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n")

// TestEventChain walks the whole event chain on one local stack, over HTTP
// through the gateway, with the real Mailpit, LiveKit and MinIO behind it:
//
//  1. a demo booking (service sue) is confirmed: the confirmation mail
//     arrives, its manage and room links open the booking, its invite is
//     METHOD:REQUEST, SEQUENCE:0 at the booked time;
//  2. it is rescheduled: a second mail, same UID, SEQUENCE:1, the new time;
//  3. joining its room before the window is refused (409 not_yet_open);
//  4. a booking of a zero-notice service starting within minutes: its room
//     is provisioned, join answers a LiveKit token, and the citizen and the
//     operator side connect and see each other;
//  5. the citizen uploads a PDF through the presigned POST; MinIO refuses
//     a file over the limit and another Content-Type; the other side lists
//     and downloads it, byte for byte;
//  6. the booking is cancelled: a mail with METHOD:CANCEL and SEQUENCE one
//     higher, the room is gone and whoever was in it is disconnected;
//  7. every event was emitted once, none is a dead letter, and the stack's
//     output holds no personal data and no secret.
func TestEventChain(t *testing.T) {
	lksdk.SetLogger(protologger.GetDiscardLogger()) // the SDK logs every WebRTC state change
	s := startStack(t, stackOptions{
		// Housekeeping ticks during the test; the broker retries within
		// milliseconds, so that a failing delivery is a dead letter by
		// the end of the test.
		Args: []string{"-tick", "2s", "-backoff-scale", "0.01"},
		Env:  []string{"MAX_DOCUMENT_BYTES=" + strconv.Itoa(maxDocument)},
	})
	env := s.services(t)
	for _, k := range []string{"PUBLIC_URL", "MAILPIT_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "S3_ENDPOINT"} {
		if env[k] == "" {
			t.Fatalf("GET /_local/services has no %s: %v", k, env)
		}
	}
	mail := &mailpit{t: t, url: strings.TrimRight(env["MAILPIT_URL"], "/")}
	links := newLinks(env["PUBLIC_URL"])
	lk := lksdk.NewRoomServiceClient(env["LIVEKIT_URL"], env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"])
	// Every personal datum and secret the test meets: none may reach the
	// stack's output.
	var secrets []string
	keep := func(v ...string) { secrets = append(secrets, v...) }

	// 1. Book the first free slot of sue a day ahead, with a unique email.
	run := randomHex(t, 4)
	nicola := citizen{GivenName: "Nicolangelo", FamilyName: "Sciannamblo-" + run, Address: "Via Melo da Bari 12, 70121 Bari",
		Email: "nicolangelo.sciannamblo." + run + "@example.it", Reason: "Pratica edilizia", Details: "SCIA n. 77/" + run,
		PrivacyConsent: true, Locale: "it"}
	keep(nicola.Email, nicola.GivenName, nicola.FamilyName, nicola.Address, nicola.Details)
	sl, _ := s.freeSlots(t, "sue")
	// Past sue's 24 hours of notice and of change cutoff, with an hour to
	// spare for the test.
	picks := sl.after(time.Now().Add(25 * time.Hour))
	if len(picks) < 2 {
		t.Fatalf("fewer than two free sue slots in 30 days: %+v", sl)
	}
	first, second := picks[0], picks[1]
	demo, h := s.book(t, "sue", first.Start, nicola)
	keep(demo.ManageToken, h.HoldSecret)
	t.Logf("sue booking at %s, then moved to %s", first.Start, second.Start)

	// The confirmation mail: links that open the booking, and the invite.
	confirmation := mail.wait(nicola.Email, "Conferma prenotazione")
	manageTok, roomTok := links.tokens(t, confirmation)
	keep(manageTok, roomTok)
	if manageTok == demo.ManageToken {
		t.Error("the confirmation mail carries the token confirm answered, want a fresh one")
	}
	for what, tok := range map[string]string{"manage link": manageTok, "room link": roomTok} {
		s.opens(t, "the confirmation's "+what, tok, demo.BookingID)
	}
	inv := confirmation.Invite(t)
	uid := demo.BookingID + "@sportello"
	if inv.Method != "REQUEST" || inv.UID != uid || inv.Sequence != 0 || inv.Status != "CONFIRMED" ||
		!inv.Start.Equal(first.Start) || !inv.End.Equal(first.End) {
		t.Errorf("confirmation invite = %+v, want REQUEST, UID %s, SEQUENCE 0, CONFIRMED, %s–%s", inv, uid, first.Start, first.End)
	}

	// 2. Reschedule: a second mail, the same event one sequence later.
	r := s.call("POST", "/api/manage/reschedule", map[string]string{"start": second.Start.Format(time.RFC3339)}, manageTok)
	expect(t, "POST /api/manage/reschedule", r, http.StatusOK)
	var moved booking
	r.json(t, &moved)
	if moved.Sequence != 1 || !moved.Start.Equal(second.Start) {
		t.Fatalf("rescheduled = %s, want sequence 1 at %s", r.body, second.Start)
	}
	change := mail.wait(nicola.Email, "Prenotazione modificata")
	changeTok, changeRoomTok := links.tokens(t, change)
	keep(changeTok, changeRoomTok)
	s.opens(t, "the change mail's manage link", changeTok, demo.BookingID)
	s.opens(t, "the change mail's room link", changeRoomTok, demo.BookingID)
	inv = change.Invite(t)
	if inv.Method != "REQUEST" || inv.UID != uid || inv.Sequence != 1 || !inv.Start.Equal(second.Start) || !inv.End.Equal(second.End) {
		t.Errorf("change invite = %+v, want REQUEST, UID %s, SEQUENCE 1, %s–%s", inv, uid, second.Start, second.End)
	}

	// 3. The room cannot be joined a day ahead: the answer says when.
	r = s.call("POST", "/api/join", nil, changeRoomTok)
	expect(t, "POST /api/join a day ahead", r, http.StatusConflict)
	var early windowProblem
	r.json(t, &early)
	if early.Code != "not_yet_open" || !early.OpensAt.Equal(second.Start.Add(-10*time.Minute)) ||
		!early.ClosesAt.Equal(second.End.Add(15*time.Minute)) {
		t.Errorf("join a day ahead = %s, want not_yet_open from %s", r.body, second.Start.Add(-10*time.Minute))
	}
	if wait, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || wait < 23*3600 {
		t.Errorf("join a day ahead: Retry-After %q, want the seconds until the window opens", r.header.Get("Retry-After"))
	}
	if strings.Contains(string(r.body), `"token"`) {
		t.Errorf("join a day ahead answered a token: %s", r.body)
	}

	// 4. A booking of the zero-notice service, starting in a few minutes:
	// its window is open now.
	addNowService(t, s.databaseURL())
	teresa := citizen{GivenName: "Teresangela", FamilyName: "Quarantotto-" + run, Address: "Strada Vallisa 3, 70122 Bari",
		Email: "teresangela.quarantotto." + run + "@example.it", Reason: "Integrazione documentale", Details: "Protocollo 4455/" + run,
		PrivacyConsent: true, Locale: "it"}
	keep(teresa.Email, teresa.GivenName, teresa.FamilyName, teresa.Address, teresa.Details)
	// The first slot at least two minutes away, so that the booking can
	// still be cancelled (before its start) when the test gets there.
	nowSlots, _ := s.freeSlots(t, nowService)
	later := nowSlots.after(time.Now().Add(2 * time.Minute))
	if len(later) == 0 || later[0].Start.After(time.Now().Add(9*time.Minute)) || !later[0].End.Equal(later[0].Start.Add(5*time.Minute)) {
		t.Fatalf("no 5-minute slot of the zero-notice service within 9 minutes: %+v", nowSlots)
	}
	soon := later[0]
	now, h2 := s.book(t, nowService, soon.Start, teresa)
	keep(now.ManageToken, h2.HoldSecret)
	t.Logf("zero-notice booking at %s", soon.Start)
	room := "sportello-" + now.BookingID
	nowMail := mail.wait(teresa.Email, "Conferma prenotazione")
	// The citizen follows the mail's links: the room page joins and
	// uploads with the room link's token, the manage page cancels with the
	// manage link's. The other side of the call has no back office yet: it
	// reads the documents with another token of the booking, the one
	// confirm answered.
	cancelTok, citizenTok := links.tokens(t, nowMail)
	otherTok := now.ManageToken
	keep(cancelTok, citizenTok)
	nowUID := now.BookingID + "@sportello"
	if inv := nowMail.Invite(t); inv.Method != "REQUEST" || inv.UID != nowUID || inv.Sequence != 0 || !inv.Start.Equal(soon.Start) {
		t.Errorf("zero-notice confirmation invite = %+v, want REQUEST, UID %s, SEQUENCE 0 at %s", inv, nowUID, soon.Start)
	}

	// provision-room makes the room on the confirmation, before anyone
	// asks to join (join would make it too).
	clienttest.Eventually(t, chainWait, "provision-room did not create room "+room, func() bool { return listRoom(t, lk, room) != nil })
	if lr := listRoom(t, lk, room); lr.MaxParticipants == 0 || lr.EmptyTimeout == 0 {
		t.Errorf("room %s has max participants %d, empty timeout %d: want both set", room, lr.MaxParticipants, lr.EmptyTimeout)
	}

	r = s.call("POST", "/api/join", nil, citizenTok)
	expect(t, "POST /api/join inside the window", r, http.StatusOK)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST /api/join: Cache-Control %q, want no-store", cc)
	}
	var joined joinResponse
	r.json(t, &joined)
	keep(joined.Token)
	opens, closes := soon.Start.Add(-10*time.Minute), soon.End.Add(15*time.Minute)
	if joined.URL != env["LIVEKIT_URL"] || joined.Token == "" || joined.Room != room || joined.Identity != "citizen-"+now.BookingID ||
		!joined.OpensAt.Equal(opens) || !joined.ClosesAt.Equal(closes) || !joined.ExpiresAt.Equal(closes) {
		t.Fatalf("join = %s, want room %s at %s, window %s–%s", r.body, room, env["LIVEKIT_URL"], opens, closes)
	}

	// The citizen with join's token, the operator side with one minted
	// with the API key, as the back office will.
	var citizenGone sync.Once
	gone := make(chan struct{})
	citizenCB := lksdk.NewRoomCallback()
	citizenCB.OnDisconnected = func() { citizenGone.Do(func() { close(gone) }) }
	citizenRoom := clienttest.Connect(t, joined.URL, joined.Token, citizenCB)
	opToken, err := auth.NewAccessToken(env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]).
		SetIdentity("operator-e2e").SetName("Ufficio di prova").SetValidFor(10 * time.Minute).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	operatorRoom := clienttest.Connect(t, joined.URL, opToken, nil)
	if citizenRoom.Name() != room || operatorRoom.Name() != room {
		t.Fatalf("connected to %q and %q, want %q", citizenRoom.Name(), operatorRoom.Name(), room)
	}
	sees := func(r *lksdk.Room, identity, name string) func() bool {
		return func() bool {
			p := r.GetParticipantByIdentity(identity)
			return p != nil && p.Name() == name
		}
	}
	clienttest.Eventually(t, chainWait, "the citizen does not see the operator", sees(citizenRoom, "operator-e2e", "Ufficio di prova"))
	clienttest.Eventually(t, chainWait, "the operator does not see the citizen", sees(operatorRoom, "citizen-"+now.BookingID, teresa.GivenName))

	// 5. Documents. Over the limit, the function refuses the declaration.
	filename := "integrazione-" + teresa.FamilyName + ".pdf"
	keep(filename)
	r = s.call("POST", "/api/documents", map[string]any{"filename": filename, "content_type": "application/pdf", "size": maxDocument + 1}, citizenTok)
	expect(t, "POST /api/documents over the limit", r, http.StatusBadRequest)
	r = s.call("POST", "/api/documents", map[string]any{"filename": filename, "content_type": "application/pdf", "size": len(chainPDF)}, citizenTok)
	expect(t, "POST /api/documents", r, http.StatusCreated)
	var up upload
	r.json(t, &up)
	if up.DocumentID == "" || !strings.HasPrefix(up.Upload.URL, env["S3_ENDPOINT"]) || up.Upload.Fields["policy"] == "" || !up.ExpiresAt.After(time.Now()) {
		t.Fatalf("POST /api/documents = %s", r.body)
	}
	keep(up.Upload.Fields["X-Amz-Signature"], up.Upload.Fields["policy"])
	// MinIO enforces the policy itself: a file over the limit (declared
	// small, sent big) and another Content-Type are refused, nothing stored.
	oversize := append(append([]byte{}, chainPDF...), bytes.Repeat([]byte{' '}, maxDocument+1-len(chainPDF))...)
	if res := postForm(t, up.Upload.URL, up.Upload.Fields, filename, oversize); res.status != http.StatusBadRequest ||
		!bytes.Contains(res.body, []byte("EntityTooLarge")) {
		t.Errorf("upload of %d bytes declared as %d: status %d, want 400 EntityTooLarge: %s", len(oversize), len(chainPDF), res.status, res.body)
	}
	png := map[string]string{}
	for k, v := range up.Upload.Fields {
		png[k] = v
	}
	png["Content-Type"] = "image/png"
	if res := postForm(t, up.Upload.URL, png, filename, chainPDF); res.status != http.StatusForbidden {
		t.Errorf("upload as image/png against a PDF policy: status %d, want 403: %s", res.status, res.body)
	}
	r = s.call("POST", "/api/documents/"+up.DocumentID+"/complete", nil, citizenTok)
	expect(t, "POST /api/documents/{id}/complete after the refused uploads", r, http.StatusConflict)
	if res := postForm(t, up.Upload.URL, up.Upload.Fields, filename, chainPDF); res.status != http.StatusNoContent {
		t.Fatalf("upload: status %d, want 204: %s", res.status, res.body)
	}
	r = s.call("POST", "/api/documents/"+up.DocumentID+"/complete", nil, citizenTok)
	expect(t, "POST /api/documents/{id}/complete", r, http.StatusOK)
	var doc document
	r.json(t, &doc)
	if want := (document{ID: up.DocumentID, Filename: filename, ContentType: "application/pdf", Size: int64(len(chainPDF)), UploadedBy: "citizen"}); doc.ID != want.ID ||
		doc.Filename != want.Filename || doc.ContentType != want.ContentType || doc.Size != want.Size || doc.UploadedBy != want.UploadedBy {
		t.Errorf("completed document = %s, want %+v", r.body, want)
	}

	// The other side lists the document and downloads it.
	r = s.call("GET", "/api/documents", nil, otherTok)
	expect(t, "GET /api/documents", r, http.StatusOK)
	var list struct {
		Documents []document `json:"documents"`
	}
	r.json(t, &list)
	if len(list.Documents) != 1 || list.Documents[0].ID != up.DocumentID || list.Documents[0].Filename != filename {
		t.Errorf("GET /api/documents = %s, want the one uploaded", r.body)
	}
	r = s.call("GET", "/api/documents/"+up.DocumentID, nil, otherTok)
	expect(t, "GET /api/documents/{id}", r, http.StatusOK)
	var dl struct {
		URL string `json:"url"`
	}
	r.json(t, &dl)
	if u, err := url.Parse(dl.URL); err == nil {
		keep(u.Query().Get("X-Amz-Signature"))
	}
	got := httpGet(t, dl.URL)
	if got.status != http.StatusOK || !bytes.Equal(got.body, chainPDF) {
		t.Fatalf("download: status %d, %d bytes, want the %d uploaded", got.status, len(got.body), len(chainPDF))
	}
	if ct := got.header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("download Content-Type %q, want application/pdf", ct)
	}
	if disp, params, err := mime.ParseMediaType(got.header.Get("Content-Disposition")); err != nil || disp != "attachment" || params["filename"] != filename {
		t.Errorf("download Content-Disposition %q, want attachment with the file's name", got.header.Get("Content-Disposition"))
	}

	// 6. Cancel: the cancellation mail, and the room goes with whoever is
	// in it.
	if time.Now().After(soon.Start) {
		t.Fatalf("the zero-notice booking started at %s before the test could cancel it", soon.Start)
	}
	r = s.call("POST", "/api/manage/cancel", nil, cancelTok)
	expect(t, "POST /api/manage/cancel", r, http.StatusOK)
	var cancelled booking
	r.json(t, &cancelled)
	if cancelled.Status != "cancelled" || cancelled.Sequence != 1 {
		t.Errorf("cancelled = %s, want cancelled, sequence 1", r.body)
	}
	cancellation := mail.wait(teresa.Email, "Prenotazione annullata")
	if inv := cancellation.Invite(t); inv.Method != "CANCEL" || inv.UID != nowUID || inv.Sequence != 1 || inv.Status != "CANCELLED" ||
		!inv.Start.Equal(soon.Start) {
		t.Errorf("cancellation invite = %+v, want CANCEL, UID %s, SEQUENCE 1, CANCELLED at %s", inv, nowUID, soon.Start)
	}
	if links.manage.MatchString(cancellation.Text) || links.room.MatchString(cancellation.Text) {
		t.Error("the cancellation mail carries a manage or room link")
	}
	clienttest.Eventually(t, chainWait, "room "+room+" is still on LiveKit after the cancellation", func() bool { return listRoom(t, lk, room) == nil })
	select {
	case <-gone:
	case <-time.After(chainWait):
		t.Errorf("the citizen was not disconnected within %s of the room's deletion", chainWait)
	}
	r = s.call("POST", "/api/join", nil, otherTok)
	expect(t, "POST /api/join after the cancellation", r, http.StatusConflict)

	// Each booking got exactly its mails: no duplicate, no reminder.
	for who, want := range map[string][]string{
		nicola.Email: {"Conferma prenotazione", "Prenotazione modificata"},
		teresa.Email: {"Conferma prenotazione", "Prenotazione annullata"},
	} {
		var subjects []string
		for _, m := range mail.search(who) {
			subjects = append(subjects, strings.SplitN(m.Subject, " – ", 2)[0])
		}
		if strings.Join(subjects, "|") != strings.Join(want, "|") {
			t.Errorf("mails to a citizen: %q, want %q", subjects, want)
		}
	}

	// 7. The events of the zero-notice booking, each once.
	wantEvents := map[string]string{
		events.BookingHeld:      "/sportello/reserve",
		events.BookingConfirmed: "/sportello/confirm",
		events.RoomProvisioned:  "/sportello/provision-room",
		events.DocumentUploaded: "/sportello/documents",
		events.BookingCancelled: "/sportello/amend",
		events.RoomDeleted:      "/sportello/provision-room",
	}
	s.checkEvents(t, now.BookingID, wantEvents, nil, secrets)
	s.noDeadLetters(t)

	// Stop, then read everything the stack wrote.
	citizenRoom.Disconnect()
	operatorRoom.Disconnect()
	s.stopClean(t, secrets)
}

// book holds the slot of serviceID at start and confirms it for who.
func (s *localStack) book(t *testing.T, serviceID string, start time.Time, who citizen) (booking, hold) {
	t.Helper()
	r := s.call("POST", "/api/holds", map[string]string{"service_id": serviceID, "start": start.Format(time.RFC3339)}, "")
	expect(t, "POST /api/holds "+serviceID, r, http.StatusCreated)
	var h hold
	r.json(t, &h)
	r = s.call("POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret, "citizen": who}, "")
	expect(t, "POST /api/bookings "+serviceID, r, http.StatusCreated)
	var b booking
	r.json(t, &b)
	if b.BookingID != h.HoldID || b.Status != "confirmed" || b.ManageToken == "" || !b.Start.Equal(start) || b.Sequence != 0 {
		t.Fatalf("booking = %s, want confirmed at %s", r.body, start)
	}
	return b, h
}

// opens checks that GET /api/manage with tok shows the booking.
func (s *localStack) opens(t *testing.T, what, tok, bookingID string) {
	t.Helper()
	r := s.call("GET", "/api/manage", nil, tok)
	expect(t, "GET /api/manage with "+what, r, http.StatusOK)
	var b booking
	r.json(t, &b)
	if b.BookingID != bookingID {
		t.Errorf("%s opens booking %s, want %s", what, b.BookingID, bookingID)
	}
}

// addNowService inserts the zero-notice service into the stack's database,
// as an administrator would.
func addNowService(t *testing.T, databaseURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("the stack's database: %v", err)
	}
	defer conn.Close(context.Background())
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO offices (id, name) VALUES ($1, 'Ufficio di prova E2E')`, []any{nowOffice}},
		{`INSERT INTO services (id, office_id, name, duration_minutes, buffer_minutes, min_notice_minutes, horizon_days,
		                        cancel_cutoff_minutes, what_to_bring, open_on_holidays)
		  VALUES ($1, $2, 'Colloquio immediato (prova)', 5, 0, 0, 2, 0, 'Nulla', true)`, []any{nowService, nowOffice}},
		{`INSERT INTO desks (service_id, label) VALUES ($1, 'Postazione 1'), ($1, 'Postazione 2')`, []any{nowService}},
		{`INSERT INTO opening_hours (service_id, weekday, opens, closes)
		  SELECT $1, d, '00:00', '24:00' FROM generate_series(1, 7) AS d`, []any{nowService}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("zero-notice fixture: %v", err)
		}
	}
}

// window is when a booking's room can be joined, as join says.
type window struct {
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
}

// windowProblem is join's answer outside the window.
type windowProblem struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
	window
}

// joinResponse is join's answer inside the window.
type joinResponse struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	Room      string    `json:"room"`
	Identity  string    `json:"identity"`
	ExpiresAt time.Time `json:"expires_at"`
	window
}

// upload is the answer to a declared document: where to POST the file, with
// which form fields, until when.
type upload struct {
	DocumentID string `json:"document_id"`
	Upload     struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"upload"`
	ExpiresAt time.Time `json:"expires_at"`
}

// document is a document as the documents function shows it.
type document struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	UploadedBy  string `json:"uploaded_by"`
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// listRoom returns the room called name as LiveKit lists it, or nil.
func listRoom(t *testing.T, lk *lksdk.RoomServiceClient, name string) *livekit.Room {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := lk.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		t.Fatalf("LiveKit ListRooms: %v", err)
	}
	for _, r := range res.Rooms {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// postForm uploads file as a browser does with a presigned POST.
func postForm(t *testing.T, target string, fields map[string]string, filename string, file []byte) response {
	t.Helper()
	return fromClient(clienttest.PostForm(t, target, fields, filename, file))
}

// httpGet fetches a URL outside the gateway (a presigned download).
func httpGet(t *testing.T, target string) response {
	t.Helper()
	return fromClient(clienttest.Get(t, target))
}

func fromClient(r clienttest.Response) response {
	return response{status: r.Status, header: r.Header, body: r.Body}
}

// mailpit reads the stack's Mailpit over its HTTP API.
type mailpit struct {
	t   *testing.T
	url string
}

// search lists the messages to one address, oldest first.
func (m *mailpit) search(to string) []clienttest.Mail {
	m.t.Helper()
	return clienttest.Mailpit{URL: m.url}.To(m.t, to)
}

// wait polls up to chainWait for the message to `to` whose subject starts
// with prefix, and returns it with its invite.
func (m *mailpit) wait(to, prefix string) clienttest.Mail {
	m.t.Helper()
	deadline := time.Now().Add(chainWait)
	for {
		for _, x := range m.search(to) {
			if !strings.HasPrefix(x.Subject, prefix) {
				continue
			}
			msg := clienttest.Mailpit{URL: m.url}.Message(m.t, x.ID)
			for _, a := range msg.Attachments {
				if strings.HasPrefix(a.ContentType, "text/calendar") && a.FileName != "invito.ics" {
					m.t.Errorf("mail %q: invite named %q, want invito.ics", prefix, a.FileName)
				}
			}
			return msg
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no mail %q to the citizen within %s", prefix, chainWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mailLinks finds the manage and room links of the site in a mail.
type mailLinks struct{ manage, room *regexp.Regexp }

func newLinks(publicURL string) mailLinks {
	base := regexp.QuoteMeta(strings.TrimRight(publicURL, "/"))
	return mailLinks{
		manage: regexp.MustCompile(base + `/prenotazione/gestisci#([A-Za-z0-9_-]+)`),
		room:   regexp.MustCompile(base + `/sala#([A-Za-z0-9_-]+)`),
	}
}

// tokens returns the tokens of the manage link and of the room link in
// the mail's plain text, which must be in its HTML too.
func (l mailLinks) tokens(t *testing.T, msg clienttest.Mail) (manage, room string) {
	t.Helper()
	for _, c := range []struct {
		re  *regexp.Regexp
		out *string
	}{{l.manage, &manage}, {l.room, &room}} {
		m := c.re.FindStringSubmatch(msg.Text)
		if m == nil {
			t.Fatalf("mail %q: no link matching %s in the text:\n%s", msg.Subject, c.re, msg.Text)
		}
		if !strings.Contains(msg.HTML, m[0]) {
			t.Errorf("mail %q: the link %s... is not in the HTML", msg.Subject, m[0][:len(m[0])-len(m[1])])
		}
		*c.out = m[1]
	}
	return manage, room
}

// checkEvents waits until the broker's event log holds every type of want
// about subject, then checks each came from its function (want: type →
// source) as many times as count says (1 when count has no entry), and
// that no event's data holds any of secrets.
func (s *localStack) checkEvents(t *testing.T, subject string, want map[string]string, count map[string]int, secrets []string) {
	t.Helper()
	var evs []event
	clienttest.Eventually(t, chainWait, "the broker's event log lacks events of "+subject, func() bool {
		r := s.call("GET", "/_local/events?subject="+subject, nil, "")
		expect(t, "GET /_local/events", r, http.StatusOK)
		evs = nil
		r.json(t, &evs)
		seen := map[string]bool{}
		for _, e := range evs {
			seen[e.Type] = true
		}
		for typ := range want {
			if !seen[typ] {
				return false
			}
		}
		return true
	})
	got := map[string]int{}
	for _, e := range evs {
		got[e.Type]++
		if src, ok := want[e.Type]; ok && e.Source != src {
			t.Errorf("event %s from %s, want %s", e.Type, e.Source, src)
		}
		for _, p := range secrets {
			if p != "" && bytes.Contains(e.Data, []byte(p)) {
				t.Errorf("event %s carries personal data or a secret: %s", e.Type, e.Data)
			}
		}
	}
	for typ := range want {
		n, ok := count[typ]
		if !ok {
			n = 1
		}
		if got[typ] != n {
			t.Errorf("%d events %s, want %d", got[typ], typ, n)
		}
	}
}

// noDeadLetters checks the broker dead-lettered nothing: a failing delivery
// would have run out of its fast retries after a few seconds (with
// -backoff-scale 0.01 the longest backoff is under three seconds).
func (s *localStack) noDeadLetters(t *testing.T) {
	t.Helper()
	time.Sleep(3 * time.Second)
	r := s.call("GET", "/_local/dead-letters", nil, "")
	expect(t, "GET /_local/dead-letters", r, http.StatusOK)
	var dead []json.RawMessage
	r.json(t, &dead)
	if len(dead) != 0 {
		t.Errorf("%d dead letters: %s", len(dead), r.body)
	}
}
