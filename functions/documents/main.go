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
// actor citizen). The logic is package internal/documents, shared with the
// operators function.
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
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/documents"
	"github.com/sportello/sportello/functions/internal/function"
	"github.com/sportello/sportello/functions/internal/httpx"
	"github.com/sportello/sportello/functions/internal/storage"
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

// token reads the manage token from the Authorization header.
func token(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", apperr.New(apperr.Unauthorized, "Authorization", "send the manage token as Authorization: Bearer TOKEN")
	}
	scheme, t, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", apperr.New(apperr.Unauthorized, "Authorization", "the Authorization header must be Bearer TOKEN")
	}
	return strings.TrimSpace(t), nil
}

// CompleteRequest is the (optional) body of POST /api/documents/{id}/complete.
type CompleteRequest struct{}

// List is the answer to GET /api/documents.
type List struct {
	Documents []documents.Document `json:"documents"`
}

func newHandler(docs *documents.Documents, log *slog.Logger) http.Handler {
	store := docs.Store
	local := func(d documents.Document) documents.Document {
		d.UploadedAt = d.UploadedAt.In(store.Calendar.Location)
		return d
	}
	// booking answers the id of the booking the request's manage token
	// opens, or writes the problem and answers "".
	booking := func(w http.ResponseWriter, r *http.Request) string {
		tok, err := token(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return ""
		}
		b, err := store.Booking(r.Context(), tok)
		if err != nil {
			httpx.Error(w, r, log, err)
			return ""
		}
		return b.ID
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/documents", func(w http.ResponseWriter, r *http.Request) {
		id := booking(w, r)
		if id == "" {
			return
		}
		var req documents.UploadRequest
		if err := httpx.Decode(r, &req); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		up, err := docs.Create(r.Context(), id, documents.ByCitizen, req)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		up.ExpiresAt = up.ExpiresAt.In(store.Calendar.Location).Truncate(time.Second)
		w.Header().Set("Location", "/api/documents/"+up.DocumentID)
		httpx.JSON(w, http.StatusCreated, up)
	})
	mux.HandleFunc("POST /api/documents/{id}/complete", func(w http.ResponseWriter, r *http.Request) {
		id := booking(w, r)
		if id == "" {
			return
		}
		if r.ContentLength != 0 && !httpx.EmptyBody(r) {
			var req CompleteRequest
			if err := httpx.Decode(r, &req); err != nil {
				httpx.Error(w, r, log, err)
				return
			}
		}
		doc, err := docs.Complete(r.Context(), id, r.PathValue("id"), audit.Citizen)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.JSON(w, http.StatusOK, local(doc))
	})
	mux.HandleFunc("GET /api/documents", func(w http.ResponseWriter, r *http.Request) {
		id := booking(w, r)
		if id == "" {
			return
		}
		list, err := docs.List(r.Context(), id)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		for i := range list {
			list[i] = local(list[i])
		}
		httpx.JSON(w, http.StatusOK, List{Documents: list})
	})
	mux.HandleFunc("GET /api/documents/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := booking(w, r)
		if id == "" {
			return
		}
		dl, err := docs.Download(r.Context(), id, r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		dl.ExpiresAt = dl.ExpiresAt.In(store.Calendar.Location).Truncate(time.Second)
		httpx.JSON(w, http.StatusOK, dl)
	})
	mux.HandleFunc("/", httpx.NotFound)
	// Every answer is about a booking reached through a secret link.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoStore(w)
		mux.ServeHTTP(w, r)
	})
}
