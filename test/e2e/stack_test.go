// Package e2e drives Sportello end to end: it builds and starts the local
// stack (sportello-local: its own PostgreSQL, Mailpit, LiveKit and MinIO,
// every function as a process, the broker and the gateway) and walks a
// citizen's journey over HTTP through the gateway, as the site will.
//
// The stack starts its own servers in a temporary folder, on free ports:
// DATABASE_URL and the other variables that make test sets for the other
// packages are not used here. GET /_local/services tells a test where the
// stack's own servers are.
//
// This file holds what the tests share: starting and stopping the stack,
// calling the API, and the API's shapes.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/stack"
	"github.com/sportello/sportello/local/syncbuf"
)

// How long the test waits for the stack. The first start compiles every
// function, which takes minutes on a cold build cache.
const (
	startTimeout = 4 * time.Minute
	stopTimeout  = 60 * time.Second
)

// localStack is a running sportello-local.
type localStack struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *syncbuf.Buffer // the stack's console, for the failure report and the personal-data check
	done    chan struct{}
	gateway string // http://127.0.0.1:PORT
	pgPort  int
	data    string
	faults  bool // the test injects faults: 5xx answers are expected
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := pg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stackOptions change how a test's stack runs.
type stackOptions struct {
	Args []string // more flags for sportello-local, e.g. -tick 2s
	Env  []string // more variables, which the functions inherit (e.g. MAX_DOCUMENT_BYTES)
	// Faults says the test breaks a dependency on purpose, so that the
	// functions' 503s are expected; any other test fails on any 5xx, and
	// every test on a 500.
	Faults bool
}

// startStack builds sportello-local and starts it on free ports with its
// data in a fresh temporary folder, then waits for GET /health to be 200.
// In -short mode it skips the test instead.
func startStack(t *testing.T, opts stackOptions) *localStack {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	root, err := stack.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): PostgreSQL runs as the postgres user, which must
	// reach the data folder.
	tmp, err := pg.TempDir("sportello-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	bin := filepath.Join(tmp, "sportello-local")
	build := exec.Command("go", "build", "-o", bin, "./local/cmd/sportello-local")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build sportello-local: %v\n%s", err, out)
	}

	s := &localStack{t: t, out: &syncbuf.Buffer{}, done: make(chan struct{}), pgPort: freePort(t), data: filepath.Join(tmp, "data"), faults: opts.Faults}
	port := freePort(t)
	s.gateway = fmt.Sprintf("http://127.0.0.1:%d", port)
	// Every other port 0: the stack picks free ones, so that the test runs
	// beside a `make run`.
	s.cmd = exec.Command(bin, "-data", s.data, "-bin", filepath.Join(tmp, "bin"),
		"-port", strconv.Itoa(port), "-pg-port", strconv.Itoa(s.pgPort),
		"-broker-port", "0", "-mailpit-smtp-port", "0", "-mailpit-port", "0",
		"-livekit-port", "0", "-livekit-tcp-port", "0", "-livekit-udp-port", "0",
		"-minio-port", "0", "-minio-console-port", "-1")
	s.cmd.Args = append(s.cmd.Args, opts.Args...)
	s.cmd.Env = append(stackEnv(), opts.Env...)
	s.cmd.Dir = root
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.cleanup)

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get(s.gateway + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("sportello-local exited while starting (%v)", s.cmd.ProcessState)
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /health was not 200 within %s", startTimeout)
		}
	}
}

// inherited are variables the functions read that the stack does not set:
// taken from the test's environment (a developer's shell), they would
// point the stack's functions at other servers.
var inherited = []string{"LIVEKIT_PUBLIC_URL", "S3_PUBLIC_ENDPOINT"}

// stackEnv is the test's environment without the inherited variables.
func stackEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(inherited, k) {
			env = append(env, kv)
		}
	}
	return env
}

// cleanup stops a stack the test left running and, if it had to kill it,
// the PostgreSQL it leaves behind. When the test failed, it logs the
// stack's output.
func (s *localStack) cleanup() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.data, "pgdata", "postmaster.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
	}
	expect := serverErrors
	if s.faults {
		expect = bare500s
	}
	for _, line := range expect.FindAllString(s.out.String(), 5) {
		s.t.Errorf("a function answered a 5xx, which is our fault, never the client's: %s", line)
	}
	if s.t.Failed() {
		s.t.Logf("the stack's output:\n%s", s.out)
	}
}

// serverErrors finds the functions' access-log lines of 5xx answers;
// bare500s those of a 500, which not even a dependency down excuses: that
// is a 503 with Retry-After, to a citizen as to the broker.
var (
	serverErrors = regexp.MustCompile(`.*"msg":"request".*"status":5\d\d.*`)
	bare500s     = regexp.MustCompile(`.*"msg":"request".*"status":500.*`)
)

// response is an HTTP answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends a request through the gateway. body is marshalled as JSON when
// not nil; token, when not empty, goes in Authorization: Bearer.
func (s *localStack) call(method, path string, body any, token string) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.gateway+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless the answer has the status.
func expect(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
}

// API shapes, as the functions answer them.
type (
	office struct {
		ID       string    `json:"id"`
		Name     string    `json:"name"`
		Services []service `json:"services"`
	}
	service struct {
		ID              string `json:"id"`
		OfficeID        string `json:"office_id"`
		Name            string `json:"name"`
		DurationMinutes int    `json:"duration_minutes"`
	}
	slot struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Free  int       `json:"free"`
	}
	// slots is a calendar with each day's slots, their ends worked out.
	slots struct {
		calendarHead
		Days []slotDay
	}
	slotDay struct {
		Date  string
		Slots []slot
	}
	hold struct {
		HoldID     string    `json:"hold_id"`
		HoldSecret string    `json:"hold_secret"`
		ExpiresAt  time.Time `json:"expires_at"`
		ServiceID  string    `json:"service_id"`
		Start      time.Time `json:"start"`
	}
	citizen struct {
		GivenName      string `json:"given_name"`
		FamilyName     string `json:"family_name"`
		Address        string `json:"address"`
		Email          string `json:"email"`
		Reason         string `json:"reason"`
		Details        string `json:"details"`
		PrivacyConsent bool   `json:"privacy_consent"`
		Locale         string `json:"locale"`
	}
	booking struct {
		BookingID   string    `json:"booking_id"`
		Status      string    `json:"status"`
		ServiceID   string    `json:"service_id"`
		Start       time.Time `json:"start"`
		End         time.Time `json:"end"`
		Sequence    int       `json:"sequence"`
		Citizen     citizen   `json:"citizen"`
		ManageToken string    `json:"manage_token"`
	}
	problem struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	event struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Source     string          `json:"source"`
		Subject    string          `json:"subject"`
		Time       *time.Time      `json:"time"`
		DataSchema string          `json:"dataschema"`
		Data       json.RawMessage `json:"data"`
	}
)

// calendar is GET /api/slots as query-slots answers it: per day the free
// start times ("09:00+01:00") and the free desks of each.
type calendar struct {
	calendarHead
	Days []struct {
		Date  string   `json:"date"`
		Times []string `json:"times"`
		Free  []int    `json:"free"`
	} `json:"days"`
}

// calendarHead is what a calendar says of itself.
type calendarHead struct {
	ServiceID       string `json:"service_id"`
	DurationMinutes int    `json:"duration_minutes"`
	TimeZone        string `json:"time_zone"`
	From            string `json:"from"`
	To              string `json:"to"`
}

// freeSlots answers GET /api/slots?service_id=ID, from today over 30 days
// (or the service's horizon), as slots with their ends, and the free desks
// by start.
func (s *localStack) freeSlots(t *testing.T, serviceID string) (slots, map[time.Time]int) {
	t.Helper()
	r := s.call("GET", "/api/slots?service_id="+serviceID, nil, "")
	expect(t, "GET /api/slots", r, http.StatusOK)
	var c calendar
	r.json(t, &c)
	out := slots{calendarHead: c.calendarHead}
	free := map[time.Time]int{}
	for _, d := range c.Days {
		if len(d.Free) != len(d.Times) {
			t.Fatalf("GET /api/slots: %s has %d times and %d free counts", d.Date, len(d.Times), len(d.Free))
		}
		day := slotDay{Date: d.Date}
		for i, hm := range d.Times {
			start, err := time.Parse("2006-01-02T15:04Z07:00", d.Date+"T"+hm)
			if err != nil {
				t.Fatalf("GET /api/slots: time %q of %s: %v", hm, d.Date, err)
			}
			end := start.Add(time.Duration(c.DurationMinutes) * time.Minute)
			day.Slots = append(day.Slots, slot{Start: start, End: end, Free: d.Free[i]})
			free[start.UTC()] = d.Free[i]
		}
		out.Days = append(out.Days, day)
	}
	return out, free
}

// after is the free slots that start after t, earliest first.
func (sl slots) after(t time.Time) []slot {
	var out []slot
	for _, d := range sl.Days {
		for _, x := range d.Slots {
			if x.Start.After(t) {
				out = append(out, x)
			}
		}
	}
	return out
}

// calendarMaxAge is how stale query-slots may answer (CALENDAR_MAX_AGE).
const calendarMaxAge = time.Second

// freeSoon answers the free desks by start once ok accepts them, asking
// again for a little longer than calendarMaxAge: a hold, a booking or a
// cancellation must show in the calendar within that bound.
func (s *localStack) freeSoon(t *testing.T, serviceID string, ok func(free map[time.Time]int) bool) map[time.Time]int {
	t.Helper()
	deadline := time.Now().Add(calendarMaxAge + 2*time.Second)
	for {
		_, free := s.freeSlots(t, serviceID)
		if ok(free) || time.Now().After(deadline) {
			return free
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopClean stops the stack (see stop), then checks that nothing it wrote
// carries any of secrets: the personal data and the tokens a test met.
func (s *localStack) stopClean(t *testing.T, secrets []string) {
	t.Helper()
	s.stop(t)
	out := s.out.String()
	for _, p := range secrets {
		if p != "" && strings.Contains(out, p) {
			t.Errorf("the stack's output carries personal data or a secret: %q", p)
		}
	}
}

// stop sends SIGINT, as Ctrl-C does, and checks the stack exits 0 within
// stopTimeout leaving PostgreSQL and the gateway stopped.
func (s *localStack) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		t.Fatalf("sportello-local did not stop within %s after SIGINT", stopTimeout)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("sportello-local exited %d after SIGINT, want 0", code)
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", s.pgPort), strings.TrimPrefix(s.gateway, "http://")} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the stack stopped", addr)
		}
	}
}

// services answers GET /_local/services: the variables the functions get
// (LIVEKIT_*, S3_*, MAILPIT_URL, PUBLIC_URL, ...).
func (s *localStack) services(t *testing.T) map[string]string {
	t.Helper()
	r := s.call("GET", "/_local/services", nil, "")
	expect(t, "GET /_local/services", r, http.StatusOK)
	var env map[string]string
	r.json(t, &env)
	return env
}

// databaseURL is the stack's own database, as the banner prints it.
func (s *localStack) databaseURL() string {
	return (&pg.Server{Port: s.pgPort}).URL(stack.Database)
}
