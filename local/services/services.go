// Package services runs the third-party servers of the local stack and of
// the tests, each as a child process on loopback ports: Mailpit (an SMTP
// sink with a web UI and an HTTP API), LiveKit (the video server, set up
// for WebRTC on loopback), MinIO (S3, with Sportello's bucket and the
// CORS a browser upload needs), Jaeger (the traces, in memory) and
// VictoriaMetrics (the metrics, scraped from the targets listed in its
// file_sd folder). Their binaries are the pinned builds of package tools.
//
// Each server has Start (which returns once it is ready), Stop, and Env: the
// variables through which the functions and the tests find it, the same
// names production uses:
//
//	SMTP_HOST SMTP_PORT SMTP_TLS MAILPIT_URL
//	LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET
//	S3_ENDPOINT S3_REGION S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET
//	OTEL_EXPORTER_OTLP_ENDPOINT JAEGER_URL
//	METRICS_URL METRICS_TARGETS_DIR
//
// Set starts and stops several together.
package services

import (
	"context"
	"errors"
	"sync"
)

// Server is what Set needs of a server.
type Server interface {
	Start(ctx context.Context) error
	Stop() error
	Env() []string
	Exited() <-chan struct{} // closed when the server ended (by itself or by Stop)
	Tail() string            // its last output lines
}

// Set is several servers started and stopped together.
type Set []Server

// Start starts every server at once and waits until each is ready. When one
// fails, those started are stopped and the errors are returned.
func (s Set) Start(ctx context.Context) error {
	if err := s.each(func(srv Server) error { return srv.Start(ctx) }); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// Stop stops every server at once.
func (s Set) Stop() error { return s.each(Server.Stop) }

// each calls f on every server at once and joins the errors.
func (s Set) each(f func(Server) error) error {
	errs := make([]error, len(s))
	var wg sync.WaitGroup
	for i, srv := range s {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(srv)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Env is every server's variables.
func (s Set) Env() []string {
	var env []string
	for _, srv := range s {
		env = append(env, srv.Env()...)
	}
	return env
}

// base holds what every server has: its process.
type base struct {
	p *proc
}

// launch starts the server's process and waits until url answers 200; a
// server that does not get ready is stopped again.
func (b *base) launch(ctx context.Context, c command, url string) error {
	p, err := start(c)
	if err != nil {
		return err
	}
	b.p = p
	if err := p.waitHTTP(ctx, url); err != nil {
		p.stop()
		return err
	}
	return nil
}

// Stop stops the server.
func (b *base) Stop() error {
	b.p.stop()
	return nil
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Exited is closed when the server has ended (at once when not started).
func (b *base) Exited() <-chan struct{} {
	if b.p == nil {
		return closed
	}
	return b.p.done
}

// Tail is the server's last output lines.
func (b *base) Tail() string {
	if b.p == nil {
		return ""
	}
	return b.p.out.String()
}
