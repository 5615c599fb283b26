// Package stack is Sportello's one-command local stack, the start of the
// "embedded default" (design decision 9): it starts a private PostgreSQL
// whose data survives restarts, builds every function listed in package
// manifest, applies the schema with the demo data, starts each function as
// its own process, and puts a gateway in front of them that routes /api,
// serves the site and collects the functions' CloudEvents in a local sink.
// Stopping it stops the functions (they drain), the gateway and PostgreSQL,
// in that order.
//
// The same binaries run on Knative in production; here the stack plays the
// parts of Knative's ingress (the gateway) and broker (the sink, until a
// local broker with triggers replaces it).
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/pg"
)

// Database is the name of the stack's database.
const Database = "sportello"

// How long the stack waits for things.
const (
	ReadyTimeout = 60 * time.Second // a function's first 200 on /health/readiness
	StopGrace    = 15 * time.Second // a function's drain after SIGTERM, before SIGKILL
)

// Config is what the stack is started with.
type Config struct {
	Root   string    // repository root (holds go.work); the functions are built from here
	Data   string    // data folder: PostgreSQL's cluster and the default Bin
	Bin    string    // where the functions are built; <Data>/bin when empty
	Listen string    // the gateway's address; 127.0.0.1 when empty
	Port   int       // the gateway's port
	PGPort int       // PostgreSQL's port on 127.0.0.1
	Quiet  bool      // hide PostgreSQL's and the functions' output (shown when one fails)
	Out    io.Writer // the console; os.Stdout when nil
}

// Stack is one run of the local stack.
type Stack struct {
	cfg     Config
	console *Console
	log     *slog.Logger
	sink    *Sink
	gw      *Gateway
	server  *http.Server
	pg      *pg.Server
	pgUp    bool
	mu      sync.Mutex // guards procs while the functions start
	procs   []*process // by manifest order; nil for one not started
	exited  chan *process
	kill    chan struct{}
	once    sync.Once
}

// New prepares a stack; Run starts it.
func New(cfg Config) *Stack {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if abs, err := filepath.Abs(cfg.Data); err == nil {
		cfg.Data = abs // PostgreSQL does not run in our working folder
	}
	if cfg.Bin == "" {
		cfg.Bin = filepath.Join(cfg.Data, "bin")
	}
	width := len("postgres")
	for _, f := range manifest.Functions {
		width = max(width, len(f.Name))
	}
	s := &Stack{cfg: cfg, console: NewConsole(cfg.Out, width), exited: make(chan *process, (startAttempts+1)*len(manifest.Functions)), kill: make(chan struct{})}
	s.log = s.logger("stack")
	s.sink = &Sink{Log: s.logger("events")}
	s.gw = &Gateway{Site: SiteDir(cfg.Root), Sink: s.sink, Log: s.logger("gateway")}
	return s
}

// logger is a text logger whose lines go to the console under name, without
// the time (the functions' JSON lines carry theirs) and without level=INFO.
func (s *Stack) logger(name string) *slog.Logger {
	w := &LineWriter{Console: s.console, Name: name}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey && a.Value.Any() == slog.LevelInfo) {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func (s *Stack) output(name string) *LineWriter {
	return &LineWriter{Console: s.console, Name: name, Quiet: s.cfg.Quiet}
}

// Kill makes a stop in progress stop waiting for the functions to drain.
func (s *Stack) Kill() { s.once.Do(func() { close(s.kill) }) }

// Run starts the stack and keeps it running until ctx ends (nil: a clean
// stop) or a function exits by itself (an error). Everything it started is
// stopped before it returns.
func (s *Stack) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Listen, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("gateway: %w (is another sportello-local running? choose another -port)", err)
	}
	if err := portFree(s.cfg.PGPort); err != nil {
		ln.Close()
		return fmt.Errorf("PostgreSQL port %d: %w (is another sportello-local running? choose another -pg-port)", s.cfg.PGPort, err)
	}
	s.server = &http.Server{Handler: s.gw, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gateway stopped", "err", err)
		}
	}()
	defer s.stop()

	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			s.log.Info("interrupted while starting")
			return nil
		}
		return err
	}
	s.banner()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("stopping")
			return nil
		case p := <-s.exited:
			if !s.running(p) {
				continue // an attempt that lost its port while starting
			}
			p.out.Tail()
			s.log.Error("a function exited by itself: stopping everything", "function", p.name, "status", p.exitStatus())
			return fmt.Errorf("%s exited unexpectedly (%s)", p.name, p.exitStatus())
		}
	}
}

// running reports whether p is the process serving its function.
func (s *Stack) running(p *process) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.procs {
		if q == p {
			return true
		}
	}
	return false
}

// start brings up PostgreSQL, the schema and every function.
func (s *Stack) start(ctx context.Context) error {
	root, err := filepath.Abs(s.cfg.Root)
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(s.cfg.Bin)
	if err != nil {
		return err
	}
	if err := s.startPostgres(ctx); err != nil {
		return err
	}
	dbURL := s.pg.URL(Database)
	if err := s.build(ctx, root, bin); err != nil {
		return err
	}
	s.log.Info("applying the schema and the demo data")
	if err := runLogged(ctx, s.output(manifest.Migrate), root, []string{"DATABASE_URL=" + dbURL},
		filepath.Join(bin, manifest.Migrate), "-demo"); err != nil {
		return err
	}
	return s.startFunctions(ctx, bin, dbURL)
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

// build compiles every function and migrate in one go build.
func (s *Stack) build(ctx context.Context, root, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, f := range manifest.Functions {
		args = append(args, "./functions/"+f.Name)
	}
	args = append(args, "./functions/"+manifest.Migrate)
	s.log.Info("building the functions", "bin", bin)
	start := time.Now()
	if err := runLogged(ctx, s.output("build"), root, nil, "go", args...); err != nil {
		return err
	}
	s.log.Info("built", "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
	return nil
}

// startAttempts is how many times a function is started when the free port
// it was given is taken before it binds it.
const startAttempts = 3

// startFunctions starts every function on a free loopback port and waits
// until each is ready.
func (s *Stack) startFunctions(ctx context.Context, bin, dbURL string) error {
	s.procs = make([]*process, len(manifest.Functions))
	errs := make([]error, len(manifest.Functions))
	var wg sync.WaitGroup
	for i, f := range manifest.Functions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.startFunction(ctx, i, f.Name, bin, dbURL)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, p := range s.procs {
		s.log.Info("ready", "function", p.name, "url", p.url())
	}
	return nil
}

// startFunction starts the i-th function and waits until it is ready. The
// port comes from pg.FreePort, so another program can take it before the
// function binds it: then the function is started again on another port.
func (s *Stack) startFunction(ctx context.Context, i int, name, bin, dbURL string) error {
	sink := fmt.Sprintf("http://%s/_local/events", net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port)))
	for attempt := 1; ; attempt++ {
		port, err := pg.FreePort()
		if err != nil {
			return err
		}
		env := []string{"PORT=" + strconv.Itoa(port), "DATABASE_URL=" + dbURL, "K_SINK=" + sink}
		out := s.output(name)
		p, err := startProcess(name, filepath.Join(bin, name), port, env, out, s.exited)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.procs[i] = p
		s.mu.Unlock()
		u, _ := url.Parse(p.url())
		s.gw.SetUpstream(name, u)
		err = p.waitReady(ctx, ReadyTimeout)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			if attempt < startAttempts && out.Contains("address already in use") {
				s.log.Warn("port taken: starting again on another", "function", name, "port", port)
				continue
			}
		default:
		}
		out.Tail()
		return err
	}
}

// stop stops the functions (all get SIGTERM, then each has StopGrace to
// drain), the gateway and PostgreSQL.
func (s *Stack) stop() {
	s.mu.Lock()
	var procs []*process
	for i := len(s.procs) - 1; i >= 0; i-- {
		if s.procs[i] != nil {
			procs = append(procs, s.procs[i])
		}
	}
	s.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			p.signal()
		}
	}
	for _, p := range procs {
		if p.wait(StopGrace, s.kill) {
			s.log.Warn("killed", "function", p.name, "after", StopGrace)
		} else {
			s.log.Info("stopped", "function", p.name)
		}
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.server.Shutdown(ctx)
		cancel()
		s.log.Info("stopped the gateway")
	}
	if s.pgUp {
		_ = s.pg.Stop()
		s.pgUp = false
		s.log.Info("stopped PostgreSQL")
	}
}

// host is the gateway's host as a client reaches it.
func (s *Stack) host() string {
	if ip := net.ParseIP(s.cfg.Listen); s.cfg.Listen == "" || ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return s.cfg.Listen
}

func (s *Stack) banner() {
	gw := "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port))
	site := "index of the API (no web/ folder yet)"
	if s.gw.Site != "" {
		site = "the site, from " + s.gw.Site
	}
	lines := []string{
		"",
		"Sportello is running.",
		"  gateway     " + gw + "/   " + site,
		"  offices     curl -s " + gw + "/api/offices",
		"  free slots  curl -s '" + gw + "/api/slots?service_id=sue'",
		"  events      curl -s " + gw + "/_local/events",
		"  health      curl -s " + gw + "/health",
		"  database    psql '" + s.pg.URL(Database) + "'",
		"Ctrl-C to stop.",
		"",
	}
	s.console.Println(strings.Join(lines, "\n"))
}

// portFree checks that nothing listens on port of 127.0.0.1, so that the
// stack cannot mistake another PostgreSQL for its own.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}
