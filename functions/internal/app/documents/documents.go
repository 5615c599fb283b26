// Package documents is the store of the documents the two sides of a
// booking exchange: rows in PostgreSQL (table documents), bytes in the
// object store, reached by presigned POSTs and GETs whose object keys are
// made here, never taken from a request. The documents function (the
// citizen, with a manage token) and the operators function (the office,
// with a session) share it; each checks first that the caller may touch the
// booking, then passes its id.
//
// Consumes: nothing. Emits: io.github.sportello.document.uploaded.v1 (from
// Complete, with its audit row).
package documents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// How long presigned requests stay valid.
const (
	UploadExpiry   = 15 * time.Minute
	DownloadExpiry = 5 * time.Minute
)

// Config is the environment of the functions that exchange documents,
// beside storage.Config.
type Config struct {
	MaxDocumentBytes int64 `envconfig:"MAX_DOCUMENT_BYTES" default:"20971520"`
	MaxDocuments     int   `envconfig:"MAX_DOCUMENTS" default:"20"`
}

// LoadConfig reads Config from the environment and checks it.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, err
	}
	if c.MaxDocumentBytes < 1 || c.MaxDocuments < 1 {
		return c, errors.New("MAX_DOCUMENT_BYTES and MAX_DOCUMENTS must be positive")
	}
	return c, nil
}

// Documents are the documents of bookings: rows in PostgreSQL, bytes in
// the object store. Every method takes the booking the caller was allowed
// to open (by a manage token, or an operator's scope) and touches that
// booking's documents only; object keys are made here, never taken from a
// request.
type Documents struct {
	Store   *postgres.Store // the booking store: the pool, the clock, the events' source
	Objects *storage.Store
	// MaxBytes is the largest document; MaxPerBooking how many documents
	// a booking may hold (uploaded, or with an upload still valid).
	MaxBytes      int64
	MaxPerBooking int
}

// Upload is the answer to POST /api/documents.
type Upload struct {
	DocumentID string       `json:"document_id"`
	Upload     storage.Post `json:"upload"`
	ExpiresAt  time.Time    `json:"expires_at"`
}

// Download is the answer to GET /api/documents/{id}.
type Download struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ObjectKey is where a document's bytes live. The file name is not in it:
// it is personal data, and a key must not be guessable from one.
func ObjectKey(bookingID, documentID string) string {
	return "bookings/" + bookingID + "/" + documentID
}

var errNoDocument = apperr.New(apperr.NotFound, "id", "no such document for this booking")

// bookingOpen locks the booking and checks that documents can still be
// added to it. Errors: Conflict (token: cancelled, purged or not
// confirmed).
func bookingOpen(ctx context.Context, tx *postgres.Tx, bookingID string) error {
	var status booking.Status
	var purged *time.Time
	err := tx.QueryRow(ctx, `SELECT status, purged_at FROM bookings WHERE id = $1 FOR UPDATE`, bookingID).Scan(&status, &purged)
	if err != nil {
		return fmt.Errorf("booking %s: %w", bookingID, err)
	}
	switch {
	case purged != nil:
		return apperr.New(apperr.Conflict, "token", "the booking's data were erased: no documents can be added")
	case status == booking.Cancelled:
		return apperr.New(apperr.Conflict, "token", "the booking is cancelled: no documents can be added")
	case status != booking.Confirmed && status != booking.Completed:
		return apperr.New(apperr.Conflict, "token", "the booking is %s: no documents can be added", status)
	}
	return nil
}

// Create records a pending document of a booking, sent by uploadedBy
// (ByCitizen or ByOffice), and presigns its upload. Errors: Invalid (filename, content_type, size), Conflict (token: the
// booking takes no more documents).
func (d *Documents) Create(ctx context.Context, bookingID, uploadedBy string, req UploadRequest) (Upload, error) {
	if err := req.Validate(d.MaxBytes); err != nil {
		return Upload{}, err
	}
	var out Upload
	err := d.Store.InTx(ctx, func(tx *postgres.Tx) error {
		if err := bookingOpen(ctx, tx, bookingID); err != nil {
			return err
		}
		var held int
		// Documents uploaded, or whose upload may still arrive.
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM documents
			WHERE booking_id = $1 AND (status = 'uploaded' OR (status = 'pending' AND created_at > $2))`,
			bookingID, tx.Now.Add(-UploadExpiry)).Scan(&held); err != nil {
			return err
		}
		if held >= d.MaxPerBooking {
			return apperr.New(apperr.Conflict, "token", "a booking holds at most %d documents", d.MaxPerBooking)
		}
		id := uuid.NewString()
		key := ObjectKey(bookingID, id)
		if _, err := tx.Exec(ctx, `
			INSERT INTO documents (id, booking_id, object_key, filename, content_type, size, uploaded_by, status, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)`,
			id, bookingID, key, req.Filename, req.ContentType, req.Size, uploadedBy, tx.Now); err != nil {
			return err
		}
		// The policy caps the upload at the declared size (itself at most
		// MaxBytes): MinIO refuses a larger file; complete refuses a smaller one.
		post, err := d.Objects.PresignPost(ctx, key, req.ContentType, req.Size, UploadExpiry)
		out = Upload{DocumentID: id, Upload: post, ExpiresAt: post.ExpiresAt}
		return err
	})
	return out, err
}

type row struct {
	key, contentType, uploadedBy, status string
	filename                             *string
	size                                 *int64
	uploadedAt                           *time.Time
}

func (r row) document(id string) booking.Document {
	doc := booking.Document{ID: id, ContentType: r.contentType, UploadedBy: r.uploadedBy}
	if r.filename != nil {
		doc.Filename = *r.filename
	}
	if r.size != nil {
		doc.Size = *r.size
	}
	if r.uploadedAt != nil {
		doc.UploadedAt = *r.uploadedAt
	}
	return doc
}

// find reads one document of a booking, locking it when lock is set. A
// malformed id, another booking's document or a deleted one is NotFound.
func find(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, bookingID, documentID string, lock bool) (row, error) {
	var r row
	if _, err := uuid.Parse(documentID); err != nil {
		return r, errNoDocument
	}
	sql := `SELECT object_key, filename, content_type, size, uploaded_by, status, uploaded_at
		FROM documents WHERE id = $1 AND booking_id = $2 AND status <> 'deleted'`
	if lock {
		sql += ` FOR UPDATE`
	}
	err := q.QueryRow(ctx, sql, documentID, bookingID).Scan(&r.key, &r.filename, &r.contentType, &r.size, &r.uploadedBy, &r.status, &r.uploadedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errNoDocument
	}
	return r, err
}

// Complete checks that the upload of a pending document arrived and is
// what was declared, marks it uploaded and announces it: its
// document.uploaded.v1 and an audit row (action document.uploaded, target
// the booking, by actor) are written in the same transaction. Completing
// an uploaded document again answers it as it is. Errors: NotFound (id),
// Conflict (id: not uploaded yet; token: the booking's data were erased),
// Unprocessable (id: the object is not what was declared; it is deleted).
func (d *Documents) Complete(ctx context.Context, bookingID, documentID string, actor audit.Actor) (booking.Document, error) {
	var doc booking.Document
	err := d.Store.InTx(ctx, func(tx *postgres.Tx) error {
		r, err := find(ctx, tx, bookingID, documentID, true)
		if err != nil {
			return err
		}
		if r.status == "uploaded" {
			doc = r.document(documentID)
			return nil
		}
		var purged *time.Time
		var officeID string
		if err := tx.QueryRow(ctx, `
			SELECT b.purged_at, s.office_id FROM bookings b JOIN services s ON s.id = b.service_id
			WHERE b.id = $1`, bookingID).Scan(&purged, &officeID); err != nil {
			return err
		}
		if purged != nil {
			return apperr.New(apperr.Conflict, "token", "the booking's data were erased")
		}
		obj, err := d.Objects.Head(ctx, r.key)
		if errors.Is(err, storage.ErrNotFound) {
			return apperr.New(apperr.Conflict, "id", "not uploaded yet: send the file with the presigned upload first")
		}
		if err != nil {
			return err
		}
		if obj.Size < 1 || obj.Size > d.MaxBytes || obj.ContentType != r.contentType || (r.size != nil && obj.Size != *r.size) {
			// Not what the policy allowed: nobody may download it.
			if err := d.Objects.Delete(ctx, r.key); err != nil {
				return err
			}
			return apperr.New(apperr.Unprocessable, "id", "the uploaded file is not what was declared (%s, %s): it was discarded, upload it again",
				r.contentType, declared(r.size))
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'uploaded', size = $2, uploaded_at = $3 WHERE id = $1`,
			documentID, obj.Size, tx.Now); err != nil {
			return err
		}
		data := events.DocumentUploadedData{BookingID: bookingID, DocumentID: documentID, ContentType: r.contentType, Size: obj.Size, UploadedBy: r.uploadedBy}
		if err := tx.Emit(ctx, outbox.Event{Type: events.DocumentUploaded, Subject: bookingID, Data: data}); err != nil {
			return err
		}
		// Not tx.Record: that would make the target a "document", and the
		// log is kept per booking (a document is part of its booking's story).
		if err := tx.Audit(ctx, audit.Entry{
			Actor: actor, Action: audit.ShortName(events.DocumentUploaded), TargetKind: "booking", TargetID: bookingID,
			OfficeID: officeID, Detail: data,
		}); err != nil {
			return err
		}
		now := tx.Now
		r.status, r.size, r.uploadedAt = "uploaded", &obj.Size, &now
		doc = r.document(documentID)
		return nil
	})
	return doc, err
}

// List returns the uploaded documents of a booking, oldest first.
func (d *Documents) List(ctx context.Context, bookingID string) ([]booking.Document, error) {
	rows, err := d.Store.Pool.Query(ctx, `
		SELECT id, object_key, filename, content_type, size, uploaded_by, status, uploaded_at
		FROM documents WHERE booking_id = $1 AND status = 'uploaded'
		ORDER BY uploaded_at, id`, bookingID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(cr pgx.CollectableRow) (booking.Document, error) {
		var r row
		var id uuid.UUID
		err := cr.Scan(&id, &r.key, &r.filename, &r.contentType, &r.size, &r.uploadedBy, &r.status, &r.uploadedAt)
		return r.document(id.String()), err
	})
}

// Download presigns the download of an uploaded document. Errors:
// NotFound (id), Conflict (id: not uploaded yet).
func (d *Documents) Download(ctx context.Context, bookingID, documentID string) (Download, error) {
	r, err := find(ctx, d.Store.Pool, bookingID, documentID, false)
	if err != nil {
		return Download{}, err
	}
	if r.status != "uploaded" {
		return Download{}, apperr.New(apperr.Conflict, "id", "not uploaded yet")
	}
	name := "documento"
	if r.filename != nil {
		name = *r.filename
	}
	url, expires, err := d.Objects.PresignGet(ctx, r.key, name, r.contentType, DownloadExpiry)
	if err != nil {
		return Download{}, err
	}
	return Download{URL: url, ExpiresAt: expires}, nil
}

// declared describes the declared size of a document.
func declared(size *int64) string {
	if size == nil {
		return "size unknown"
	}
	return fmt.Sprintf("%d bytes", *size)
}
