// Command sportello-local runs Sportello on one machine with one command:
// a private PostgreSQL (its data kept between runs), Mailpit, LiveKit,
// MinIO, Jaeger and VictoriaMetrics (their pinned builds, made once into
// the tool cache), every
// function as its own process, the local broker that delivers their
// CloudEvents by the manifest's triggers, a ticker that drives housekeeping,
// and a gateway that routes /api and serves the site. Ctrl-C stops
// everything; a second Ctrl-C stops waiting for the functions to drain.
//
//	sportello-local [-data DIR] [-port 8080] [-pg-port 55432] [-bin DIR] [-listen ADDR] [-quiet]
//	                [-broker-port 8081] [-mailpit-smtp-port 1025] [-mailpit-port 8025]
//	                [-livekit-port 7880] [-livekit-tcp-port 7881] [-livekit-udp-port 7882]
//	                [-minio-port 9000] [-minio-console-port 9001] [-mailpit-max 500]
//	                [-jaeger-port 16686] [-jaeger-otlp-port 4318] [-metrics-port 8428]
//	                [-public-url URL] [-tick 1m] [-backoff-scale 1] [-profiles DIR]
//	sportello-local -clean [-data DIR]
//
// A port of 0 picks a free one (the banner and GET /_local/services say
// which). `make run` builds and starts it; `make clean` removes its data.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/sportello/sportello/local/stack"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		data   = flag.String("data", "", "data folder (default $SPORTELLO_DATA, else <repository>/.run)")
		bin    = flag.String("bin", "", "where to build the functions (default <data>/bin)")
		listen = flag.String("listen", "127.0.0.1", "the gateway's address")
		port   = flag.Int("port", 8080, "the gateway's port")
		pgPort = flag.Int("pg-port", 55432, "PostgreSQL's port on 127.0.0.1")
		quiet  = flag.Bool("quiet", false, "hide PostgreSQL's and the functions' output unless one fails")
		clean  = flag.Bool("clean", false, "remove the data folder (and PostgreSQL's, when kept elsewhere) and exit")

		brokerPort   = flag.Int("broker-port", stack.DefaultBrokerPort, "the broker's ingress port on 127.0.0.1 (the functions' K_SINK)")
		smtpPort     = flag.Int("mailpit-smtp-port", stack.DefaultMailpitSMTPPort, "Mailpit's SMTP port on 127.0.0.1")
		mailpitPort  = flag.Int("mailpit-port", stack.DefaultMailpitHTTPPort, "Mailpit's web UI and API port on 127.0.0.1")
		livekitPort  = flag.Int("livekit-port", stack.DefaultLiveKitPort, "LiveKit's signalling and API port on 127.0.0.1")
		livekitTCP   = flag.Int("livekit-tcp-port", stack.DefaultLiveKitTCPPort, "LiveKit's ICE over TCP port")
		livekitUDP   = flag.Int("livekit-udp-port", stack.DefaultLiveKitUDPPort, "LiveKit's WebRTC UDP port on 127.0.0.1")
		minioPort    = flag.Int("minio-port", stack.DefaultMinIOPort, "MinIO's S3 port on 127.0.0.1")
		minioConsole = flag.Int("minio-console-port", stack.DefaultMinIOConsolePort, "MinIO's console port on 127.0.0.1 (-1: no console)")
		jaegerPort   = flag.Int("jaeger-port", stack.DefaultJaegerPort, "Jaeger's UI and query API port on 127.0.0.1")
		jaegerOTLP   = flag.Int("jaeger-otlp-port", stack.DefaultJaegerOTLPPort, "Jaeger's OTLP over HTTP port on 127.0.0.1 (the functions' OTEL_EXPORTER_OTLP_ENDPOINT)")
		metricsPort  = flag.Int("metrics-port", stack.DefaultMetricsPort, "VictoriaMetrics' API and UI port on 127.0.0.1")
		mailpitMax   = flag.Int("mailpit-max", 0, "the messages Mailpit keeps, the oldest pruned beyond (0: Mailpit's default, 500; -1: all)")
		publicURL    = flag.String("public-url", "", "the site's origin in mailed links (default http://127.0.0.1:<port>)")
		restart      = flag.Bool("restart", false, "start again a function that exits by itself, as Kubernetes does (default: stop the stack)")
		tick         = flag.Duration("tick", time.Minute, "how often the housekeeping ping is sent (0: never)")
		profiles     = flag.String("profiles", "", "write CPU profiles of the whole run to this folder (go tool pprof): sportello-local.pprof (the gateway, the broker, the ticker) and <function>.pprof; PostgreSQL then tracks its statements (pg_stat_statements)")
		backoffScale = flag.Float64("backoff-scale", envFloat("BROKER_BACKOFF_SCALE", 1), "multiplies the broker's retry delays (default $BROKER_BACKOFF_SCALE, else 1)")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sportello-local: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// The gateway and the broker allocate for every request and
		// event they pass on, and at Go's default a click day spent a
		// sixth of this process's CPU collecting garbage (profiled, 2.7 s
		// of 16.7). Collecting when the heap has grown fivefold instead of
		// twofold leaves that CPU to the functions, for memory: on the
		// bench's click day this process peaked at 269 MB instead of 135.
		// The functions keep Go's default: their memory is what a pod is
		// sized by.
		debug.SetGCPercent(400)
	}
	root, err := stack.RepoRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sportello-local:", err)
		return 1
	}
	if *data == "" {
		*data = stack.DefaultDataDir(root)
	}

	if *clean {
		removed, err := stack.Clean(*data)
		for _, d := range removed {
			fmt.Println("removed", d)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sportello-local:", err)
			return 1
		}
		if len(removed) == 0 {
			fmt.Println("nothing to remove")
		}
		return 0
	}

	if *backoffScale <= 0 {
		fmt.Fprintln(os.Stderr, "sportello-local: -backoff-scale must be above 0")
		return 2
	}
	if *profiles != "" {
		err := os.MkdirAll(*profiles, 0o755)
		var f *os.File
		if err == nil {
			f, err = os.Create(filepath.Join(*profiles, "sportello-local.pprof"))
		}
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sportello-local: -profiles:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	s := stack.New(stack.Config{Root: root, Data: *data, Bin: *bin, Listen: *listen, Port: *port, PGPort: *pgPort, Quiet: *quiet,
		BrokerPort: *brokerPort, MailpitSMTPPort: *smtpPort, MailpitHTTPPort: *mailpitPort,
		LiveKitPort: *livekitPort, LiveKitTCPPort: *livekitTCP, LiveKitUDPPort: *livekitUDP,
		MinIOPort: *minioPort, MinIOConsolePort: *minioConsole, MailpitMax: *mailpitMax,
		JaegerPort: *jaegerPort, JaegerOTLPPort: *jaegerOTLP, MetricsPort: *metricsPort,
		PublicURL: *publicURL, Profiles: *profiles, Tick: *tick, BackoffScale: *backoffScale, Restart: *restart})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "sportello-local: second interrupt: killing the functions instead of waiting for them to drain")
		s.Kill()
	}()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sportello-local:", err)
		return 1
	}
	return 0
}

// envFloat is the number in the variable name, else def.
func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}
