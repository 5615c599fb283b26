package main

import (
	"net/http"
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// fuzzManage is the endpoint path of amend as the network sees it,
// authorized by the manage token of a booking of its own.
func fuzzManage(f *testing.F, path string) (http.Handler, apitest.Endpoint) {
	store, h, svc := apitest.OpenEdge(f, "amend", pgtest.Service{Desks: 2}, handler)
	mine := pgtest.Book(f, store, svc, apitest.At("2027-03-02", "09:30"))
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+mine.ManageToken) }
	return h, apitest.Endpoint{Method: "POST", Path: path, Prepare: bearer}
}

// FuzzReschedule: no body makes POST /api/manage/reschedule answer a
// 5xx, and a refused one writes nothing.
func FuzzReschedule(f *testing.F) {
	h, e := fuzzManage(f, "/api/manage/reschedule")
	apitest.FuzzBody(f, h, e, `{"start": "2027-03-03T10:00:00+01:00"}`, `{"start": "2027-03-02T09:30:00+01:00"}`)
}

// FuzzCancel: likewise for POST /api/manage/cancel, whose body is empty
// or {}.
func FuzzCancel(f *testing.F) {
	h, e := fuzzManage(f, "/api/manage/cancel")
	apitest.FuzzBody(f, h, e, `{}`, `{"reason": "x"}`)
}
