// Command bench measures Sportello on this machine, each figure next to a
// baseline measured in the same run (`make bench`):
//
//  1. Hold and confirm under contention, at 8 and 64 clients, on a
//     PostgreSQL server of its own with fsync on, as in production: the
//     real reserve and confirm functions over HTTP against the bare SQL
//     that does the same rows (a contended insert into a table with the
//     same EXCLUDE constraint; an update plus an outbox insert), with a CPU
//     profile of each function's run.
//  2. The calendar: a 60-day answer of a 5-desk, 15-minute service — its
//     size on the wire, the server CPU it costs, its latency one request
//     after another.
//  3. What telemetry costs: bookings (a hold and its confirmation) through
//     reserve and confirm with telemetry off, with metrics only, with
//     traces at the default sampling sent to a real Jaeger, and with every
//     trace kept — in turns, the medians compared with telemetry off.
//  4. The whole click day on the local stack (every function, the broker,
//     Mailpit, LiveKit, MinIO, the gateway): N citizens, C at a time, each
//     reading the catalog and the calendar, holding a slot (another one on
//  409. and confirming it; bookings/s, latency per step, no 5xx, no
//     overlap, every confirmation mailed exactly once, no idle room left on
//     LiveKit.
//  5. Lean functions: each function's stripped static binary, its idle
//     memory and its start-to-ready time.
//
// It prints Markdown (docs/performance.md keeps a copy) and exits non-zero
// when a correctness check fails. Flags bound the work; -parts selects
// parts.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/stack"
)

type config struct {
	requests, group, desks, conns int
	confirmations                 int // confirmations a confirm run, each side (held and baseline rows topped up to twice as many)
	fnConns                       int // each function's database connections in the holds part (-1: conns; 0: the functions' own default, 2, as they ship)
	clients                       []int
	citizens, concurrency         int
	clickdayLimit                 time.Duration
	clickdayEveryTrace            bool // keep every trace on the click day, as make run does
	parts                         string
	keep                          string // a folder to keep the profiles in
	telemetryBookings             int    // bookings a run of the telemetry part
	telemetryRounds               int    // rounds of its settings
}

func main() {
	var c config
	var clients string
	flag.IntVar(&c.requests, "requests", 24000, "hold requests per contention run")
	flag.StringVar(&clients, "clients", "8,64", "concurrent clients of the contention runs")
	flag.IntVar(&c.group, "group", 20, "consecutive hold requests aimed at one slot")
	flag.IntVar(&c.desks, "desks", 3, "desks of the contention service (winners per slot)")
	flag.IntVar(&c.conns, "conns", 16, "database connections, for each function and the baseline alike")
	flag.IntVar(&c.confirmations, "confirmations", 5000, "confirmations in each confirm run (the holds won are topped up, uncontended, to twice as many)")
	flag.IntVar(&c.fnConns, "fn-conns", -1, "each function's database connections in the holds part (-1: the same as -conns; 0: the functions' own default, 2, as they ship)")
	flag.IntVar(&c.citizens, "citizens", 10000, "citizens of the click day")
	flag.IntVar(&c.concurrency, "concurrency", 200, "citizens at a time on the click day")
	flag.DurationVar(&c.clickdayLimit, "clickday-limit", 15*time.Minute, "the click day's time limit")
	flag.BoolVar(&c.clickdayEveryTrace, "clickday-every-trace", false, "keep every trace on the click day, as make run does (default: one in ten, as the functions ship)")
	flag.IntVar(&c.telemetryBookings, "telemetry-bookings", 1500, "bookings a run of the telemetry part")
	flag.IntVar(&c.telemetryRounds, "telemetry-rounds", 5, "rounds of the telemetry part's settings (the median is reported)")
	flag.StringVar(&c.parts, "parts", "holds,queue,calendar,telemetry,clickday,lean", "the parts to run")
	flag.StringVar(&c.keep, "profiles", "", "keep the CPU profiles in this folder (default: a temporary one)")
	flag.Parse()
	for _, s := range strings.Split(clients, ",") {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bench: -clients wants numbers like 8,64")
			os.Exit(2)
		}
		c.clients = append(c.clients, n)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (c config) part(name string) bool {
	for _, p := range strings.Split(c.parts, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

func run(c config) error {
	root, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	// PostgreSQL runs as the postgres user, which must reach its data under
	// here.
	tmp, err := pg.TempDir("sportello-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.keep == "" {
		c.keep = tmp
	}
	if err := os.MkdirAll(c.keep, 0o755); err != nil {
		return err
	}
	fmt.Printf("# Sportello on this machine\n\n%s, %d CPUs, %s; %s.\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(),
		runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	var failures []string
	// checked keeps the failed checks of a part and answers its error.
	checked := func(fails []string, err error) error {
		failures = append(failures, fails...)
		return err
	}
	bins, err := buildAll(root, tmp)
	if err != nil {
		return err
	}
	if c.part("holds") || c.part("queue") || c.part("calendar") || c.part("telemetry") {
		if err := checked(ownPostgresParts(c, bins, tmp)); err != nil {
			return err
		}
	}
	if c.part("clickday") {
		if err := checked(clickday(c, root, tmp)); err != nil {
			return err
		}
	}
	if c.part("lean") {
		if err := lean(c, root, bins, tmp); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("correctness checks failed: %s", strings.Join(failures, "; "))
	}
	return nil
}

// ownPostgresParts runs the parts on the bench's own PostgreSQL, which it
// stops before the click day starts a stack of its own, and answers their
// failed checks.
func ownPostgresParts(c config, bins, tmp string) ([]string, error) {
	db, err := startPostgres(tmp)
	if err != nil {
		return nil, err
	}
	defer db.Stop()
	var failures []string
	if c.part("holds") {
		f, err := holds(c, db, bins)
		if failures = append(failures, f...); err != nil {
			return failures, err
		}
	}
	if c.part("queue") {
		f, err := queueJoins(c, db, bins)
		if failures = append(failures, f...); err != nil {
			return failures, err
		}
	}
	if c.part("calendar") {
		if err := calendar(db, bins); err != nil {
			return failures, err
		}
	}
	if c.part("telemetry") {
		if err := tracing(c, db, bins, tmp); err != nil {
			return failures, err
		}
	}
	return failures, nil
}
