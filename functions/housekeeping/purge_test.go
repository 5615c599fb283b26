package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
)

// document stores a document of a booking as the documents function
// leaves it: its row (status uploaded or pending, created at the clock's
// time) and, when body is not nil, its object. It returns the object key.
func (f *fixture) document(t *testing.T, bookingID, status string, body []byte) string {
	t.Helper()
	id := uuid.NewString()
	key := prefix(bookingID) + id
	var size *int64
	var uploaded *time.Time
	if status == "uploaded" {
		n, now := int64(len(body)), f.clk.Now()
		size, uploaded = &n, &now
	}
	if _, err := f.store.Pool.Exec(t.Context(), `
		INSERT INTO documents (id, booking_id, object_key, filename, content_type, size, uploaded_by, status, created_at, uploaded_at)
		VALUES ($1, $2, $3, 'Rossi Maria - CILA.pdf', 'application/pdf', $4, 'citizen', $5, $6, $7)`,
		id, bookingID, key, size, status, f.clk.Now(), uploaded); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		s3test.Put(t, f.objects, key, "application/pdf", body)
	}
	return key
}

// personal is what is left of a booking's personal data.
type personal struct {
	GivenName, FamilyName, Address, Email, Reason, Details, Note *string
	Purged                                                       bool
	Tokens                                                       int
	Documents                                                    []string // status and file name of each
}

func (f *fixture) personal(t *testing.T, id string) personal {
	t.Helper()
	var p personal
	err := f.store.Pool.QueryRow(t.Context(), `
		SELECT given_name, family_name, address, email, reason, details, outcome_note, purged_at IS NOT NULL,
		       (SELECT count(*) FROM manage_tokens m WHERE m.booking_id = b.id),
		       coalesce((SELECT array_agg(d.status || ':' || coalesce(d.filename, '') ORDER BY d.status, d.filename)
		                 FROM documents d WHERE d.booking_id = b.id), '{}')
		FROM bookings b WHERE id = $1`, id).Scan(
		&p.GivenName, &p.FamilyName, &p.Address, &p.Email, &p.Reason, &p.Details, &p.Note, &p.Purged, &p.Tokens, &p.Documents)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func str(s string) *string { return &s }

// TestPurge: a month after their end, bookings lose their personal data:
// the citizen's fields, the manage links, the documents' names and
// objects (uploaded or not); the booking itself stays, with
// booking.purged.v1 delivered once. Recent bookings keep everything. A
// second tick changes nothing; an upload that lands late is swept.
func TestPurge(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	old := f.book(t, apitest.At("2027-03-02", "09:00"))
	cancelled := f.book(t, apitest.At("2027-03-02", "10:00"))
	if _, err := f.store.Cancel(t.Context(), cancelled.ManageToken); err != nil {
		t.Fatal(err)
	}
	recent := f.book(t, apitest.At("2027-04-20", "09:00"))
	// The office recorded the old appointment's outcome with a note, which
	// is personal data too.
	if _, err := f.store.Pool.Exec(t.Context(), `
		UPDATE bookings SET status = 'completed', outcome = 'completed', outcome_note = 'Pratica consegnata a mano', outcome_at = starts_at
		WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	hold, err := f.store.Reserve(t.Context(), f.svc, apitest.At("2027-03-02", "11:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	uploaded := f.document(t, old.ID, "uploaded", []byte("%PDF-1.4 uploaded"))
	abandoned := f.document(t, old.ID, "pending", []byte("%PDF-1.4 never completed"))
	f.document(t, old.ID, "pending", nil)
	cancelledDoc := f.document(t, cancelled.ID, "uploaded", []byte("%PDF-1.4 cancelled"))
	keep := f.document(t, recent.ID, "uploaded", []byte("%PDF-1.4 recent"))

	// 2 April 2027: the 30 days after 2 March 09:30 are over; a document
	// is requested just before the purge, its upload still to come.
	f.clk.Set(apitest.At("2027-04-02", "09:50"))
	late := f.document(t, old.ID, "pending", nil)
	f.clk.Advance(time.Minute)
	purgedAt := f.clk.Now()
	f.tick(t)

	gone := personal{Purged: true, Documents: []string{"deleted:", "deleted:", "deleted:", "deleted:"}}
	if diff := cmp.Diff(gone, f.personal(t, old.ID)); diff != "" {
		t.Errorf("old booking (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(personal{Purged: true, Documents: []string{"deleted:"}}, f.personal(t, cancelled.ID)); diff != "" {
		t.Errorf("cancelled booking (-want +got):\n%s", diff)
	}
	kept := personal{GivenName: str("Maria"), FamilyName: str("Rossi"), Address: str("Via Sparano 1, Bari"),
		Email: str("maria.rossi@example.it"), Reason: str("SCIA"), Details: str("Pratica 12/2027"), Tokens: 1,
		Documents: []string{"uploaded:Rossi Maria - CILA.pdf"}}
	if diff := cmp.Diff(kept, f.personal(t, recent.ID)); diff != "" {
		t.Errorf("recent booking (-want +got):\n%s", diff)
	}
	for key, want := range map[string]bool{uploaded: false, abandoned: false, cancelledDoc: false, keep: true} {
		if got := s3test.Exists(t, f.objects, key); got != want {
			t.Errorf("object %s exists: %v, want %v", key, got, want)
		}
	}
	// The manage link of a purged booking is a plain 404.
	if _, err := f.store.Booking(t.Context(), old.ManageToken); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("manage link after the purge: %v, want not found", err)
	}
	// The booking itself stays, for the statistics, and so does its audit
	// trail (which never held personal data).
	var trail []string
	if err := f.store.Pool.QueryRow(t.Context(), `
		SELECT coalesce(array_agg(actor_kind || ':' || action ORDER BY id), '{}') FROM audit_log
		WHERE target_kind = 'booking' AND target_id = $1`, old.ID).Scan(&trail); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"citizen:booking.confirmed", "system:booking.purged"}, trail); diff != "" {
		t.Errorf("audit trail of the old booking (-want +got):\n%s", diff)
	}
	var status string
	if err := f.store.Pool.QueryRow(t.Context(), `SELECT status FROM bookings WHERE id = $1`, old.ID).Scan(&status); err != nil || status != "completed" {
		t.Errorf("old booking: status %q, %v", status, err)
	}

	for _, c := range []struct {
		id   string
		want int
	}{{old.ID, 1}, {cancelled.ID, 1}, {recent.ID, 0}, {hold.ID, 0}} {
		ids := outboxIDs(t, events.BookingPurged, c.id)
		if len(ids) != c.want {
			t.Errorf("booking %s: %d purged events, want %d", c.id, len(ids), c.want)
			continue
		}
		for _, id := range ids {
			var d events.BookingPurgedData
			decode(t, id, &d)
			if d.BookingID != c.id || !d.PurgedAt.Equal(purgedAt) {
				t.Errorf("purged event %+v", d)
			}
		}
	}
	delivered := f.sink.ids(events.BookingPurged)
	if len(delivered) != 2 {
		t.Errorf("%d purged events delivered, want 2", len(delivered))
	}

	// The upload requested before the purge lands afterwards; the next
	// tick sweeps it, and purges nothing again.
	s3test.Put(t, f.objects, late, "application/pdf", []byte("%PDF-1.4 late"))
	f.clk.Advance(5 * time.Minute)
	f.tick(t)
	if s3test.Exists(t, f.objects, late) {
		t.Error("the late upload was kept")
	}
	if n := len(outboxIDs(t, events.BookingPurged, "")); n != 2 {
		t.Errorf("%d purged events after the second tick, want 2", n)
	}
	if diff := cmp.Diff(gone, f.personal(t, old.ID)); diff != "" {
		t.Errorf("old booking after the second tick (-want +got):\n%s", diff)
	}
	if !s3test.Exists(t, f.objects, keep) {
		t.Error("the recent booking's object was deleted")
	}
}

// TestPurgeBatch: a tick purges at most PURGE_BATCH bookings; the next
// tick goes on.
func TestPurgeBatch(t *testing.T) {
	f := newFixture(t, apitest.Monday)
	var ids []string
	for _, hhmm := range []string{"09:00", "09:30", "10:00"} {
		ids = append(ids, f.book(t, apitest.At("2027-03-02", hhmm)).ID)
	}
	f.hk.PurgeBatch = 2
	f.clk.Set(apitest.At("2027-05-01", "08:00"))
	rep, err := f.hk.Tick(t.Context())
	if err != nil || rep.Purged != 2 {
		t.Fatalf("first tick: %+v, %v; want 2 purged", rep, err)
	}
	rep, err = f.hk.Tick(t.Context())
	if err != nil || rep.Purged != 1 {
		t.Fatalf("second tick: %+v, %v; want 1 purged", rep, err)
	}
	for _, id := range ids {
		if !f.personal(t, id).Purged {
			t.Errorf("booking %s not purged", id)
		}
	}
}
