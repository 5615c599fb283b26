package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/stack"
)

// The click day's service: 10 desks, 15 minutes, 08:00–18:00 every working
// day, bookable 60 days ahead — some 16,000 desk-slots, more than the
// citizens ask for, so that every citizen can end with a booking.
const (
	clickdayService = "bench-clickday"
	clickdayDesks   = 10
	clickdayDays    = 60
	// A citizen picks among the earliest free times, as on a real click
	// day everyone wants the first appointments.
	clickdayEarliest = 40
	clickdayAttempts = 50 // holds a citizen tries before giving up
)

// stepNames are the kinds of request of a citizen's click day.
var stepNames = []string{"catalog", "queue", "calendar", "hold", "confirm"}

// step is one kind of request of the citizen's journey.
type step struct {
	name     string
	began    time.Time // the click day's start
	mu       sync.Mutex
	lat      latencies
	statuses map[int]int
	// Its requests slower than the calendar's goal (clickdayGoal), and
	// those of them sent in the click day's opening (clickdayOpening).
	slow, slowOpening int
}

// The calendar's p99 goal on the click day, and the opening seconds in
// which its 200 first citizens arrive together.
const (
	clickdayGoal    = 250 * time.Millisecond
	clickdayOpening = 5 * time.Second
)

// record notes a request sent at t0 that took d.
func (s *step) record(t0 time.Time, d time.Duration, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, d)
	s.statuses[status]++
	if d > clickdayGoal {
		s.slow++
		if t0.Sub(s.began) < clickdayOpening {
			s.slowOpening++
		}
	}
}

func (s *step) count(pred func(status int) bool) int {
	n := 0
	for st, k := range s.statuses {
		if pred(st) {
			n += k
		}
	}
	return n
}

// clickday runs the whole click day on the local stack: sportello-local on
// free ports, N citizens, C at a time, each through the gateway as the
// site goes — the catalog, the 60-day calendar, a hold (another free time
// on a 409), the confirmation. Then it checks the outcome: no 5xx, no
// overlap, every confirmation mailed exactly once, no room on LiveKit for
// the future bookings; and it measures the bare SQL of the same bookings on
// the stack's own PostgreSQL, the baseline.
func clickday(c config, root, tmp string) ([]string, error) {
	// Traces as the functions ship (one in ten, by trace id), not the
	// local stack's every trace: the click day of a municipality.
	traces := "one in ten kept, by trace id, as the functions ship (`-clickday-every-trace`: every one, as `make run` keeps them)"
	sampling := []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"}
	if c.clickdayEveryTrace {
		traces, sampling = "every one kept, as `make run` does", nil
	}
	fmt.Printf("\n## The click day\n\nThe local stack (every function, the broker, the gateway, PostgreSQL, Mailpit, LiveKit and MinIO on this machine): "+
		"%d citizens, %d at a time, each from an address of its own through the gateway: `GET /api/offices`, `POST /api/queue` (the waiting room), "+
		"`GET /api/slots` over %d days, `POST /api/holds` (one of the %d earliest free times; another on a 409), `POST /api/bookings`. A %d-desk, 15-minute service open 08:00–18:00 on working days. "+
		"Traces: %s, exported to the stack's Jaeger.\n\n",
		c.citizens, c.concurrency, clickdayDays, clickdayEarliest, clickdayDesks, traces)
	profiles := filepath.Join(c.keep, "clickday-profiles")
	st, err := startLocal(root, tmp, sampling, "-profiles", profiles)
	if err != nil {
		return nil, err
	}
	defer st.stop()
	if err := st.configure(); err != nil {
		return nil, err
	}
	// The statements' figures are an aid, not the click day's results: a
	// PostgreSQL without pg_stat_statements (not Debian's) goes without.
	statementsErr := st.resetStatements()

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: 2 * c.concurrency, MaxIdleConnsPerHost: 2 * c.concurrency, IdleConnTimeout: time.Minute}}
	var (
		next                  atomic.Int64
		booked, gaveUp        atomic.Int64
		wg                    sync.WaitGroup
		emailsMu              sync.Mutex
		emails                = map[string]bool{}
		firstErr              atomic.Value
		ctx, cancelRun        = context.WithTimeout(context.Background(), c.clickdayLimit)
		today                 = time.Now().Format(time.DateOnly)
		last                  = time.Now().AddDate(0, 0, clickdayDays-1).Format(time.DateOnly)
		calendarPath          = "/api/slots?service_id=" + clickdayService + "&from=" + today + "&to=" + last
		stackCPU0             = st.cpu()
		citizensCPU0          = selfCPU()
		started               = time.Now()
		citizenErr            = func(err error) { firstErr.CompareAndSwap(nil, err.Error()) }
		timedOut, failures    []string
		waitsMu               sync.Mutex
		waits                 latencies
		greedyCtx, stopGreedy = context.WithCancel(ctx)
		greedies              = []*greedy{
			{name: "keeping its client token", v: &visitor{s: st, client: client, address: "203.0.113.66", keepToken: true}},
			{name: "throwing its client token away every time", v: &visitor{s: st, client: client, address: "203.0.113.67"}},
		}
	)
	defer cancelRun()
	steps := map[string]*step{}
	for _, n := range stepNames {
		steps[n] = &step{name: n, statuses: map[int]int{}, began: started}
	}
	for _, g := range greedies {
		go g.run(greedyCtx, calendarPath)
		go g.sample(greedyCtx, st)
	}
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= c.citizens {
					return
				}
				email := fmt.Sprintf("cittadino.%05d@clickday.example.it", i)
				v := &visitor{s: st, client: client, steps: steps, address: citizenAddress(i), keepToken: true}
				ok, waited, err := v.book(ctx, calendarPath, email)
				waitsMu.Lock()
				waits = append(waits, waited)
				waitsMu.Unlock()
				switch {
				case err != nil:
					citizenErr(err)
					gaveUp.Add(1)
				case ok:
					booked.Add(1)
					emailsMu.Lock()
					emails[email] = true
					emailsMu.Unlock()
				default:
					gaveUp.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	citizensCPU := selfCPU() - citizensCPU0
	stopGreedy()
	stackCPUNow := st.cpu()
	statements := ""
	if statementsErr == nil {
		statements, statementsErr = st.statements(12)
	}
	if statementsErr != nil {
		statements = fmt.Sprintf("(pg_stat_statements: %v)\n", statementsErr)
	}
	stackCPU := stackCPUNow.total() - stackCPU0.total()
	if ctx.Err() != nil {
		timedOut = append(timedOut, fmt.Sprintf("stopped at the %s limit", c.clickdayLimit))
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "click day, first error:", e)
	}

	fmt.Printf("**%.1f bookings/s** end to end: %d citizens booked in %s, %d gave up or failed%s; the whole stack used %.0f s of CPU (%.1f ms a booking).\n\n",
		float64(booked.Load())/elapsed.Seconds(), booked.Load(), elapsed.Round(time.Second), gaveUp.Load(),
		strings.Join(append([]string{""}, timedOut...), "; "), stackCPU.Seconds(),
		float64(stackCPU.Microseconds())/1000/float64(max(booked.Load(), 1)))
	fmt.Printf("CPU by process: %s. The citizens and the greedy scripts (this process, on the same two cores) used %.1f s more: %.0f %% of the machine's %.0f CPU-seconds went to the stack and to them.\n\n",
		stackCPUNow.since(stackCPU0), citizensCPU.Seconds(),
		100*(stackCPU+citizensCPU).Seconds()/(elapsed.Seconds()*float64(runtime.NumCPU())), elapsed.Seconds()*float64(runtime.NumCPU()))
	fmt.Println("| step | requests | p50 | p95 | p99 | answers |")
	fmt.Println("|---|---:|---:|---:|---:|---|")
	fivexx := 0
	for _, n := range stepNames {
		s := steps[n]
		fivexx += s.count(func(st int) bool { return st >= 500 || st == 0 })
		var codes []string
		for status, k := range s.statuses {
			label := strconv.Itoa(status)
			if status == 0 {
				label = "no answer"
			}
			codes = append(codes, fmt.Sprintf("%s × %d", label, k))
		}
		sort.Strings(codes)
		fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", n, len(s.lat), ms(s.lat.pct(0.5)), ms(s.lat.pct(0.95)), ms(s.lat.pct(0.99)), strings.Join(codes, ", "))
	}
	if cat, cal := steps["catalog"].lat.pct(0.99), steps["calendar"].lat.pct(0.99); cat > 0 {
		fmt.Printf("\nThe catalog is an answer list-services reuses for up to a second (CATALOG_MAX_AGE), as query-slots reuses the calendar: its p99 is what any request through the gateway waits on this machine "+
			"during the click day, the floor of the calendar's. The calendar's p99 is %.2f of the catalog's (%s against %s).\n", float64(cal)/float64(cat), ms(cal), ms(cat))
	}
	if cal := steps["calendar"]; len(cal.lat) > 0 {
		fmt.Printf("\nThe calendar's answers slower than %s (the goal's p99: at most 1 in 100, %d here): %d, of which %d asked for in the click day's first %s, when its first %d citizens arrive together.\n",
			ms(clickdayGoal), len(cal.lat)/100, cal.slow, cal.slowOpening, clickdayOpening, c.concurrency)
	}

	// The outcome.
	overlaps, confirmed, err := st.overlaps()
	if err != nil {
		return nil, err
	}
	mailed, all, err := st.mailed(int(booked.Load()))
	if err != nil {
		return nil, err
	}
	var missing, twice, strangers int
	for e := range emails {
		switch mailed[e] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	for e := range mailed {
		if !emails[e] {
			strangers++
		}
	}
	rooms, early, err := st.rooms(context.Background())
	if err != nil {
		return nil, err
	}
	fmt.Printf("\n5xx or no answer: %d. Overlapping bookings (an SQL self-join): %d. Confirmed in the database: %d (answered 201: %d). "+
		"Confirmations mailed: %d recipients, %d without their mail, %d mailed more than once, %d mails to someone who did not book. "+
		"Rooms on LiveKit after the click day: %d, of which %d for a booking whose join window has not opened.\n", fivexx, overlaps, confirmed, booked.Load(), len(mailed), missing, twice, strangers, rooms, early)
	if !all.at.IsZero() {
		// The mail and the rooms follow the bookings through the broker: on
		// a saturated machine they may trail behind, and their CPU come
		// after the last booking.
		drained := all.cpu.total() - stackCPU0.total()
		fmt.Printf("\nThe last confirmation reached Mailpit %.0f s after the last booking (polled every second); until then the stack used %.0f s of CPU, %.1f ms a booking.\n",
			max(0, all.at.Sub(started.Add(elapsed)).Seconds()), drained.Seconds(), float64(drained.Microseconds())/1000/float64(max(booked.Load(), 1)))
	}
	if fivexx != 0 || overlaps != 0 || int64(confirmed) != booked.Load() || missing != 0 || twice != 0 || strangers != 0 || early != 0 || len(timedOut) > 0 {
		failures = append(failures, fmt.Sprintf("click day: %d 5xx, %d overlaps, %d confirmed of %d, mail %d missing %d twice %d strangers, %d rooms before their window%s",
			fivexx, overlaps, confirmed, booked.Load(), missing, twice, strangers, early, strings.Join(append([]string{""}, timedOut...), ", ")))
	}

	// The waiting room, and the greedy scripts beside the citizens.
	queued := 0
	for _, w := range waits {
		if w > time.Second {
			queued++
		}
	}
	fmt.Printf("\nThe waiting room: %d citizens of %d waited more than a second (p50 %s, p95 %s, p99 %s).\n",
		queued, len(waits), ms(waits.pct(0.5)), ms(waits.pct(0.95)), ms(waits.pct(0.99)))
	fmt.Print("\nBeside the citizens, two greedy scripts held every early time they could for the whole click day:\n\n")
	fmt.Println("| script | holds it got | the most live at once | 429s |")
	fmt.Println("|---|---:|---:|---:|")
	for _, g := range greedies {
		fmt.Printf("| %s | %d | %d | %d |\n", g.name, len(g.ids), g.peak, g.limited)
	}
	if keeper := greedies[0]; keeper.peak > 1 {
		failures = append(failures, fmt.Sprintf("click day: the greedy script keeping its token held %d slots at once, over MAX_HOLDS_PER_CLIENT (1)", keeper.peak))
	}
	if gaveUp.Load() > 0 {
		failures = append(failures, fmt.Sprintf("click day: %d citizens reached the end without a booking", gaveUp.Load()))
	}

	// The baseline: the same bookings as bare SQL on the same PostgreSQL.
	bare, err := st.bareBookings(int(booked.Load()), c.concurrency, c.conns)
	if err != nil {
		return nil, err
	}
	fmt.Printf("\nThe baseline on the stack's own PostgreSQL, same run: %d bookings as bare SQL (a contended insert into a table with the same "+
		"exclusion constraint, then an update plus an outbox insert), %d clients over %d connections: **%.0f bookings/s** (p50 %s, p99 %s). "+
		"The click day reaches %.2f of it, through the gateway, the functions, the events and the mail.\n",
		len(bare.latencies), c.concurrency, c.conns, bare.rps(), ms(bare.latencies.pct(0.5)), ms(bare.latencies.pct(0.99)),
		float64(booked.Load())/elapsed.Seconds()/bare.rps())
	st.stop()
	if len(failures) > 0 {
		// The stack's log goes with the bench's temporary folder: its end,
		// without the broker's events and deliveries, for the failure's cause (the
		// gateway's warnings, a function that failed).
		if b, err := os.ReadFile(filepath.Join(tmp, "clickday-stack.log")); err == nil {
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if !strings.Contains(l, "msg=delivered ") && !strings.Contains(l, "msg=event ") {
					lines = append(lines, l)
				}
			}
			fmt.Fprintf(os.Stderr, "click day failed; the last lines of the stack's log, the broker's events and deliveries left out:\n%s\n",
				strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}
	fmt.Printf("\nWhere PostgreSQL's time went during the click day (pg_stat_statements: time in the statement, waits for locks and for a CPU included; "+
		"a statement inside hold_slot or confirm_hold counts in the function's line too):\n\n%s", statements)
	fmt.Printf("\nWhere sportello-local's own CPU went over its whole run (the gateway, the broker, the ticker):\n\n```\n%s\n```\n\n"+
		"Each function's CPU profile of the click day: %s/<function>.pprof (go tool pprof; `-profiles DIR` keeps them after the bench).\n",
		top(filepath.Join(tmp, "sportello-local"), filepath.Join(profiles, "sportello-local.pprof"), 15), profiles)
	return failures, nil
}

// localStack is a running sportello-local of the bench's own.
type localStack struct {
	cmd     *exec.Cmd
	gateway string
	pgPort  int
	done    chan struct{}
	env     map[string]string
	admin   *http.Client
	csrf    string
	data    string // its data folder
}

// startLocal builds sportello-local and starts it on free ports, with its
// data in tmp, keeping every mail in Mailpit.
func startLocal(root, tmp string, env []string, args ...string) (*localStack, error) {
	bin := filepath.Join(tmp, "sportello-local")
	build := exec.Command("go", "build", "-o", bin, "./local/cmd/sportello-local")
	build.Dir, build.Stderr = root, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build sportello-local: %w", err)
	}
	ports, err := freePorts(2) // the gateway's, PostgreSQL's
	if err != nil {
		return nil, err
	}
	port, pgPort := ports[0], ports[1]
	s := &localStack{gateway: fmt.Sprintf("http://127.0.0.1:%d", port), pgPort: pgPort, done: make(chan struct{})}
	log, err := os.Create(filepath.Join(tmp, "clickday-stack.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-data", filepath.Join(tmp, "clickday"), "-quiet",
		"-port", strconv.Itoa(port), "-pg-port", strconv.Itoa(pgPort),
		"-broker-port", "0", "-mailpit-smtp-port", "0", "-mailpit-port", "0", "-mailpit-max", "-1",
		"-livekit-port", "0", "-livekit-tcp-port", "0", "-livekit-udp-port", "0",
		"-minio-port", "0", "-minio-console-port", "-1")
	s.cmd.Args = append(s.cmd.Args, args...)
	s.cmd.Dir, s.cmd.Stdout, s.cmd.Stderr = root, log, log
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintln(os.Stderr, "starting the local stack for the click day…")
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); log.Close(); close(s.done) }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if status, _, err := s.do(http.DefaultClient, "GET", "/health", nil, nil); err == nil && status == http.StatusOK {
			break
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("sportello-local exited while starting; see %s", log.Name())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("sportello-local not healthy within 5 minutes")
		}
	}
	_, body, err := s.do(http.DefaultClient, "GET", "/_local/services", nil, nil)
	if err != nil {
		s.stop()
		return nil, err
	}
	if err := json.Unmarshal(body, &s.env); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop sends SIGINT, as Ctrl-C does, and waits; after a minute it kills
// the stack's process group.
func (s *localStack) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// cpu is the CPU time the whole stack has used so far: sportello-local and
// every process it started (the functions, PostgreSQL, Mailpit, LiveKit,
// MinIO), each in a process group of its own.
func (s *localStack) cpu() cpuUse { return cpuOfTree(s.cmd.Process.Pid) }

// do sends a request through the gateway and reads the answer.
func (s *localStack) do(client *http.Client, method, path string, body any, header http.Header) (int, []byte, error) {
	return s.doCtx(context.Background(), client, method, path, body, header)
}

// jsonRequest is a request to url with body, when not nil, as JSON.
func jsonRequest(ctx context.Context, method, url string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err == nil && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

func (s *localStack) doCtx(ctx context.Context, client *http.Client, method, path string, body any, header http.Header) (int, []byte, error) {
	req, err := jsonRequest(ctx, method, s.gateway+path, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return send(client, req)
}

// admin sends a request of the demo administrator under /api/operator.
func (s *localStack) adminDo(method, path string, body any, want int) error {
	h := http.Header{}
	if s.csrf != "" {
		h.Set("X-CSRF-Token", s.csrf)
	}
	status, b, err := s.do(s.admin, method, "/api/operator"+path, body, h)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if s.csrf == "" {
		var r struct {
			CSRFToken string `json:"csrf_token"`
		}
		_ = json.Unmarshal(b, &r)
		s.csrf = r.CSRFToken
	}
	return nil
}

// configure makes the click day's office and service as an administrator
// does, through the administration API.
func (s *localStack) configure() error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	s.admin = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if err := s.adminDo("POST", "/session", map[string]string{"email": "admin@comune.bari.it", "password": stack.DemoPassword}, http.StatusOK); err != nil {
		return err
	}
	if err := s.adminDo("POST", "/admin/offices", map[string]any{"id": "bench-anagrafe", "name": "Anagrafe (click day)",
		"address": "Corso Vittorio Emanuele II 84, Bari"}, http.StatusCreated); err != nil {
		return err
	}
	if err := s.adminDo("POST", "/admin/services", map[string]any{"id": clickdayService, "office_id": "bench-anagrafe",
		"name": "Carta d'identità elettronica", "duration_minutes": 15, "min_notice_minutes": 0, "horizon_days": clickdayDays,
		"cancel_cutoff_minutes": 0}, http.StatusCreated); err != nil {
		return err
	}
	var hours []map[string]any
	for wd := 1; wd <= 5; wd++ {
		hours = append(hours, map[string]any{"weekday": wd, "opens": "08:00", "closes": "18:00"})
	}
	if err := s.adminDo("PUT", "/admin/services/"+clickdayService+"/hours", map[string]any{"hours": hours}, http.StatusOK); err != nil {
		return err
	}
	for d := 1; d <= clickdayDesks; d++ {
		if err := s.adminDo("POST", "/admin/services/"+clickdayService+"/desks", map[string]any{"label": fmt.Sprintf("Postazione %d", d)}, http.StatusCreated); err != nil {
			return err
		}
	}
	return nil
}

// database connects to the stack's own PostgreSQL.
func (s *localStack) database(ctx context.Context, conns int) (*pgxpool.Pool, error) {
	return pgxpool.New(ctx, (&pg.Server{Port: s.pgPort}).URL(stack.Database)+"&pool_max_conns="+strconv.Itoa(conns))
}

// resetStatements starts PostgreSQL's count of statements afresh
// (sportello-local -profiles loads pg_stat_statements).
func (s *localStack) resetStatements() error {
	ctx := context.Background()
	db, err := s.database(ctx, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	if err == nil {
		_, err = db.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	}
	return err
}

// statements is a Markdown table of the n statements PostgreSQL spent
// the most time in since resetStatements.
func (s *localStack) statements(n int) (string, error) {
	ctx := context.Background()
	db, err := s.database(ctx, 1)
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.Query(ctx, `
		SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 110), toplevel, calls, total_exec_time,
		       total_exec_time / sum(total_exec_time) FILTER (WHERE toplevel) OVER ()
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| statement | calls | total | mean | share of the top-level time |\n|---|---:|---:|---:|---:|\n")
	for rows.Next() {
		var (
			query    string
			toplevel bool
			calls    int64
			total    float64 // milliseconds
			share    float64
		)
		if err := rows.Scan(&query, &toplevel, &calls, &total, &share); err != nil {
			return "", err
		}
		if !toplevel {
			query = "(inside a function) " + query
		}
		fmt.Fprintf(&b, "| `%s` | %d | %.1f s | %.0f µs | %.0f %% |\n", strings.ReplaceAll(query, "|", "\\|"), calls, total/1000, total*1000/float64(max(calls, 1)), 100*share)
	}
	return b.String(), rows.Err()
}

// overlaps counts the pairs of active bookings of one desk that overlap,
// and the confirmed bookings of the click day's service.
func (s *localStack) overlaps() (overlaps, confirmed int, err error) {
	ctx := context.Background()
	db, err := s.database(ctx, 2)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM bookings a JOIN bookings b
		ON a.desk_id = b.desk_id AND a.id < b.id AND a.blocks && b.blocks
		WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`).Scan(&overlaps); err != nil {
		return 0, 0, err
	}
	err = db.QueryRow(ctx, `SELECT count(*) FROM bookings WHERE service_id = $1 AND status = 'confirmed'`, clickdayService).Scan(&confirmed)
	return overlaps, confirmed, err
}

// allMailed is when Mailpit's count of messages reached the bookings (to
// a second; zero if it never did), and the stack's CPU used by then.
type allMailed struct {
	at  time.Time
	cpu cpuUse
}

// mailed waits until Mailpit holds at least want messages (or stops
// growing for 30 seconds) and counts the confirmations by recipient. It
// also answers when the count reached want.
func (s *localStack) mailed(want int) (map[string]int, allMailed, error) {
	var all allMailed
	base := s.env["MAILPIT_URL"]
	if base == "" {
		return nil, all, fmt.Errorf("the stack names no MAILPIT_URL")
	}
	type page struct {
		Total    int `json:"total"`
		Messages []struct {
			Subject string `json:"Subject"`
			To      []struct {
				Address string `json:"Address"`
			} `json:"To"`
		} `json:"messages"`
	}
	get := func(start, limit int) (page, error) {
		var p page
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/messages?start=%d&limit=%d", base, start, limit))
		if err != nil {
			return p, err
		}
		defer resp.Body.Close()
		return p, json.NewDecoder(resp.Body).Decode(&p)
	}
	last, since := -1, time.Now()
	for {
		p, err := get(0, 1)
		if err != nil {
			return nil, all, err
		}
		if p.Total != last {
			last, since = p.Total, time.Now()
		}
		if all.at.IsZero() && p.Total >= want {
			all = allMailed{at: time.Now(), cpu: s.cpu()}
		}
		// A little longer past the count: a mail sent twice would show.
		if (p.Total >= want && time.Since(since) > 3*time.Second) || time.Since(since) > 30*time.Second {
			break
		}
		time.Sleep(time.Second)
	}
	out := map[string]int{}
	for start := 0; ; start += 1000 {
		p, err := get(start, 1000)
		if err != nil {
			return nil, all, err
		}
		for _, m := range p.Messages {
			// Confirmations only: a booking run during opening hours may
			// be an hour away, and its reminder is a mail of its own.
			if !strings.HasPrefix(m.Subject, "Conferma prenotazione") && !strings.HasPrefix(m.Subject, "Booking confirmed") {
				continue
			}
			for _, to := range m.To {
				if strings.HasSuffix(to.Address, "@clickday.example.it") {
					out[to.Address]++
				}
			}
		}
		if len(p.Messages) < 1000 {
			return out, all, nil
		}
	}
}

// rooms counts the rooms on the stack's LiveKit, and among them those of
// bookings whose join window has not opened yet: rooms are made just in
// time, so a click day run during opening hours may leave the rooms of
// today's next appointments, but never one of a future booking.
func (s *localStack) rooms(ctx context.Context) (all, early int, err error) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	lk := lksdk.NewRoomServiceClient(s.env["LIVEKIT_URL"], s.env["LIVEKIT_API_KEY"], s.env["LIVEKIT_API_SECRET"])
	resp, err := lk.ListRooms(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	var names []string
	for _, r := range resp.GetRooms() {
		names = append(names, r.GetName())
	}
	if len(names) == 0 {
		return 0, 0, nil
	}
	db, err := s.database(ctx, 1)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	// A room no booking's window accounts for counts as early too.
	err = db.QueryRow(ctx, `SELECT $2 - count(*) FILTER (WHERE opens_at <= now()) FROM rooms WHERE name = ANY($1)`, names, len(names)).Scan(&early)
	return len(names), early, err
}

// bareBookings makes n bookings as bare SQL on the stack's PostgreSQL, from
// clients goroutines over conns connections: a contended insert into a
// table with the same exclusion constraint (the desk tried in turn), then
// an update and an outbox insert in one transaction — what a booking is to
// the database, without HTTP, functions or events.
func (s *localStack) bareBookings(n, clients, conns int) (result, error) {
	ctx := context.Background()
	db, err := s.database(ctx, conns)
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, desk int NOT NULL, blocks tstzrange NOT NULL,
		status text NOT NULL DEFAULT 'held', email text,
		EXCLUDE USING gist (desk WITH =, blocks WITH &&) WHERE (status IN ('held', 'confirmed')));
		CREATE TABLE bench_baseline_outbox (id uuid PRIMARY KEY, subject bigint NOT NULL, data jsonb NOT NULL)`); err != nil {
		return result{}, err
	}
	first := time.Now().AddDate(0, 0, 1).Truncate(time.Hour)
	r := drive(n, clients, func(i int) (bool, error) {
		// Ten citizens want each time, as the earliest are wanted most.
		at := first.Add(time.Duration(i/clickdayDesks) * 15 * time.Minute)
		for desk := 1; desk <= clickdayDesks; desk++ {
			var id int64
			err := db.QueryRow(ctx, `INSERT INTO bench_baseline (desk, blocks) VALUES ($1, tstzrange($2, $3)) ON CONFLICT DO NOTHING RETURNING id`,
				desk, at, at.Add(15*time.Minute)).Scan(&id)
			if err == pgx.ErrNoRows {
				continue
			}
			if err != nil {
				return false, err
			}
			return true, pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE bench_baseline SET status = 'confirmed', email = $2 WHERE id = $1 AND status = 'held'`,
					id, fmt.Sprintf("b%d@example.it", i)); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO bench_baseline_outbox (id, subject, data) VALUES (gen_random_uuid(), $1, jsonb_build_object('id', $1::bigint))`, id)
				return err
			})
		}
		return false, nil
	})
	if r.errors > 0 {
		return r, fmt.Errorf("the bare bookings failed %d times", r.errors)
	}
	return r, nil
}
