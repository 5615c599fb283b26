// Package s3test gives tests the real object store named by the S3_*
// variables (make test starts a throwaway MinIO and exports them), with the
// bucket created when it is missing, and the browser side of presigned
// requests: a multipart form POST and a GET.
//
// It is for tests only: its functions fail the test they are given.
package s3test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sportello/sportello/functions/internal/adapters/storage"
)

// Store returns the object store of the S3_* environment. Without it the
// test fails with a hint: an object-store test never skips silently.
func Store(tb testing.TB) *storage.Store {
	tb.Helper()
	if os.Getenv("S3_ENDPOINT") == "" {
		tb.Fatal("s3test: S3_ENDPOINT is not set: run `make test`, which starts a throwaway MinIO, or start one " +
			"(minio server DIR --address 127.0.0.1:9000 with MINIO_ROOT_USER/MINIO_ROOT_PASSWORD) and export " +
			"S3_ENDPOINT=http://127.0.0.1:9000 S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET=sportello-documents")
	}
	cfg, err := storage.FromEnv()
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	s, err := storage.New(cfg)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx); err != nil {
		tb.Fatalf("s3test: bucket %s on %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	return s
}

// Put stores an object directly (as if a browser had uploaded it).
func Put(tb testing.TB, s *storage.Store, key, contentType string, body []byte) {
	tb.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(key), ContentType: aws.String(contentType), Body: bytes.NewReader(body),
	})
	if err != nil {
		tb.Fatalf("s3test: put %s: %v", key, err)
	}
}

// Exists reports whether the object at key exists.
func Exists(tb testing.TB, s *storage.Store, key string) bool {
	tb.Helper()
	_, err := s.Head(context.Background(), key)
	if err == storage.ErrNotFound {
		return false
	}
	if err != nil {
		tb.Fatalf("s3test: head %s: %v", key, err)
	}
	return true
}

// Response is what the object store answered a browser-like request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// PostForm uploads file as a browser does with a presigned POST: a
// multipart/form-data body with every field (in a stable order), then the
// file in the part "file", last.
func PostForm(tb testing.TB, url string, fields map[string]string, filename string, file []byte) Response {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := mw.WriteField(k, fields[k]); err != nil {
			tb.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		tb.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, &body)
	if err != nil {
		tb.Fatalf("s3test: upload URL %q: %v", url, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return do(tb, req)
}

// Get fetches url as a browser follows a presigned download link.
func Get(tb testing.TB, url string) Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("s3test: download URL %q: %v", url, err)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("s3test: %s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}
