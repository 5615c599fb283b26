// This file holds the start of the servers the functions need: Mailpit,
// LiveKit and MinIO (package services), and PostgreSQL (package pg).

package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
)

// startServices starts Mailpit, LiveKit and MinIO together (building them
// first when the tool cache lacks them) and watches for their exit.
func (s *Stack) startServices(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(s.cfg.Data, "mailpit"), 0o755); err != nil {
		return err
	}
	s.log.Info("starting Mailpit, LiveKit and MinIO")
	set := services.Set{s.mailpit, s.livekit, s.minio}
	if err := set.Start(ctx); err != nil {
		return err
	}
	s.svcUp = true
	for _, name := range []string{"mailpit", "livekit", "minio"} {
		go s.watch(name, s.named(name))
	}
	s.log.Info("servers ready", "mailpit", s.mailpit.URL(), "livekit", s.livekit.URL(), "minio", s.minio.Endpoint())
	links := []Link{{"Mailpit", s.mailpit.URL() + "/", "every mail the functions sent"}}
	if u := s.minio.ConsoleURL(); u != "" {
		links = append(links, Link{"MinIO console", u + "/", "the uploaded documents (user " + s.minio.AccessKey + ")"})
	}
	s.gw.SetLinks(links)
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
