package main

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzConfirm: no body makes POST /api/bookings answer a 5xx, and a
// refused one writes nothing. The seeds confirm a real hold, with the
// citizen's every member replaced in turn.
func FuzzConfirm(f *testing.F) {
	store, _ := pgtest.Store(f, apitest.Monday.UTC())
	_, svc := pgtest.NewService(f, store.Pool, pgtest.Service{Desks: 2})
	held := pgtest.Hold(f, store, svc, apitest.At("2027-03-02", "10:00"), "it")
	h := function.Edge(store, "confirm", apitest.Discard, newHandler(store, apitest.Discard))
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/bookings"},
		request(held, `{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari", "email": "maria.rossi@example.it",
			"reason": "SCIA", "details": "Pratica 12/2027", "privacy_consent": true, "locale": "en"}`))
}
