package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/admin"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

const password = "correct horse battery staple"

type env struct {
	t     testing.TB
	h     http.Handler
	store *postgres.Store
	auth  *auth.Authenticator
	clk   *clock.Fixed
}

func newEnv(t testing.TB) *env {
	t.Helper()
	store, clk := pgtest.Store(t, apitest.Monday)
	// Nothing personal in the logs: no email, password or citizen data.
	logs := apitest.NewLogs(t, "@", password, "Maria", "Rossi")
	a := &auth.Authenticator{Store: store, Config: auth.DefaultConfig}
	return &env{t: t, h: apitest.Validated(t, newHandler(store, a, logs.Logger)), store: store, auth: a, clk: clk}
}

// client is a signed-in browser of operator id.
type client struct {
	id string
	apitest.Session
}

// account creates an account with role and offices and signs it in.
func (e *env) account(role string, offices ...string) *client {
	e.t.Helper()
	email := "acc-" + pgtest.Suffix() + "@comune.example.it"
	id, err := pgtest.CreateOperator(e.t.Context(), e.store.Pool, e.clk.Now(), email, "Prova", password, role, offices...)
	if err != nil {
		e.t.Fatal(err)
	}
	sess, err := e.auth.SignIn(e.t.Context(), email, password, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{id, apitest.Session{Cookie: session.Cookie(e.auth.Config, sess.Token), CSRF: sess.CSRFToken}}
}

func (e *env) do(c *client, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := apitest.Request(method, Prefix+path, "", body)
	if c != nil {
		c.On(r)
	}
	return apitest.Serve(e.t, e.h, r, apitest.NoStore)
}

func (e *env) ok(rec *httptest.ResponseRecorder, want int) map[string]any {
	e.t.Helper()
	if rec.Code != want {
		e.t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
	}
	out := apitest.Decode[map[string]any](e.t, rec.Body.Bytes())
	return out
}

// written is a digest of every table an administrator's request may write.
func written(t *testing.T) string {
	t.Helper()
	var s string
	err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM offices x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM services x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM desks x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM opening_hours x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM closures x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM operators x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM operator_offices x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM bookings x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM outbox x) ||
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM audit_log x)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func status(t *testing.T, id string) string {
	t.Helper()
	var s string
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT status FROM bookings WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func free(t *testing.T, store *postgres.Store, svc, day string) map[string]int {
	t.Helper()
	d, _ := schedule.ParseDate(day)
	_, slots, err := store.FreeSlots(t.Context(), svc, d, d)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range slots {
		out[s.Start.In(apitest.Rome).Format("15:04")] = s.Free
	}
	return out
}

func TestAccess(t *testing.T) {
	e := newEnv(t)
	office, _ := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	op := e.account(operator.RoleOperator, office)
	adm := e.account(operator.RoleAdministrator)
	noCSRF := &client{Session: apitest.Session{Cookie: adm.Cookie}}
	body := `{"id":"nuovo-` + pgtest.Suffix() + `","name":"Nuovo"}`
	before := written(t)
	for _, tc := range []struct {
		name         string
		c            *client
		method, path string
		body         string
		want         apitest.Verdict
	}{
		{"no session", nil, "GET", "/offices", "", apitest.Want(401, "unauthorized", "session")},
		{"operator reads", op, "GET", "/offices", "", apitest.Want(403, "forbidden", "session")},
		{"operator audit", op, "GET", "/audit", "", apitest.Want(403, "forbidden", "session")},
		{"operator writes", op, "POST", "/offices", body, apitest.Want(403, "forbidden", "session")},
		{"operator closes", op, "POST", "/closures", `{"office_id":"` + office + `","first_day":"2027-03-03","last_day":"2027-03-03"}`, apitest.Want(403, "forbidden", "session")},
		{"admin without csrf", noCSRF, "POST", "/offices", body, apitest.Want(403, "csrf", session.CSRFHeader)},
		{"unknown route", adm, "GET", "/nothing", "", apitest.Want(404, "not_found", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := apitest.VerdictNoStore(t, e.do(tc.c, tc.method, tc.path, tc.body)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if written(t) != before {
		t.Error("a refused request wrote something")
	}
}

// TestConfigure builds an office from nothing and shows it bookable.
func TestConfigure(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	sfx := pgtest.Suffix()
	oid, sid := "ufficio-"+sfx, "servizio-"+sfx
	got := e.ok(e.do(adm, "POST", "/offices", `{"id":"`+oid+`","name":"Ufficio Tributi","address":"Corso Vittorio Emanuele 84, Bari","position":4}`), 201)
	if diff := cmp.Diff(map[string]any{"id": oid, "name": "Ufficio Tributi", "description": "", "address": "Corso Vittorio Emanuele 84, Bari", "position": 4.0, "active": true, "limits": limits(nil, nil, nil)}, got["office"]); diff != "" {
		t.Errorf("office (-want +got):\n%s", diff)
	}
	e.ok(e.do(adm, "POST", "/services", `{"id":"`+sid+`","office_id":"`+oid+`","name":"IMU","duration_minutes":20,"buffer_minutes":10,"horizon_days":30,"what_to_bring":"F24"}`), 201)
	d := e.ok(e.do(adm, "POST", "/services/"+sid+"/desks", `{"label":"Sportello 1"}`), 201)["desk"].(map[string]any)
	e.ok(e.do(adm, "PUT", "/services/"+sid+"/hours", `{"hours":[{"weekday":3,"opens":"09:00","closes":"10:00"},{"weekday":3,"opens":"15:00","closes":"16:00"}]}`), 200)
	want := map[string]int{"09:00": 1, "09:30": 1, "15:00": 1, "15:30": 1}
	if diff := cmp.Diff(want, free(t, e.store, sid, "2027-03-03")); diff != "" {
		t.Errorf("free slots (-want +got):\n%s", diff)
	}
	// A second desk doubles the capacity at once: no cache in between.
	e.ok(e.do(adm, "POST", "/services/"+sid+"/desks", `{"label":"Sportello 2"}`), 201)
	for k := range want {
		want[k] = 2
	}
	if diff := cmp.Diff(want, free(t, e.store, sid, "2027-03-03")); diff != "" {
		t.Errorf("free slots with two desks (-want +got):\n%s", diff)
	}
	// The same label twice is a conflict.
	if v := apitest.VerdictNoStore(t, e.do(adm, "POST", "/services/"+sid+"/desks", `{"label":"Sportello 2"}`)); v != apitest.Want(409, "conflict", "label") {
		t.Errorf("duplicate label: %+v", v)
	}
	// A closure empties the day; removing it opens it again.
	c := e.ok(e.do(adm, "POST", "/closures", `{"office_id":"`+oid+`","first_day":"2027-03-03","last_day":"2027-03-03","reason":"Inventario"}`), 201)["closure"].(map[string]any)
	if got := free(t, e.store, sid, "2027-03-03"); len(got) != 0 {
		t.Errorf("free slots on a closed day: %v", got)
	}
	if l := e.ok(e.do(adm, "GET", "/closures?office_id="+oid, ""), 200)["closures"].([]any); len(l) != 1 || l[0].(map[string]any)["reason"] != "Inventario" {
		t.Errorf("the office's closures: %v", l)
	}
	e.ok(e.do(adm, "DELETE", fmt.Sprintf("/closures/%v", c["id"]), ""), 200)
	if diff := cmp.Diff(want, free(t, e.store, sid, "2027-03-03")); diff != "" {
		t.Errorf("free slots after the closure is removed (-want +got):\n%s", diff)
	}
	// Listings.
	svcs := e.ok(e.do(adm, "GET", "/services?office_id="+oid, ""), 200)["services"].([]any)
	if len(svcs) != 1 || len(svcs[0].(map[string]any)["desks"].([]any)) != 2 || len(svcs[0].(map[string]any)["opening_hours"].([]any)) != 2 {
		t.Errorf("services: %v", svcs)
	}
	// Every change is an event and an audit row with the administrator.
	for typ, subject := range map[string]string{events.OfficeChanged: oid, events.ServiceChanged: sid,
		events.DeskChanged: fmt.Sprint(d["id"]), events.ClosureAdded: fmt.Sprint(c["id"]), events.ClosureRemoved: fmt.Sprint(c["id"])} {
		if n := apitest.EventsOf(t, subject, typ); n < 1 {
			t.Errorf("no %s about %s", typ, subject)
		}
	}
	audit := e.ok(e.do(adm, "GET", "/audit?target_kind=service&target_id="+sid, ""), 200)["entries"].([]any)
	if len(audit) != 2 { // created, hours
		t.Fatalf("audit of the service: %v", audit)
	}
	last := audit[0].(map[string]any)
	if diff := cmp.Diff(map[string]any{"kind": "operator", "id": adm.id}, last["actor"]); diff != "" || last["action"] != "service.changed" {
		t.Errorf("audit entry: %v", last)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	long := strings.Repeat("x", 201)
	before := written(t)
	for _, tc := range []struct {
		method, path, body string
		want               apitest.Verdict
	}{
		{"POST", "/offices", `{"id":"Bad Id","name":"X"}`, apitest.Want(400, "invalid", "id")},
		{"POST", "/offices", `{"id":"ok-id","name":" "}`, apitest.Want(400, "invalid", "name")},
		{"POST", "/offices", `{"id":"ok-id","name":"` + long + `"}`, apitest.Want(400, "invalid", "name")},
		{"POST", "/offices", `{"id":"ok-id","name":"X","colour":"red"}`, apitest.Want(400, "invalid", "colour")},
		{"POST", "/offices", `{"id":"` + office + `","name":"X"}`, apitest.Want(409, "conflict", "id")},
		{"POST", "/offices", `{"id":"ok-id","name":"X","position":"first"}`, apitest.Want(400, "invalid", "position")},
		{"PATCH", "/offices/nessuno", `{"name":"X"}`, apitest.Want(404, "not_found", "id")},
		{"PATCH", "/offices/" + office, `{"address":"` + strings.Repeat("y", 301) + `"}`, apitest.Want(400, "invalid", "address")},
		{"PATCH", "/offices/" + office + "?dry_run=maybe", `{"active":false}`, apitest.Want(400, "invalid", "dry_run")},
		{"POST", "/services", `{"id":"s-x","office_id":"` + office + `","name":"S","duration_minutes":4,"horizon_days":30}`, apitest.Want(400, "invalid", "duration_minutes")},
		{"POST", "/services", `{"id":"s-x","office_id":"` + office + `","name":"S","duration_minutes":30,"horizon_days":0}`, apitest.Want(400, "invalid", "horizon_days")},
		{"POST", "/services", `{"id":"s-x","office_id":"nessuno","name":"S","duration_minutes":30,"horizon_days":30}`, apitest.Want(404, "not_found", "office_id")},
		{"PATCH", "/services/" + svc, `{"buffer_minutes":-1}`, apitest.Want(400, "invalid", "buffer_minutes")},
		{"PATCH", "/services/" + svc, `{"cancel_cutoff_minutes":99999}`, apitest.Want(400, "invalid", "cancel_cutoff_minutes")},
		{"PATCH", "/services/nessuno", `{"name":"X"}`, apitest.Want(404, "not_found", "id")},
		{"PATCH", "/services/" + svc, `{"buffer_minutes":"x"}`, apitest.Want(400, "invalid", "buffer_minutes")}, // a member of the embedded patch
		{"PATCH", "/offices/" + office, `{"active":false,"cancel_affected":"yes"}`, apitest.Want(400, "invalid", "cancel_affected")},
		{"PUT", "/services/" + svc + "/hours", `{}`, apitest.Want(400, "invalid", "hours")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":8,"opens":"09:00","closes":"10:00"}]}`, apitest.Want(400, "invalid", "hours[0].weekday")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":1,"opens":"09:00","closes":"10:00"},{"weekday":1,"opens":"9","closes":"10:00"}]}`, apitest.Want(400, "invalid", "hours[1].opens")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":1,"opens":"11:00","closes":"10:00"}]}`, apitest.Want(400, "invalid", "hours[0].closes")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":1,"opens":"09:00","closes":"11:00"},{"weekday":1,"opens":"10:00","closes":"12:00"}]}`, apitest.Want(400, "invalid", "hours[1].opens")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":1,"opens":"09:00","closes":"25:00"}]}`, apitest.Want(400, "invalid", "hours[0].closes")},
		{"PUT", "/services/" + svc + "/hours", `{"hours":[{"weekday":1,"opens":"09:00","closes":"10:00","note":1}]}`, apitest.Want(400, "invalid", "hours[0].note")},
		{"POST", "/services/" + svc + "/desks", `{"label":""}`, apitest.Want(400, "invalid", "label")},
		{"POST", "/services/nessuno/desks", `{"label":"D"}`, apitest.Want(404, "not_found", "id")},
		{"PATCH", "/desks/abc", `{"active":false}`, apitest.Want(404, "not_found", "id")},
		{"PATCH", "/desks/999999999", `{"active":false}`, apitest.Want(404, "not_found", "id")},
		{"POST", "/closures", `{"office_id":"` + office + `","first_day":"2027-02-30","last_day":"2027-03-01"}`, apitest.Want(400, "invalid", "first_day")},
		{"POST", "/closures", `{"office_id":"` + office + `","first_day":"2027-03-05","last_day":"2027-03-01"}`, apitest.Want(400, "invalid", "last_day")},
		{"POST", "/closures", `{"office_id":"` + office + `","first_day":"2027-03-01","last_day":"2029-03-01"}`, apitest.Want(400, "invalid", "last_day")},
		{"POST", "/closures", `{"office_id":"nessuno","first_day":"2027-03-01","last_day":"2027-03-01"}`, apitest.Want(404, "not_found", "office_id")},
		{"POST", "/closures", `{"office_id":"` + office + `","first_day":"2027-03-01","last_day":"2027-03-01","reason":"` + long + `"}`, apitest.Want(400, "invalid", "reason")},
		{"DELETE", "/closures/0", "", apitest.Want(404, "not_found", "id")},
		{"POST", "/operators", `{"email":"nobody","display_name":"X","role":"operator","password":"` + password + `"}`, apitest.Want(400, "invalid", "email")},
		{"POST", "/operators", `{"email":"x@comune.example.it","display_name":"X","role":"boss","password":"` + password + `"}`, apitest.Want(400, "invalid", "role")},
		{"POST", "/operators", `{"email":"x@comune.example.it","display_name":"X","role":"operator","password":"short"}`, apitest.Want(400, "invalid", "password")},
		{"POST", "/operators", `{"email":"x@comune.example.it","display_name":"X","role":"operator","offices":["` + office + `","nessuno"],"password":"` + password + `"}`, apitest.Want(400, "invalid", "offices[1]")},
		{"POST", "/operators", `{"email":"x@comune.example.it","display_name":"X","role":"operator","offices":["` + office + `","` + office + `"],"password":"` + password + `"}`, apitest.Want(400, "invalid", "offices[1]")},
		{"PATCH", "/operators/" + adm.id, `{"role":"operator"}`, apitest.Want(422, "unprocessable", "role")},
		{"PATCH", "/operators/" + adm.id, `{"active":false}`, apitest.Want(422, "unprocessable", "active")},
		{"PATCH", "/operators/not-a-uuid", `{"active":false}`, apitest.Want(404, "not_found", "id")},
		{"POST", "/operators/" + adm.id + "/password", `{"password":"x"}`, apitest.Want(400, "invalid", "password")},
		{"GET", "/audit?target_kind=planet", "", apitest.Want(400, "invalid", "target_kind")},
		{"GET", "/audit?actor=me", "", apitest.Want(400, "invalid", "actor")},
		{"GET", "/audit?before=-1", "", apitest.Want(400, "invalid", "before")},
		{"GET", "/audit?target_id=%00", "", apitest.Want(400, "invalid", "target_id")},
		{"GET", "/services?office_id=%00", "", apitest.Want(400, "invalid", "office_id")},
		{"POST", "/offices", `not json`, apitest.Want(400, "invalid", "")},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.want.Field, func(t *testing.T) {
			if got := apitest.VerdictNoStore(t, e.do(adm, tc.method, tc.path, tc.body)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if written(t) != before {
		t.Error("bad input wrote something")
	}
}

// problem409 is a stranded-bookings refusal.
type problem409 struct {
	Code     string           `json:"code"`
	Field    string           `json:"field"`
	Bookings []admin.Affected `json:"bookings"`
}

func affected(b booking.Confirmation, reason string) admin.Affected {
	return admin.Affected{ID: b.ID, ServiceID: b.ServiceID, Start: b.Start, End: b.End, Desk: b.Desk, Reason: reason}
}

func cmpAffected(t *testing.T, want, got []admin.Affected) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("affected bookings (-want +got):\n%s", diff)
	}
}

// TestStrandedBookings: each kind of change that strands a confirmed
// booking is refused with the booking listed, previewed by a dry run, and
// applied with cancel_affected, cancelling it with its event.
func TestStrandedBookings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		path   func(office, svc string, desk int64) string
		body   string
		field  string
		reason string
		both   bool // the Friday booking is stranded too
	}{
		{"closure", "POST", func(o, s string, d int64) string { return "/closures" }, `{"office_id":"{office}","first_day":"2027-03-03","last_day":"2027-03-04","reason":"Trasloco"}`, "first_day", admin.StrandClosed, false},
		{"global closure", "POST", func(o, s string, d int64) string { return "/closures" }, `{"office_id":null,"first_day":"2027-03-03","last_day":"2027-03-03"}`, "first_day", admin.StrandClosed, false},
		{"service off", "PATCH", func(o, s string, d int64) string { return "/services/" + s }, `{"active":false}`, "active", admin.StrandServiceInactive, true},
		{"office off", "PATCH", func(o, s string, d int64) string { return "/offices/" + o }, `{"active":false}`, "active", admin.StrandOfficeInactive, true},
		{"longer duration", "PATCH", func(o, s string, d int64) string { return "/services/" + s }, `{"duration_minutes":45}`, "duration_minutes", admin.StrandDuration, true},
		{"hours", "PUT", func(o, s string, d int64) string { return "/services/" + s + "/hours" }, `{"hours":[{"weekday":3,"opens":"09:00","closes":"10:00"},{"weekday":3,"opens":"10:15","closes":"12:00"},{"weekday":5,"opens":"09:00","closes":"13:00"}]}`, "hours", admin.StrandOutsideHours, false},
		{"holidays", "PATCH", func(o, s string, d int64) string { return "/services/" + s }, `{"open_on_holidays":false}`, "open_on_holidays", admin.StrandClosed, false},
		{"only desk off", "PATCH", func(o, s string, d int64) string { return fmt.Sprintf("/desks/%d", d) }, `{"active":false}`, "active", admin.StrandNoDesk, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			adm := e.account(operator.RoleAdministrator)
			office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Duration: 30})
			var desk int64
			if err := e.store.Pool.QueryRow(t.Context(), `SELECT id FROM desks WHERE service_id = $1`, svc).Scan(&desk); err != nil {
				t.Fatal(err)
			}
			// Wednesday 3 March 10:00 is closed, outside the new hours (it
			// would straddle two periods) and too short for 45 minutes.
			// Friday 09:00 stays under every change but the deactivations
			// and the longer duration. In "holidays", the booking is on
			// Easter Monday 2027 (29 March) of a service open on holidays.
			when := apitest.At("2027-03-03", "10:00")
			if tc.name == "holidays" {
				if _, err := e.store.Pool.Exec(t.Context(), `UPDATE services SET open_on_holidays = true WHERE id = $1`, svc); err != nil {
					t.Fatal(err)
				}
				when = apitest.At("2027-03-29", "10:00")
			}
			b := pgtest.Book(t, e.store, svc, when)
			fri := pgtest.Book(t, e.store, svc, apitest.At("2027-03-05", "09:00"))
			path := tc.path(office, svc, desk)
			body := strings.ReplaceAll(tc.body, "{office}", office)
			want := []admin.Affected{affected(b, tc.reason)}
			if tc.both {
				want = append(want, affected(fri, tc.reason))
			}

			// Refused: 409 naming the field, the booking listed, nothing written.
			before := written(t)
			rec := e.do(adm, tc.method, path, body)
			if v := apitest.VerdictNoStore(t, rec); v != apitest.Want(409, "conflict", tc.field) {
				t.Fatalf("refusal: %+v: %s", v, rec.Body)
			}
			p := apitest.Decode[problem409](t, rec.Body.Bytes())
			if tc.name == "global closure" {
				// Other tests' bookings that day may be listed too: only ours matter here.
				var mine []admin.Affected
				for _, a := range p.Bookings {
					if a.ServiceID == svc {
						mine = append(mine, a)
					}
				}
				p.Bookings = mine
			}
			cmpAffected(t, want, p.Bookings)
			for _, s := range []string{"Maria", "Rossi", "@"} {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("the refusal carries personal data %q: %s", s, rec.Body)
				}
			}
			if written(t) != before {
				t.Fatal("a refused change wrote something")
			}

			// Dry run: 200 with what would be cancelled, nothing written.
			out := e.ok(e.do(adm, tc.method, path+"?dry_run=true", body), 200)
			if out["dry_run"] != true || len(out["cancelled"].([]any)) < len(want) {
				t.Errorf("dry run: %v", out)
			}
			if written(t) != before {
				t.Fatal("a dry run wrote something")
			}
			if tc.name == "global closure" {
				return // applying it would cancel other tests' bookings
			}

			// Applied with cancel_affected: the booking is cancelled with its
			// event (cancelled_by operator), the audit names the administrator.
			withCancel := strings.TrimSuffix(body, "}") + `,"cancel_affected":true}`
			rec = e.do(adm, tc.method, path, withCancel)
			if rec.Code != 200 && rec.Code != 201 {
				t.Fatalf("with cancel_affected: %d %s", rec.Code, rec.Body)
			}
			out = e.ok(rec, rec.Code)
			if got := len(out["cancelled"].([]any)); got != len(want) {
				t.Errorf("cancelled %d bookings, want %d: %v", got, len(want), out)
			}
			for _, a := range want {
				if got := status(t, a.ID); got != "cancelled" {
					t.Errorf("the stranded booking is %s", got)
				}
			}
			if !tc.both {
				if got := status(t, fri.ID); got != "confirmed" {
					t.Errorf("an unaffected booking is %s", got)
				}
			}
			var data events.BookingCancelledData
			var raw []byte
			if err := e.store.Pool.QueryRow(t.Context(),
				`SELECT data FROM outbox WHERE subject = $1 AND type = $2`, b.ID, events.BookingCancelled).Scan(&raw); err != nil {
				t.Fatalf("no booking.cancelled event: %v", err)
			}
			if err := json.Unmarshal(raw, &data); err != nil {
				t.Fatal(err)
			}
			if data.CancelledBy != "operator" || data.Sequence != 1 {
				t.Errorf("cancel event: %+v", data)
			}
			var actor string
			if err := e.store.Pool.QueryRow(t.Context(),
				`SELECT actor_id::text FROM audit_log WHERE target_id = $1 AND action = 'booking.cancelled'`, b.ID).Scan(&actor); err != nil || actor != adm.id {
				t.Errorf("audit of the cancellation: %q, %v", actor, err)
			}
		})
	}
}

// TestDeskDeactivationReassigns: a booking on a deactivated desk moves to a
// free desk at the same time; only one that finds none is stranded.
func TestDeskDeactivationReassigns(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	_, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Desks: 2})
	var desk2 int64
	if err := e.store.Pool.QueryRow(t.Context(), `SELECT id FROM desks WHERE service_id = $1 AND label = 'Postazione 2'`, svc).Scan(&desk2); err != nil {
		t.Fatal(err)
	}
	nine := apitest.At("2027-03-03", "09:00")
	a, b := pgtest.Book(t, e.store, svc, nine), pgtest.Book(t, e.store, svc, nine) // both desks at 09:00
	c := pgtest.Book(t, e.store, svc, apitest.At("2027-03-03", "10:00"))
	onDesk2 := a
	if b.Desk == "Postazione 2" {
		onDesk2 = b
	}
	// Put c on desk 2 too, so that it must move.
	if _, err := e.store.Pool.Exec(t.Context(), `UPDATE bookings SET desk_id = $2 WHERE id = $1`, c.ID, desk2); err != nil {
		t.Fatal(err)
	}
	c.Desk = "Postazione 2"
	path := fmt.Sprintf("/desks/%d", desk2)
	rec := e.do(adm, "PATCH", path, `{"active":false}`)
	var p problem409
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code != 409 || p.Field != "active" {
		t.Fatalf("deactivation: %d %s", rec.Code, rec.Body)
	}
	cmpAffected(t, []admin.Affected{affected(onDesk2, admin.StrandNoDesk)}, p.Bookings)

	out := e.ok(e.do(adm, "PATCH", path, `{"active":false,"cancel_affected":true}`), 200)
	if diff := cmp.Diff([]any{map[string]any{"booking_id": c.ID, "desk": "Postazione 1"}}, out["reassigned"]); diff != "" {
		t.Errorf("reassigned (-want +got):\n%s", diff)
	}
	if status(t, onDesk2.ID) != "cancelled" || status(t, c.ID) != "confirmed" {
		t.Errorf("statuses: %s %s", status(t, onDesk2.ID), status(t, c.ID))
	}
	var label string
	_ = e.store.Pool.QueryRow(t.Context(), `SELECT d.label FROM bookings b JOIN desks d ON d.id = b.desk_id WHERE b.id = $1`, c.ID).Scan(&label)
	if label != "Postazione 1" {
		t.Errorf("the moved booking is on %q", label)
	}
	// One desk left: the 09:00 and 10:00 slots are full, the others have one.
	got := free(t, e.store, svc, "2027-03-03")
	if _, ok := got["09:00"]; ok || got["09:30"] != 1 {
		t.Errorf("free slots: %v", got)
	}
}

// TestReservationRacesClosure: a reservation that starts while a closure
// is being made waits for it (the configuration lock) and is refused;
// reservations racing a closure never leave an active booking on a closed
// day.
func TestReservationRacesClosure(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{Desks: 3})

	// Deterministic: an administrator's transaction holds the configuration
	// lock and has added the closure but not committed. The reservation
	// sees no closure, so its own check passes; its insert waits on the
	// lock and, after the commit, finds the day closed.
	err := pgtest.CloseUnderLock(t, e.store.Pool, office, "2027-03-03", "the reservation", func() error {
		_, err := e.store.Reserve(ctx, svc, apitest.At("2027-03-03", "09:00"), "it")
		return err
	})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("the reservation after the closure: %v, want invalid (closed)", err)
	}

	// Random interleavings through the real handler: each round, 12
	// reservations on Thursday race a closure of that day.
	adm := e.account(operator.RoleAdministrator)
	for round, day := range []string{"2027-03-04", "2027-03-05", "2027-03-06"} {
		start := make(chan struct{})
		errs := make(chan error, 12)
		for i := 0; i < 12; i++ {
			go func(i int) {
				<-start
				_, err := e.store.Reserve(ctx, svc, apitest.At(day, fmt.Sprintf("%02d:%02d", 9+i/2%4, 30*(i%2))), "it")
				errs <- err
			}(i)
		}
		close(start)
		rec := e.do(adm, "POST", "/closures", `{"office_id":"`+office+`","first_day":"`+day+`","last_day":"`+day+`","cancel_affected":true}`)
		if rec.Code != 201 {
			t.Fatalf("round %d: closure %d %s", round, rec.Code, rec.Body)
		}
		for i := 0; i < 12; i++ {
			if err := <-errs; err != nil && !strings.Contains(err.Error(), "conflict") && !strings.Contains(err.Error(), "closed") {
				t.Errorf("round %d: reservation failed oddly: %v", round, err)
			}
		}
		var active int
		if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM bookings WHERE service_id = $1 AND status IN ('held', 'confirmed')
			AND (starts_at AT TIME ZONE 'Europe/Rome')::date = $2::date`, svc, day).Scan(&active); err != nil {
			t.Fatal(err)
		}
		if active != 0 {
			t.Errorf("round %d: %d active bookings on the closed day %s", round, active, day)
		}
	}
}

func TestOperators(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	office, _ := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	email := "nuovo-" + pgtest.Suffix() + "@comune.example.it"
	body := `{"email":"` + strings.ToUpper(email) + `","display_name":"Nuovo Operatore","role":"operator","offices":["` + office + `"],"password":"` + password + `"}`
	o := e.ok(e.do(adm, "POST", "/operators", body), 201)["operator"].(map[string]any)
	id := o["id"].(string)
	if o["email"] != email || o["role"] != "operator" || fmt.Sprint(o["offices"]) != "["+office+"]" {
		t.Errorf("created: %v", o)
	}
	if v := apitest.VerdictNoStore(t, e.do(adm, "POST", "/operators", body)); v != apitest.Want(409, "conflict", "email") {
		t.Errorf("duplicate email: %+v", v)
	}
	// The new operator signs in, and is no administrator.
	sess, err := e.auth.SignIn(t.Context(), email, password, "")
	if err != nil {
		t.Fatal(err)
	}
	op := &client{id, apitest.Session{Cookie: session.Cookie(e.auth.Config, sess.Token), CSRF: sess.CSRFToken}}
	if v := apitest.VerdictNoStore(t, e.do(op, "GET", "/operators", "")); v != apitest.Want(403, "forbidden", "session") {
		t.Errorf("operator lists operators: %+v", v)
	}
	// Promoted, they may.
	e.ok(e.do(adm, "PATCH", "/operators/"+id, `{"role":"administrator","offices":[]}`), 200)
	list := e.ok(e.do(op, "GET", "/operators", ""), 200)["operators"].([]any)
	if len(list) < 2 {
		t.Errorf("operators: %v", list)
	}
	// A password reset ends their sessions; the new password works.
	e.ok(e.do(adm, "POST", "/operators/"+id+"/password", `{"password":"another long password"}`), 200)
	if v := apitest.VerdictNoStore(t, e.do(op, "GET", "/operators", "")); v.Status != 401 {
		t.Errorf("a session after a password reset: %+v", v)
	}
	if _, err := e.auth.SignIn(t.Context(), email, "another long password", ""); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
	// Deactivated: no sign-in.
	e.ok(e.do(adm, "PATCH", "/operators/"+id, `{"active":false}`), 200)
	if _, err := e.auth.SignIn(t.Context(), email, "another long password", ""); err == nil {
		t.Error("a deactivated operator signed in")
	}
	// The events name no email or name.
	rows, err := e.store.Pool.Query(t.Context(), `SELECT data::text FROM outbox WHERE subject = $1 AND type = $2`, id, events.OperatorChanged)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(s, "@") || strings.Contains(s, "Nuovo") {
			t.Errorf("operator event with personal data: %s", s)
		}
	}
	if n != 4 { // created, updated, password_reset, updated
		t.Errorf("%d operator.changed events, want 4", n)
	}
}

// limits is an office's "limits" as the API answers them (JSON numbers are
// float64, nil is null).
func limits(maxHolds, perClient, perAddress any) map[string]any {
	return map[string]any{"max_holds_per_client": maxHolds, "holds_per_minute_per_client": perClient, "holds_per_minute_per_address": perAddress}
}

// listed is the member of GET path's list name whose id is id.
func (e *env) listed(c *client, path, name, id string) map[string]any {
	e.t.Helper()
	for _, x := range e.ok(e.do(c, "GET", path, ""), 200)[name].([]any) {
		if m := x.(map[string]any); m["id"] == id {
			return m
		}
	}
	e.t.Fatalf("%s lists no %s", path, id)
	return nil
}

// lastAudit is the detail of the newest audit entry about the target.
func (e *env) lastAudit(c *client, kind, id string) map[string]any {
	e.t.Helper()
	entries := e.ok(e.do(c, "GET", "/audit?limit=1&target_kind="+kind+"&target_id="+id, ""), 200)["entries"].([]any)
	if len(entries) != 1 {
		e.t.Fatalf("no audit entry about %s %s", kind, id)
	}
	entry := entries[0].(map[string]any)
	if entry["action"] != kind+".changed" || entry["actor"].(map[string]any)["id"] != c.id {
		e.t.Errorf("audit entry: %v", entry)
	}
	return entry["detail"].(map[string]any)
}

func configurationVersion(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT version FROM configuration`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOfficeLimits: an office's click-day limits are set, read back, left
// alone by a change that does not name them and reset to the default one
// by one; every change is an office.changed event and an audit row that
// shows them, bumps the configuration version, and reserve's reading of
// the office's services follows.
func TestOfficeLimits(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	if got := e.listed(adm, "/offices", "offices", office)["limits"]; !cmp.Equal(limits(nil, nil, nil), got) {
		t.Fatalf("a new office's limits: %v", got)
	}
	for _, tc := range []struct {
		name    string
		body    string
		want    map[string]any
		reserve booking.HoldLimits // what reserve reads (0: the default)
	}{
		{"one set", `{"limits":{"max_holds_per_client":2}}`, limits(2.0, nil, nil), booking.HoldLimits{PerClient: 2}},
		{"the others set", `{"limits":{"holds_per_minute_per_client":30,"holds_per_minute_per_address":500}}`, limits(2.0, 30.0, 500.0), booking.HoldLimits{PerClient: 2, ClientPerMinute: 30, AddressPerMinute: 500}},
		{"a change without limits", `{"name":"Ufficio rinominato"}`, limits(2.0, 30.0, 500.0), booking.HoldLimits{PerClient: 2, ClientPerMinute: 30, AddressPerMinute: 500}},
		{"empty limits", `{"limits":{}}`, limits(2.0, 30.0, 500.0), booking.HoldLimits{PerClient: 2, ClientPerMinute: 30, AddressPerMinute: 500}},
		{"null limits", `{"limits":null}`, limits(2.0, 30.0, 500.0), booking.HoldLimits{PerClient: 2, ClientPerMinute: 30, AddressPerMinute: 500}},
		{"one back to the default", `{"limits":{"max_holds_per_client":null}}`, limits(nil, 30.0, 500.0), booking.HoldLimits{ClientPerMinute: 30, AddressPerMinute: 500}},
		{"the largest", `{"limits":{"max_holds_per_client":100,"holds_per_minute_per_client":10000,"holds_per_minute_per_address":1000000}}`, limits(100.0, 10000.0, 1000000.0), booking.HoldLimits{PerClient: 100, ClientPerMinute: 10000, AddressPerMinute: 1000000}},
		{"the smallest", `{"limits":{"max_holds_per_client":1,"holds_per_minute_per_client":1,"holds_per_minute_per_address":1}}`, limits(1.0, 1.0, 1.0), booking.HoldLimits{PerClient: 1, ClientPerMinute: 1, AddressPerMinute: 1}},
		{"all back to the defaults", `{"limits":{"max_holds_per_client":null,"holds_per_minute_per_client":null,"holds_per_minute_per_address":null}}`, limits(nil, nil, nil), booking.HoldLimits{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events0, version0 := apitest.EventsOf(t, office, events.OfficeChanged), configurationVersion(t)
			got := e.ok(e.do(adm, "PATCH", "/offices/"+office, tc.body), 200)["office"].(map[string]any)
			if diff := cmp.Diff(tc.want, got["limits"]); diff != "" {
				t.Errorf("answered limits (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, e.listed(adm, "/offices", "offices", office)["limits"]); diff != "" {
				t.Errorf("listed limits (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, e.lastAudit(adm, "office", office)["limits"]); diff != "" {
				t.Errorf("audited limits (-want +got):\n%s", diff)
			}
			if n := apitest.EventsOf(t, office, events.OfficeChanged); n != events0+1 {
				t.Errorf("%d office.changed events, want %d", n, events0+1)
			}
			if v := configurationVersion(t); v <= version0 {
				t.Errorf("the configuration version stayed at %d", v)
			}
			v, err := e.store.Service(t.Context(), nil, svc, "service_id")
			if err != nil {
				t.Fatal(err)
			}
			if v.Limits != tc.reserve {
				t.Errorf("reserve reads %+v, want %+v", v.Limits, tc.reserve)
			}
		})
	}

	// Created with its limits.
	oid := "limiti-" + pgtest.Suffix()
	got := e.ok(e.do(adm, "POST", "/offices", `{"id":"`+oid+`","name":"Ufficio limitato","limits":{"max_holds_per_client":3,"holds_per_minute_per_address":null}}`), 201)["office"].(map[string]any)
	if diff := cmp.Diff(limits(3.0, nil, nil), got["limits"]); diff != "" {
		t.Errorf("created limits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(limits(3.0, nil, nil), e.lastAudit(adm, "office", oid)["limits"]); diff != "" {
		t.Errorf("audited limits of the new office (-want +got):\n%s", diff)
	}
}

// TestAdmissionPerMinute: a service's waiting-room admission rate is set
// (on creation too), read back, left alone by a change that does not name
// it and reset to none; every change is a service.changed event and an
// audit row that shows it.
func TestAdmissionPerMinute(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	list := "/services?office_id=" + office
	if got := e.listed(adm, list, "services", svc); got["admission_per_minute"] != nil {
		t.Fatalf("a new service's admission rate: %v", got["admission_per_minute"])
	}
	for _, tc := range []struct {
		name string
		body string
		want any
	}{
		{"set", `{"admission_per_minute":50}`, 50.0},
		{"a change without it", `{"buffer_minutes":5}`, 50.0},
		{"back to none", `{"admission_per_minute":null}`, nil},
		{"the largest", `{"admission_per_minute":100000}`, 100000.0},
		{"the smallest", `{"admission_per_minute":1}`, 1.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events0 := apitest.EventsOf(t, svc, events.ServiceChanged)
			got := e.ok(e.do(adm, "PATCH", "/services/"+svc, tc.body), 200)["service"].(map[string]any)
			if got["admission_per_minute"] != tc.want {
				t.Errorf("answered %v, want %v", got["admission_per_minute"], tc.want)
			}
			if got := e.listed(adm, list, "services", svc)["admission_per_minute"]; got != tc.want {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			if got := e.lastAudit(adm, "service", svc)["admission_per_minute"]; got != tc.want {
				t.Errorf("audited %v, want %v", got, tc.want)
			}
			if n := apitest.EventsOf(t, svc, events.ServiceChanged); n != events0+1 {
				t.Errorf("%d service.changed events, want %d", n, events0+1)
			}
		})
	}

	// Created with one, and without (null, but answered).
	for _, c := range []struct {
		body string
		want any
	}{{`,"admission_per_minute":20`, 20.0}, {``, nil}} {
		sid := "sala-" + pgtest.Suffix()
		got := e.ok(e.do(adm, "POST", "/services", `{"id":"`+sid+`","office_id":"`+office+`","name":"Con sala","duration_minutes":30,"horizon_days":30`+c.body+`}`), 201)["service"].(map[string]any)
		if v, ok := got["admission_per_minute"]; !ok || v != c.want {
			t.Errorf("created with %q: admission_per_minute %v (present: %t), want %v", c.body, v, ok, c.want)
		}
	}
}

// TestClickDayBadInput: a limit or an admission rate out of range or of
// the wrong type is a 400 naming its path with a stable reason (and the
// range), and writes nothing.
func TestClickDayBadInput(t *testing.T) {
	e := newEnv(t)
	adm := e.account(operator.RoleAdministrator)
	office, svc := pgtest.NewService(t, e.store.Pool, pgtest.Service{})
	newOffice := func(limits string) string { return `{"id":"nuovo-ufficio","name":"Nuovo","limits":` + limits + `}` }
	newService := func(rate string) string {
		return `{"id":"nuovo-servizio","office_id":"` + office + `","name":"Nuovo","duration_minutes":30,"horizon_days":30,"admission_per_minute":` + rate + `}`
	}
	type want struct {
		field    string
		reason   apperr.Reason
		min, max int64 // of out_of_range
	}
	maxHolds := func(n int64) want { return want{"limits.max_holds_per_client", apperr.OutOfRange, 1, n} }
	rate := want{"admission_per_minute", apperr.OutOfRange, 1, admin.MaxAdmissionPerMinute}
	for _, tc := range []struct {
		method, path, body string
		want               want
	}{
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":0}}`, maxHolds(100)},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":101}}`, maxHolds(100)},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":-1}}`, maxHolds(100)},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":"x"}}`, want{"limits.max_holds_per_client", apperr.WrongType, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":1.5}}`, want{"limits.max_holds_per_client", apperr.WrongType, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":true}}`, want{"limits.max_holds_per_client", apperr.WrongType, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":{"holds_per_minute_per_client":0}}`, want{"limits.holds_per_minute_per_client", apperr.OutOfRange, 1, 10000}},
		{"PATCH", "/offices/" + office, `{"limits":{"holds_per_minute_per_client":10001}}`, want{"limits.holds_per_minute_per_client", apperr.OutOfRange, 1, 10000}},
		{"PATCH", "/offices/" + office, `{"limits":{"holds_per_minute_per_address":1000001}}`, want{"limits.holds_per_minute_per_address", apperr.OutOfRange, 1, 1000000}},
		{"PATCH", "/offices/" + office, `{"limits":{"holds_per_minute_per_address":"x"}}`, want{"limits.holds_per_minute_per_address", apperr.WrongType, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":{"max_holds_per_client":2,"colour":"red"}}`, want{"limits.colour", apperr.UnknownField, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":"x"}`, want{"limits", apperr.WrongType, 0, 0}},
		{"PATCH", "/offices/" + office, `{"limits":[1]}`, want{"limits", apperr.WrongType, 0, 0}},
		{"POST", "/offices", newOffice(`{"max_holds_per_client":0}`), maxHolds(100)},
		{"POST", "/offices", newOffice(`{"max_holds_per_client":101}`), maxHolds(100)},
		{"POST", "/offices", newOffice(`{"max_holds_per_client":"x"}`), want{"limits.max_holds_per_client", apperr.WrongType, 0, 0}},
		{"POST", "/offices", newOffice(`{"holds_per_minute_per_client":-1}`), want{"limits.holds_per_minute_per_client", apperr.OutOfRange, 1, 10000}},
		{"POST", "/offices", newOffice(`{"holds_per_minute_per_address":0}`), want{"limits.holds_per_minute_per_address", apperr.OutOfRange, 1, 1000000}},
		{"PATCH", "/services/" + svc, `{"admission_per_minute":0}`, rate},
		{"PATCH", "/services/" + svc, `{"admission_per_minute":100001}`, rate},
		{"PATCH", "/services/" + svc, `{"admission_per_minute":-1}`, rate},
		{"PATCH", "/services/" + svc, `{"admission_per_minute":"x"}`, want{"admission_per_minute", apperr.WrongType, 0, 0}},
		{"PATCH", "/services/" + svc, `{"admission_per_minute":{}}`, want{"admission_per_minute", apperr.WrongType, 0, 0}},
		{"POST", "/services", newService(`0`), rate},
		{"POST", "/services", newService(`101000`), rate},
		{"POST", "/services", newService(`"x"`), want{"admission_per_minute", apperr.WrongType, 0, 0}},
	} {
		label := tc.method + " " + tc.path + " " + tc.body
		t.Run(label, func(t *testing.T) {
			before := written(t)
			rec := apitest.Refused(t, label, apitest.Want(400, "invalid", tc.want.field), func() *httptest.ResponseRecorder {
				return e.do(adm, tc.method, tc.path, tc.body)
			})
			if strings.Contains(rec.Body.String(), "Patch.") || strings.Contains(rec.Body.String(), "Input.") {
				t.Errorf("the problem names a Go type: %s", rec.Body)
			}
			p := apitest.ProblemOf(t, rec, apitest.NoStore)
			if len(p.Errors) != 1 {
				t.Fatalf("field problems: %+v", p.Errors)
			}
			got := want{field: p.Errors[0].Field, reason: p.Errors[0].Reason}
			if p.Errors[0].Min != nil && p.Errors[0].Max != nil {
				got.min, got.max = *p.Errors[0].Min, *p.Errors[0].Max
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if written(t) != before {
				t.Error("bad input wrote something")
			}
		})
	}
	// Several at once: every one is named.
	rec := e.do(adm, "PATCH", "/offices/"+office, `{"limits":{"max_holds_per_client":0,"holds_per_minute_per_client":0,"holds_per_minute_per_address":0}}`)
	var fields []string
	for _, fe := range apitest.ProblemOf(t, rec, apitest.NoStore).Errors {
		fields = append(fields, fe.Field)
	}
	if diff := cmp.Diff([]string{"limits.max_holds_per_client", "limits.holds_per_minute_per_client", "limits.holds_per_minute_per_address"}, fields); diff != "" {
		t.Errorf("fields at fault (-want +got):\n%s", diff)
	}
}
