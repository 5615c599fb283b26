// Command documents is the function through which the two sides of a
// booking exchange documents (PDF, JPEG, PNG, signed P7M). Their bytes
// never pass through it: it presigns a POST to the object store (MinIO,
// S3) whose policy fixes the object's key, its Content-Type and a size
// between 1 byte and MAX_DOCUMENT_BYTES, checks the upload afterwards, and
// presigns downloads. A manage token opens the documents of its booking
// only: object keys are made here, never taken from a request.
//
// Consumes: HTTP, with Authorization: Bearer <manage token> (missing: 401;
// unknown or tampered: a plain 404):
//   - POST /api/documents {"filename","content_type","size"} → 201 a
//     presigned upload;
//   - POST /api/documents/{id}/complete → 200 the document once uploaded
//     (409 before);
//   - GET /api/documents → 200 the uploaded documents;
//   - GET /api/documents/{id} → 200 a presigned download.
//
// Emits: io.github.sportello.document.uploaded.v1 (with its audit row,
// actor citizen). The logic is package app/documents, and its routes
// httpapi/docroutes, both shared with the operators function.
//
// Environment, besides function.Config: S3_ENDPOINT, S3_REGION,
// S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, S3_PUBLIC_ENDPOINT (the origin
// browsers reach the store at; default S3_ENDPOINT), MAX_DOCUMENT_BYTES
// (default 20 MiB), MAX_DOCUMENTS (per booking; default 20).
package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/docroutes"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
)

func main() {
	cfg, err := documents.LoadConfig()
	var objects *storage.Store
	if err == nil {
		var sc storage.Config
		if sc, err = storage.FromEnv(); err == nil {
			objects, err = storage.New(sc)
		}
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "documents", "err", err)
		os.Exit(1)
	}
	function.Main("documents", func(env *function.Env) http.Handler {
		return newHandler(&documents.Documents{Store: env.Store, Objects: objects, MaxBytes: cfg.MaxDocumentBytes,
			MaxPerBooking: cfg.MaxDocuments}, env.Log)
	})
}

func newHandler(docs *documents.Documents, log *slog.Logger) http.Handler {
	rt := docroutes.Routes{
		Docs: docs, Log: log, Actor: audit.Citizen, UploadedBy: booking.DocumentByCitizen, DocParam: "id",
		Location: func(_, doc string) string { return "/api/documents/" + doc },
		// The booking the request's manage token opens.
		Booking: func(w http.ResponseWriter, r *http.Request) string {
			tok, err := httpx.BearerToken(r)
			if err == nil {
				var b booking.Booking
				if b, err = docs.Store.Booking(r.Context(), tok); err == nil {
					return b.ID
				}
			}
			httpx.Error(w, r, log, err)
			return ""
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/documents", rt.Create)
	mux.HandleFunc("POST /api/documents/{id}/complete", rt.Complete)
	mux.HandleFunc("GET /api/documents", rt.List)
	mux.HandleFunc("GET /api/documents/{id}", rt.Download)
	mux.HandleFunc("/", httpx.NotFound)
	// Every answer is about a booking reached through a secret link.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}
