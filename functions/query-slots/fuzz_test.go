package main

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// FuzzSlots: no query string makes GET /api/slots answer a 5xx.
func FuzzSlots(f *testing.F) {
	_, h, svc := apitest.OpenEdge(f, "query-slots", pgtest.Service{Desks: 5}, handler)
	apitest.FuzzQuery(f, h, apitest.Endpoint{Method: "GET", Path: "/api/slots"},
		"service_id="+svc, "service_id="+svc+"&from=2027-03-02&to=2027-03-09", "service_id="+svc+"&from=2027-03-09&to=2027-03-02")
}
