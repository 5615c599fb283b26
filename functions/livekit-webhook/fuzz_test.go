package main

import (
	"testing"

	"github.com/google/uuid"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
)

// FuzzWebhook: no body LiveKit signs makes POST /api/livekit/webhook
// answer a 5xx, and a refused one writes nothing. Each input is signed as
// LiveKit signs it (the JWT's sha256 claim is its checksum), so that it
// gets past the signature to be decoded and recorded; apitest.FuzzBody
// does not sign, hence the target's own f.Fuzz on apitest.Check.
func FuzzWebhook(f *testing.F) {
	fx := newFixture(f)
	c := fx.book(f)
	room := rooms.Name(c.ID)
	citizen, operator := "citizen-"+c.ID, "operator-"+uuid.NewString()
	h := function.Edge(fx.store, Name, apitest.Discard, fx.h)
	for _, s := range apitest.Seeds(
		string(encode(f, participant("participant_joined", room, citizen, t0, t0))),
		string(encode(f, participant("participant_left", room, operator, t1, t2))),
		string(encode(f, finished(room, t3))),
	) {
		f.Add(s)
	}
	ep := apitest.Endpoint{Method: "POST", Path: "/api/livekit/webhook"}
	f.Fuzz(func(t *testing.T, body string) {
		apitest.Check(t, h, ep, request([]byte(body), sign(t, testKey, testSecret, []byte(body))))
	})
}
