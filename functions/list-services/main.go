// Command list-services is the function that lists the offices and their
// services, each with its duration, desks, opening hours and what to bring.
//
// Consumes: HTTP GET /api/offices, /api/offices/{office_id},
// /api/services/{service_id}. Emits: no events.
package main

import (
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Config is list-services' own configuration.
type Config struct {
	// MaxAge is how long an instance reuses the catalog it read: how long
	// an administrator's change may take to show. 0: read it for every
	// request.
	MaxAge time.Duration `envconfig:"CATALOG_MAX_AGE" default:"1s"`
}

func main() {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", "list-services", "err", err)
		os.Exit(1)
	}
	function.Main("list-services", func(env *function.Env) http.Handler {
		if cfg.MaxAge > 0 {
			env.Store.Catalog = &postgres.Catalog{}
			env.Store.Catalog.MaxAge = cfg.MaxAge
		}
		return newHandler(env.Store, env.Log)
	})
}

func newHandler(store *postgres.Store, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/offices", func(w http.ResponseWriter, r *http.Request) {
		offices, err := store.Offices(r.Context())
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		httpx.JSON(w, http.StatusOK, map[string]any{"offices": offices})
	})
	mux.HandleFunc("GET /api/offices/{office_id}", func(w http.ResponseWriter, r *http.Request) {
		offices, err := store.Offices(r.Context())
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		id := r.PathValue("office_id")
		for _, o := range offices {
			if o.ID == id {
				w.Header().Set("Cache-Control", "public, max-age=60")
				httpx.JSON(w, http.StatusOK, o)
				return
			}
		}
		httpx.Error(w, r, log, apperr.New(apperr.NotFound, "office_id", "no office with id %q", id))
	})
	mux.HandleFunc("GET /api/services/{service_id}", func(w http.ResponseWriter, r *http.Request) {
		svc, err := store.Service(r.Context(), nil, r.PathValue("service_id"), "service_id")
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		httpx.JSON(w, http.StatusOK, svc)
	})
	mux.HandleFunc("/", httpx.NotFound)
	return mux
}
