package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/adapters/rooms"
	"github.com/sportello/sportello/functions/internal/app/auth"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/docroutes"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
)

// JoinResponse is the answer of POST /api/operator/bookings/{id}/join
// inside the window (rooms.Ticket).
type JoinResponse = rooms.Ticket

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
	b, err := h.store.RescheduleByOperator(r.Context(), sess.Operator.Scope(), r.PathValue("id"), start)
	h.answer(w, r, b, err)
}

func (h *handler) join(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !httpx.DecodeOptional[EmptyRequest](w, r, h.log) {
		return
	}
	t, err := h.ticket(r, sess)
	if err != nil {
		httpx.Error(w, r, h.log, err)
		return
	}
	httpx.JSON(w, http.StatusOK, t)
}

// ticket lets the operator into the room of the path's booking, in the
// window the citizen has.
func (h *handler) ticket(r *http.Request, sess auth.Session) (rooms.Ticket, error) {
	b, err := h.store.ScopedBooking(r.Context(), sess.Operator.Scope(), r.PathValue("id"))
	if err != nil {
		return rooms.Ticket{}, err
	}
	if b.Status != booking.Confirmed {
		return rooms.Ticket{}, apperr.New(apperr.Conflict, "id", "the booking is %s: its room is closed", b.Status)
	}
	win, err := h.store.RoomWindow(r.Context(), b.ID, b.Sequence, h.lk.Config.Window(b.Start, b.End))
	if err != nil {
		return rooms.Ticket{}, err
	}
	name := strings.TrimSpace(sess.Operator.DisplayName)
	if name == "" {
		name = "Operatore"
	}
	p := rooms.Participant{Identity: sess.Operator.Identity(), Name: name}
	return h.lk.Admit(r.Context(), b.ID, win, p, h.store.Clock.Now(), h.store.Calendar.Location)
}

// documents are the document routes for the session's operator: the
// path's booking if it is in their scope (else a plain 404), documents
// from the office, and the fields of the documents' problems named after
// this function's paths (the booking is the path's {id}, the document
// {doc}).
func (h *handler) documents(sess auth.Session) docroutes.Routes {
	return docroutes.Routes{
		Docs: h.docs, Log: h.log, Actor: audit.Operator(sess.Operator.ID), UploadedBy: booking.DocumentByOffice, DocParam: "doc",
		Location: func(id, doc string) string { return "/api/operator/bookings/" + id + "/documents/" + doc },
		Rename:   map[string]string{"token": "id", "id": "doc"},
		Booking: func(w http.ResponseWriter, r *http.Request) string {
			b, err := h.store.ScopedBooking(r.Context(), sess.Operator.Scope(), r.PathValue("id"))
			if err != nil {
				httpx.Error(w, r, h.log, err)
				return ""
			}
			return b.ID
		},
	}
}
