// Package storage is Sportello's object store: an S3 bucket (MinIO in the
// local stack) where the documents of bookings live. It presigns the
// requests browsers make — a POST policy for uploads, a GET for downloads —
// so that a document's bytes never pass through a function, and it checks
// (HEAD), lists and deletes objects.
//
// Presigned requests are signed with the wall clock (time.Now), not the
// function's injected clock: the S3 server checks them against its own.
package storage

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/kelseyhightower/envconfig"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// Config is the object store's environment. The functions and the local
// stack read the same names.
type Config struct {
	Endpoint  string `envconfig:"S3_ENDPOINT" required:"true"` // e.g. http://127.0.0.1:9000
	Region    string `envconfig:"S3_REGION" default:"us-east-1"`
	AccessKey string `envconfig:"S3_ACCESS_KEY" required:"true"`
	SecretKey string `envconfig:"S3_SECRET_KEY" required:"true"`
	Bucket    string `envconfig:"S3_BUCKET" required:"true"`
	// PublicEndpoint is the origin browsers use for presigned requests
	// (the cluster-internal endpoint is often not reachable from outside).
	// Default: Endpoint.
	PublicEndpoint string `envconfig:"S3_PUBLIC_ENDPOINT"`
}

// FromEnv reads Config from the environment.
func FromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, err
	}
	return c, c.check()
}

func (c Config) check() error {
	for _, e := range []struct{ name, v string }{{"S3_ENDPOINT", c.Endpoint}, {"S3_PUBLIC_ENDPOINT", c.PublicEndpoint}} {
		if e.v == "" && e.name == "S3_PUBLIC_ENDPOINT" {
			continue
		}
		u, err := url.Parse(e.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s must be an http(s) URL like http://127.0.0.1:9000, not %q", e.name, e.v)
		}
	}
	if c.Bucket == "" {
		return errors.New("S3_BUCKET is empty")
	}
	return nil
}

// NewClient returns an S3 client for endpoint with path-style addressing
// (http://host/bucket/key), which MinIO expects.
func NewClient(c Config, endpoint string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(strings.TrimSuffix(endpoint, "/")),
		Region:       c.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		UsePathStyle: true,
		HTTPClient: &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "s3 " + r.Method }))},
		// Checksums only when the operation requires them: MinIO and other
		// S3-compatible servers do not all know the newer ones.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Store is one bucket.
type Store struct {
	Bucket  string
	client  *s3.Client        // the functions' own requests (HEAD, list, delete)
	presign *s3.PresignClient // requests for browsers, on the public endpoint
}

// New returns the store of c.
func New(c Config) (*Store, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	public := c.PublicEndpoint
	if public == "" {
		public = c.Endpoint
	}
	return &Store{
		Bucket:  c.Bucket,
		client:  NewClient(c, c.Endpoint),
		presign: s3.NewPresignClient(NewClient(c, public)),
	}, nil
}

// Post is a presigned upload: a browser sends a multipart/form-data POST
// to URL with every field of Fields, then the file in a part named "file"
// (last: S3 ignores what follows it).
type Post struct {
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt time.Time         `json:"-"`
}

// PresignPost presigns an upload of one object at key. Its policy lets S3
// accept the object only with exactly that key, that Content-Type, and a
// size between 1 and maxBytes; it lapses after expires.
func (s *Store) PresignPost(ctx context.Context, key, contentType string, maxBytes int64, expires time.Duration) (Post, error) {
	now := time.Now()
	req, err := s.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)},
		func(o *s3.PresignPostOptions) {
			o.Expires = expires
			o.Conditions = []any{
				[]any{"content-length-range", 1, maxBytes},
				[]any{"eq", "$Content-Type", contentType},
			}
		})
	if err != nil {
		return Post{}, fmt.Errorf("storage: presign POST: %w", err)
	}
	fields := make(map[string]string, len(req.Values)+1)
	for k, v := range req.Values {
		fields[k] = v
	}
	fields["Content-Type"] = contentType
	return Post{URL: req.URL, Fields: fields, ExpiresAt: now.Add(expires)}, nil
}

// PresignGet presigns a download of the object at key, valid for expires.
// S3 answers it with the given Content-Type and a Content-Disposition of
// attachment under filename, so that a browser saves the file rather than
// rendering it in Sportello's origin.
func (s *Store) PresignGet(ctx context.Context, key, filename, contentType string, expires time.Duration) (string, time.Time, error) {
	now := time.Now()
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     aws.String(s.Bucket),
		Key:                        aws.String(key),
		ResponseContentDisposition: aws.String(Attachment(filename)),
		ResponseContentType:        aws.String(contentType),
	}, s3.WithPresignExpires(expires))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("storage: presign GET: %w", err)
	}
	return req.URL, now.Add(expires), nil
}

// Attachment is a Content-Disposition of attachment under filename
// (RFC 6266; a name outside ASCII is written as filename*, RFC 2231).
func Attachment(filename string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": filename}); v != "" {
		return v
	}
	return "attachment"
}

// Object is what a HEAD tells about an object.
type Object struct {
	Size        int64
	ContentType string
}

// ErrNotFound is returned by Head for a missing object.
var ErrNotFound = errors.New("storage: no such object")

// Head returns the size and type of the object at key, or ErrNotFound.
func (s *Store) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return Object{}, ErrNotFound
	}
	if err != nil {
		return Object{}, failed("head", err)
	}
	return Object{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Delete removes the object at key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return failed("delete", err)
	}
	return nil
}

// DeletePrefix removes every object whose key starts with prefix and
// returns how many there were.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("storage: refusing to delete the whole bucket")
	}
	n := 0
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, failed("list", err)
		}
		for _, o := range page.Contents {
			if err := s.Delete(ctx, aws.ToString(o.Key)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// EnsureBucket creates the bucket when it does not exist (the local stack
// and tests; in production the bucket is provisioned with the cluster).
func (s *Store) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("storage: head bucket: %w", err)
	}
	_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("storage: create bucket: %w", err)
	}
	return nil
}

// Client is the S3 client of the functions' own requests, for tests and
// tools that need more than Store offers.
func (s *Store) Client() *s3.Client { return s.client }

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	var nb *types.NoSuchBucket
	if errors.As(err, &nf) || errors.As(err, &nk) || errors.As(err, &nb) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// RetryAfter is how long a client is told to wait when the object store
// cannot be reached.
const RetryAfter = 5 * time.Second

// failed is the error of operation op: an apperr.Unavailable (503 with
// Retry-After) when the object store could not be reached or answered that
// it is unavailable, err wrapped otherwise.
func failed(op string, err error) error {
	var (
		netErr net.Error
		re     *awshttp.ResponseError
	)
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &re) && re.HTTPStatusCode() >= 502 && re.HTTPStatusCode() <= 504) {
		return apperr.Unreachable(fmt.Errorf("storage: %s: %w", op, err), RetryAfter,
			"the document store cannot be reached: try again in a moment")
	}
	return fmt.Errorf("storage: %s: %w", op, err)
}
