package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// fuzzEnv is the admin function as it serves the network, with an office,
// a service of it with a desk and a booking on Wednesday 3 March 2027 at
// 09:00 (so that changes may strand it), an operator of the office, and an
// administrator signed in.
type fuzzEnv struct {
	*env
	edge    http.Handler
	adm, op *client
	office  string
	svc     string
	desk    int64
	booking string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	e := newEnv(f)
	office, svc := pgtest.NewService(f, e.store.Pool, pgtest.Service{})
	b := pgtest.Book(f, e.store, svc, apitest.At("2027-03-03", "09:00"))
	fe := &fuzzEnv{env: e, edge: function.Edge(e.store, "admin", apitest.Discard, e.h),
		adm: e.account(operator.RoleAdministrator), op: e.account(operator.RoleOperator, office),
		office: office, svc: svc, booking: b.ID}
	if err := e.store.Pool.QueryRow(f.Context(), `SELECT id FROM desks WHERE service_id = $1`, svc).Scan(&fe.desk); err != nil {
		f.Fatal(err)
	}
	return fe
}

// endpoint is method on Prefix+path as the signed-in administrator.
func (e *fuzzEnv) endpoint(method, path string) apitest.Endpoint {
	return apitest.Endpoint{Method: method, Path: Prefix + path, Prepare: func(r *http.Request) { e.adm.On(r) }}
}

// fuzzBody runs f against method on Prefix+path, from the valid bodies.
func fuzzBody(f *testing.F, method string, path func(*fuzzEnv) string, valid func(*fuzzEnv) []string) {
	e := newFuzzEnv(f)
	apitest.FuzzBody(f, e.edge, e.endpoint(method, path(e)), valid(e)...)
}

func FuzzCreateOffice(f *testing.F) {
	fuzzBody(f, "POST", func(*fuzzEnv) string { return "/offices" }, func(*fuzzEnv) []string {
		return []string{`{"id":"ufficio-tributi","name":"Ufficio Tributi","description":"IMU e TARI","address":"Corso Vittorio Emanuele 84, Bari","position":4}`,
			`{"id":"ufficio-limitato","name":"Ufficio limitato","limits":{"max_holds_per_client":3,"holds_per_minute_per_client":30,"holds_per_minute_per_address":null}}`}
	})
}

func FuzzUpdateOffice(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *fuzzEnv) string { return "/offices/" + e.office }, func(*fuzzEnv) []string {
		return []string{`{"name":"Ufficio rinominato","description":"","address":"Via Sparano 2","position":1,"active":true}`,
			`{"limits":{"max_holds_per_client":2,"holds_per_minute_per_client":null}}`, `{"active":false,"cancel_affected":false}`}
	})
}

func FuzzCreateService(f *testing.F) {
	fuzzBody(f, "POST", func(*fuzzEnv) string { return "/services" }, func(e *fuzzEnv) []string {
		return []string{`{"id":"imu-` + pgtest.Suffix() + `","office_id":"` + e.office + `","name":"IMU","description":"Imposta municipale","duration_minutes":20,"buffer_minutes":10,` +
			`"min_notice_minutes":60,"horizon_days":30,"cancel_cutoff_minutes":120,"what_to_bring":"F24","open_on_holidays":false,"position":1,"admission_per_minute":50}`}
	})
}

func FuzzUpdateService(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *fuzzEnv) string { return "/services/" + e.svc }, func(*fuzzEnv) []string {
		return []string{`{"name":"Servizio rinominato","description":"","buffer_minutes":5,"min_notice_minutes":0,"horizon_days":60,"cancel_cutoff_minutes":0,` +
			`"what_to_bring":"Documento","open_on_holidays":true,"position":2,"active":true,"admission_per_minute":null}`,
			`{"duration_minutes":45,"cancel_affected":false}`}
	})
}

func FuzzReplaceHours(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return "/services/" + e.svc + "/hours" }, func(*fuzzEnv) []string {
		return []string{`{"hours":[{"weekday":3,"opens":"09:00","closes":"10:00"},{"weekday":3,"opens":"10:15","closes":"13:00"},{"weekday":5,"opens":"09:00","closes":"13:00"}],"cancel_affected":false}`,
			`{"hours":[]}`}
	})
}

func FuzzAddDesk(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return "/services/" + e.svc + "/desks" }, func(*fuzzEnv) []string {
		return []string{`{"label":"Sportello 2"}`}
	})
}

func FuzzUpdateDesk(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *fuzzEnv) string { return fmt.Sprintf("/desks/%d", e.desk) }, func(*fuzzEnv) []string {
		return []string{`{"label":"Sportello A","active":true}`, `{"active":false,"cancel_affected":false}`}
	})
}

func FuzzAddClosure(f *testing.F) {
	fuzzBody(f, "POST", func(*fuzzEnv) string { return "/closures" }, func(e *fuzzEnv) []string {
		return []string{`{"office_id":"` + e.office + `","first_day":"2027-03-04","last_day":"2027-03-05","reason":"Inventario","cancel_affected":false}`,
			`{"office_id":null,"first_day":"2027-03-03","last_day":"2027-03-03"}`}
	})
}

func FuzzCreateOperator(f *testing.F) {
	fuzzBody(f, "POST", func(*fuzzEnv) string { return "/operators" }, func(e *fuzzEnv) []string {
		return []string{`{"email":"nuovo-` + pgtest.Suffix() + `@comune.example.it","display_name":"Nuovo Operatore","role":"operator","offices":["` + e.office + `"],"password":"` + password + `"}`}
	})
}

func FuzzUpdateOperator(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *fuzzEnv) string { return "/operators/" + e.op.id }, func(e *fuzzEnv) []string {
		return []string{`{"display_name":"Operatore rinominato","role":"operator","offices":["` + e.office + `"],"active":true}`,
			`{"role":"administrator","offices":[]}`}
	})
}

func FuzzResetPassword(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return "/operators/" + e.op.id + "/password" }, func(*fuzzEnv) []string {
		return []string{`{"password":"another long password"}`}
	})
}

// FuzzAudit: no query string makes GET /audit answer a 5xx.
func FuzzAudit(f *testing.F) {
	e := newFuzzEnv(f)
	apitest.FuzzQuery(f, e.edge, e.endpoint("GET", "/audit"),
		"target_kind=service&target_id="+e.svc+"&limit=10",
		"actor="+e.adm.id+"&before=1000&limit=1", "target_kind=booking&target_id="+e.booking)
}

// FuzzServices: likewise GET /services?office_id=.
func FuzzServices(f *testing.F) {
	e := newFuzzEnv(f)
	apitest.FuzzQuery(f, e.edge, e.endpoint("GET", "/services"), "office_id="+e.office)
}

// FuzzClosures: likewise GET /closures?office_id=.
func FuzzClosures(f *testing.F) {
	e := newFuzzEnv(f)
	apitest.FuzzQuery(f, e.edge, e.endpoint("GET", "/closures"), "office_id="+e.office)
}

// FuzzDryRun: likewise ?dry_run on a change that strands the booking (a
// longer duration): a 409 unless it is a dry run.
func FuzzDryRun(f *testing.F) {
	e := newFuzzEnv(f)
	ep := e.endpoint("PATCH", "/services/"+e.svc)
	signIn := ep.Prepare
	ep.Prepare = func(r *http.Request) {
		signIn(r)
		const body = `{"duration_minutes":45}`
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	}
	apitest.FuzzQuery(f, e.edge, ep, "dry_run=true", "dry_run=false", "dry_run=1")
}
