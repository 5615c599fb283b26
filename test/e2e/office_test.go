package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/local/stack"
)

// TestOfficeDay walks the offices' side on one local stack, over HTTP
// through the gateway, with the real LiveKit and MinIO behind it:
//
//  1. the demo administrator configures a new office from nothing — the
//     office, a 5-minute service, its hours (opening a minute or two from
//     now, so that its first slot starts soon), two desks and an operator
//     for it — and the service's free slots appear at once;
//  2. a citizen books the first slot; the new operator sees it in the day's
//     agenda, with the citizen's name; an operator of another office gets a
//     404 for it, and the operator gets a 403 on the administration;
//  3. inside the window the operator joins the call with the operators'
//     API and the citizen with join: each sees the other, and LiveKit's
//     signed webhooks record both in the booking's attendance;
//  4. the operator sends the citizen a PDF through the presigned POST; the
//     citizen's document list shows it, uploaded by the office;
//  5. the outcome is refused before the start (422) and recorded after it;
//     the booking's history names the citizen and the operator;
//  6. the events (participant joined, document uploaded, booking
//     completed) reached the broker once each, without personal data, and
//     nothing is a dead letter; neither the citizen's data nor the note
//     reached the stack's output.
func TestOfficeDay(t *testing.T) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	s := startStack(t, stackOptions{Args: []string{"-tick", "2s", "-backoff-scale", "0.01"}})
	env := s.services(t)
	run := randomHex(t, 4)
	var secrets []string
	keep := func(v ...string) { secrets = append(secrets, v...) }

	// 1. The administrator configures an office from nothing.
	admin := s.signIn(t, "admin@comune.bari.it", stack.DemoPassword)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	officeID, serviceID := "e2e-ufficio-"+run, "e2e-colloquio-"+run
	admin.expect(t, "POST", "/admin/offices", map[string]any{"id": officeID, "name": "Ufficio E2E " + run,
		"address": "Corso Vittorio Emanuele II 84, Bari"}, http.StatusCreated)
	admin.expect(t, "POST", "/admin/services", map[string]any{"id": serviceID, "office_id": officeID,
		"name": "Colloquio E2E", "duration_minutes": 5, "min_notice_minutes": 0, "horizon_days": 2,
		"cancel_cutoff_minutes": 0, "what_to_bring": "Documento d'identità", "open_on_holidays": true}, http.StatusCreated)
	// Every day round the clock, but today from the next whole minute at
	// least a minute away: the first slot starts within two minutes.
	now := time.Now().In(rome)
	opens := now.Add(time.Minute).Truncate(time.Minute).Add(time.Minute)
	var hours []map[string]any
	for wd := 1; wd <= 7; wd++ {
		h := map[string]any{"weekday": wd, "opens": "00:00", "closes": "24:00"}
		if isoWeekday(now) == wd && opens.Day() == now.Day() {
			h["opens"] = opens.Format("15:04")
		}
		hours = append(hours, h)
	}
	admin.expect(t, "PUT", "/admin/services/"+serviceID+"/hours", map[string]any{"hours": hours}, http.StatusOK)
	for _, label := range []string{"Postazione A", "Postazione B"} {
		admin.expect(t, "POST", "/admin/services/"+serviceID+"/desks", map[string]any{"label": label}, http.StatusCreated)
	}
	opEmail, opPassword := "operatore."+run+"@comune.bari.it", "e2e-password-"+run
	var created struct {
		Operator struct {
			ID string `json:"id"`
		} `json:"operator"`
	}
	admin.expect(t, "POST", "/admin/operators", map[string]any{"email": opEmail, "display_name": "Operatrice E2E",
		"role": "operator", "offices": []string{officeID}, "password": opPassword}, http.StatusCreated).json(t, &created)
	if created.Operator.ID == "" {
		t.Fatal("the new operator has no id")
	}
	keep(opPassword)

	list, _ := s.freeSlots(t, serviceID)
	later := list.after(time.Now().Add(20 * time.Second))
	if len(later) == 0 || later[0].Start.After(time.Now().Add(3*time.Minute)) || later[0].Free != 2 {
		t.Fatalf("the new service has no 2-desk slot within 3 minutes: %+v", list)
	}
	first := later[0]

	// 2. A citizen books it; the agenda shows it to the new operator only.
	giulia := citizen{GivenName: "Giuliana", FamilyName: "Abbaticchio-" + run, Address: "Via Putignani 9, 70122 Bari",
		Email: "giuliana.abbaticchio." + run + "@example.it", Reason: "Cambio di residenza", Details: "Pratica " + run,
		PrivacyConsent: true, Locale: "it"}
	keep(giulia.GivenName, giulia.FamilyName, giulia.Address, giulia.Email, giulia.Details)
	b, h := s.book(t, serviceID, first.Start, giulia)
	keep(b.ManageToken, h.HoldSecret)

	op := s.signIn(t, opEmail, opPassword)
	var agenda struct {
		Bookings []struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Citizen struct {
				GivenName  string `json:"given_name"`
				FamilyName string `json:"family_name"`
			} `json:"citizen"`
		} `json:"bookings"`
	}
	op.expect(t, "GET", "/agenda?date="+first.Start.In(rome).Format("2006-01-02"), nil, http.StatusOK).json(t, &agenda)
	if len(agenda.Bookings) != 1 || agenda.Bookings[0].ID != b.BookingID || agenda.Bookings[0].Citizen.FamilyName != giulia.FamilyName {
		t.Fatalf("agenda = %+v, want the one booking of %s", agenda, giulia.FamilyName)
	}
	other := s.signIn(t, "operatore.urp@comune.bari.it", stack.DemoPassword)
	other.expect(t, "GET", "/bookings/"+b.BookingID, nil, http.StatusNotFound)
	op.expect(t, "GET", "/admin/offices", nil, http.StatusForbidden)

	// 3. The call: the operator through the operators' API, the citizen
	// through join.
	var opTicket, citizenTicket struct {
		URL, Token, Room, Identity string
	}
	op.expect(t, "POST", "/bookings/"+b.BookingID+"/join", nil, http.StatusOK).json(t, &opTicket)
	r := s.call("POST", "/api/join", nil, b.ManageToken)
	expect(t, "POST /api/join", r, http.StatusOK)
	r.json(t, &citizenTicket)
	keep(opTicket.Token, citizenTicket.Token)
	room := "sportello-" + b.BookingID
	opIdentity := "operator-" + created.Operator.ID
	if opTicket.Room != room || citizenTicket.Room != room || opTicket.Identity != opIdentity || opTicket.URL != env["LIVEKIT_URL"] {
		t.Fatalf("tickets: operator %+v, citizen room %s; want room %s, identity %s", opTicket, citizenTicket.Room, room, opIdentity)
	}
	operatorRoom := clienttest.Connect(t, opTicket.URL, opTicket.Token, nil)
	citizenRoom := clienttest.Connect(t, citizenTicket.URL, citizenTicket.Token, nil)
	clienttest.Eventually(t, chainWait, "the citizen does not see the operator", func() bool {
		p := citizenRoom.GetParticipantByIdentity(opIdentity)
		return p != nil && p.Name() == "Operatrice E2E"
	})
	clienttest.Eventually(t, chainWait, "the operator does not see the citizen", func() bool {
		return operatorRoom.GetParticipantByIdentity("citizen-"+b.BookingID) != nil
	})
	type detail struct {
		Status     string `json:"status"`
		Outcome    string `json:"outcome"`
		Attendance []struct {
			Identity string `json:"identity"`
			Role     string `json:"role"`
		} `json:"attendance"`
		Documents []struct {
			ID         string `json:"id"`
			UploadedBy string `json:"uploaded_by"`
		} `json:"documents"`
		History []struct {
			Actor struct {
				Kind string `json:"kind"`
				ID   string `json:"id"`
			} `json:"actor"`
			Action string `json:"action"`
		} `json:"history"`
	}
	var d detail
	clienttest.Eventually(t, chainWait, "LiveKit's webhooks did not record both participants", func() bool {
		d = detail{}
		op.expect(t, "GET", "/bookings/"+b.BookingID, nil, http.StatusOK).json(t, &d)
		roles := map[string]string{}
		for _, a := range d.Attendance {
			roles[a.Role] = a.Identity
		}
		return roles["citizen"] == "citizen-"+b.BookingID && roles["operator"] == opIdentity
	})

	// 4. The operator sends a document; the citizen sees it.
	receipt := "ricevuta-" + giulia.FamilyName + ".pdf"
	keep(receipt)
	var up upload
	op.expect(t, "POST", "/bookings/"+b.BookingID+"/documents",
		map[string]any{"filename": receipt, "content_type": "application/pdf", "size": len(chainPDF)}, http.StatusCreated).json(t, &up)
	keep(up.Upload.Fields["X-Amz-Signature"], up.Upload.Fields["policy"])
	if res := postForm(t, up.Upload.URL, up.Upload.Fields, receipt, chainPDF); res.status != http.StatusNoContent {
		t.Fatalf("the operator's upload: status %d: %s", res.status, res.body)
	}
	op.expect(t, "POST", "/bookings/"+b.BookingID+"/documents/"+up.DocumentID+"/complete", nil, http.StatusOK)
	r = s.call("GET", "/api/documents", nil, b.ManageToken)
	expect(t, "GET /api/documents", r, http.StatusOK)
	var docs struct {
		Documents []document `json:"documents"`
	}
	r.json(t, &docs)
	if len(docs.Documents) != 1 || docs.Documents[0].ID != up.DocumentID || docs.Documents[0].UploadedBy != "office" || docs.Documents[0].Filename != receipt {
		t.Errorf("the citizen's documents = %s, want the office's receipt", r.body)
	}

	// 5. The outcome: not before the start, then once.
	note := "Residenza aggiornata, pratica " + run
	keep(note)
	outcome := map[string]any{"outcome": "completed", "note": note}
	if time.Now().Before(first.Start) {
		op.expect(t, "POST", "/bookings/"+b.BookingID+"/outcome", outcome, http.StatusUnprocessableEntity)
		time.Sleep(time.Until(first.Start) + time.Second)
	}
	op.expect(t, "POST", "/bookings/"+b.BookingID+"/outcome", outcome, http.StatusOK).json(t, &d)
	if d.Status != "completed" || d.Outcome != "completed" {
		t.Errorf("after the outcome: status %s, outcome %s", d.Status, d.Outcome)
	}
	op.expect(t, "POST", "/bookings/"+b.BookingID+"/outcome", outcome, http.StatusConflict)
	var trail []string
	for i := len(d.History) - 1; i >= 0; i-- { // oldest first
		e := d.History[i]
		who := e.Actor.Kind
		if e.Actor.ID != "" {
			who += ":" + e.Actor.ID
		}
		trail = append(trail, who+" "+e.Action)
	}
	want := []string{"citizen booking.confirmed", "operator:" + created.Operator.ID + " document.uploaded",
		"operator:" + created.Operator.ID + " booking.completed"}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}

	// 6. The events, once each, from the right function, without personal
	// data; no dead letters; nothing personal in the output.
	wantEvents := map[string]string{
		events.BookingConfirmed:  "/sportello/confirm",
		events.ParticipantJoined: "/sportello/livekit-webhook",
		events.DocumentUploaded:  "/sportello/operators",
		events.BookingCompleted:  "/sportello/operators",
	}
	// Both participants joined once each (a reconnection would add one).
	s.checkEvents(t, b.BookingID, wantEvents, map[string]int{events.ParticipantJoined: 2}, secrets)
	s.noDeadLetters(t)
	citizenRoom.Disconnect()
	operatorRoom.Disconnect()
	s.stopClean(t, secrets)
}

// isoWeekday is 1 for Monday to 7 for Sunday.
func isoWeekday(t time.Time) int {
	if t.Weekday() == time.Sunday {
		return 7
	}
	return int(t.Weekday())
}

// operatorClient is a browser of the operators' console: a cookie jar
// with the session, and the session's CSRF token for unsafe requests.
type operatorClient struct {
	s    *localStack
	http *http.Client
	csrf string
}

// signIn signs in through the gateway with a password.
func (s *localStack) signIn(t *testing.T, email, password string) *operatorClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &operatorClient{s: s, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var resp struct {
		CSRFToken string `json:"csrf_token"`
	}
	c.expect(t, "POST", "/session", map[string]string{"email": email, "password": password}, http.StatusOK).json(t, &resp)
	if resp.CSRFToken == "" {
		t.Fatalf("sign-in of %s: no CSRF token", email)
	}
	c.csrf = resp.CSRFToken
	return c
}

// expect sends a request under /api/operator and requires its status.
func (c *operatorClient) expect(t *testing.T, method, path string, body any, status int) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.s.gateway+"/api/operator"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" && method != "GET" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	if r.status != status {
		t.Fatalf("%s /api/operator%s: status %d, want %d: %s", method, path, r.status, status, b)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s /api/operator%s: Cache-Control %q, want no-store", method, path, cc)
	}
	return r
}
