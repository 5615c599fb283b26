package main

import (
	"net/http"
	"testing"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
)

// fuzzDocuments is the documents function as the network sees it, on the
// real object store, and the endpoint path authorized by the manage token
// of a booking with one document announced.
func fuzzDocuments(f *testing.F, path func(doc string) string) (http.Handler, apitest.Endpoint, string) {
	fx := newFixture(f, 1<<20, 20)
	mine := fx.book(f, "10:00")
	rec := fx.serve(f, "POST", "/api/documents", mine.ManageToken, `{"filename": "a.pdf", "content_type": "application/pdf", "size": 100}`)
	doc := apitest.Decode[struct {
		DocumentID string `json:"document_id"`
	}](f, rec.Body.Bytes()).DocumentID
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+mine.ManageToken) }
	h := function.Edge(fx.store, "documents", nil, fx.h)
	return h, apitest.Endpoint{Method: "POST", Path: path(doc), Prepare: bearer}, doc
}

// FuzzAnnounce: no body makes POST /api/documents answer a 5xx, and a
// refused one writes nothing.
func FuzzAnnounce(f *testing.F) {
	h, e, _ := fuzzDocuments(f, func(string) string { return "/api/documents" })
	apitest.FuzzBody(f, h, e, `{"filename": "Carta d'identità.pdf", "content_type": "application/pdf", "size": 5000}`,
		`{"filename": "foto.jpg", "content_type": "image/jpeg", "size": 1}`)
}

// FuzzComplete: likewise for POST /api/documents/{id}/complete, whose body
// is empty or {}.
func FuzzComplete(f *testing.F) {
	h, e, _ := fuzzDocuments(f, func(doc string) string { return "/api/documents/" + doc + "/complete" })
	apitest.FuzzBody(f, h, e, `{}`)
}

// FuzzDownload: no document id makes GET /api/documents/{id} answer a
// 5xx.
func FuzzDownload(f *testing.F) {
	h, e, doc := fuzzDocuments(f, func(string) string { return "/api/documents/" })
	e.Method = "GET"
	apitest.FuzzPath(f, h, e, doc)
}
