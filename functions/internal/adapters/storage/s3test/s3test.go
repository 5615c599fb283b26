// Package s3test gives tests the real object store named by the S3_*
// variables (make test starts a throwaway MinIO and exports them), with the
// bucket created when it is missing. The browser side of presigned requests
// is in package clienttest.
//
// It is for tests only: its functions fail the test they are given.
package s3test

import (
	"bytes"
	"context"
	"os"
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
