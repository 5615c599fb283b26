package main

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzOffice: no office id makes GET /api/offices/{office_id} answer a
// 5xx.
func FuzzOffice(f *testing.F) {
	h, _ := newTestHandler(f)
	office, _ := pgtest.NewService(f, pgtest.Pool(f), pgtest.Service{})
	apitest.FuzzPath(f, function.Edge(nil, "list-services", nil, h), apitest.Endpoint{Method: "GET", Path: "/api/offices/"}, office)
}

// FuzzService: likewise for GET /api/services/{service_id}.
func FuzzService(f *testing.F) {
	h, _ := newTestHandler(f)
	_, svc := pgtest.NewService(f, pgtest.Pool(f), pgtest.Service{})
	apitest.FuzzPath(f, function.Edge(nil, "list-services", nil, h), apitest.Endpoint{Method: "GET", Path: "/api/services/"}, svc)
}
