package main

import (
	"net/http"
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzJoin: no body makes POST /api/join answer a 5xx, and a refused one
// writes nothing. The booking's window is open, so a good body reaches
// the real LiveKit server.
func FuzzJoin(f *testing.F) {
	fx := newFixture(f, apitest.Monday, pgtest.Service{Desks: 1})
	mine := fx.book(f, apitest.At("2027-03-01", "09:00"))
	fx.clock.Set(apitest.At("2027-03-01", "08:55"))
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+mine.ManageToken) }
	h := function.Edge(fx.store, "join", nil, fx.h)
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/join", Prepare: bearer},
		`{"display_name": "Maria R."}`, `{}`)
}
