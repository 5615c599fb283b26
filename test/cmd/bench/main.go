// Command bench measures the reserve function under contention next to a
// bare-SQL baseline, in the same run, on the same PostgreSQL server.
//
// Ours: the real reserve binary (HTTP, JSON, validation, the slot check, the
// outbox write) answering POST /api/holds. Baseline: the same contended
// insert done directly with pgx into a table with the same EXCLUDE
// constraint. Both see the same workload: R requests from C concurrent
// clients, every G consecutive requests aimed at the same slot of a service
// with D desks, so that D of each G win and the rest are refused.
//
// It prints a Markdown table: throughput, latency percentiles, the ratio
// ours/baseline, and the double bookings found by an SQL self-join (which
// must be 0). Run it with `make bench` (DATABASE_URL names a server on which
// it may create a database).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type config struct {
	requests, clients, group, desks, conns int
}

func main() {
	var c config
	flag.IntVar(&c.requests, "requests", 12000, "requests per run")
	flag.IntVar(&c.clients, "clients", 64, "concurrent clients")
	flag.IntVar(&c.group, "group", 20, "consecutive requests aimed at one slot")
	flag.IntVar(&c.desks, "desks", 3, "desks of the service (winners per slot)")
	flag.IntVar(&c.conns, "conns", 16, "database connections, for the function and the baseline alike")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name      string
	elapsed   time.Duration
	latencies []time.Duration
	won, lost int
	errors    int
	doubles   int
}

func (r result) rps() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func run(c config) error {
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		return fmt.Errorf("DATABASE_URL is not set: run `make bench`")
	}
	ctx := context.Background()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sportello-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	db := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	adminConn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer adminConn.Close(ctx)
	if _, err := adminConn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	defer adminConn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	url := withDB(admin, db)

	fmt.Fprintln(os.Stderr, "building migrate, reserve and query-slots…")
	build := exec.Command("go", "build", "-o", tmp+"/", "./functions/migrate", "./functions/reserve", "./functions/query-slots")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	mig := exec.Command(filepath.Join(tmp, "migrate"))
	mig.Env = append(os.Environ(), "DATABASE_URL="+url)
	if out, err := mig.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}
	pool, err := pgxpool.New(ctx, url+sep(url)+fmt.Sprintf("pool_max_conns=%d", c.conns))
	if err != nil {
		return err
	}
	defer pool.Close()

	if err := fixture(ctx, pool, c); err != nil {
		return err
	}

	fnURL := url + sep(url) + fmt.Sprintf("pool_max_conns=%d", c.conns)
	base, stop, err := start(filepath.Join(tmp, "reserve"), fnURL)
	if err != nil {
		return err
	}
	defer stop()
	slotsBase, stopSlots, err := start(filepath.Join(tmp, "query-slots"), fnURL)
	if err != nil {
		return err
	}
	defer stopSlots()
	slots, err := slotsFrom(slotsBase, (c.requests+c.group-1)/c.group)
	if err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "baseline: %d contended inserts from %d clients…\n", c.requests, c.clients)
	baseline, err := runBaseline(ctx, pool, c, slots)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "reserve: %d requests from %d clients…\n", c.requests, c.clients)
	ours, err := runReserve(ctx, pool, base, c, slots)
	if err != nil {
		return err
	}
	query, err := runQuery(slotsBase, slots[0])
	if err != nil {
		return err
	}
	report(c, baseline, ours)
	fmt.Printf("\nA 60-day slot query (GET /api/slots, %d slots with their free desks, over the bookings above), 200 times one after another: p50 %s, p95 %s, p99 %s.\n",
		query.won, ms(query.pct(0.50)), ms(query.pct(0.95)), ms(query.pct(0.99)))
	if ours.doubles != 0 || baseline.doubles != 0 || ours.errors != 0 {
		return fmt.Errorf("double bookings %d (baseline %d), errors %d: all must be 0", ours.doubles, baseline.doubles, ours.errors)
	}
	return nil
}

// fixture creates a service open round the clock with c.desks desks, and
// the baseline table with the same exclusion constraint as bookings.
func fixture(ctx context.Context, pool *pgxpool.Pool, c config) error {
	stmts := []string{
		`INSERT INTO offices (id, name) VALUES ('bench', 'Bench')`,
		`INSERT INTO services (id, office_id, name, duration_minutes, horizon_days) VALUES ('bench', 'bench', 'Bench', 30, 366)`,
		`INSERT INTO opening_hours (service_id, weekday, opens, closes) SELECT 'bench', d, '00:00', '24:00' FROM generate_series(1, 7) d`,
		fmt.Sprintf(`INSERT INTO desks (service_id, label) SELECT 'bench', 'D' || n FROM generate_series(1, %d) n`, c.desks),
		`CREATE TABLE baseline (desk int NOT NULL, blocks tstzrange NOT NULL,
		   EXCLUDE USING gist (desk WITH =, blocks WITH &&))`,
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	return nil
}

// slotsFrom asks the query-slots function for the first n free slots of the
// bench service, 92 days at a time.
func slotsFrom(base string, n int) ([]time.Time, error) {
	var slots []time.Time
	from := time.Now().AddDate(0, 0, 1)
	for len(slots) < n {
		if from.After(time.Now().AddDate(0, 0, 366)) {
			return nil, fmt.Errorf("only %d slots within the horizon: lower -requests or raise -group", len(slots))
		}
		to := from.AddDate(0, 0, 91)
		resp, err := http.Get(fmt.Sprintf("%s/api/slots?service_id=bench&from=%s&to=%s", base, from.Format(time.DateOnly), to.Format(time.DateOnly)))
		if err != nil {
			return nil, err
		}
		var body struct {
			Days []struct {
				Slots []struct {
					Start time.Time `json:"start"`
				} `json:"slots"`
			} `json:"days"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("query-slots: status %d, %v", resp.StatusCode, err)
		}
		for _, d := range body.Days {
			for _, sl := range d.Slots {
				if len(slots) < n {
					slots = append(slots, sl.Start)
				}
			}
		}
		from = to.AddDate(0, 0, 1)
	}
	return slots, nil
}

// drive runs the workload: request i goes to slot i/group.
func drive(c config, slots []time.Time, do func(slot time.Time) (won bool, err error)) result {
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		res       result
		won, lost atomic.Int64
		errs      atomic.Int64
	)
	start := time.Now()
	for w := 0; w < c.clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= c.requests {
					break
				}
				t0 := time.Now()
				ok, err := do(slots[i/c.group])
				mine = append(mine, time.Since(t0))
				switch {
				case err != nil:
					errs.Add(1)
				case ok:
					won.Add(1)
				default:
					lost.Add(1)
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	res.won, res.lost, res.errors = int(won.Load()), int(lost.Load()), int(errs.Load())
	return res
}

func runBaseline(ctx context.Context, pool *pgxpool.Pool, c config, slots []time.Time) (result, error) {
	res := drive(c, slots, func(slot time.Time) (bool, error) {
		for desk := 1; desk <= c.desks; desk++ {
			tag, err := pool.Exec(ctx, `INSERT INTO baseline (desk, blocks) VALUES ($1, tstzrange($2, $3)) ON CONFLICT DO NOTHING`,
				desk, slot, slot.Add(30*time.Minute))
			if err != nil {
				return false, err
			}
			if tag.RowsAffected() == 1 {
				return true, nil
			}
		}
		return false, nil
	})
	res.name = "bare SQL insert (baseline)"
	err := pool.QueryRow(ctx, `SELECT count(*) FROM baseline a JOIN baseline b
		ON a.desk = b.desk AND a.ctid < b.ctid AND a.blocks && b.blocks`).Scan(&res.doubles)
	return res, err
}

func runReserve(ctx context.Context, pool *pgxpool.Pool, base string, c config, slots []time.Time) (result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: c.clients, MaxIdleConnsPerHost: c.clients, IdleConnTimeout: time.Minute}}
	var firstErr atomic.Value
	res := drive(c, slots, func(slot time.Time) (bool, error) {
		body, _ := json.Marshal(map[string]string{"service_id": "bench", "start": slot.Format(time.RFC3339)})
		resp, err := client.Post(base+"/api/holds", "application/json", bytes.NewReader(body))
		if err != nil {
			firstErr.CompareAndSwap(nil, err.Error())
			return false, err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			return true, nil
		case http.StatusConflict:
			return false, nil
		default:
			err := fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
			firstErr.CompareAndSwap(nil, err.Error())
			return false, err
		}
	})
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "first error:", e)
	}
	res.name = "reserve function (HTTP)"
	err := pool.QueryRow(ctx, `SELECT count(*) FROM bookings a JOIN bookings b
		ON a.desk_id = b.desk_id AND a.id < b.id AND a.blocks && b.blocks
		WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`).Scan(&res.doubles)
	return res, err
}

// runQuery times 60-day slot queries that start on the first booked day.
func runQuery(base string, first time.Time) (result, error) {
	from := first.Format(time.DateOnly)
	to := first.AddDate(0, 0, 59).Format(time.DateOnly)
	var res result
	for i := 0; i < 200; i++ {
		t0 := time.Now()
		resp, err := http.Get(fmt.Sprintf("%s/api/slots?service_id=bench&from=%s&to=%s", base, from, to))
		if err != nil {
			return res, err
		}
		var body struct {
			Days []struct {
				Slots []json.RawMessage `json:"slots"`
			} `json:"days"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("slot query: status %d, %v", resp.StatusCode, err)
		}
		res.latencies = append(res.latencies, time.Since(t0))
		res.won = 0
		for _, d := range body.Days {
			res.won += len(d.Slots)
		}
	}
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	return res, nil
}

func report(c config, baseline, ours result) {
	fmt.Printf("Reserve under contention: %d requests, %d concurrent clients, %d requests per slot, %d desks, %d database connections; %s, %d CPUs.\n\n",
		c.requests, c.clients, c.group, c.desks, c.conns, runtime.Version(), runtime.NumCPU())
	fmt.Println("| run | requests/s | p50 | p95 | p99 | won | refused | errors | double bookings |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range []result{baseline, ours} {
		fmt.Printf("| %s | %.0f | %s | %s | %s | %d | %d | %d | %d |\n", r.name, r.rps(),
			ms(r.pct(0.50)), ms(r.pct(0.95)), ms(r.pct(0.99)), r.won, r.lost, r.errors, r.doubles)
	}
	fmt.Printf("\nRatio reserve/baseline: throughput %.2f, p50 latency %.2f.\n",
		ours.rps()/baseline.rps(), float64(ours.pct(0.5))/float64(baseline.pct(0.5)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

// withDB replaces the database name in a postgres:// URL.
func withDB(url, db string) string {
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	scheme := strings.Index(url, "://") + 3
	if slash := strings.IndexByte(url[scheme:], '/'); slash >= 0 {
		url = url[:scheme+slash]
	}
	return url + "/" + db + q
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above the working directory")
		}
		dir = parent
	}
}

// start runs a function binary on a free port and waits until it is ready.
func start(bin, dbURL string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	fn := exec.Command(bin)
	fn.Env = append(os.Environ(), "DATABASE_URL="+dbURL, fmt.Sprintf("PORT=%d", port), "LOG_LEVEL=warn", "HOLD_TTL=24h", "K_SINK=")
	fn.Stderr = os.Stderr
	if err := fn.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = fn.Process.Signal(os.Interrupt); _ = fn.Wait() }
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitReady(base + "/health/readiness"); err != nil {
		stop()
		return "", nil, err
	}
	return base, stop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("reserve not ready at %s", url)
}
