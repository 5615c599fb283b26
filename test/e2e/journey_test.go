// Package e2e drives Sportello end to end: it builds and starts the local
// stack (sportello-local: its own PostgreSQL, Mailpit, LiveKit and MinIO,
// every function as a process, the broker and the gateway) and walks a
// citizen's journey over HTTP through the gateway, as the site will.
//
// The stack starts its own servers in a temporary folder, on free ports:
// DATABASE_URL and the other variables that make test sets for the other
// packages are not used here.
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/stack"
)

// How long the test waits for the stack. The first start compiles every
// function, which takes minutes on a cold build cache.
const (
	startTimeout = 4 * time.Minute
	stopTimeout  = 60 * time.Second
)

// output collects the stack's console for the failure report and the
// personal-data check.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// localStack is a running sportello-local.
type localStack struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *output
	done    chan struct{}
	gateway string // http://127.0.0.1:PORT
	pgPort  int
	data    string
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := pg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startStack builds sportello-local and starts it on free ports with its
// data in a fresh temporary folder, then waits for GET /health to be 200.
func startStack(t *testing.T) *localStack {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its folders are private to root, and PostgreSQL runs
	// as the postgres user, which must reach the data folder.
	tmp, err := os.MkdirTemp("", "sportello-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "sportello-local")
	build := exec.Command("go", "build", "-o", bin, "./local/cmd/sportello-local")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build sportello-local: %v\n%s", err, out)
	}

	s := &localStack{t: t, out: &output{}, done: make(chan struct{}), pgPort: freePort(t), data: filepath.Join(tmp, "data")}
	port := freePort(t)
	s.gateway = fmt.Sprintf("http://127.0.0.1:%d", port)
	// Every other port 0: the stack picks free ones, so that the test runs
	// beside a `make run`.
	s.cmd = exec.Command(bin, "-data", s.data, "-bin", filepath.Join(tmp, "bin"),
		"-port", strconv.Itoa(port), "-pg-port", strconv.Itoa(s.pgPort),
		"-broker-port", "0", "-mailpit-smtp-port", "0", "-mailpit-port", "0",
		"-livekit-port", "0", "-livekit-tcp-port", "0", "-livekit-udp-port", "0",
		"-minio-port", "0", "-minio-console-port", "-1")
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
	if s.t.Failed() {
		s.t.Logf("the stack's output:\n%s", s.out)
	}
}

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
	slots struct {
		ServiceID       string `json:"service_id"`
		DurationMinutes int    `json:"duration_minutes"`
		TimeZone        string `json:"time_zone"`
		From            string `json:"from"`
		To              string `json:"to"`
		Days            []struct {
			Date  string `json:"date"`
			Slots []slot `json:"slots"`
		} `json:"days"`
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

// freeSlots answers GET /api/slots?service_id=sue, from today over 30 days.
func (s *localStack) freeSlots(t *testing.T) (slots, map[time.Time]int) {
	t.Helper()
	r := s.call("GET", "/api/slots?service_id=sue", nil, "")
	expect(t, "GET /api/slots", r, http.StatusOK)
	var out slots
	r.json(t, &out)
	free := map[time.Time]int{}
	for _, d := range out.Days {
		for _, sl := range d.Slots {
			free[sl.Start.UTC()] = sl.Free
		}
	}
	return out, free
}

func TestCitizenJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	s := startStack(t)

	// 1. The offices and their services, each with its duration.
	r := s.call("GET", "/api/offices", nil, "")
	expect(t, "GET /api/offices", r, http.StatusOK)
	var list struct {
		Offices []office `json:"offices"`
	}
	r.json(t, &list)
	offices := map[string]bool{}
	var sue *service
	for _, o := range list.Offices {
		offices[o.ID] = true
		for i, sv := range o.Services {
			if sv.ID == "sue" {
				sue = &o.Services[i]
			}
		}
	}
	for _, id := range []string{"urp", "ambiente", "urbanistica"} {
		if !offices[id] {
			t.Errorf("office %q missing from %s", id, r.body)
		}
	}
	if sue == nil || sue.OfficeID != "urbanistica" || sue.DurationMinutes != 30 {
		t.Fatalf("service sue = %+v, want urbanistica's, 30 minutes", sue)
	}

	// 2. The free slots, from today over 30 days.
	sl, _ := s.freeSlots(t)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(rome).Format(time.DateOnly)
	if sl.ServiceID != "sue" || sl.DurationMinutes != 30 || sl.TimeZone != "Europe/Rome" || sl.From != today {
		t.Errorf("slots header = %+v, want sue, 30 minutes, Europe/Rome, from %s", sl, today)
	}
	// Pick two free slots far enough past the 24 hours of notice (and of
	// cancellation cutoff) that the booking can still be changed while the
	// test runs.
	earliest := time.Now().Add(25 * time.Hour)
	var picks []slot
	for _, d := range sl.Days {
		for _, x := range d.Slots {
			if x.Start.After(earliest) && len(picks) < 2 {
				if !x.End.Equal(x.Start.Add(30 * time.Minute)) {
					t.Errorf("slot %s–%s is not 30 minutes long", x.Start, x.End)
				}
				picks = append(picks, x)
			}
		}
	}
	if len(picks) < 2 {
		t.Fatalf("fewer than two free slots in 30 days: %s", r.body)
	}
	first, second := picks[0], picks[1]
	t.Logf("booking %s, then moving it to %s", first.Start, second.Start)

	// 3. Hold the first slot.
	r = s.call("POST", "/api/holds", map[string]string{"service_id": "sue", "start": first.Start.Format(time.RFC3339)}, "")
	expect(t, "POST /api/holds", r, http.StatusCreated)
	var h hold
	r.json(t, &h)
	if h.HoldID == "" || h.HoldSecret == "" || !h.ExpiresAt.After(time.Now()) || !h.Start.Equal(first.Start) {
		t.Fatalf("hold = %s", r.body)
	}
	if _, after := s.freeSlots(t); after[first.Start.UTC()] != first.Free-1 {
		t.Errorf("held slot has %d free desks, want %d", after[first.Start.UTC()], first.Free-1)
	}

	// 4. Confirm it with the citizen's data.
	who := citizen{GivenName: "Nicola", FamilyName: "Lorusso-E2E", Address: "Via Sparano da Bari 1, 70121 Bari",
		Email: "nicola.lorusso.e2e@example.it", Reason: "Pratica edilizia", Details: "CILA n. 123/2027",
		PrivacyConsent: true, Locale: "it"}
	r = s.call("POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret, "citizen": who}, "")
	expect(t, "POST /api/bookings", r, http.StatusCreated)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST /api/bookings: Cache-Control %q, want no-store", cc)
	}
	var b booking
	r.json(t, &b)
	if b.BookingID == "" || b.ManageToken == "" || b.Status != "confirmed" || !b.Start.Equal(first.Start) {
		t.Fatalf("booking = %s", r.body)
	}
	if b.BookingID != h.HoldID {
		t.Errorf("booking_id %s, want the hold's id %s", b.BookingID, h.HoldID)
	}

	// 5. The manage link shows the booking with the citizen's data.
	r = s.call("GET", "/api/manage", nil, b.ManageToken)
	expect(t, "GET /api/manage", r, http.StatusOK)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /api/manage: Cache-Control %q, want no-store", cc)
	}
	var seen booking
	r.json(t, &seen)
	if seen.BookingID != b.BookingID || seen.Status != "confirmed" || seen.Citizen != who {
		t.Errorf("GET /api/manage = %s", r.body)
	}

	// 6. A tampered token is a plain 404.
	tampered := []byte(b.ManageToken)
	if i := len(tampered) / 2; tampered[i] == 'A' { // still well-formed: only the hash differs
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	r = s.call("GET", "/api/manage", nil, string(tampered))
	expect(t, "GET /api/manage with a tampered token", r, http.StatusNotFound)
	var p problem
	r.json(t, &p)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" || p.Code != "not_found" || p.Status != 404 {
		t.Errorf("tampered token: %s %s", ct, r.body)
	}

	// 7. Reschedule to the second slot: the first is free again.
	r = s.call("POST", "/api/manage/reschedule", map[string]string{"start": second.Start.Format(time.RFC3339)}, b.ManageToken)
	expect(t, "POST /api/manage/reschedule", r, http.StatusOK)
	var moved booking
	r.json(t, &moved)
	if moved.Sequence != 1 || !moved.Start.Equal(second.Start) || moved.Status != "confirmed" {
		t.Errorf("rescheduled = %s, want sequence 1 at %s", r.body, second.Start)
	}
	_, after := s.freeSlots(t)
	if after[first.Start.UTC()] != first.Free {
		t.Errorf("the old slot has %d free desks, want %d again", after[first.Start.UTC()], first.Free)
	}
	if after[second.Start.UTC()] != second.Free-1 {
		t.Errorf("the new slot has %d free desks, want %d", after[second.Start.UTC()], second.Free-1)
	}

	// 8. Cancel.
	r = s.call("POST", "/api/manage/cancel", nil, b.ManageToken)
	expect(t, "POST /api/manage/cancel", r, http.StatusOK)
	var cancelled booking
	r.json(t, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Errorf("cancelled = %s", r.body)
	}
	if _, after := s.freeSlots(t); after[second.Start.UTC()] != second.Free {
		t.Errorf("the cancelled slot has %d free desks, want %d again", after[second.Start.UTC()], second.Free)
	}

	// 9. An unknown API path is a problem from the gateway.
	r = s.call("GET", "/api/nothing-here", nil, "")
	expect(t, "GET /api/nothing-here", r, http.StatusNotFound)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("unknown API path: Content-Type %q", ct)
	}

	// 10. Every step reached the broker once, from the function that made
	// the change.
	wantSource := map[string]string{
		events.BookingHeld:        "/sportello/reserve",
		events.BookingConfirmed:   "/sportello/confirm",
		events.BookingRescheduled: "/sportello/amend",
		events.BookingCancelled:   "/sportello/amend",
	}
	var evs []event
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.call("GET", "/_local/events?subject="+b.BookingID, nil, "")
		expect(t, "GET /_local/events", r, http.StatusOK)
		evs = nil
		r.json(t, &evs)
		types := map[string]bool{}
		for _, e := range evs {
			if _, wanted := wantSource[e.Type]; wanted {
				types[e.Type] = true
			}
		}
		if len(types) == len(wantSource) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the broker's event log holds %d of the booking's 4 event types: %s", len(types), r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	count := map[string]int{}
	for _, e := range evs {
		if _, wanted := wantSource[e.Type]; !wanted {
			continue // what the consumers emitted in turn (rooms, ...)
		}
		count[e.Type]++
		typ, ok := events.Lookup(e.Type)
		if !ok {
			t.Errorf("event %s has unknown type %q", e.ID, e.Type)
			continue
		}
		if e.Source != wantSource[e.Type] || e.Subject != b.BookingID || e.ID == "" || e.Time == nil || e.DataSchema != typ.DataSchema() {
			t.Errorf("event %+v: want source %s, subject %s, dataschema %s", e, wantSource[e.Type], b.BookingID, typ.DataSchema())
		}
		var data events.Booking
		if err := json.Unmarshal(e.Data, &data); err != nil || data.BookingID != b.BookingID || data.ServiceID != "sue" {
			t.Errorf("event %s data = %s (%v)", e.Type, e.Data, err)
		}
		for _, personal := range []string{who.Email, who.FamilyName, who.Address} {
			if bytes.Contains(e.Data, []byte(personal)) {
				t.Errorf("event %s carries personal data: %s", e.Type, e.Data)
			}
		}
	}
	for typ := range wantSource {
		if count[typ] != 1 {
			t.Errorf("%d events of type %s, want exactly 1", count[typ], typ)
		}
	}

	// 11. Ctrl-C stops everything: exit 0, PostgreSQL gone.
	s.stop(t)
	for _, personal := range []string{who.Email, who.FamilyName, who.Address, b.ManageToken, h.HoldSecret} {
		if strings.Contains(s.out.String(), personal) {
			t.Errorf("the stack's output (the functions' logs) carries personal data or a secret: %q", personal)
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
