package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/pg"
)

// buildAll builds every function as it ships: static, stripped, trimmed.
func buildAll(root, tmp string) (string, error) {
	dir := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", dir + "/"}
	for _, f := range manifest.Functions {
		args = append(args, "./functions/"+f.Name)
	}
	// migrate, confirm's store behind a bare handler (the Go floor), and
	// the floor of a function's start (bare-ready).
	args = append(args, "./functions/migrate", "./functions/internal/cmd/bare-confirm", "./functions/internal/cmd/bare-ready")
	fmt.Fprintln(os.Stderr, "building the functions (static, stripped)…")
	build := exec.Command("go", args...)
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return dir, nil
}

// database is a PostgreSQL server of the bench's own, configured as in
// production (fsync and synchronous commit on).
type database struct {
	*pg.Server
	admin string // its postgres database

	// walConn reads the WAL figures, one connection kept for the bench's
	// run: a connection a reading would start a backend before a run and
	// end it during the next, its CPU landing in that run's figures.
	walMu   sync.Mutex
	walConn *pgx.Conn
}

func startPostgres(tmp string) (*database, error) {
	if _, err := pg.EnsureBinaries(os.Stderr); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "pg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	_ = os.Chmod(tmp, 0o755)
	srv := &pg.Server{DataDir: filepath.Join(dir, "data")}
	if err := srv.Init(nil); err != nil {
		return nil, err
	}
	if err := srv.Start(context.Background()); err != nil {
		return nil, err
	}
	return &database{Server: srv, admin: srv.URL("postgres")}, nil
}

// fresh creates a new database with Sportello's schema and answers its URL.
func (d *database) fresh(bins, name string) (string, error) {
	ctx := context.Background()
	if err := d.CreateDatabase(ctx, name); err != nil {
		return "", err
	}
	url := d.URL(name)
	mig := exec.Command(filepath.Join(bins, "migrate"))
	mig.Env = append(os.Environ(), "DATABASE_URL="+url)
	if out, err := mig.CombinedOutput(); err != nil {
		return "", fmt.Errorf("migrate: %w\n%s", err, out)
	}
	return url, nil
}

func (d *database) exec(url string, stmts ...string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// process is a running function.
type process struct {
	name    string
	base    string
	cmd     *exec.Cmd
	metrics string        // its /metrics (OpenTelemetry's Prometheus exporter)
	ready   time.Duration // from exec to a 200 on readiness
	profile string
}

// freePorts answers n free loopback ports.
func freePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := pg.FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// start runs a function binary on a free port with env, and waits until
// it is ready.
func start(bins, name string, env ...string) (*process, error) {
	ports, err := freePorts(2) // HTTP, metrics
	if err != nil {
		return nil, err
	}
	port, metrics := ports[0], ports[1]
	p := &process{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", port), metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)}
	p.cmd = exec.Command(filepath.Join(bins, name))
	p.cmd.Env = append(os.Environ(), append([]string{fmt.Sprintf("PORT=%d", port), "LOG_LEVEL=warn",
		"OTEL_EXPORTER_PROMETHEUS_HOST=127.0.0.1", fmt.Sprintf("OTEL_EXPORTER_PROMETHEUS_PORT=%d", metrics)}, env...)...)
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "CPU_PROFILE="); ok {
			p.profile = v
		}
	}
	p.cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _, _ = p.cmd.Process.Wait(); close(exited) }()
	deadline := t0.Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(t0)
				return p, nil
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before it was ready (see its log above)", name)
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready within 30s", name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop ends the function as Knative does (SIGTERM) and waits for it: a
// CPU profile is complete once it has exited.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// rss is the function's resident memory, in bytes.
func (p *process) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpu is the CPU time the function has used so far.
func (p *process) cpu() time.Duration {
	_, t, _ := procStat(p.cmd.Process.Pid)
	return t
}

// procStat reads a process's parent, CPU time and name from /proc. The CPU
// time is the process's own (user and system) and that of its children it
// has waited for: when PostgreSQL's postmaster reaps a backend that ended
// (the bench's connection that read the WAL position, say), the backend's
// time moves to the postmaster's instead of leaving the tree's sum, which
// made a short run's PostgreSQL CPU come out low, or below zero.
func procStat(pid int) (parent int, cpu time.Duration, name string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, ""
	}
	open, closing := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[closing+2:]))
	parent, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cutime, _ := strconv.ParseInt(f[13], 10, 64)
	cstime, _ := strconv.ParseInt(f[14], 10, 64)
	return parent, time.Duration(utime+stime+cutime+cstime) * time.Second / 100, string(b[open+1 : closing]) // USER_HZ
}

// cpuOfTree is the CPU time used so far by root and its descendants, by
// process name.
func cpuOfTree(root int) cpuUse {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent, used, names := map[int]int{}, map[int]time.Duration{}, map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		parent[pid], used[pid], names[pid] = procStat(pid)
	}
	use := cpuUse{}
	for pid, t := range used {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				use[names[pid]] += t
				break
			}
		}
	}
	return use
}

// cpuUse is CPU time by process name (a function's, postgres, mailpit, ...).
type cpuUse map[string]time.Duration

func (u cpuUse) total() time.Duration {
	var t time.Duration
	for _, d := range u {
		t += d
	}
	return t
}

// since is the CPU used since before, the heaviest first.
func (u cpuUse) since(before cpuUse) string {
	type use struct {
		name string
		d    time.Duration
	}
	var all []use
	for n, d := range u {
		if d -= before[n]; d > 0 {
			all = append(all, use{n, d})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d > all[j].d })
	var parts []string
	for _, x := range all {
		parts = append(parts, fmt.Sprintf("%s %.1f s", x.name, x.d.Seconds()))
	}
	return strings.Join(parts, ", ")
}

// selfCPU is the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpu is the CPU time the database server has used so far: the postmaster
// and its backends.
func (d *database) cpu() time.Duration {
	b, err := os.ReadFile(filepath.Join(d.DataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return cpuOfTree(pid).total()
}

// walUse is what the server wrote to its write-ahead log: bytes (from its
// insert position, exact at once) and the checkpoints it completed
// (pg_stat_bgwriter, which the checkpointer updates as each ends).
// pg_stat_wal's records and full-page images are not read: a backend left
// idle reports them up to ten seconds later (PostgreSQL's
// PGSTAT_IDLE_INTERVAL), in the next run's figures.
type walUse struct {
	bytes, checkpoints int64
	err                error
}

func (w walUse) minus(v walUse) walUse {
	return walUse{w.bytes - v.bytes, w.checkpoints - v.checkpoints, errors.Join(w.err, v.err)}
}

// wal reads the server's WAL figures.
func (d *database) wal() walUse {
	ctx := context.Background()
	d.walMu.Lock()
	defer d.walMu.Unlock()
	if d.walConn == nil || d.walConn.IsClosed() {
		conn, err := pgx.Connect(ctx, d.admin)
		if err != nil {
			return walUse{err: err}
		}
		d.walConn = conn
	}
	var w walUse
	w.err = d.walConn.QueryRow(ctx, `
		SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint, checkpoints_timed + checkpoints_req
		FROM pg_stat_bgwriter`).Scan(&w.bytes, &w.checkpoints)
	return w
}

// top prints the heaviest functions of a CPU profile (go tool pprof -top).
func top(bin, profile string, n int) string {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount="+strconv.Itoa(n), bin, profile).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(pprof: %v)", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// latencies are durations with their percentiles.
type latencies []time.Duration

func (l latencies) sorted() latencies {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := l.sorted()
	return s[int(p*float64(len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
