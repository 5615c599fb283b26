package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The local MinIO's defaults. The credentials protect nothing: the server
// listens on loopback only.
const (
	DevAccessKey = "sportello"
	DevSecretKey = "sportello-local-minio-secret"
	Bucket       = "sportello-documents"
	Region       = "us-east-1"
)

// MinIO is an S3 server on 127.0.0.1 with one bucket. Browsers upload to
// it directly (presigned POST): MinIO has no bucket CORS API (PutBucketCors
// answers NotImplemented), so the origins allowed to call it are set for
// the whole server with MINIO_API_CORS_ALLOW_ORIGIN.
type MinIO struct {
	Port        int       // the S3 API; 0: a free port
	ConsolePort int       // the web console; 0: a free port; -1: no console
	Dir         string    // its data (required); created when missing
	CertsDir    string    // its certs folder (it creates one); <Dir>.certs when ""
	AccessKey   string    // DevAccessKey when ""
	SecretKey   string    // DevSecretKey when ""; at least 8 characters
	Bucket      string    // created on start; Bucket when ""
	CORSOrigins []string  // origins allowed to call it from a browser; all when empty
	Bin         string    // the minio binary; the pinned build when ""
	Log         io.Writer // its output; nil discards it

	base
}

func (m *MinIO) defaults() {
	if m.AccessKey == "" {
		m.AccessKey = DevAccessKey
	}
	if m.SecretKey == "" {
		m.SecretKey = DevSecretKey
	}
	if m.Bucket == "" {
		m.Bucket = Bucket
	}
	if m.CertsDir == "" {
		m.CertsDir = strings.TrimRight(m.Dir, "/") + ".certs"
	}
}

// Start starts MinIO, waits until it is ready and creates the bucket when
// it does not exist.
func (m *MinIO) Start(ctx context.Context) error {
	return withFreePorts([]*int{&m.Port, &m.ConsolePort}, func() error { return m.start(ctx) })
}

func (m *MinIO) start(ctx context.Context) error {
	if m.Dir == "" {
		return errors.New("minio: no data folder")
	}
	m.defaults()
	if len(m.SecretKey) < 8 || len(m.AccessKey) < 3 {
		return errors.New("minio: the access key needs 3 characters or more, the secret key 8 or more")
	}
	ports := []*int{&m.Port}
	if m.ConsolePort >= 0 {
		ports = append(ports, &m.ConsolePort)
	}
	bin, err := prepare("minio", m.Bin, "minio", ports...)
	if err != nil {
		return err
	}
	for _, d := range []string{m.Dir, m.CertsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	args := []string{"server", m.Dir, "--address", "127.0.0.1:" + strconv.Itoa(m.Port), "--certs-dir", m.CertsDir, "--quiet"}
	cors := "*"
	if len(m.CORSOrigins) > 0 {
		cors = strings.Join(m.CORSOrigins, ",")
	}
	env := []string{
		"MINIO_ROOT_USER=" + m.AccessKey,
		"MINIO_ROOT_PASSWORD=" + m.SecretKey,
		"MINIO_API_CORS_ALLOW_ORIGIN=" + cors,
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	}
	if m.ConsolePort >= 0 {
		args = append(args, "--console-address", "127.0.0.1:"+strconv.Itoa(m.ConsolePort))
	} else {
		env = append(env, "MINIO_BROWSER=off")
	}
	// MINIO_* variables configure the server: ours must not pick up a stray one.
	c := command{name: "minio", bin: bin, args: args, env: env, drop: prefix("MINIO_"), log: m.Log}
	if err := m.launch(ctx, c, m.Endpoint()+"/minio/health/ready"); err != nil {
		return err
	}
	if err := m.createBucket(ctx); err != nil {
		m.p.stop()
		return m.p.failed(err)
	}
	return nil
}

// Client is an S3 client for this server (path-style addressing).
func (m *MinIO) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint()),
		Region:       Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// createBucket creates the bucket unless it exists, retrying for a while:
// a fresh server can answer its health check before it takes requests.
func (m *MinIO) createBucket(ctx context.Context) error {
	client := m.Client()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(m.Bucket)})
		var owned *types.BucketAlreadyOwnedByYou
		if err == nil || errors.As(err, &owned) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create bucket %s: %w", m.Bucket, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Endpoint is the S3 API's address.
func (m *MinIO) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(m.Port) }

// ConsoleURL is the web console's address ("" without a console).
func (m *MinIO) ConsoleURL() string {
	if m.ConsolePort < 0 {
		return ""
	}
	return "http://127.0.0.1:" + strconv.Itoa(m.ConsolePort)
}

// Env is S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET.
func (m *MinIO) Env() []string {
	m.defaults()
	return []string{"S3_ENDPOINT=" + m.Endpoint(), "S3_REGION=" + Region, "S3_ACCESS_KEY=" + m.AccessKey,
		"S3_SECRET_KEY=" + m.SecretKey, "S3_BUCKET=" + m.Bucket}
}
