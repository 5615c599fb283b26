package main

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/apperr"
	"github.com/sportello/sportello/functions/internal/audit"
	"github.com/sportello/sportello/functions/internal/auth"
	"github.com/sportello/sportello/functions/internal/documents"
	"github.com/sportello/sportello/functions/internal/httpx"
	"github.com/sportello/sportello/functions/internal/rooms"
)

// JoinResponse is the answer of POST /api/operator/bookings/{id}/join
// inside the window (rooms.Ticket).
type JoinResponse = rooms.Ticket

// WindowProblem is the problem answered outside the room's window
// (rooms.WindowProblem).
type WindowProblem = rooms.WindowProblem

// DocumentList is the answer of GET /api/operator/bookings/{id}/documents.
type DocumentList struct {
	Documents []documents.Document `json:"documents"`
}

// OperatorIdentity is the LiveKit identity of an operator, as
// livekit-webhook reads it back (operator-<id>).
func OperatorIdentity(operatorID string) string { return "operator-" + operatorID }

// optionalEmpty decodes an optional body that must be empty or {}. It
// answers false once it has written a problem.
func (h *handler) optionalEmpty(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength != 0 && !httpx.EmptyBody(r) {
		var req EmptyRequest
		if err := httpx.Decode(r, &req); err != nil {
			httpx.Error(w, r, h.log, err)
			return false
		}
	}
	return true
}

func (h *handler) reschedule(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req RescheduleRequest
	if err := httpx.Decode(r, &req); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	if strings.TrimSpace(req.Start) == "" {
		httpx.Error(w, r, h.log, apperr.Field("start", apperr.Required, "required: the new start, like 2027-03-02T09:30:00+01:00"))
		return
	}
	start, err := time.Parse(time.RFC3339, req.Start)
	if err != nil {
		httpx.Error(w, r, h.log, apperr.Field("start", apperr.InvalidFormat, "must be a date and time in RFC 3339, like 2027-03-02T09:30:00+01:00"))
		return
	}
	b, err := h.store.RescheduleByOperator(r.Context(), scope(sess.Operator), r.PathValue("id"), start)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	httpx.JSON(w, http.StatusOK, withDocuments(b))
}

func (h *handler) join(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.optionalEmpty(w, r) {
		return
	}
	b, err := h.store.ScopedBooking(r.Context(), scope(sess.Operator), r.PathValue("id"))
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	if b.Status != "confirmed" {
		httpx.Error(w, r, h.log, apperr.New(apperr.Conflict, "id", "the booking is %s: its room is closed", b.Status))
		return
	}
	now := h.store.Clock.Now()
	win, err := h.lk.Config.WindowOf(r.Context(), h.store.Pool, b.ID, b.Sequence, b.Start, b.End)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	name := strings.TrimSpace(sess.Operator.DisplayName)
	if name == "" {
		name = "Operatore"
	}
	p := rooms.Participant{Identity: OperatorIdentity(sess.Operator.ID), Name: name}
	h.lk.Admit(w, r, h.log, b.ID, win, p, now, h.store.Calendar.Location)
}

func (h *handler) local(t time.Time) time.Time { return t.In(h.store.Calendar.Location) }

// scoped answers the id of the path's booking when it is in the session's
// scope, or writes the 404 and answers "".
func (h *handler) scoped(w http.ResponseWriter, r *http.Request, sess auth.Session) string {
	b, err := h.store.ScopedBooking(r.Context(), scope(sess.Operator), r.PathValue("id"))
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return ""
	}
	return b.ID
}

// documentError renames the fields of the documents' store, written for
// the citizen's routes, after this function's path: the booking the
// citizen's manage token opened ("token") is the path's {id}, and the
// document ("id" there) is {doc}.
func documentError(err error) error {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return err
	}
	rename := map[string]string{"token": "id", "id": "doc"}
	n, ok := rename[e.Field]
	if !ok {
		return err
	}
	c := *e
	c.Field = n
	c.Fields = nil
	for _, f := range e.Fields {
		if m, ok := rename[f.Field]; ok {
			f.Field = m
		}
		c.Fields = append(c.Fields, f)
	}
	return &c
}

func (h *handler) createDocument(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := h.scoped(w, r, sess)
	if id == "" {
		return
	}
	var req documents.UploadRequest
	if err := httpx.Decode(r, &req); err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	up, err := h.docs.Create(r.Context(), id, documents.ByOffice, req)
	if err != nil {
		httpx.Error(w, r, h.log, documentError(err))
		return
	}
	up.ExpiresAt = h.local(up.ExpiresAt).Truncate(time.Second)
	w.Header().Set("Location", "/api/operator/bookings/"+id+"/documents/"+up.DocumentID)
	httpx.JSON(w, http.StatusCreated, up)
}

func (h *handler) completeDocument(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := h.scoped(w, r, sess)
	if id == "" || !h.optionalEmpty(w, r) {
		return
	}
	doc, err := h.docs.Complete(r.Context(), id, r.PathValue("doc"), audit.Operator(sess.Operator.ID))
	if err != nil {
		httpx.Error(w, r, h.log, documentError(err))
		return
	}
	doc.UploadedAt = h.local(doc.UploadedAt)
	httpx.JSON(w, http.StatusOK, doc)
}

func (h *handler) listDocuments(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := h.scoped(w, r, sess)
	if id == "" {
		return
	}
	list, err := h.docs.List(r.Context(), id)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	if list == nil {
		list = []documents.Document{}
	}
	for i := range list {
		list[i].UploadedAt = h.local(list[i].UploadedAt)
	}
	httpx.JSON(w, http.StatusOK, DocumentList{Documents: list})
}

func (h *handler) downloadDocument(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := h.scoped(w, r, sess)
	if id == "" {
		return
	}
	dl, err := h.docs.Download(r.Context(), id, r.PathValue("doc"))
	if err != nil {
		httpx.Error(w, r, h.log, documentError(err))
		return
	}
	dl.ExpiresAt = h.local(dl.ExpiresAt).Truncate(time.Second)
	httpx.JSON(w, http.StatusOK, dl)
}
