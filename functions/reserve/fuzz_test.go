package main

import (
	"net/http"
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// fuzzHandler is reserve as it serves the network, on a service with
// five desks, and the service's id.
func fuzzHandler(f *testing.F) (http.Handler, string) {
	_, h, svc := apitest.OpenEdge(f, "reserve", pgtest.Service{Desks: 5}, handler)
	return h, svc
}

// FuzzHold: no body makes POST /api/holds answer a 5xx, and a refused one
// writes nothing.
func FuzzHold(f *testing.F) {
	h, svc := fuzzHandler(f)
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/holds"},
		`{"service_id": "`+svc+`", "start": "2027-03-02T09:30:00+01:00", "locale": "en"}`)
}

// FuzzRelease: likewise for the beacon's POST /api/holds/{id}/release.
func FuzzRelease(f *testing.F) {
	h, svc := fuzzHandler(f)
	store, _ := pgtest.Store(f, apitest.Monday.UTC())
	held := pgtest.Hold(f, store, svc, apitest.At("2027-03-02", "10:00"), "it")
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/holds/" + held.ID + "/release"},
		`{"hold_secret": "`+held.Secret+`"}`)
}
