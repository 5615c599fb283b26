// This file holds the start of the servers the functions need: Mailpit,
// LiveKit, MinIO, Jaeger and VictoriaMetrics (package services), and
// PostgreSQL (package pg).

package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
)

// serverNames are the servers of package services the stack runs, in the
// order of servers().
var serverNames = []string{"mailpit", "livekit", "minio", "jaeger", "victoria-metrics"}

// servers are the servers of package services the stack runs.
func (s *Stack) servers() services.Set {
	return services.Set{s.mailpit, s.livekit, s.minio, s.jaeger, s.metrics}
}

// startServices starts Mailpit, LiveKit, MinIO, Jaeger and VictoriaMetrics
// together (building them first when the tool cache lacks them) and
// watches for their exit.
func (s *Stack) startServices(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(s.cfg.Data, "mailpit"), 0o755); err != nil {
		return err
	}
	// The stack's own tools' ports are wishes: another stack on this
	// machine (a test's) must not stop this one from starting. The
	// functions and the banner get whichever port was taken.
	for _, p := range []struct {
		name string
		port *int
	}{{"jaeger", &s.jaeger.QueryPort}, {"jaeger-otlp", &s.jaeger.OTLPPort}, {"victoria-metrics", &s.metrics.Port}} {
		if *p.port > 0 && portFree(*p.port) != nil {
			s.log.Warn("port taken: using a free one", "server", p.name, "port", *p.port)
			*p.port = 0
		}
	}
	s.log.Info("starting Mailpit, LiveKit, MinIO, Jaeger and VictoriaMetrics")
	if err := s.servers().Start(ctx); err != nil {
		return err
	}
	s.svcUp = true
	for _, name := range serverNames {
		go s.watch(name, s.named(name))
	}
	s.log.Info("servers ready", "mailpit", s.mailpit.URL(), "livekit", s.livekit.URL(), "minio", s.minio.Endpoint(),
		"jaeger", s.jaeger.URL(), "victoria-metrics", s.metrics.URL())
	links := []Link{{"Mailpit", s.mailpit.URL() + "/", "every mail the functions sent"}}
	if u := s.minio.ConsoleURL(); u != "" {
		links = append(links, Link{"MinIO console", u + "/", "the uploaded documents (user " + s.minio.AccessKey + ")"})
	}
	links = append(links, Link{"Jaeger", s.jaeger.URL() + "/api/services", "its query API (" + s.jaeger.URL() +
		"/api/traces?service=reserve), which /_local/traces shows: the UI of a go-built Jaeger is a placeholder"},
		Link{"VictoriaMetrics", s.metrics.URL() + "/vmui/", "the functions' metrics, scraped every " + services.DefaultScrapeInterval.String() +
			" (the Prometheus query API: " + s.metrics.URL() + "/api/v1/query)"})
	s.gw.SetLinks(links)
	s.traces.SetJaeger(s.jaeger.URL())
	// The site's scripts connect to LiveKit (WebSocket, and HTTP for its
	// connection checks) and upload to and download from S3 directly.
	s.gw.SetConnectSources(s.livekit.URL(), s.livekit.HTTPURL(), s.minio.Endpoint(),
		os.Getenv("LIVEKIT_PUBLIC_URL"), os.Getenv("S3_PUBLIC_ENDPOINT"))
	return nil
}

func (s *Stack) startPostgres(ctx context.Context) error {
	pgdata, fallback, err := PGDataDir(s.cfg.Data)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if fallback {
		s.log.Warn("the postgres user cannot reach the data folder: PostgreSQL keeps its data elsewhere (-clean removes it too)",
			"data", s.cfg.Data, "pgdata", pgdata)
	}
	out := s.output("postgres")
	s.pg = &pg.Server{DataDir: pgdata, Port: s.cfg.PGPort, Log: out}
	if s.cfg.Profiles != "" {
		// Profiling: PostgreSQL counts each statement's calls and time,
		// those inside hold_slot and confirm_hold too (the view
		// pg_stat_statements, once CREATE EXTENSION pg_stat_statements).
		s.pg.Settings = []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"}
	}
	s.log.Info("starting PostgreSQL", "pgdata", pgdata, "port", s.cfg.PGPort)
	if err := s.pg.Init(out); err != nil {
		out.Tail()
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	// Start polls until the server answers; it must not see ctx, or an
	// interrupt would make it poll in vain until its own deadline.
	if err := s.pg.Start(context.Background()); err != nil {
		out.Tail()
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	s.pgUp = true
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.pg.CreateDatabase(ctx, Database); err != nil {
		return fmt.Errorf("create database %s: %w", Database, err)
	}
	return nil
}
