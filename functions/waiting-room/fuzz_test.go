package main

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzQueue: no body makes POST /api/queue answer a 5xx, and a refused
// one writes nothing.
func FuzzQueue(f *testing.F) {
	store, _ := pgtest.Store(f, apitest.Monday)
	_, svc := pgtest.NewService(f, store.Pool, pgtest.Service{})
	setRate(f, store, svc, 2)
	h := function.Edge(store, "waiting-room", apitest.Discard, newHandler(testRoom(store, 1000000), apitest.Discard))
	apitest.FuzzBody(f, h, apitest.Endpoint{Method: "POST", Path: "/api/queue"}, `{"service_id": "`+svc+`"}`)
}

// FuzzPlace: no queue token makes GET /api/queue/{token} answer a 5xx.
func FuzzPlace(f *testing.F) {
	store, _ := pgtest.Store(f, apitest.Monday)
	h := function.Edge(store, "waiting-room", apitest.Discard, newHandler(testRoom(store, 1000000), apitest.Discard))
	apitest.FuzzPath(f, h, apitest.Endpoint{Method: "GET", Path: "/api/queue/"}, "x.y", "eyJhIjoxfQ.c2ln")
}
