// Package function is what every Sportello function's main shares: it reads
// the configuration from the environment (envconfig), sets up a JSON logger
// (slog), opens the pgx pool, starts the outbox relay, serves the handler
// behind Knative's Drainer with the /health/readiness and /health/liveness
// endpoints of Knative Functions (every unsafe request with an
// Idempotency-Key answered once: httpapi/idempotency), and drains and shuts
// down on SIGTERM.
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kelseyhightower/envconfig"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"knative.dev/pkg/network/handlers"

	"github.com/sportello/sportello/functions/internal/domain/clock"
	"github.com/sportello/sportello/functions/internal/domain/schedule"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/httpapi/idempotency"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/postgres"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// Config is the environment every function reads.
type Config struct {
	Port        int           `envconfig:"PORT" default:"8080"`
	DatabaseURL string        `envconfig:"DATABASE_URL" required:"true"`
	LogLevel    slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
	TimeZone    string        `envconfig:"TIME_ZONE" default:"Europe/Rome"`
	PatronDay   string        `envconfig:"PATRON_DAY" default:"12-06"`
	PatronName  string        `envconfig:"PATRON_NAME" default:"San Nicola"`
	HoldTTL     time.Duration `envconfig:"HOLD_TTL" default:"10m"`
	Sink        string        `envconfig:"K_SINK"`
	OutboxSweep time.Duration `envconfig:"OUTBOX_SWEEP" default:"30s"`
	DrainQuiet  time.Duration `envconfig:"DRAIN_QUIET_PERIOD" default:"1s"`
	DBWait      time.Duration `envconfig:"DATABASE_WAIT" default:"30s"`
	// DBTimeout bounds how long a request waits for a database connection
	// (connecting included): past it, the request answers 503 with
	// Retry-After instead of hanging (see postgres.Unavailable).
	DBTimeout time.Duration `envconfig:"DATABASE_TIMEOUT" default:"5s"`
	// DBMaxConns bounds the instance's database connections (0: the
	// URL's pool_max_conns, else postgres.DefaultMaxConns, two).
	DBMaxConns int `envconfig:"DATABASE_MAX_CONNS" default:"0"`
	// FaultCrashDir is for the local stack's fault tests only: see
	// crashAfterEvent. Never set in production.
	FaultCrashDir string `envconfig:"FAULT_CRASH_DIR"`
	// CPUProfile, when set, is a file the instance writes a CPU profile
	// of its whole run to, for the benchmark (go tool pprof).
	CPUProfile string `envconfig:"CPU_PROFILE"`
}

// Env is what a function's handler is built from.
type Env struct {
	Name     string
	Config   Config
	Log      *slog.Logger
	Pool     *pgxpool.Pool
	Clock    clock.Clock
	Calendar *schedule.Calendar
	Relay    *outbox.Relay
	Store    *postgres.Store
}

// Calendar builds the municipality's calendar from the configuration.
func (c Config) Calendar() (*schedule.Calendar, error) {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("TIME_ZONE: %w", err)
	}
	patron, err := schedule.ParsePatronDay(c.PatronDay, c.PatronName)
	if err != nil {
		return nil, fmt.Errorf("PATRON_DAY: %w", err)
	}
	return &schedule.Calendar{Location: loc, Holidays: schedule.NewHolidays(patron)}, nil
}

// Main runs the function called name with the handler that build returns.
// It returns only when the process should exit.
func Main(name string, build func(*Env) http.Handler) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, name, build); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("function failed", "function", name, "err", err)
		os.Exit(1)
	}
}

// Run serves the function until ctx ends (Main ends it on SIGTERM), then
// drains: readiness fails at once, requests in flight finish, and the server
// stops after DRAIN_QUIET_PERIOD without new requests. It listens while its
// first database connection is opened: readiness fails until the database
// has answered, and Run gives up with an error after DATABASE_WAIT.
func Run(ctx context.Context, name string, build func(*Env) http.Handler) error {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	log := slog.New(telemetry.LogHandler{Handler: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})}).With("function", name)
	tel, err := telemetry.Setup(ctx, name, log)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	cal, err := cfg.Calendar()
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("CPU_PROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("CPU_PROFILE: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	pool, err := postgres.NewPool(cfg.DatabaseURL, postgres.Options{MaxConns: cfg.DBMaxConns, Timeout: cfg.DBTimeout,
		// Statements are spans of the trace; their per-statement duration
		// histogram is left out (a measurable share of reserve's CPU):
		// the pool's figures and the requests' latency tell the ops teams
		// when the database is slow.
		Tracer: otelpgx.NewTracer(otelpgx.WithDisableAcquireTracer(), otelpgx.WithTrimSQLInSpanName(),
			otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()))})
	if err != nil {
		return err
	}
	defer pool.Close()
	// The first connection is opened while the rest is set up and the
	// server starts: PostgreSQL starting a backend is most of a function's
	// start. Readiness fails until the database has answered, and the
	// function gives up after DATABASE_WAIT.
	reached := make(chan error, 1)
	go func() { reached <- postgres.Reach(ctx, pool, cfg.DBWait) }()
	connected := make(chan struct{}) // closed once the database has answered
	if err := telemetry.ObservePool(pool); err != nil {
		return err
	}
	clk := clock.System{}
	relay, err := outbox.NewRelay(pool, cfg.Sink, clk, log)
	if err != nil {
		return err
	}
	relay.Traced = tel.Tracing
	if err := telemetry.ObserveOutbox(relay.Backlog); err != nil {
		return err
	}
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	if err := tel.Serve(metricsCtx, log); err != nil {
		return err
	}
	relayCtx, stopRelay := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		select {
		case <-connected:
			relay.Run(relayCtx, cfg.OutboxSweep)
		case <-relayCtx.Done():
		}
	}()

	env := &Env{Name: name, Config: cfg, Log: log, Pool: pool, Clock: clk, Calendar: cal, Relay: relay,
		Store: &postgres.Store{Pool: pool, Clock: clk, Calendar: cal, HoldTTL: cfg.HoldTTL, Source: "/sportello/" + name, Delivered: relay.Kick, Services: &postgres.Services{}, Rooms: &postgres.Rooms{}, Traced: tel.Tracing}}

	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/liveness", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		select {
		case <-connected:
		default:
			http.Error(w, "connecting to the database", http.StatusServiceUnavailable)
			return
		}
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/", Edge(env.Store, name, log, crashAfterEvent(cfg.FaultCrashDir, name, build(env))))
	drainer := &handlers.Drainer{Inner: Traced(AccessLog(log, mux)), QuietPeriod: cfg.DrainQuiet}
	srv := &http.Server{Addr: ":" + strconv.Itoa(cfg.Port), Handler: drainer, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "port", cfg.Port, "sink", cfg.Sink != "")
	for serving := true; serving; {
		select {
		case err := <-errc:
			stopRelay()
			return err
		case err := <-reached:
			switch {
			case err != nil && ctx.Err() != nil:
				serving = false // told to stop while connecting: drain as usual
			case err != nil:
				stopRelay()
				srv.Close()
				return err
			default:
				close(connected)
			}
		case <-ctx.Done():
			serving = false
		}
	}
	log.Info("draining")
	draining.Store(true)
	drainer.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	// Last chance to deliver what this instance wrote; the sweep of any
	// other instance picks up the rest.
	if _, derr := relay.DeliverPending(shutdownCtx); derr != nil {
		log.Warn("outbox delivery at shutdown", "err", derr)
	}
	stopRelay()
	<-relayDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// Edge is what stands between the network and a function's handler h:
// the path and query string checked as text (httpx.CheckRequests), then
// the answers of unsafe requests kept under their Idempotency-Key.
func Edge(store *postgres.Store, name string, log *slog.Logger, h http.Handler) http.Handler {
	return httpx.CheckRequests(idempotency.Wrap(store, name, log, h))
}

// Traced gives every request but the health checks a server span, joined
// to the caller's trace (W3C traceparent), named by its route pattern
// ("POST /holds"), and records http.server.request.duration by route and
// status.
func Traced(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "request", otelhttp.WithTracerProvider(otel.GetTracerProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/health/") }),
		otelhttp.WithSpanNameFormatter(func(op string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method
		}))
}

// AccessLog logs one line per request: method, route pattern, status and
// duration. It never logs paths' values, query strings or bodies, which may
// carry personal data or secrets.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.Pattern == "GET /health/readiness" || r.Pattern == "GET /health/liveness" {
			return
		}
		log.InfoContext(r.Context(), "request", "method", r.Method, "route", r.Pattern, "status", rec.status, "ms", time.Since(start).Milliseconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
