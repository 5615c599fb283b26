// This file holds the Stack: its Config, New, Run, which starts everything
// in order and watches it, and stop, which stops it in the reverse order.

package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/broker"
	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
	"github.com/sportello/sportello/local/traces"
)

// Database is the name of the stack's database.
const Database = "sportello"

// How long the stack waits for things.
const (
	ReadyTimeout = 60 * time.Second // a function's first 200 on /health/readiness
	StopGrace    = 15 * time.Second // a function's drain after SIGTERM, before SIGKILL
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
	DefaultJaegerPort       = 16686 // Jaeger's UI and query API
	DefaultJaegerOTLPPort   = 4318  // OTLP over HTTP
	DefaultMetricsPort      = 8428  // VictoriaMetrics
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
	JaegerPort       int // the UI and query API
	JaegerOTLPPort   int // OTLP over HTTP (gRPC and the rest: free ports)
	MetricsPort      int // VictoriaMetrics' API and UI

	PublicURL    string              // the site's origin in links; http://127.0.0.1:<Port> when empty
	Tick         time.Duration       // housekeeping ping interval; 0: none
	BackoffScale float64             // scales the broker's retry delays; 1 when 0
	MailpitMax   int                 // the messages Mailpit keeps; 0: its default (500); negative: all
	Restart      bool                // start again a function that exits by itself (else the stack stops)
	Profiles     string              // the folder each function writes its CPU profile to (<name>.pprof), and PostgreSQL tracks its statements; none when empty
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
	jaeger    *services.Jaeger
	metrics   *services.VictoriaMetrics
	traces    *traces.Handler // /_local/traces, reading Jaeger once it runs
	svcUp     bool
	mu        sync.Mutex         // guards procs while the functions start, and env
	env       []string           // what every function gets besides PORT
	procs     []*process         // by function order; nil for one not started
	targetsMu sync.Mutex         // serializes the writes of VictoriaMetrics' targets file
	exited    chan *process      // functions that ended by themselves
	svcExited chan string        // services that ended by themselves
	stopping  chan struct{}      // closed when the stack stops
	ticker    context.CancelFunc // stops the housekeeping ticker
	tickDone  chan struct{}
	kill      chan struct{}
	once      sync.Once
	stopOnce  sync.Once
	ctl       sync.Mutex      // guards stopped, and serializes StopServer and StartServer
	stopped   map[string]bool // the servers StopServer stopped
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
		svcExited: make(chan string, 5), stopping: make(chan struct{}), kill: make(chan struct{}), stopped: map[string]bool{}}
	s.log = s.logger("stack")
	s.broker = &broker.Broker{Triggers: triggersOf(fns), Log: s.logger("broker"), BackoffScale: cfg.BackoffScale,
		StateFile: filepath.Join(cfg.Data, "broker-pending.json")}
	s.mailpit = &services.Mailpit{SMTPPort: cfg.MailpitSMTPPort, HTTPPort: cfg.MailpitHTTPPort,
		Database: filepath.Join(cfg.Data, "mailpit", "mailpit.db"), Max: cfg.MailpitMax, Log: s.output("mailpit")}
	s.livekit = &services.LiveKit{Port: cfg.LiveKitPort, TCPPort: cfg.LiveKitTCPPort, UDPPort: cfg.LiveKitUDPPort,
		Dir: filepath.Join(cfg.Data, "livekit"), Log: s.output("livekit"), WebhookURL: s.webhookURL()}
	s.minio = &services.MinIO{Port: cfg.MinIOPort, ConsolePort: cfg.MinIOConsolePort, Dir: filepath.Join(cfg.Data, "minio"),
		CORSOrigins: s.origins(), Log: s.output("minio")}
	s.jaeger = &services.Jaeger{QueryPort: cfg.JaegerPort, OTLPPort: cfg.JaegerOTLPPort, Dir: filepath.Join(cfg.Data, "jaeger"),
		Log: s.output("jaeger")}
	s.metrics = &services.VictoriaMetrics{Port: cfg.MetricsPort, Dir: filepath.Join(cfg.Data, "victoria-metrics"), Log: s.output("metrics")}
	s.traces = &traces.Handler{}
	s.gw = &Gateway{Functions: fns, Events: s.broker.EventsHandler(), Traces: s.traces,
		DeadLetters: s.broker.DeadLettersHandler(), Services: http.HandlerFunc(s.serveServices),
		Servers: http.HandlerFunc(s.serveServers), Log: s.logger("gateway")}
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
			if s.cfg.Restart {
				s.log.Warn("a function exited by itself: starting it again", "function", p.name, "status", p.exitStatus())
				go s.restart(ctx, p)
				continue
			}
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
		s.removeTargets()
		_ = s.servers().Stop()
		s.svcUp = false
		s.log.Info("stopped Mailpit, LiveKit, MinIO, Jaeger and VictoriaMetrics")
	}
	if s.pgUp {
		_ = s.pg.Stop()
		s.pgUp = false
		s.log.Info("stopped PostgreSQL")
	}
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
