package storage_test

import (
	"errors"
	"mime"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/adapters/storage"
	"github.com/sportello/sportello/functions/internal/adapters/storage/s3test"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// TestAttachment: the Content-Disposition of downloads reads back as
// attachment with the very file name, whatever characters it has.
func TestAttachment(t *testing.T) {
	for _, name := range []string{"a.pdf", "Pratica edilizia.pdf", `Il "progetto".pdf`, "Città – Bari.p7m", "семья.png", "a;b=c.pdf"} {
		v := storage.Attachment(name)
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" || params["filename"] != name {
			t.Errorf("Attachment(%q) = %q: reads back as %q %q (%v)", name, v, disp, params["filename"], err)
		}
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("Attachment(%q) = %q spans lines", name, v)
		}
	}
}

// TestConfig: a malformed endpoint is refused when the function starts,
// not at the first upload.
func TestConfig(t *testing.T) {
	ok := storage.Config{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", AccessKey: "a", SecretKey: "b", Bucket: "docs"}
	if _, err := storage.New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, c := range map[string]storage.Config{
		"no scheme":           {Endpoint: "127.0.0.1:9000", Bucket: "docs"},
		"bad public endpoint": {Endpoint: "http://minio:9000", PublicEndpoint: "minio.example.it", Bucket: "docs"},
		"no bucket":           {Endpoint: "http://minio:9000"},
	} {
		if _, err := storage.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestObjects: Head, Delete and DeletePrefix against the real object
// store; DeletePrefix touches its prefix only.
func TestObjects(t *testing.T) {
	s := s3test.Store(t)
	ctx := t.Context()
	base := "test/" + uuid.NewString() + "/"
	s3test.Put(t, s, base+"a/1", "application/pdf", []byte("one"))
	s3test.Put(t, s, base+"a/2", "image/png", []byte("two!"))
	s3test.Put(t, s, base+"b/1", "image/jpeg", []byte("three"))

	obj, err := s.Head(ctx, base+"a/2")
	if err != nil || obj != (storage.Object{Size: 4, ContentType: "image/png"}) {
		t.Errorf("Head = %+v, %v", obj, err)
	}
	if _, err := s.Head(ctx, base+"missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Head of a missing object: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, base+"missing"); err != nil {
		t.Errorf("Delete of a missing object: %v", err)
	}
	n, err := s.DeletePrefix(ctx, base+"a/")
	if err != nil || n != 2 {
		t.Errorf("DeletePrefix = %d, %v; want 2", n, err)
	}
	if s3test.Exists(t, s, base+"a/1") || !s3test.Exists(t, s, base+"b/1") {
		t.Error("DeletePrefix deleted the wrong objects")
	}
	if _, err := s.DeletePrefix(ctx, ""); err == nil {
		t.Error("DeletePrefix with an empty prefix was accepted")
	}
	if _, err := s.DeletePrefix(ctx, base); err != nil {
		t.Error(err)
	}

	// A presigned download of a missing object is still a URL; S3 answers 404.
	url, exp, err := s.PresignGet(ctx, base+"missing", "x.pdf", "application/pdf", time.Minute)
	if err != nil || time.Until(exp) > time.Minute {
		t.Fatalf("PresignGet: %v, expires %s", err, exp)
	}
	if res := clienttest.Get(t, url); res.Status != 404 {
		t.Errorf("download of a missing object: status %d", res.Status)
	}
}

// TestUnreachable: an object store that cannot be reached is Unavailable
// (503 with Retry-After) for every operation that contacts it, soon.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	s, err := storage.New(storage.Config{Endpoint: closed, Region: "us-east-1", AccessKey: "a", SecretKey: "b", Bucket: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for op, call := range map[string]func() error{
		"head":          func() error { _, err := s.Head(ctx, "k"); return err },
		"delete":        func() error { return s.Delete(ctx, "k") },
		"delete prefix": func() error { _, err := s.DeletePrefix(ctx, "p/"); return err },
	} {
		start := time.Now()
		err := call()
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.Unavailable || e.RetryAfter != storage.RetryAfter {
			t.Errorf("%s with the store down: %v, want Unavailable with Retry-After", op, err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s with the store down took %s", op, took)
		}
	}
}
