package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// TestMain needs a real PostgreSQL (DATABASE_URL, through pgtest) and a
// real Mailpit: SMTP_HOST and SMTP_PORT for its SMTP side, MAILPIT_URL for
// its HTTP API. `make test` starts both.
func TestMain(m *testing.M) {
	var missing []string
	for _, k := range []string{"SMTP_HOST", "SMTP_PORT", "MAILPIT_URL"} {
		if os.Getenv(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "send-email tests: %s not set: run `make test`, which starts Mailpit, or start one yourself "+
			"(mailpit --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025) and export SMTP_HOST=127.0.0.1 SMTP_PORT=1025 MAILPIT_URL=http://127.0.0.1:8025\n",
			strings.Join(missing, ", "))
		os.Exit(1)
	}
	pgtest.Run(m)
}

const (
	publicURL = "https://sportello.example.it"
	mailFrom  = "Sportello virtuale <noreply@sportello.test>"
)

// newSender is a Sender on the package's database and the test Mailpit,
// opened is one test's send-email: the package's store with its clock at
// apitest.Monday, a new service of svc, and the handler, mailing through the
// real Mailpit.
func opened(t *testing.T, svc pgtest.Service) (*postgres.Store, *clock.Fixed, http.Handler, string) {
	t.Helper()
	store, clk := pgtest.Store(t, apitest.Monday)
	_, id := pgtest.NewService(t, store.Pool, svc)
	return store, clk, newHandler(newSender(t, clk, "", nil)), id
}

// or on smtpPort when it is not "" (a closed port plays an SMTP outage).
func newSender(t testing.TB, clk clock.Clock, smtpPort string, log *slog.Logger) *Sender {
	t.Helper()
	if smtpPort == "" {
		smtpPort = os.Getenv("SMTP_PORT")
	}
	port, err := strconv.Atoi(smtpPort)
	if err != nil {
		t.Fatalf("SMTP_PORT %q: %v", smtpPort, err)
	}
	cfg := Config{SMTPHost: os.Getenv("SMTP_HOST"), SMTPPort: port, SMTPTLS: "none", SMTPTimeout: 5 * time.Second,
		MailFrom: mailFrom, PublicURL: publicURL + "/"}
	settings, err := cfg.check()
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = apitest.Discard
	}
	store, _ := pgtest.Store(t, time.Time{})
	store.Clock = clk
	return &Sender{Store: store, SMTP: smtp,
		From: settings.From, PublicURL: settings.PublicURL, Log: log}
}

// citizen is a citizen with an address of their own, so that tests (and
// other packages) sharing Mailpit never see each other's mail.
func citizen(given, family, locale string) booking.Citizen {
	return booking.Citizen{Applicant: booking.Applicant{GivenName: given, FamilyName: family, Address: "Via Sparano 1, Bari",
		Email:  strings.ToLower(given) + "." + pgtest.Suffix() + "@example.it",
		Reason: "SCIA", Details: "Pratica 12/2027"}, PrivacyConsent: true, Locale: locale}
}

// reminderOf is a reminder event as housekeeping writes it.
func reminderOf(t *testing.T, b booking.Booking, kind string) cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(uuid.NewString())
	ev.SetType(events.BookingReminder)
	ev.SetSource("/sportello/housekeeping")
	ev.SetSubject(b.ID)
	data := events.BookingReminderData{Reminder: kind, Booking: events.Booking{
		BookingID: b.ID, OfficeID: b.OfficeID, ServiceID: b.ServiceID, Desk: b.Desk,
		Start: b.Start, End: b.End, Sequence: b.Sequence, Locale: b.Citizen.Locale}}
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return ev
}

// structured is the request a Knative broker makes to deliver ev in
// structured mode, the whole event in the body (apitest.Binary is the
// binary mode).
func structured(t *testing.T, ev cloudevents.Event) *http.Request {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/cloudevents+json")
	return r
}

// accepted delivers ev in binary mode and requires a 202.
func accepted(t *testing.T, h http.Handler, ev cloudevents.Event) {
	t.Helper()
	if rec := apitest.Deliver(h, apitest.Binary(ev)); rec.Code != http.StatusAccepted {
		t.Fatalf("%s: status %d, want 202: %s", ev.Type(), rec.Code, rec.Body)
	}
}

// count runs a count(*) query.
func count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pgtest.Pool(t).QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func inboxRows(t *testing.T, ev cloudevents.Event) int {
	return count(t, `SELECT count(*) FROM processed_events WHERE consumer = $1 AND source = $2 AND id = $3`, Consumer, ev.Source(), ev.ID())
}

func tokens(t *testing.T, bookingID string) int {
	return count(t, `SELECT count(*) FROM manage_tokens WHERE booking_id = $1`, bookingID)
}

// mailpit is the Mailpit of make test (MAILPIT_URL).
func mailpit() clienttest.Mailpit { return clienttest.Mailpit{URL: os.Getenv("MAILPIT_URL")} }

// mailbox waits until exactly n messages reached to, then a moment more to
// see that no further one arrives, and returns them oldest first.
func mailbox(t *testing.T, to string, n int) []clienttest.Mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var found []clienttest.Mail
	for {
		found = mailpit().To(t, to)
		if len(found) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(found) == n {
		time.Sleep(300 * time.Millisecond) // a late duplicate would show up now
		found = mailpit().To(t, to)
	}
	if len(found) != n {
		t.Fatalf("%d mails to the citizen, want %d", len(found), n)
	}
	out := make([]clienttest.Mail, len(found))
	for i, m := range found {
		out[i] = mailpit().Message(t, m.ID)
	}
	return out
}

// mimePart is one part of a raw message: its media type, parameters and
// a few headers.
type mimePart struct {
	Type        string
	Params      map[string]string
	Disposition string
}

// structure walks a raw message's MIME tree depth first.
func structure(t *testing.T, raw []byte) (netmail.Header, []mimePart) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("raw message: %v", err)
	}
	var parts []mimePart
	var walk func(ct, disposition string, body io.Reader)
	walk = func(ct, disposition string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		delete(params, "boundary")
		dt := ""
		if disposition != "" {
			dt, _, _ = mime.ParseMediaType(disposition)
		}
		parts = append(parts, mimePart{Type: mt, Params: params, Disposition: dt})
		if !strings.HasPrefix(mt, "multipart/") {
			return
		}
		_, withBoundary, _ := mime.ParseMediaType(ct)
		r := multipart.NewReader(body, withBoundary["boundary"])
		for {
			part, err := r.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Disposition"), part)
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Disposition"), msg.Body)
	return msg.Header, parts
}

var (
	manageLink = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `/prenotazione/gestisci#([A-Za-z0-9_-]{43})`)
	roomLink   = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `/sala#([A-Za-z0-9_-]{43})`)
)

// links returns the manage and room tokens of a mail, which must be the
// same in its text and HTML bodies, and checks they open the booking.
func links(t *testing.T, store *postgres.Store, m clienttest.Mail, bookingID string) (manage, room string) {
	t.Helper()
	mt, rt := manageLink.FindStringSubmatch(m.Text), roomLink.FindStringSubmatch(m.Text)
	if mt == nil || rt == nil {
		t.Fatalf("manage or room link missing from the text:\n%s", m.Text)
	}
	for _, l := range []string{mt[0], rt[0]} {
		if !strings.Contains(m.HTML, `href="`+l+`"`) {
			t.Errorf("HTML has no link to %s", l)
		}
	}
	for _, tok := range []string{mt[1], rt[1]} {
		b, err := store.Booking(t.Context(), tok)
		if err != nil {
			t.Fatalf("the mailed token does not open the booking: %v", err)
		}
		if b.ID != bookingID {
			t.Fatalf("the mailed token opens booking %s, want %s", b.ID, bookingID)
		}
	}
	return mt[1], rt[1]
}

func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

func lacks(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s has %q:\n%s", what, w, body)
		}
	}
}

// TestConfirmRescheduleCancel follows one booking: the confirmation, a
// move across the change to summer time and the cancellation each send
// one mail in Italian, with the invite of one calendar event (same UID)
// at SEQUENCE 0, 1 and 2, times right in Rome and in the invite.
func TestConfirmRescheduleCancel(t *testing.T) {
	store, clk := pgtest.Store(t, apitest.Monday)
	s := newSender(t, clk, "", nil)
	h := newHandler(s)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Cutoff: 60})
	suffix := strings.TrimPrefix(svc, "service-")
	maria := citizen("Maria", "Rossi", "it")
	start, next := apitest.At("2027-03-02", "09:30"), apitest.At("2027-03-30", "10:00")
	conf := pgtest.BookFor(t, store, svc, start, maria)
	ctx := t.Context()
	uid := conf.ID + "@sportello"

	// Confirmation.
	accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingConfirmed))
	m := mailbox(t, maria.Email, 1)[0]
	if diff := cmp.Diff("Conferma prenotazione – Servizio "+suffix+" – 2 marzo 2027 ore 09:30", m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]clienttest.Address{{Name: "Maria Rossi", Address: maria.Email}}, m.To); diff != "" {
		t.Errorf("To (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(clienttest.Address{Name: "Sportello virtuale", Address: "noreply@sportello.test"}, m.From); diff != "" {
		t.Errorf("From (-want +got):\n%s", diff)
	}
	for what, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
		contains(t, what, body, "Gentile Maria Rossi", "confermata", "Ufficio "+suffix, "Servizio "+suffix,
			"martedì 2 marzo 2027", "09:30", "(CET)", "30 minuti", "Documento di identità", "SCIA", "Pratica 12/2027")
	}
	contains(t, "text", m.Text, "Ufficio:   Ufficio "+suffix, "Ora:       09:30 (CET)")
	manage, room := links(t, store, m, conf.ID)
	if manage != room {
		t.Errorf("the manage and room links carry different tokens")
	}
	if manage == conf.ManageToken {
		t.Errorf("the mail repeats the token confirm showed: it must issue a fresh one")
	}
	want := clienttest.Invite{Method: "REQUEST", UID: uid, Status: "CONFIRMED", Sequence: 0,
		Location: publicURL + "/sala#" + room, Organizer: "mailto:noreply@sportello.test", Attendee: "mailto:" + maria.Email,
		Start: time.Date(2027, 3, 2, 8, 30, 0, 0, time.UTC), End: time.Date(2027, 3, 2, 9, 0, 0, 0, time.UTC)}
	if diff := cmp.Diff(want, clienttest.ParseInvite(t, m.ICS)); diff != "" {
		t.Errorf("invite (-want +got):\n%s", diff)
	}
	header, parts := structure(t, m.Raw)
	wantParts := []mimePart{
		{Type: "multipart/mixed", Params: map[string]string{}},
		{Type: "multipart/alternative", Params: map[string]string{}},
		{Type: "text/plain", Params: map[string]string{"charset": "UTF-8"}},
		{Type: "text/html", Params: map[string]string{"charset": "UTF-8"}},
		{Type: "text/calendar", Params: map[string]string{"charset": "UTF-8", "method": "REQUEST", "name": "invito.ics"}, Disposition: "attachment"},
	}
	if diff := cmp.Diff(wantParts, parts); diff != "" {
		t.Errorf("MIME structure (-want +got):\n%s", diff)
	}
	if id := header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f-]{36}@sportello\.test>$`).MatchString(id) {
		t.Errorf("Message-ID %q, want <UUID@sportello.test>", id)
	}
	if header.Get("Content-Language") != "it" || header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers: Content-Language %q, Auto-Submitted %q", header.Get("Content-Language"), header.Get("Auto-Submitted"))
	}

	// Reschedule across the change to summer time (28 March 2027).
	if _, err := store.Reschedule(ctx, conf.ManageToken, next); err != nil {
		t.Fatal(err)
	}
	accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingRescheduled))
	m = mailbox(t, maria.Email, 2)[1]
	if diff := cmp.Diff("Prenotazione modificata – Servizio "+suffix+" – 30 marzo 2027 ore 10:00", m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	contains(t, "text", m.Text, "martedì 30 marzo 2027", "10:00 (CEST)", "previsto per martedì 2 marzo 2027 alle 09:30")
	_, room = links(t, store, m, conf.ID)
	want.Sequence, want.Location = 1, publicURL+"/sala#"+room
	want.Start, want.End = time.Date(2027, 3, 30, 8, 0, 0, 0, time.UTC), time.Date(2027, 3, 30, 8, 30, 0, 0, time.UTC)
	if diff := cmp.Diff(want, clienttest.ParseInvite(t, m.ICS)); diff != "" {
		t.Errorf("invite (-want +got):\n%s", diff)
	}

	// Cancellation: no secret link any more, METHOD:CANCEL.
	before := tokens(t, conf.ID)
	if _, err := store.Cancel(ctx, conf.ManageToken); err != nil {
		t.Fatal(err)
	}
	accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingCancelled))
	m = mailbox(t, maria.Email, 3)[2]
	if diff := cmp.Diff("Prenotazione annullata – Servizio "+suffix+" – 30 marzo 2027 ore 10:00", m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	contains(t, "text", m.Text, "annullata", "martedì 30 marzo 2027", "10:00", publicURL+"/")
	lacks(t, "text", m.Text, "l'ufficio ha dovuto annullare") // the citizen cancelled
	lacks(t, "text", m.Text, "/sala#", "/prenotazione/gestisci#")
	lacks(t, "HTML", m.HTML, "/sala#", "/prenotazione/gestisci#")
	if n := tokens(t, conf.ID); n != before {
		t.Errorf("the cancellation issued %d tokens, want none", n-before)
	}
	got := clienttest.ParseInvite(t, m.ICS)
	want = clienttest.Invite{Method: "CANCEL", UID: uid, Status: "CANCELLED", Sequence: 2,
		Location: "Sportello virtuale – Ufficio " + suffix, Organizer: "mailto:noreply@sportello.test", Attendee: "mailto:" + maria.Email,
		Start: want.Start, End: want.End}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invite (-want +got):\n%s", diff)
	}
	_, parts = structure(t, m.Raw)
	if p := parts[len(parts)-1]; p.Type != "text/calendar" || p.Params["method"] != "CANCEL" {
		t.Errorf("calendar part %+v, want text/calendar; method=CANCEL", p)
	}
}

// TestEnglish: a citizen who chose English gets the mail in English; an
// apostrophe in the name survives the HTML and the invite.
func TestEnglish(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{Duration: 90, Hours: map[int][][2]string{2: {{"14:00", "18:00"}}}})
	suffix := strings.TrimPrefix(svc, "service-")
	anna := citizen("Anna", "D'Amico", "en")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "14:00"), anna)

	accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingConfirmed))
	m := mailbox(t, anna.Email, 1)[0]
	if diff := cmp.Diff("Booking confirmed – Servizio "+suffix+" – 2 March 2027, 14:00", m.Subject); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	for what, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
		contains(t, what, body, "Tuesday 2 March 2027", "14:00", "1 hour 30 minutes", "Documento di identità", "These links are personal")
		lacks(t, what, body, "Gentile", "martedì")
	}
	contains(t, "text", m.Text, "Dear Anna D'Amico,")
	contains(t, "HTML", m.HTML, "Dear Anna D&#39;Amico,", `lang="en"`)
	links(t, store, m, conf.ID)
	header, parts := structure(t, m.Raw)
	if header.Get("Content-Language") != "en" || parts[len(parts)-1].Params["name"] != "invite.ics" {
		t.Errorf("Content-Language %q, attachment %+v", header.Get("Content-Language"), parts[len(parts)-1])
	}
	if unfolded := strings.ReplaceAll(string(m.ICS), "\r\n ", ""); !strings.Contains(unfolded, "ATTENDEE;CN=Anna D’Amico;") {
		t.Errorf("the attendee's CN is not the name with a plain apostrophe:\n%s", m.ICS)
	}
	if inv := clienttest.ParseInvite(t, m.ICS); !inv.End.Equal(inv.Start.Add(90 * time.Minute)) {
		t.Errorf("invite %+v does not last 90 minutes", inv)
	}
}

// TestCancelledByOffice: when the office cancels, the mail says so and
// apologises, in the citizen's language.
func TestCancelledByOffice(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{})
	sc := operator.Scope{OperatorID: uuid.NewString(), All: true}
	for _, c := range []struct {
		who    booking.Citizen
		phrase string
		start  string
	}{
		{citizen("Luca", "Bianchi", "it"), "l'ufficio ha dovuto annullare la tua prenotazione", "09:00"},
		{citizen("John", "Smith", "en"), "the office had to cancel your booking", "10:00"},
	} {
		conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", c.start), c.who)
		if _, err := store.CancelByOperator(t.Context(), sc, conf.ID); err != nil {
			t.Fatal(err)
		}
		accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingCancelled))
		m := mailbox(t, c.who.Email, 1)[0]
		for what, body := range map[string]string{"text": m.Text, "HTML": strings.ReplaceAll(m.HTML, "&#39;", "'")} {
			contains(t, what, body, c.phrase)
		}
	}
}

// TestDuplicateDelivery: the same event delivered many times, at once and
// in both modes, sends one mail and issues one token.
func TestDuplicateDelivery(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{})
	luca := citizen("Luca", "Bianchi", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-03", "10:00"), luca)
	ev := pgtest.Emitted(t, conf.ID, events.BookingConfirmed)

	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := apitest.Binary(ev)
			if i%2 == 1 {
				r = structured(t, ev)
			}
			codes[i] = apitest.Deliver(h, r).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("delivery %d: status %d, want 202", i, c)
		}
	}
	mailbox(t, luca.Email, 1)
	accepted(t, h, ev) // and once more, later
	mailbox(t, luca.Email, 1)
	if n := inboxRows(t, ev); n != 1 {
		t.Errorf("%d inbox rows, want 1", n)
	}
	if n := tokens(t, conf.ID); n != 2 {
		t.Errorf("%d manage tokens, want 2 (confirm's and the mail's)", n)
	}
}

// closedPort is a local port nobody listens on.
func closedPort(t *testing.T) string { return strconv.Itoa(apitest.FreePort(t)) }

// TestSMTPDown: with the SMTP server unreachable the event answers 503
// with Retry-After (the broker retries) and leaves nothing behind: no inbox row, no token. When
// SMTP is back, the same event sends exactly one mail. The failure is
// logged without the citizen's address or name.
func TestSMTPDown(t *testing.T) {
	store, clk := pgtest.Store(t, apitest.Monday)
	logs := apitest.NewLogs(t)
	down := newHandler(newSender(t, clk, closedPort(t), logs.Logger))
	up := newHandler(newSender(t, clk, "", nil))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	giulia := citizen("Giulia", "Verdi", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-04", "11:00"), giulia)
	ev := pgtest.Emitted(t, conf.ID, events.BookingConfirmed)

	for i := 0; i < 2; i++ {
		rec := apitest.Deliver(down, apitest.Binary(ev))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "30" {
			t.Fatalf("SMTP down: status %d, Retry-After %q, want 503 and 30: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		if p := apitest.ProblemOf(t, rec); p.Code != "unavailable" {
			t.Errorf("problem %+v", p)
		}
	}
	if n := inboxRows(t, ev); n != 0 {
		t.Errorf("%d inbox rows after the failure, want 0", n)
	}
	if n := tokens(t, conf.ID); n != 1 {
		t.Errorf("%d manage tokens after the failure, want 1 (confirm's)", n)
	}
	if !strings.Contains(logs.String(), "event failed") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	lacks(t, "the log", logs.String(), giulia.Email, "Giulia", "Verdi")
	mailbox(t, giulia.Email, 0)

	accepted(t, up, ev)
	m := mailbox(t, giulia.Email, 1)[0]
	links(t, store, m, conf.ID)
	accepted(t, up, ev)
	mailbox(t, giulia.Email, 1)
	if n := inboxRows(t, ev); n != 1 {
		t.Errorf("%d inbox rows, want 1", n)
	}
}

// TestOutdatedEvents: events that arrive after a later change mail
// nothing (the later event mailed the current state); a mail never shows
// an outdated time.
func TestOutdatedEvents(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{Cutoff: 60})
	paolo := citizen("Paolo", "Neri", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "09:00"), paolo)
	ctx := t.Context()
	moved, err := store.Reschedule(ctx, conf.ManageToken, apitest.At("2027-03-05", "12:00"))
	if err != nil {
		t.Fatal(err)
	}
	confirmed := pgtest.Emitted(t, conf.ID, events.BookingConfirmed)
	rescheduled := pgtest.Emitted(t, conf.ID, events.BookingRescheduled)
	reminder := reminderOf(t, moved, events.Reminder24h) // about sequence 1

	// The reschedule arrives first, then the confirmation.
	accepted(t, h, rescheduled)
	accepted(t, h, confirmed)
	ms := mailbox(t, paolo.Email, 1)
	contains(t, "text", ms[0].Text, "venerdì 5 marzo 2027", "12:00")
	if n := inboxRows(t, confirmed); n != 1 {
		t.Errorf("the outdated event is not recorded as handled (%d rows)", n)
	}

	// After the cancellation, a reminder of the old sequence mails nothing.
	if _, err := store.Cancel(ctx, conf.ManageToken); err != nil {
		t.Fatal(err)
	}
	accepted(t, h, pgtest.Emitted(t, conf.ID, events.BookingCancelled))
	accepted(t, h, reminder)
	ms = mailbox(t, paolo.Email, 2)
	if !strings.HasPrefix(ms[1].Subject, "Prenotazione annullata") {
		t.Errorf("second mail %q, want the cancellation", ms[1].Subject)
	}
}

// TestReminders: the reminders 24 hours and 1 hour before say so, with the
// invite of the current state; a reminder that arrives after the start
// mails nothing.
func TestReminders(t *testing.T) {
	store, clk, h, svc := opened(t, pgtest.Service{})
	sara := citizen("Sara", "Gallo", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "09:30"), sara)
	suffix := strings.TrimPrefix(svc, "service-")

	clk.Set(apitest.At("2027-03-01", "09:30"))
	accepted(t, h, reminderOf(t, conf.Booking, events.Reminder24h))
	clk.Set(apitest.At("2027-03-02", "08:30"))
	accepted(t, h, reminderOf(t, conf.Booking, events.Reminder1h))
	ms := mailbox(t, sara.Email, 2)
	subjects := []string{ms[0].Subject, ms[1].Subject}
	sort.Strings(subjects)
	want := []string{
		"Promemoria: appuntamento domani – Servizio " + suffix + " – 2 marzo 2027 ore 09:30",
		"Promemoria: appuntamento tra un'ora – Servizio " + suffix + " – 2 marzo 2027 ore 09:30",
	}
	if diff := cmp.Diff(want, subjects); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
	for _, m := range ms {
		links(t, store, m, conf.ID)
		if inv := clienttest.ParseInvite(t, m.ICS); inv.Method != "REQUEST" || inv.Sequence != 0 || !inv.Start.Equal(conf.Start) {
			t.Errorf("reminder invite %+v", inv)
		}
	}

	clk.Set(apitest.At("2027-03-02", "09:31"))
	late := reminderOf(t, conf.Booking, events.Reminder1h)
	accepted(t, h, late)
	mailbox(t, sara.Email, 2)
	if n := inboxRows(t, late); n != 1 {
		t.Errorf("the late reminder is not recorded as handled (%d rows)", n)
	}
}

// TestPurged: a booking whose personal data were erased gets no mail; the
// event is acknowledged.
func TestPurged(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{})
	elena := citizen("Elena", "Conti", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "10:30"), elena)
	if _, err := store.Pool.Exec(t.Context(), `
		UPDATE bookings SET purged_at = $2, given_name = NULL, family_name = NULL, address = NULL,
		       email = NULL, reason = NULL, details = NULL WHERE id = $1`, conf.ID, apitest.Monday); err != nil {
		t.Fatal(err)
	}
	ev := pgtest.Emitted(t, conf.ID, events.BookingConfirmed)
	accepted(t, h, ev)
	mailbox(t, elena.Email, 0)
	if n := inboxRows(t, ev); n != 1 {
		t.Errorf("%d inbox rows, want 1", n)
	}
	if n := tokens(t, conf.ID); n != 1 {
		t.Errorf("%d tokens, want 1: no mail, no new token", n)
	}
}

// TestRefused: events that can never be mailed answer 400 (the broker
// dead-letters them at once), naming the field at fault, and leave nothing
// behind.
func TestRefused(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{})
	marco := citizen("Marco", "Ferri", "it")
	conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "11:30"), marco)
	good := pgtest.Emitted(t, conf.ID, events.BookingConfirmed)

	with := func(change func(ev *cloudevents.Event)) *http.Request {
		ev := good.Clone()
		ev.SetID(uuid.NewString())
		change(&ev)
		return apitest.Binary(ev)
	}
	data := func(v string) func(ev *cloudevents.Event) {
		return func(ev *cloudevents.Event) { ev.DataEncoded = []byte(v) }
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		want apitest.Verdict
	}{
		{"not a CloudEvent", apitest.Post("/", `{"booking_id": "x"}`, "application/json"), apitest.Want(400, "invalid", "")},
		{"unknown booking", with(func(ev *cloudevents.Event) {
			id := uuid.NewString()
			ev.SetSubject(id)
			ev.DataEncoded = []byte(`{"booking_id": "` + id + `", "sequence": 0}`)
		}), apitest.Want(400, "invalid", "data.booking_id")},
		{"a type not consumed", with(func(ev *cloudevents.Event) { ev.SetType(events.BookingHeld) }), apitest.Want(400, "invalid", "type")},
		{"data not JSON", with(data(`nope`)), apitest.Want(400, "invalid", "data")},
		{"no data", with(data(``)), apitest.Want(400, "invalid", "data")},
		{"data not JSON by content type", with(func(ev *cloudevents.Event) { ev.SetDataContentType("text/plain") }), apitest.Want(400, "invalid", "datacontenttype")},
		{"booking id missing", with(data(`{"sequence": 0}`)), apitest.Want(400, "invalid", "data.booking_id")},
		{"booking id malformed", with(data(`{"booking_id": "42", "sequence": 0}`)), apitest.Want(400, "invalid", "data.booking_id")},
		{"subject of another booking", with(func(ev *cloudevents.Event) { ev.SetSubject(uuid.NewString()) }), apitest.Want(400, "invalid", "subject")},
		{"sequence ahead of the booking", with(data(`{"booking_id": "` + conf.ID + `", "sequence": 3}`)), apitest.Want(400, "invalid", "data.sequence")},
		{"negative sequence", with(data(`{"booking_id": "` + conf.ID + `", "sequence": -1}`)), apitest.Want(400, "invalid", "data.sequence")},
		{"unknown reminder", with(func(ev *cloudevents.Event) {
			ev.SetType(events.BookingReminder)
			ev.DataEncoded = []byte(`{"booking_id": "` + conf.ID + `", "sequence": 0, "reminder": "2h"}`)
		}), apitest.Want(400, "invalid", "data.reminder")},
		{"reschedule without the previous start", with(func(ev *cloudevents.Event) { ev.SetType(events.BookingRescheduled) }), apitest.Want(400, "invalid", "data.previous_start")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, `SELECT count(*) FROM processed_events`)
			rec := apitest.Serve(t, h, tc.req)
			p := apitest.ProblemOf(t, rec)
			if diff := cmp.Diff(tc.want, apitest.VerdictOf(rec, p)); diff != "" {
				t.Errorf("verdict (-want +got):\n%s\n%s", diff, rec.Body)
			}
			if after := count(t, `SELECT count(*) FROM processed_events`); after != before {
				t.Errorf("inbox rows %d -> %d, want none written", before, after)
			}
		})
	}
	if n := tokens(t, conf.ID); n != 1 {
		t.Errorf("%d manage tokens, want 1", n)
	}
	mailbox(t, marco.Email, 0)
}

// TestConcurrentMails: confirmations of different bookings delivered at
// once each send their own mail (one SMTP client serves them all).
func TestConcurrentMails(t *testing.T) {
	store, _, h, svc := opened(t, pgtest.Service{Desks: 6})
	var people []booking.Citizen
	var evs []cloudevents.Event
	for i := 0; i < 6; i++ {
		c := citizen("Nome", "Cognome", "it")
		conf := pgtest.BookFor(t, store, svc, apitest.At("2027-03-02", "09:00"), c)
		people, evs = append(people, c), append(evs, pgtest.Emitted(t, conf.ID, events.BookingConfirmed))
	}
	var wg sync.WaitGroup
	codes := make([]int, len(evs))
	for i, ev := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = apitest.Deliver(h, apitest.Binary(ev)).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("delivery %d: status %d", i, c)
		}
	}
	for _, c := range people {
		if m := mailbox(t, c.Email, 1)[0]; m.To[0].Address != c.Email {
			t.Errorf("mail to %s went to %v", c.Email, m.To)
		}
	}
}
