package main

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/app/documents"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// A small but real PDF.
var pdf = []byte("%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n" +
	"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n")

// fixture is the documents function on the package's database and the
// real object store, with a fixed clock on Monday.
type fixture struct {
	h       http.Handler
	store   *postgres.Store
	objects *storage.Store
	svc     string
}

func newFixture(t testing.TB, maxBytes int64, maxPerBooking int) fixture {
	t.Helper()
	store, _ := pgtest.Store(t, apitest.Monday)
	store.Source = "/sportello/documents"
	objects := s3test.Store(t)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 5})
	docs := &documents.Documents{Store: store, Objects: objects, MaxBytes: maxBytes, MaxPerBooking: maxPerBooking}
	return fixture{h: apitest.Validated(t, newHandler(docs, apitest.Discard)), store: store, objects: objects, svc: svc}
}

// book makes a confirmed booking on Tuesday at hhmm.
func (f fixture) book(t testing.TB, hhmm string) booking.Confirmation {
	t.Helper()
	return pgtest.Book(t, f.store, f.svc, apitest.At("2027-03-02", hhmm))
}

// serve runs one request with the manage token (none when empty); every
// answer must be no-store and no answer a 5xx.
func (f fixture) serve(t testing.TB, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, f.h, apitest.Request(method, path, token, body), apitest.NoStore)
}

// create asks for an upload and decodes the answer.
func (f fixture) create(t *testing.T, token, filename, contentType string, size int) documents.Upload {
	t.Helper()
	body, _ := json.Marshal(documents.UploadRequest{Filename: filename, ContentType: contentType, Size: int64(size)})
	rec := f.serve(t, http.MethodPost, "/api/documents", token, string(body))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d: %s", rec.Code, rec.Body)
	}
	up := apitest.Decode[documents.Upload](t, rec.Body.Bytes())
	return up
}

func (f fixture) complete(t *testing.T, token, id string) *httptest.ResponseRecorder {
	t.Helper()
	return f.serve(t, http.MethodPost, "/api/documents/"+id+"/complete", token, "")
}

func publicEndpoint() string {
	if p := os.Getenv("S3_PUBLIC_ENDPOINT"); p != "" {
		return strings.TrimSuffix(p, "/")
	}
	return strings.TrimSuffix(os.Getenv("S3_ENDPOINT"), "/")
}

// TestUploadJourney: a citizen asks for an upload, sends the PDF straight
// to the object store with the presigned POST (as a browser does), tells
// the function it is done, finds it in the listing and downloads the same
// bytes through a presigned GET. The event is written once.
func TestUploadJourney(t *testing.T) {
	f := newFixture(t, 20<<20, 20)
	mine := f.book(t, "09:30")
	const name = "Pratica edilizia – Rossi.pdf"

	before := time.Now()
	rec := f.serve(t, http.MethodPost, "/api/documents", mine.ManageToken,
		fmt.Sprintf(`{"filename": %q, "content_type": "application/pdf", "size": %d}`, name, len(pdf)))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d: %s", rec.Code, rec.Body)
	}
	up := apitest.Decode[documents.Upload](t, rec.Body.Bytes())
	if _, err := uuid.Parse(up.DocumentID); err != nil {
		t.Fatalf("document_id %q: %v", up.DocumentID, err)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/documents/"+up.DocumentID {
		t.Errorf("Location = %q", loc)
	}
	key := "bookings/" + mine.ID + "/" + up.DocumentID
	if want := publicEndpoint() + "/" + f.objects.Bucket; up.Upload.URL != want {
		t.Errorf("upload url = %q, want %q", up.Upload.URL, want)
	}
	for field, want := range map[string]string{"key": key, "Content-Type": "application/pdf", "X-Amz-Algorithm": "AWS4-HMAC-SHA256"} {
		if got := up.Upload.Fields[field]; got != want {
			t.Errorf("field %s = %q, want %q", field, got, want)
		}
	}
	for _, field := range []string{"policy", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Date"} {
		if up.Upload.Fields[field] == "" {
			t.Errorf("field %s missing: %v", field, up.Upload.Fields)
		}
	}
	if strings.Contains(rec.Body.String(), "Rossi") {
		t.Errorf("the file name leaks into the upload: %s", rec.Body)
	}
	if d := up.ExpiresAt.Sub(before); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expires_at %s is %s after now, want 15 minutes", up.ExpiresAt, d)
	}

	// Before the upload: not complete, not listed, not downloadable.
	if got, want := apitest.VerdictNoStore(t, f.complete(t, mine.ManageToken, up.DocumentID)), apitest.Want(409, "conflict", "id"); got != want {
		t.Errorf("complete before upload: %+v, want %+v", got, want)
	}
	apitest.SameJSON(t, f.serve(t, http.MethodGet, "/api/documents", mine.ManageToken, "").Body.Bytes(), `{"documents": []}`)
	if got, want := apitest.VerdictNoStore(t, f.serve(t, http.MethodGet, "/api/documents/"+up.DocumentID, mine.ManageToken, "")), apitest.Want(409, "conflict", "id"); got != want {
		t.Errorf("download before upload: %+v, want %+v", got, want)
	}

	res := clienttest.PostForm(t, up.Upload.URL, up.Upload.Fields, name, pdf)
	if res.Status != http.StatusNoContent {
		t.Fatalf("upload: status %d: %s", res.Status, res.Body)
	}

	want := fmt.Sprintf(`{"id": %q, "filename": %q, "content_type": "application/pdf", "size": %d,
		"uploaded_by": "citizen", "uploaded_at": "2027-03-01T08:00:00+01:00"}`, up.DocumentID, name, len(pdf))
	for i := range 2 { // completing again answers the same, with no second event
		rec = f.complete(t, mine.ManageToken, up.DocumentID)
		if rec.Code != http.StatusOK {
			t.Fatalf("complete #%d: status %d: %s", i+1, rec.Code, rec.Body)
		}
		apitest.SameJSON(t, rec.Body.Bytes(), want)
	}
	if n := apitest.EventsOf(t, mine.ID, events.DocumentUploaded); n != 1 {
		t.Errorf("%d document.uploaded events, want 1", n)
	}
	var data events.DocumentUploadedData
	var source string
	if err := pgtest.Pool(t).QueryRow(t.Context(), `SELECT source, data FROM outbox WHERE subject = $1 AND type = $2`,
		mine.ID, events.DocumentUploaded).Scan(&source, &data); err != nil {
		t.Fatal(err)
	}
	wantData := events.DocumentUploadedData{BookingID: mine.ID, DocumentID: up.DocumentID, ContentType: "application/pdf", Size: int64(len(pdf)), UploadedBy: "citizen"}
	if diff := cmp.Diff(wantData, data); diff != "" || source != "/sportello/documents" {
		t.Errorf("event from %s (-want +got):\n%s", source, diff)
	}

	apitest.SameJSON(t, f.serve(t, http.MethodGet, "/api/documents", mine.ManageToken, "").Body.Bytes(), `{"documents": [`+want+`]}`)

	rec = f.serve(t, http.MethodGet, "/api/documents/"+up.DocumentID, mine.ManageToken, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("download: status %d: %s", rec.Code, rec.Body)
	}
	dl := apitest.Decode[documents.Download](t, rec.Body.Bytes())
	if d := dl.ExpiresAt.Sub(before); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("download expires_at %s is %s after now, want 5 minutes", dl.ExpiresAt, d)
	}
	got := clienttest.Get(t, dl.URL)
	if got.Status != http.StatusOK || string(got.Body) != string(pdf) {
		t.Fatalf("download: status %d, %d bytes, want the %d uploaded", got.Status, len(got.Body), len(pdf))
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("download Content-Type = %q", ct)
	}
	disp, params, err := mime.ParseMediaType(got.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || params["filename"] != name {
		t.Errorf("download Content-Disposition = %q (%v): want attachment with filename %q", got.Header.Get("Content-Disposition"), err, name)
	}
}

// TestObjectStoreEnforcesThePolicy: the presigned POST's policy is checked
// by MinIO itself: a file over the declared size or the limit, an empty one, another
// Content-Type or another key are refused and nothing is stored; the
// function never sees the bytes.
func TestObjectStoreEnforcesThePolicy(t *testing.T) {
	const limit = 1024
	f := newFixture(t, limit, 20)
	mine, other := f.book(t, "10:00"), f.book(t, "10:30")
	up := f.create(t, mine.ManageToken, "domanda.pdf", "application/pdf", len(pdf))
	key := up.Upload.Fields["key"]

	with := func(field, value string) map[string]string {
		m := map[string]string{}
		for k, v := range up.Upload.Fields {
			m[k] = v
		}
		m[field] = value
		return m
	}
	otherKey := documents.ObjectKey(other.ID, uuid.NewString())
	for _, c := range []struct {
		name   string
		fields map[string]string
		file   []byte
		status int
		object string
	}{
		{"over the declared size", up.Upload.Fields, []byte(strings.Repeat("x", len(pdf)+1)), http.StatusBadRequest, key},
		{"over the size limit", up.Upload.Fields, []byte(strings.Repeat("x", limit+1)), http.StatusBadRequest, key},
		{"empty", up.Upload.Fields, nil, http.StatusBadRequest, key},
		{"another content type", with("Content-Type", "image/png"), pdf, http.StatusForbidden, key},
		{"another booking's key", with("key", otherKey), pdf, http.StatusForbidden, otherKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := clienttest.PostForm(t, up.Upload.URL, c.fields, "domanda.pdf", c.file)
			if res.Status != c.status {
				t.Errorf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			if s3test.Exists(t, f.objects, c.object) {
				t.Errorf("object %s was stored", c.object)
			}
		})
	}
	if got, want := apitest.VerdictNoStore(t, f.complete(t, mine.ManageToken, up.DocumentID)), apitest.Want(409, "conflict", "id"); got != want {
		t.Errorf("complete after refused uploads: %+v, want %+v", got, want)
	}
	// The same policy still takes a file that keeps to it.
	if res := clienttest.PostForm(t, up.Upload.URL, up.Upload.Fields, "domanda.pdf", pdf); res.Status != http.StatusNoContent {
		t.Fatalf("upload within the policy: status %d: %s", res.Status, res.Body)
	}
	if rec := f.complete(t, mine.ManageToken, up.DocumentID); rec.Code != http.StatusOK {
		t.Errorf("complete: status %d: %s", rec.Code, rec.Body)
	}
}

// TestUploadNotAsDeclared: an object that is not what its policy allowed
// (here put behind the policy's back) is discarded on completion.
func TestUploadNotAsDeclared(t *testing.T) {
	f := newFixture(t, 20<<20, 20)
	mine := f.book(t, "11:00")
	up := f.create(t, mine.ManageToken, "foto.png", "image/png", 10)
	key := up.Upload.Fields["key"]
	s3test.Put(t, f.objects, key, "text/html", []byte("<script>alert(1)</script>"))

	if got, want := apitest.VerdictNoStore(t, f.complete(t, mine.ManageToken, up.DocumentID)), apitest.Want(422, "unprocessable", "id"); got != want {
		t.Errorf("complete: %+v, want %+v", got, want)
	}
	if s3test.Exists(t, f.objects, key) {
		t.Error("the object that is not as declared was kept")
	}
	if n := apitest.EventsOf(t, mine.ID, events.DocumentUploaded); n != 0 {
		t.Errorf("%d document.uploaded events, want none", n)
	}
}

// TestBadRequests: the function refuses what it can judge — a missing or
// unknown token, malformed JSON, an unknown type, a declared size over the
// limit, a file name that is a path or carries control characters — with
// a 4xx naming the field, and writes nothing.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, 20<<20, 20)
	mine := f.book(t, "11:30")
	body := func(name, ct string, size int64) string {
		b, _ := json.Marshal(map[string]any{"filename": name, "content_type": ct, "size": size})
		return string(b)
	}
	tampered := []byte(mine.ManageToken)
	tampered[0] ^= 1
	for _, c := range []struct {
		name, token, body string
		want              apitest.Verdict
	}{
		{"no token", "", body("a.pdf", "application/pdf", 10), apitest.Want(401, "unauthorized", "Authorization")},
		{"tampered token", string(tampered), body("a.pdf", "application/pdf", 10), apitest.Want(404, "not_found", "token")},
		{"garbage token", "nope", body("a.pdf", "application/pdf", 10), apitest.Want(404, "not_found", "token")},
		{"empty body", mine.ManageToken, "", apitest.Want(400, "invalid", "")},
		{"malformed JSON", mine.ManageToken, `{"filename": `, apitest.Want(400, "invalid", "")},
		{"unknown field", mine.ManageToken, `{"filename": "a.pdf", "content_type": "application/pdf", "size": 1, "key": "bookings/x"}`, apitest.Want(400, "invalid", "key")},
		{"size as text", mine.ManageToken, `{"filename": "a.pdf", "content_type": "application/pdf", "size": "10"}`, apitest.Want(400, "invalid", "size")},
		{"unknown type", mine.ManageToken, body("a.html", "text/html", 10), apitest.Want(400, "invalid", "content_type")},
		{"type with parameters", mine.ManageToken, body("a.pdf", "application/pdf; charset=utf-8", 10), apitest.Want(400, "invalid", "content_type")},
		{"no type", mine.ManageToken, body("a.pdf", "", 10), apitest.Want(400, "invalid", "content_type")},
		{"too big", mine.ManageToken, body("a.pdf", "application/pdf", 20<<20+1), apitest.Want(400, "invalid", "size")},
		{"zero size", mine.ManageToken, body("a.pdf", "application/pdf", 0), apitest.Want(400, "invalid", "size")},
		{"negative size", mine.ManageToken, body("a.pdf", "application/pdf", -5), apitest.Want(400, "invalid", "size")},
		{"no name", mine.ManageToken, body("", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"a path", mine.ManageToken, body("../../etc/passwd.pdf", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"a Windows path", mine.ManageToken, body(`C:\Documenti\a.pdf`, "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"dot dot", mine.ManageToken, body("..", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"newline", mine.ManageToken, body("a\r\nContent-Type: text/html.pdf", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"NUL", mine.ManageToken, body("a\x00.pdf", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"bidi override", mine.ManageToken, body("fattura\u202Efdp.exe", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
		{"too long", mine.ManageToken, body(strings.Repeat("à", 197)+".pdf", "application/pdf", 10), apitest.Want(400, "invalid", "filename")},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, rows := apitest.Snap(t), pgtest.Digest(t, "documents")
			rec := f.serve(t, http.MethodPost, "/api/documents", c.token, c.body)
			if got := apitest.VerdictNoStore(t, rec); got != c.want {
				t.Errorf("got %+v, want %+v: %s", got, c.want, rec.Body)
			}
			if apitest.Snap(t) != before || pgtest.Digest(t, "documents") != rows {
				t.Error("a refused request wrote to the database")
			}
		})
	}

	// Every problem is listed, each with its field.
	rec := f.serve(t, http.MethodPost, "/api/documents", mine.ManageToken, body("a/b", "text/plain", 0))
	p := apitest.ProblemOf(t, rec, apitest.NoStore)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	if diff := cmp.Diff([]string{"filename", "content_type", "size"}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}

	// The longest name and every accepted type pass.
	for _, ct := range documents.ContentTypes {
		f.create(t, mine.ManageToken, strings.Repeat("à", 196)+".pdf", ct, 20<<20)
	}
}

// TestIsolation: a manage token reaches its own booking's documents only.
// Another booking's document is a plain 404 for listing, completing and
// downloading, exactly like a document that does not exist.
func TestIsolation(t *testing.T) {
	f := newFixture(t, 20<<20, 20)
	alice, bob := f.book(t, "12:00"), f.book(t, "12:30")
	up := f.create(t, alice.ManageToken, "alice.pdf", "application/pdf", len(pdf))
	if res := clienttest.PostForm(t, up.Upload.URL, up.Upload.Fields, "alice.pdf", pdf); res.Status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	pending := f.create(t, alice.ManageToken, "later.pdf", "application/pdf", 10)

	// Bob cannot complete Alice's upload for her, nor see it.
	for _, id := range []string{up.DocumentID, pending.DocumentID, uuid.NewString(), "not-a-uuid", "..%2F..%2Fbookings"} {
		if got, want := apitest.VerdictNoStore(t, f.complete(t, bob.ManageToken, id)), apitest.Want(404, "not_found", "id"); got != want {
			t.Errorf("bob completes %s: %+v, want %+v", id, got, want)
		}
		if got, want := apitest.VerdictNoStore(t, f.serve(t, http.MethodGet, "/api/documents/"+id, bob.ManageToken, "")), apitest.Want(404, "not_found", "id"); got != want {
			t.Errorf("bob downloads %s: %+v, want %+v", id, got, want)
		}
	}
	if n := apitest.EventsOf(t, alice.ID, events.DocumentUploaded); n != 0 {
		t.Errorf("bob's complete wrote %d events", n)
	}
	apitest.SameJSON(t, f.serve(t, http.MethodGet, "/api/documents", bob.ManageToken, "").Body.Bytes(), `{"documents": []}`)

	// Alice's documents are hers.
	if rec := f.complete(t, alice.ManageToken, up.DocumentID); rec.Code != http.StatusOK {
		t.Fatalf("alice completes: %d %s", rec.Code, rec.Body)
	}
	if got, want := apitest.VerdictNoStore(t, f.serve(t, http.MethodGet, "/api/documents/"+up.DocumentID, bob.ManageToken, "")), apitest.Want(404, "not_found", "id"); got != want {
		t.Errorf("bob downloads alice's uploaded document: %+v, want %+v", got, want)
	}
	apitest.SameJSON(t, f.serve(t, http.MethodGet, "/api/documents", bob.ManageToken, "").Body.Bytes(), `{"documents": []}`)
	rec := f.serve(t, http.MethodGet, "/api/documents", alice.ManageToken, "")
	if !strings.Contains(rec.Body.String(), up.DocumentID) {
		t.Errorf("alice's list: %s", rec.Body)
	}
	// No token, no list.
	if got, want := apitest.VerdictNoStore(t, f.serve(t, http.MethodGet, "/api/documents", "", "")), apitest.Want(401, "unauthorized", "Authorization"); got != want {
		t.Errorf("list without token: %+v, want %+v", got, want)
	}
}

// TestClosedBookings: a cancelled booking, or one whose personal data were
// erased, takes no new documents (409), and nothing is written.
func TestClosedBookings(t *testing.T) {
	f := newFixture(t, 20<<20, 2)
	cancelled, purged, full := f.book(t, "09:00"), f.book(t, "09:30"), f.book(t, "10:00")
	if _, err := f.store.Cancel(t.Context(), cancelled.ManageToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Pool.Exec(t.Context(), `UPDATE bookings SET purged_at = $2 WHERE id = $1`, purged.ID, apitest.Monday); err != nil {
		t.Fatal(err)
	}
	f.create(t, full.ManageToken, "1.pdf", "application/pdf", 1)
	f.create(t, full.ManageToken, "2.pdf", "application/pdf", 1)
	for _, token := range []string{cancelled.ManageToken, purged.ManageToken, full.ManageToken} {
		before, rows := apitest.Snap(t), pgtest.Digest(t, "documents")
		rec := f.serve(t, http.MethodPost, "/api/documents", token, `{"filename": "a.pdf", "content_type": "application/pdf", "size": 10}`)
		if got, want := apitest.VerdictNoStore(t, rec), apitest.Want(409, "conflict", "token"); got != want {
			t.Errorf("got %+v, want %+v: %s", got, want, rec.Body)
		}
		if apitest.Snap(t) != before || pgtest.Digest(t, "documents") != rows {
			t.Error("a refused request wrote to the database")
		}
	}
}

// TestRoutes: anything else under /api/documents is a 404 or 405, never
// cacheable.
func TestRoutes(t *testing.T) {
	f := newFixture(t, 20<<20, 20)
	mine := f.book(t, "12:00")
	for _, c := range []struct{ method, path string }{
		{http.MethodDelete, "/api/documents"},
		{http.MethodGet, "/api/documents/x/y"},
		{http.MethodPut, "/api/documents/" + uuid.NewString()},
	} {
		rec := f.serve(t, c.method, c.path, mine.ManageToken, "")
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d", c.method, c.path, rec.Code)
		}
	}
}
