package apitest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Request builds a request as the site sends it: body is JSON (sent with
// Content-Type application/json; an empty body sends neither), and a
// non-empty token goes in the Authorization header as a bearer token (the
// secret of a manage or join link).
func Request(method, target, token, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// Get builds a GET of target, with no body.
func Get(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// Binary is the request a Knative Trigger makes to deliver ev in binary
// mode: the data as the body, the attributes as Ce-* headers (the optional
// ones only when set).
func Binary(ev cloudevents.Event) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(ev.Data()))
	r.Header.Set("Ce-Specversion", ev.SpecVersion())
	r.Header.Set("Ce-Id", ev.ID())
	r.Header.Set("Ce-Source", ev.Source())
	r.Header.Set("Ce-Type", ev.Type())
	if ev.Subject() != "" {
		r.Header.Set("Ce-Subject", ev.Subject())
	}
	if !ev.Time().IsZero() {
		r.Header.Set("Ce-Time", ev.Time().Format(time.RFC3339Nano))
	}
	if ev.DataSchema() != "" {
		r.Header.Set("Ce-Dataschema", ev.DataSchema())
	}
	r.Header.Set("Content-Type", ev.DataContentType())
	return r
}

// Deliver serves r with h as the broker would, without the OpenAPI checks
// of Serve (events are not part of the HTTP API), and returns the answer.
func Deliver(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}
