// Command list-services is the function that lists the offices and their
// services, each with its duration, desks, opening hours and what to bring.
//
// Consumes: HTTP GET /api/offices, /api/offices/{office_id},
// /api/services/{service_id}. Emits: no events.
package main

import (
	"log/slog"
	"net/http"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func main() {
	function.Main("list-services", func(env *function.Env) http.Handler { return newHandler(env.Store, env.Log) })
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
