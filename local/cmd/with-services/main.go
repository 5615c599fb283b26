// Command with-services runs a command against throwaway servers: a fresh
// PostgreSQL, Mailpit, LiveKit, MinIO, Jaeger and VictoriaMetrics in a
// temporary folder, each on free loopback ports, with the variables through
// which the functions (and their tests) find them:
//
//	DATABASE_URL                                   (the admin database; tests make their own)
//	SMTP_HOST SMTP_PORT SMTP_TLS MAILPIT_URL       (Mailpit; SMTP_TLS=none)
//	LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET (LiveKit, set up for WebRTC on loopback)
//	S3_ENDPOINT S3_REGION S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET
//	                                               (MinIO; the bucket exists, any origin may upload)
//	OTEL_EXPORTER_OTLP_ENDPOINT JAEGER_URL         (Jaeger: OTLP over HTTP in, the query API out)
//	METRICS_URL METRICS_TARGETS_DIR                (VictoriaMetrics: the Prometheus query API, and the
//	                                                folder of file_sd target files it scrapes)
//
// It runs the command, then stops every server and removes the folder. A
// server whose first variable (DATABASE_URL, SMTP_HOST, LIVEKIT_URL,
// S3_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, METRICS_URL) is already set is
// not started: the command uses the one given. The pinned server binaries come from the tool cache, built there
// first when missing (minutes, once).
//
//	with-services go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: with-services COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:]))
}

// postgres adapts a throwaway pg.Server to services.Server.
type postgres struct {
	srv  *pg.Server
	done chan struct{}
}

func (p *postgres) Start(ctx context.Context) error {
	if err := p.srv.Init(os.Stderr); err != nil {
		return err
	}
	if err := p.srv.Start(ctx); err != nil {
		return err
	}
	p.done = make(chan struct{})
	return nil
}

func (p *postgres) Stop() error {
	err := p.srv.Stop()
	if p.done != nil {
		close(p.done)
		p.done = nil
	}
	return err
}

func (p *postgres) Env() []string { return []string{"DATABASE_URL=" + p.srv.URL("postgres")} }

// Exited is never closed: package pg does not report an early exit.
func (p *postgres) Exited() <-chan struct{} { return make(chan struct{}) }
func (p *postgres) Tail() string            { return "" }

func run(argv []string) int {
	// PostgreSQL may run as the postgres user, which must reach its folder.
	dir, err := pg.TempDir("sportello-services-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-services:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	var set services.Set
	var names []string
	if os.Getenv("DATABASE_URL") == "" {
		set = append(set, &postgres{srv: &pg.Server{DataDir: filepath.Join(dir, "pgdata"), Fast: true}})
		names = append(names, "postgres")
	}
	if os.Getenv("SMTP_HOST") == "" {
		set = append(set, &services.Mailpit{})
		names = append(names, "mailpit")
	}
	if os.Getenv("LIVEKIT_URL") == "" {
		set = append(set, &services.LiveKit{Dir: filepath.Join(dir, "livekit")})
		names = append(names, "livekit")
	}
	if os.Getenv("S3_ENDPOINT") == "" {
		set = append(set, &services.MinIO{Dir: filepath.Join(dir, "minio"), ConsolePort: -1})
		names = append(names, "minio")
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		set = append(set, &services.Jaeger{Dir: filepath.Join(dir, "jaeger")})
		names = append(names, "jaeger")
	}
	if os.Getenv("METRICS_URL") == "" {
		set = append(set, &services.VictoriaMetrics{Dir: filepath.Join(dir, "victoria-metrics")})
		names = append(names, "victoria-metrics")
	}
	if err := set.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "with-services:", err)
		return 1
	}
	defer func() {
		if err := set.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "with-services: stopping:", err)
		}
	}()
	env := set.Env()
	fmt.Fprintf(os.Stderr, "with-services: %s\n", describe(env))

	// A server that dies during the run is reported at once: the command's
	// failures will make sense.
	stopping := make(chan struct{})
	defer close(stopping)
	for i, srv := range set {
		go func() {
			select {
			case <-srv.Exited():
				select {
				case <-stopping:
				default:
					fmt.Fprintf(os.Stderr, "with-services: %s exited during the run; its last output:\n%s\n", names[i], srv.Tail())
				}
			case <-stopping:
			}
		}()
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the child through the terminal; we only wait for it. A
	// SIGTERM for us is passed on, and we clean up after the child.
	signal.Ignore(syscall.SIGINT)
	defer signal.Reset(syscall.SIGINT)
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	defer signal.Stop(terms)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "with-services:", err)
		return 1
	}
	go func() {
		for sig := range terms {
			_ = cmd.Process.Signal(sig)
		}
	}()
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if code := ee.ExitCode(); code >= 0 {
				return code
			}
			return 1 // killed by a signal
		}
		fmt.Fprintln(os.Stderr, "with-services:", err)
		return 1
	}
	return 0
}

// describe summarises env for the one line with-services prints.
func describe(env []string) string {
	var parts []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "DATABASE_URL", "SMTP_PORT", "MAILPIT_URL", "LIVEKIT_URL", "S3_ENDPOINT", "JAEGER_URL", "METRICS_URL":
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "every server was given: starting none"
	}
	return strings.Join(parts, " ")
}
