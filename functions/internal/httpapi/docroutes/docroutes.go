// Package docroutes serves the documents of a booking over HTTP, for the
// citizen (the documents function, with a manage token) and for the office
// (the operators function, with a session) alike: a presigned upload,
// completing it, the list, and a presigned download. Each side says which
// booking the request may touch, who acts, and how its paths name things;
// the rules are app/documents'.
package docroutes

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
)

// Routes are one side's document routes.
type Routes struct {
	Docs *documents.Documents
	Log  *slog.Logger
	// Booking answers the id of the booking the request may touch, or
	// writes the problem and answers "".
	Booking func(w http.ResponseWriter, r *http.Request) string
	Actor   audit.Actor // who completes an upload
	// UploadedBy is the side documents come from: booking.DocumentByCitizen
	// or booking.DocumentByOffice.
	UploadedBy string
	// DocParam is the path parameter that names the document.
	DocParam string
	// Location is the path of a document, for the Location of a new one.
	Location func(bookingID, documentID string) string
	// Rename maps the fields problems name (documents' "token" for the
	// booking, "id" for the document) to this side's names, if they differ.
	Rename map[string]string
}

// List is the answer of the documents' list.
type List struct {
	Documents []booking.Document `json:"documents"`
}

// CompleteRequest is the optional body of a complete: empty or {}.
type CompleteRequest struct{}

func (rt Routes) local(t time.Time) time.Time { return t.In(rt.Docs.Store.Calendar.Location) }

func (rt Routes) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Error(w, r, rt.Log, rename(err, rt.Rename))
}

// Create answers 201 a presigned upload of a new document.
func (rt Routes) Create(w http.ResponseWriter, r *http.Request) {
	id := rt.Booking(w, r)
	if id == "" {
		return
	}
	var req documents.UploadRequest
	if err := httpx.Decode(r, &req); err != nil {
		rt.fail(w, r, err)
		return
	}
	up, err := rt.Docs.Create(r.Context(), id, rt.UploadedBy, req)
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	up.ExpiresAt = rt.local(up.ExpiresAt).Truncate(time.Second)
	w.Header().Set("Location", rt.Location(id, up.DocumentID))
	httpx.JSON(w, http.StatusCreated, up)
}

// Complete answers 200 the document once its upload arrived.
func (rt Routes) Complete(w http.ResponseWriter, r *http.Request) {
	id := rt.Booking(w, r)
	if id == "" || !httpx.DecodeOptional[CompleteRequest](w, r, rt.Log) {
		return
	}
	doc, err := rt.Docs.Complete(r.Context(), id, r.PathValue(rt.DocParam), rt.Actor)
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	doc.UploadedAt = rt.local(doc.UploadedAt)
	httpx.JSON(w, http.StatusOK, doc)
}

// List answers 200 every uploaded document, both sides', oldest first.
func (rt Routes) List(w http.ResponseWriter, r *http.Request) {
	id := rt.Booking(w, r)
	if id == "" {
		return
	}
	list, err := rt.Docs.List(r.Context(), id)
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	if list == nil {
		list = []booking.Document{}
	}
	for i := range list {
		list[i].UploadedAt = rt.local(list[i].UploadedAt)
	}
	httpx.JSON(w, http.StatusOK, List{Documents: list})
}

// Download answers 200 a presigned download.
func (rt Routes) Download(w http.ResponseWriter, r *http.Request) {
	id := rt.Booking(w, r)
	if id == "" {
		return
	}
	dl, err := rt.Docs.Download(r.Context(), id, r.PathValue(rt.DocParam))
	if err != nil {
		rt.fail(w, r, err)
		return
	}
	dl.ExpiresAt = rt.local(dl.ExpiresAt).Truncate(time.Second)
	httpx.JSON(w, http.StatusOK, dl)
}

// rename renames the fields err names after names.
func rename(err error, names map[string]string) error {
	var e *apperr.Error
	if len(names) == 0 || !errors.As(err, &e) {
		return err
	}
	c := *e
	if n, ok := names[e.Field]; ok {
		c.Field = n
	}
	c.Fields = nil
	for _, f := range e.Fields {
		if n, ok := names[f.Field]; ok {
			f.Field = n
		}
		c.Fields = append(c.Fields, f)
	}
	return &c
}
