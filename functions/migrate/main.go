// Command migrate applies the database schema (goose migrations embedded in
// the binary) and, with -demo, loads the Comune di Bari's phase-1 offices
// and services. It runs before the functions start: as a step of the local
// stack, and as a Helm hook Job in a cluster.
//
// Consumes: DATABASE_URL. Emits: no events.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/store/postgres"
)

type config struct {
	DatabaseURL string        `envconfig:"DATABASE_URL" required:"true"`
	DBWait      time.Duration `envconfig:"DATABASE_WAIT" default:"30s"`
}

func main() {
	demo := flag.Bool("demo", false, "load the demo offices and services")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "migrate")
	if err := run(*demo, log); err != nil {
		log.Error("migrate failed", "err", err)
		os.Exit(1)
	}
}

func run(demo bool, log *slog.Logger) error {
	var cfg config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Wait: cfg.DBWait})
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	log.Info("schema up to date", "applied", applied)
	if demo {
		if err := postgres.LoadDemo(ctx, pool); err != nil {
			return err
		}
		log.Info("demo data loaded")
	}
	return nil
}
