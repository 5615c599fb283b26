package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary doubles as the command with-services runs: with
// WITH_SERVICES_HELPER set to a file, it checks that each server answers,
// writes its environment to the file and exits 3.
func TestMain(m *testing.M) {
	if out := os.Getenv("WITH_SERVICES_HELPER"); out != "" {
		os.Exit(helper(out))
	}
	os.Exit(m.Run())
}

func helper(out string) int {
	for _, url := range []string{os.Getenv("MAILPIT_URL") + "/readyz", os.Getenv("S3_ENDPOINT") + "/minio/health/ready",
		"http" + strings.TrimPrefix(os.Getenv("LIVEKIT_URL"), "ws"), os.Getenv("JAEGER_URL") + "/api/services",
		os.Getenv("METRICS_URL") + "/health"} {
		resp, err := http.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, url, resp.Status)
			return 11
		}
	}
	if err := os.WriteFile(out, []byte(strings.Join(os.Environ(), "\n")), 0o600); err != nil {
		return 12
	}
	return 3
}

// TestRun runs a command under with-services: it sees every variable, its
// exit status comes back, and the servers are gone afterwards.
func TestRun(t *testing.T) {
	for _, k := range []string{"DATABASE_URL", "SMTP_HOST", "LIVEKIT_URL", "S3_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "METRICS_URL"} {
		t.Setenv(k, "") // as make test sets them, this test must clear them
	}
	out := filepath.Join(t.TempDir(), "env")
	t.Setenv("WITH_SERVICES_HELPER", out)
	if code := run([]string{os.Args[0]}); code != 3 {
		t.Fatalf("exit status %d, want the command's 3", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for _, k := range []string{"DATABASE_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "MAILPIT_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY",
		"LIVEKIT_API_SECRET", "S3_ENDPOINT", "S3_REGION", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "JAEGER_URL", "METRICS_URL", "METRICS_TARGETS_DIR"} {
		if env[k] == "" {
			t.Errorf("%s not set for the command", k)
		}
	}
	if env["S3_BUCKET"] != "sportello-documents" || env["SMTP_HOST"] != "127.0.0.1" {
		t.Errorf("S3_BUCKET=%s SMTP_HOST=%s", env["S3_BUCKET"], env["SMTP_HOST"])
	}
	// Stopped afterwards.
	for _, url := range []string{env["MAILPIT_URL"] + "/readyz", env["JAEGER_URL"] + "/api/services", env["METRICS_URL"] + "/health"} {
		if _, err := http.Get(url); err == nil {
			t.Errorf("%s still answers after the run", url)
		}
	}
	if _, err := os.Stat(env["METRICS_TARGETS_DIR"]); !os.IsNotExist(err) {
		t.Errorf("the targets folder is still there after the run: %v", err)
	}
}

// TestRunUsesGivenServers: a server whose variable is set is not started.
func TestRunUsesGivenServers(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://given")
	t.Setenv("SMTP_HOST", "smtp.given")
	t.Setenv("LIVEKIT_URL", "ws://given")
	t.Setenv("S3_ENDPOINT", "http://given")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otlp.given")
	t.Setenv("METRICS_URL", "http://metrics.given")
	t.Setenv("MAILPIT_URL", "") // make test sets these too
	t.Setenv("S3_BUCKET", "")
	t.Setenv("JAEGER_URL", "")
	t.Setenv("METRICS_TARGETS_DIR", "")
	script := `test "$DATABASE_URL" = postgres://given && test "$SMTP_HOST" = smtp.given && test -z "$MAILPIT_URL" && test -z "$S3_BUCKET" &&
		test "$OTEL_EXPORTER_OTLP_ENDPOINT" = http://otlp.given && test -z "$JAEGER_URL" && test -z "$METRICS_TARGETS_DIR"`
	if code := run([]string{"sh", "-c", script}); code != 0 {
		t.Errorf("exit status %d: the given servers were replaced", code)
	}
	if code := run([]string{"/nonexistent/command"}); code != 1 {
		t.Errorf("a missing command: exit status %d, want 1", code)
	}
}
