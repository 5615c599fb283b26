// Package stack is Sportello's one-command local stack, the "embedded
// default" of design decision 9: it starts a private PostgreSQL whose data
// survives restarts, Mailpit, LiveKit and MinIO (package services), builds
// every function listed in package manifest, applies the schema with the
// demo data, starts each function as its own process, and puts in front of
// them a gateway that routes /api and serves the site. A local broker
// (package broker) takes the functions' CloudEvents (their K_SINK) and
// delivers them to their consumers by the manifest's triggers; a ticker
// plays the PingSource that drives housekeeping. Stopping it stops the
// ticker, the functions (they drain), the broker, the gateway, the
// services and PostgreSQL, in that order.
//
// The same binaries run on Knative in production; here the stack plays the
// parts of Knative's ingress (the gateway), broker and triggers (the
// broker) and PingSource (the ticker).
package stack

import (
	"context"
	"encoding/json"
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

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/broker"
	"github.com/sportello/sportello/local/httpjson"
	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
	"github.com/sportello/sportello/local/web"
)

// Database is the name of the stack's database.
const Database = "sportello"

// How long the stack waits for things.
const (
	ReadyTimeout = 60 * time.Second // a function's first 200 on /health/readiness
	StopGrace    = 15 * time.Second // a function's drain after SIGTERM, before SIGKILL
)

// The housekeeping ticker's events, shaped as a Knative PingSource's.
const (
	PingSource = "/local/pingsource/housekeeping"
	PingData   = `{"job":"all"}`
)

// Default ports, each overridden by its Config field (0 there means a free
// port, except for the gateway and PostgreSQL, whose ports are required).
const (
	DefaultBrokerPort       = 8081
	DefaultMailpitSMTPPort  = 1025
	DefaultMailpitHTTPPort  = 8025
	DefaultLiveKitPort      = 7880
	DefaultLiveKitTCPPort   = 7881
	DefaultLiveKitUDPPort   = 7882
	DefaultMinIOPort        = 9000
	DefaultMinIOConsolePort = 9001
)

// Config is what the stack is started with.
type Config struct {
	Root   string    // repository root (holds go.work); the functions are built from here
	Data   string    // data folder: PostgreSQL's cluster, MinIO's data, the mail, and the default Bin
	Bin    string    // where the functions are built; <Data>/bin when empty
	Listen string    // the gateway's address; 127.0.0.1 when empty
	Port   int       // the gateway's port
	PGPort int       // PostgreSQL's port on 127.0.0.1
	Quiet  bool      // hide the servers' and the functions' output (shown when one fails)
	Out    io.Writer // the console; os.Stdout when nil

	// Ports on 127.0.0.1; 0 picks a free one.
	BrokerPort       int
	MailpitSMTPPort  int
	MailpitHTTPPort  int
	LiveKitPort      int
	LiveKitTCPPort   int
	LiveKitUDPPort   int
	MinIOPort        int
	MinIOConsolePort int

	PublicURL    string              // the site's origin in links; http://127.0.0.1:<Port> when empty
	Tick         time.Duration       // housekeeping ping interval; 0: none
	BackoffScale float64             // scales the broker's retry delays; 1 when 0
	MailpitMax   int                 // the messages Mailpit keeps; 0: its default (500); negative: all
	Functions    []manifest.Function // what to build and start; manifest.Functions when nil
}

// Stack is one run of the local stack.
type Stack struct {
	cfg       Config
	functions []manifest.Function
	console   *Console
	log       *slog.Logger
	broker    *broker.Broker
	brokerSrv *http.Server
	gw        *Gateway
	server    *http.Server
	pg        *pg.Server
	pgUp      bool
	mailpit   *services.Mailpit
	livekit   *services.LiveKit
	minio     *services.MinIO
	svcUp     bool
	mu        sync.Mutex         // guards procs while the functions start, and env
	env       []string           // what every function gets besides PORT
	procs     []*process         // by function order; nil for one not started
	exited    chan *process      // functions that ended by themselves
	svcExited chan string        // services that ended by themselves
	stopping  chan struct{}      // closed when the stack stops
	ticker    context.CancelFunc // stops the housekeeping ticker
	tickDone  chan struct{}
	kill      chan struct{}
	once      sync.Once
	stopOnce  sync.Once
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
	fns := cfg.Functions
	if fns == nil {
		fns = manifest.Functions
	}
	width := len("housekeeping-tick")
	for _, f := range fns {
		width = max(width, len(f.Name))
	}
	s := &Stack{cfg: cfg, functions: fns, console: NewConsole(cfg.Out, width),
		exited:    make(chan *process, (startAttempts+1)*len(fns)),
		svcExited: make(chan string, 3), stopping: make(chan struct{}), kill: make(chan struct{})}
	s.log = s.logger("stack")
	s.broker = &broker.Broker{Triggers: triggersOf(fns), Log: s.logger("broker"), BackoffScale: cfg.BackoffScale,
		StateFile: filepath.Join(cfg.Data, "broker-pending.json")}
	s.mailpit = &services.Mailpit{SMTPPort: cfg.MailpitSMTPPort, HTTPPort: cfg.MailpitHTTPPort,
		Database: filepath.Join(cfg.Data, "mailpit", "mailpit.db"), Max: cfg.MailpitMax, Log: s.output("mailpit")}
	s.livekit = &services.LiveKit{Port: cfg.LiveKitPort, TCPPort: cfg.LiveKitTCPPort, UDPPort: cfg.LiveKitUDPPort,
		Dir: filepath.Join(cfg.Data, "livekit"), Log: s.output("livekit"), WebhookURL: s.webhookURL()}
	s.minio = &services.MinIO{Port: cfg.MinIOPort, ConsolePort: cfg.MinIOConsolePort, Dir: filepath.Join(cfg.Data, "minio"),
		CORSOrigins: s.origins(), Log: s.output("minio")}
	s.gw = &Gateway{Functions: fns, Events: s.broker.EventsHandler(),
		DeadLetters: s.broker.DeadLettersHandler(), Services: http.HandlerFunc(s.serveServices), Log: s.logger("gateway")}
	return s
}

// triggersOf are the manifest's triggers of the functions fns.
func triggersOf(fns []manifest.Function) []broker.Trigger {
	var out []broker.Trigger
	for _, t := range broker.ManifestTriggers() {
		for _, f := range fns {
			if f.Name == t.Function {
				out = append(out, t)
			}
		}
	}
	return out
}

// publicURL is the site's origin as links carry it.
func (s *Stack) publicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port))
}

// webhookURL is where LiveKit posts its webhooks: the gateway's route to
// livekit-webhook, on loopback. None when the stack runs without that
// function.
func (s *Stack) webhookURL() string {
	for _, f := range s.functions {
		if f.Name == "livekit-webhook" {
			return "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port)) + "/api/livekit/webhook"
		}
	}
	return ""
}

// origins are the origins from which a browser may call MinIO: the
// gateway's, by address and by name, and the public URL's.
func (s *Stack) origins() []string {
	port := strconv.Itoa(s.cfg.Port)
	out := []string{"http://127.0.0.1:" + port, "http://localhost:" + port}
	if u, err := url.Parse(s.publicURL()); err == nil && u.Scheme != "" && u.Host != "" {
		if o := u.Scheme + "://" + u.Host; o != out[0] && o != out[1] {
			out = append(out, o)
		}
	}
	return out
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
// stop) or a function or a server exits by itself (an error). Everything it
// started is stopped before it returns.
func (s *Stack) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Listen, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("gateway: %w (is another sportello-local running? choose another -port)", err)
	}
	if err := portFree(s.cfg.PGPort); err != nil {
		ln.Close()
		return fmt.Errorf("PostgreSQL port %d: %w (is another sportello-local running? choose another -pg-port)", s.cfg.PGPort, err)
	}
	bln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.BrokerPort)))
	if err != nil {
		ln.Close()
		return fmt.Errorf("broker: %w (is another sportello-local running? choose another -broker-port)", err)
	}
	s.cfg.BrokerPort = bln.Addr().(*net.TCPAddr).Port
	s.server = &http.Server{Handler: s.gw, ReadHeaderTimeout: 10 * time.Second}
	s.brokerSrv = &http.Server{Handler: s.broker, ReadHeaderTimeout: 10 * time.Second}
	for _, srv := range []struct {
		name string
		http *http.Server
		ln   net.Listener
	}{{"gateway", s.server, ln}, {"broker", s.brokerSrv, bln}} {
		go func() {
			if err := srv.http.Serve(srv.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error(srv.name+" stopped", "err", err)
			}
		}()
	}
	defer s.stop()

	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			s.log.Info("interrupted while starting")
			return nil
		}
		return err
	}
	s.startTicker()
	s.banner()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("stopping")
			return nil
		case name := <-s.svcExited:
			s.log.Error("a server exited by itself: stopping everything", "server", name)
			return fmt.Errorf("%s exited unexpectedly", name)
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

// start brings up the servers, PostgreSQL, the schema and every function.
func (s *Stack) start(ctx context.Context) error {
	root, err := filepath.Abs(s.cfg.Root)
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(s.cfg.Bin)
	if err != nil {
		return err
	}
	siteDone := make(chan struct{})
	go func() {
		defer close(siteDone)
		s.buildSite(ctx, root)
	}()
	defer func() { <-siteDone }()
	if err := s.startServices(ctx); err != nil {
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
	env := append([]string{"DATABASE_URL=" + dbURL}, s.serviceEnv()...)
	s.mu.Lock()
	s.env = env
	s.mu.Unlock()
	if err := s.startFunctions(ctx, bin, env); err != nil {
		return err
	}
	if _, err := s.broker.Resume(); err != nil {
		s.log.Warn("the deliveries pending at the last stop are lost", "err", err)
	}
	return nil
}

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
	for name, srv := range map[string]services.Server{"mailpit": s.mailpit, "livekit": s.livekit, "minio": s.minio} {
		go func() {
			select {
			case <-srv.Exited():
				select {
				case <-s.stopping:
				default:
					s.console.Println(srv.Tail())
					s.svcExited <- name
				}
			case <-s.stopping:
			}
		}()
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

// serviceEnv is what the functions need besides the database: the broker,
// the site's origin, SMTP, LiveKit and S3.
func (s *Stack) serviceEnv() []string {
	// The gateway speaks plain http: the operators' session cookie cannot
	// be Secure here (it is in a cluster, behind TLS).
	env := []string{"K_SINK=" + s.brokerURL(), "PUBLIC_URL=" + s.publicURL(), "COOKIE_SECURE=false"}
	return append(env, services.Set{s.mailpit, s.livekit, s.minio}.Env()...)
}

// brokerURL is the broker's ingress, the functions' K_SINK.
func (s *Stack) brokerURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.cfg.BrokerPort) + "/"
}

// serveServices answers GET /_local/services: the variables the functions
// get (every one a local, loopback-only value), so that a test or a
// developer can reach the same servers.
func (s *Stack) serveServices(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	out := map[string]string{}
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	if len(out) > 0 {
		out["BROKER_URL"] = strings.TrimSuffix(s.brokerURL(), "/")
		out["MINIO_CONSOLE_URL"] = s.minio.ConsoleURL()
	}
	httpjson.Write(w, out)
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

// buildSite builds the static site of <root>/web (package web: npm ci once
// into the cache, then build.mjs, reused while the sources do not change)
// and has the gateway serve it. A failure is logged and the gateway keeps
// its index page: the API works without the site.
func (s *Stack) buildSite(ctx context.Context, root string) {
	if SiteDir(root) == "" {
		return
	}
	cache, err := web.CacheDir()
	if err == nil {
		var dir string
		start := time.Now()
		dir, err = web.Build(ctx, root, cache, s.output("web"))
		if err == nil {
			s.gw.SetSite(dir)
			s.log.Info("site ready", "dir", dir, "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
			return
		}
	}
	if ctx.Err() == nil {
		s.log.Error("the site could not be built: the gateway serves the API index instead", "err", err)
	}
}

// build compiles every function and migrate in one go build.
func (s *Stack) build(ctx context.Context, root, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, f := range s.functions {
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

// startFunctions starts every function on a free loopback port, with env
// (the database, the broker, the servers) and its PORT, and waits until
// each is ready.
func (s *Stack) startFunctions(ctx context.Context, bin string, env []string) error {
	s.procs = make([]*process, len(s.functions))
	errs := make([]error, len(s.functions))
	var wg sync.WaitGroup
	for i, f := range s.functions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.startFunction(ctx, i, f.Name, bin, env)
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
// Once ready, the gateway routes to it and the broker delivers to it.
func (s *Stack) startFunction(ctx context.Context, i int, name, bin string, env []string) error {
	for attempt := 1; ; attempt++ {
		port, err := pg.FreePort()
		if err != nil {
			return err
		}
		out := s.output(name)
		p, err := startProcess(name, filepath.Join(bin, name), port, append([]string{"PORT=" + strconv.Itoa(port)}, env...), out, s.exited)
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
			return s.broker.SetSubscriber(name, p.url()+"/")
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

// startTicker posts a PingSource-shaped event to the broker every Tick, as
// a Knative PingSource does in the cluster: housekeeping consumes it.
func (s *Stack) startTicker() {
	if s.cfg.Tick <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ticker, s.tickDone = cancel, make(chan struct{})
	log := s.logger("housekeeping-tick")
	go func() {
		defer close(s.tickDone)
		c, err := cloudevents.NewClientHTTP()
		if err != nil {
			log.Error("no CloudEvents client", "err", err)
			return
		}
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ev := PingEvent(time.Now())
			if res := c.Send(cloudevents.ContextWithTarget(ctx, s.brokerURL()), ev); !cloudevents.IsACK(res) && ctx.Err() == nil {
				log.Warn("ping not accepted by the broker", "id", ev.ID(), "err", res)
			}
		}
	}()
}

// PingEvent is the housekeeping ticker's event at now.
func PingEvent(now time.Time) cloudevents.Event {
	ev := cloudevents.NewEvent()
	ev.SetID(uuid.NewString())
	ev.SetType(events.Ping)
	ev.SetSource(PingSource)
	ev.SetTime(now)
	_ = ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(PingData))
	return ev
}

// stop stops the ticker, the functions (all get SIGTERM, then each has
// StopGrace to drain), the broker (saving the deliveries still pending for
// the next start), the gateway, the servers and PostgreSQL.
func (s *Stack) stop() {
	s.stopOnce.Do(func() { close(s.stopping) })
	if s.ticker != nil {
		s.ticker()
		<-s.tickDone
	}
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
	if err := s.broker.Close(); err != nil {
		s.log.Warn("pending deliveries lost", "err", err)
	}
	for _, srv := range []*http.Server{s.brokerSrv, s.server} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
	}
	s.log.Info("stopped the broker and the gateway")
	if s.svcUp {
		_ = services.Set{s.mailpit, s.livekit, s.minio}.Stop()
		s.svcUp = false
		s.log.Info("stopped Mailpit, LiveKit and MinIO")
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

// DemoPassword is the password of every demo account of the demo data
// (functions/internal/postgres/demo.sql); only the local stack loads them.
const DemoPassword = "sportello-demo"

// DemoAccounts are the demo operators: one per office of the first phase,
// and an administrator.
var DemoAccounts = []string{
	"operatore.urp@comune.bari.it", "operatore.ambiente@comune.bari.it",
	"operatore.urbanistica@comune.bari.it", "admin@comune.bari.it (administrator)",
}

func (s *Stack) banner() {
	gw := "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port))
	site := "index of the API (the site is not built: see the web log above)"
	if d := s.gw.SiteFolder(); d != "" {
		site = "the site (built into " + d + "); booking at " + gw + "/prenota/"
	}
	tick := "off (-tick)"
	if s.cfg.Tick > 0 {
		tick = "a ping every " + s.cfg.Tick.String()
	}
	console := "no console"
	if u := s.minio.ConsoleURL(); u != "" {
		console = "console " + u + " (user " + s.minio.AccessKey + ", password " + s.minio.SecretKey + ")"
	}
	lines := []string{
		"",
		"Sportello is running.",
		"  gateway       " + gw + "/   " + site,
		"  offices       curl -s " + gw + "/api/offices",
		"  free slots    curl -s '" + gw + "/api/slots?service_id=sue'",
		"  mail          " + s.mailpit.URL() + "/   Mailpit: every mail sent (SMTP 127.0.0.1:" + strconv.Itoa(s.mailpit.SMTPPort) + ")",
		"  video         " + s.livekit.URL() + "   LiveKit (API key " + services.DevAPIKey + ")",
		"  documents     " + s.minio.Endpoint() + "   MinIO, bucket " + s.minio.Bucket + "; " + console,
		"  events        curl -s " + gw + "/_local/events",
		"  dead letters  curl -s " + gw + "/_local/dead-letters",
		"  broker        " + s.brokerURL() + "   triggers: curl -s " + s.brokerURL() + "triggers",
		"  housekeeping  " + tick,
		"  services      curl -s " + gw + "/_local/services",
		"  health        curl -s " + gw + "/health",
		"  database      psql '" + s.pg.URL(Database) + "'",
		"  operators     sign in: curl -si -c /tmp/op.jar " + gw + "/api/operator/session -H 'Content-Type: application/json' \\",
		"                  -d '{\"email\":\"operatore.urp@comune.bari.it\",\"password\":\"" + DemoPassword + "\"}'",
		"                demo accounts (password " + DemoPassword + "): " + strings.Join(DemoAccounts, ", "),
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
