package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/adapters/rooms/roomstest"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// fuzzEnv is the operators function as it serves the network, with a
// booking at 09:00 on Tuesday 2 March 2027 in the office of an operator
// signed in at now.
type fuzzEnv struct {
	*env
	edge    http.Handler
	email   string
	booking string
	c       *apitest.Session
}

func newFuzzEnv(f *testing.F, now time.Time) *fuzzEnv {
	e := newEnv(f, apitest.Monday, auth.DefaultConfig)
	office, svc := pgtest.NewService(f, e.store.Pool, pgtest.Service{Desks: 2})
	email, _ := e.operator(operator.RoleOperator, office)
	b := pgtest.Book(f, e.store, svc, apitest.At("2027-03-02", "09:00"))
	e.clk.Set(now) // before signing in: a session idles out
	return &fuzzEnv{env: e, edge: function.Edge(e.store, "operators", apitest.Discard, e.h),
		email: email, booking: b.ID, c: e.signIn(email)}
}

// signedIn sends a request with the operator's session and CSRF token.
func (e *fuzzEnv) signedIn(r *http.Request) {
	e.c.On(r)
}

// fuzzBooking runs f against POST /api/operator/bookings/{id}+suffix,
// signed in, from the valid bodies.
func (e *fuzzEnv) fuzzBooking(f *testing.F, suffix string, valid ...string) {
	apitest.FuzzBody(f, e.edge, apitest.Endpoint{Method: "POST", Path: "/api/operator/bookings/" + e.booking + suffix, Prepare: e.signedIn}, valid...)
}

// FuzzSignIn: no body makes POST /api/operator/session answer a 5xx. Its
// answers to a refusal are not asserted here (they are the lockout's and
// sign-in's own tests'), only that it is a problem.
func FuzzSignIn(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	apitest.FuzzBody(f, e.edge, apitest.Endpoint{Method: "POST", Path: "/api/operator/session",
		// A refused sign-in writes on purpose: a wrong password for an
		// existing account counts a failure and may lock the account
		// (operators.failed_logins, locked_until), and a failed sign-in is
		// audited. Every other watched table must stay as it was.
		Except: []string{"operators", "audit_log"}},
		signInBody(e.email, password), signInBody("nobody-"+pgtest.Suffix()+"@comune.example.it", password))
}

// FuzzAgenda: no query string makes GET /api/operator/agenda answer a 5xx.
func FuzzAgenda(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	apitest.FuzzQuery(f, e.edge, apitest.Endpoint{Method: "GET", Path: "/api/operator/agenda", Prepare: e.signedIn},
		"date=2027-03-02&days=7", "date=2027-03-01", "days=3")
}

// FuzzOutcome: likewise POST …/outcome, once the appointment started.
func FuzzOutcome(f *testing.F) {
	e := newFuzzEnv(f, apitest.At("2027-03-02", "09:10"))
	e.fuzzBooking(f, "/outcome", `{"outcome": "no_show", "note": "Non si è presentata"}`, `{"outcome": "completed"}`)
}

// FuzzCancel: likewise POST …/cancel.
func FuzzCancel(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	e.fuzzBooking(f, "/cancel", `{}`)
}

// FuzzReschedule: likewise POST …/reschedule.
func FuzzReschedule(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	e.fuzzBooking(f, "/reschedule", `{"start": "2027-03-04T11:00:00+01:00"}`, `{"start": "2027-03-02T10:30:00Z"}`)
}

// FuzzJoin: likewise POST …/join, inside the room's window (a valid body
// reaches LiveKit).
func FuzzJoin(f *testing.F) {
	e := newFuzzEnv(f, apitest.At("2027-03-02", "09:00"))
	roomstest.Cleanup(f, e.lk, rooms.Name(e.booking))
	e.fuzzBooking(f, "/join", `{}`)
}

// FuzzCreateDocument: likewise POST …/documents.
func FuzzCreateDocument(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	e.fuzzBooking(f, "/documents", `{"filename": "Esito istruttoria.pdf", "content_type": "application/pdf", "size": 100}`)
}

// FuzzCompleteDocument: likewise POST …/documents/{doc}/complete, of a
// document uploaded but not yet completed.
func FuzzCompleteDocument(f *testing.F) {
	e := newFuzzEnv(f, apitest.Monday)
	body := fmt.Sprintf(`{"filename": "esito.pdf", "content_type": "application/pdf", "size": %d}`, len(pdf))
	rec := apitest.Serve(f, e.edge, apitestRequest("POST", "/api/operator/bookings/"+e.booking+"/documents", body, e.c), apitest.NoStore)
	if rec.Code != http.StatusCreated {
		f.Fatalf("create: status %d: %s", rec.Code, rec.Body)
	}
	up := apitest.Decode[documents.Upload](f, rec.Body.Bytes())
	if res := clienttest.PostForm(f, up.Upload.URL, up.Upload.Fields, "esito.pdf", pdf); res.Status != http.StatusNoContent {
		f.Fatalf("upload: status %d: %s", res.Status, res.Body)
	}
	e.fuzzBooking(f, "/documents/"+up.DocumentID+"/complete", `{}`)
}
