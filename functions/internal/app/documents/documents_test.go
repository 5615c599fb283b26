package documents_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// TestValidate: every problem of an upload request, each naming its field.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  documents.UploadRequest
		want []string
	}{
		{"fine", documents.UploadRequest{Filename: "pianta.pdf", ContentType: "application/pdf", Size: 1}, nil},
		{"largest", documents.UploadRequest{Filename: "a.p7m", ContentType: "application/pkcs7-mime", Size: 1000}, nil},
		{"too large", documents.UploadRequest{Filename: "a.pdf", ContentType: "application/pdf", Size: 1001}, []string{"size"}},
		{"everything wrong", documents.UploadRequest{Filename: "a/b", ContentType: "text/html"}, []string{"filename", "content_type", "size"}},
		{"control character", documents.UploadRequest{Filename: "a\u202Efdp.exe", ContentType: "image/png", Size: 5}, []string{"filename"}},
		{"too long", documents.UploadRequest{Filename: strings.Repeat("x", documents.MaxFilename+1), ContentType: "image/jpeg", Size: 5}, []string{"filename"}},
	} {
		var got []string
		if err := tc.req.Validate(1000); err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.Invalid {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestCompleteAudit: completing an upload writes its event and an audit
// row about the booking with the actor given — the citizen, or an
// operator — and the booking's office.
func TestCompleteAudit(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{})
	h, err := store.Reserve(t.Context(), svc, apitest.At("2027-03-02", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Confirm(t.Context(), h.ID, h.Secret, booking.Citizen{Applicant: booking.Applicant{GivenName: "Maria", FamilyName: "Rossi",
		Address: "Via Sparano 1, Bari", Email: "maria.rossi@example.it"}, PrivacyConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	docs := &documents.Documents{Store: store, Objects: s3test.Store(t), MaxBytes: 1 << 20, MaxPerBooking: 5}
	operator := "6f1c1a52-8d1e-4c35-9a54-0c0b7f0d8a11"
	for _, tc := range []struct {
		by    string
		actor audit.Actor
	}{{booking.DocumentByCitizen, audit.Citizen}, {booking.DocumentByOffice, audit.Operator(operator)}} {
		up, err := docs.Create(t.Context(), b.ID, tc.by, documents.UploadRequest{Filename: "a.pdf", ContentType: "application/pdf", Size: 4})
		if err != nil {
			t.Fatal(err)
		}
		s3test.Put(t, docs.Objects, documents.ObjectKey(b.ID, up.DocumentID), "application/pdf", []byte("%PDF"))
		doc, err := docs.Complete(t.Context(), b.ID, up.DocumentID, tc.actor)
		if err != nil || doc.UploadedBy != tc.by {
			t.Fatalf("complete: %+v, %v", doc, err)
		}
		recs, err := store.AuditLog(t.Context(), audit.Filter{TargetKind: "booking", TargetID: b.ID, Limit: 1})
		if err != nil || len(recs) != 1 {
			t.Fatalf("audit: %v, %v", recs, err)
		}
		type row struct {
			Actor  audit.Actor
			Action string
			Office string
		}
		got := row{recs[0].Actor, recs[0].Action, ""}
		if recs[0].OfficeID != nil {
			got.Office = *recs[0].OfficeID
		}
		if diff := cmp.Diff(row{tc.actor, "document.uploaded", office}, got); diff != "" {
			t.Errorf("audit row of an upload by %s (-want +got):\n%s", tc.by, diff)
		}
		if strings.Contains(string(recs[0].Detail), "a.pdf") {
			t.Errorf("the file name (personal data) is in the audit detail: %s", recs[0].Detail)
		}
	}
}
