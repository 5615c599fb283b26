// Command site serves the built website (web/) in a cluster, as its own
// small Knative Service on the public host's non-API paths: the files in
// SITE_DIR (default: ko's $KO_DATA_PATH, where `make site` puts the build
// before ko packs the image), with the site's Content-Security-Policy and
// security headers (package sitehttp, the same as the local gateway's).
//
// Consumes: HTTP GET/HEAD of the site's files; /health/readiness and
// /health/liveness as every function. Emits: nothing.
//
// Configuration: PORT (8080), SITE_DIR, and the origins the pages connect
// to besides their own, for the CSP's connect-src: LIVEKIT_PUBLIC_URL (its
// wss:// and https:// origins) and S3_PUBLIC_ENDPOINT. It needs no
// database and no secret.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/sitehttp"
)

// Config is the site's environment.
type Config struct {
	Port             string `envconfig:"PORT" default:"8080"`
	Dir              string `envconfig:"SITE_DIR"`
	LiveKitPublicURL string `envconfig:"LIVEKIT_PUBLIC_URL"`
	S3PublicEndpoint string `envconfig:"S3_PUBLIC_ENDPOINT"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "site")
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	if cfg.Dir == "" {
		cfg.Dir = os.Getenv("KO_DATA_PATH")
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "index.html")); err != nil {
		log.Error("no built site: set SITE_DIR, or build the image with `make site` first", "dir", cfg.Dir, "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Addr: ":" + cfg.Port, Handler: newHandler(cfg), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Knative stops sending requests before SIGTERM; finish what is running.
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving the site", "dir", cfg.Dir, "port", cfg.Port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// connectSources are the origins the pages reach besides their own:
// LiveKit's WebSocket origin and its HTTP(S) twin, and the S3 endpoint.
func connectSources(cfg Config) []string {
	var urls []string
	if u := cfg.LiveKitPublicURL; u != "" {
		urls = append(urls, u)
		switch {
		case strings.HasPrefix(u, "wss://"):
			urls = append(urls, "https://"+strings.TrimPrefix(u, "wss://"))
		case strings.HasPrefix(u, "ws://"):
			urls = append(urls, "http://"+strings.TrimPrefix(u, "ws://"))
		}
	}
	if cfg.S3PublicEndpoint != "" {
		urls = append(urls, cfg.S3PublicEndpoint)
	}
	return sitehttp.Origins(urls...)
}

func newHandler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("GET /health/readiness", ok)
	mux.HandleFunc("GET /health/liveness", ok)
	mux.Handle("/", sitehttp.Files(cfg.Dir, connectSources(cfg)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sitehttp.SetSecurityHeaders(w)
		mux.ServeHTTP(w, r)
	})
}
