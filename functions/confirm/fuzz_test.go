package main

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzConfirm: no body makes POST /api/bookings answer a 5xx, and a
// refused one writes nothing. The seeds confirm a real hold, with the
// citizen's every member replaced in turn.
func FuzzConfirm(f *testing.F) {
	store, h, svc := apitest.OpenEdge(f, "confirm", pgtest.Service{Desks: 2}, handler)
	held := pgtest.Hold(f, store, svc, apitest.At("2027-03-02", "10:00"), "it")
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/bookings"},
		request(held, `{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari", "email": "maria.rossi@example.it",
			"reason": "SCIA", "details": "Pratica 12/2027", "privacy_consent": true, "locale": "en"}`))
}
