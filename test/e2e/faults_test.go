package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/clienttest"
)

// faultTimeout is the stack's DATABASE_TIMEOUT in the fault test: no
// request may take much longer, whatever is down.
const faultTimeout = 2 * time.Second

// TestFaultsSurvived stops the servers the functions depend on, one at a
// time, on one stack (POST /_local/servers/{name}/stop and start), and
// crashes a consumer after it committed:
//
//   - PostgreSQL restarted during a load of citizens holding and confirming:
//     every answer is a success, a conflict or a 503 problem+json with
//     Retry-After, within DATABASE_TIMEOUT; readiness fails while it is down
//     and liveness does not; the functions recover by themselves; every
//     confirmed booking has exactly one confirmation mail and one
//     booking.confirmed event, and no two overlap;
//   - Mailpit killed and started again: the mail arrives, once;
//   - LiveKit stopped: join answers 503 with Retry-After, then works;
//   - MinIO stopped: completing an upload answers 503, then works;
//   - send-email killed after it committed a mail and before it answered
//     the broker (FAULT_CRASH_DIR): started again, it gets the event again
//     and sends nothing more.
func TestFaultsSurvived(t *testing.T) {
	crashDir, err := os.MkdirTemp("", "sportello-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(crashDir) })
	s := startStack(t, stackOptions{
		// The broker retries within a second or so (a mail's nine attempts
		// span about 50s), and starts a function that dies again.
		Args: []string{"-tick", "0", "-backoff-scale", "0.2", "-restart"},
		Env: []string{"DATABASE_TIMEOUT=" + faultTimeout.String(), "SMTP_TIMEOUT=1s", "OUTBOX_SWEEP=2s",
			"FAULT_CRASH_DIR=" + crashDir,
			"HOLDS_PER_MINUTE_PER_CLIENT=100000", "HOLDS_PER_MINUTE_PER_ADDRESS=100000"},
		Faults: true,
	})
	env := s.services(t)
	mail := &mailpit{t: t, url: strings.TrimRight(env["MAILPIT_URL"], "/")}
	run := randomHex(t, 4)
	addNowService(t, s.databaseURL())

	t.Run("postgres", func(t *testing.T) { s.postgresRestarted(t, mail, run) })
	t.Run("mailpit", func(t *testing.T) {
		who := faultCitizen("mailpit", run)
		sl, _ := s.freeSlots(t, "acque-reflue")
		s.control(t, "mailpit", "stop")
		s.book(t, "acque-reflue", sl.after(time.Now().Add(25 * time.Hour))[0].Start, who)
		time.Sleep(3 * time.Second) // a few attempts fail
		s.control(t, "mailpit", "start")
		s.mailedOnce(t, mail, who.Email)
	})

	// A booking whose room is open now, for LiveKit and MinIO.
	nowSlots, _ := s.freeSlots(t, nowService)
	soon := nowSlots.after(time.Now().Add(2 * time.Minute))
	if len(soon) == 0 || soon[0].Start.After(time.Now().Add(9*time.Minute)) {
		t.Fatalf("no slot of the zero-notice service within 9 minutes: %+v", nowSlots)
	}
	teresa := faultCitizen("room", run)
	s.book(t, nowService, soon[0].Start, teresa)
	_, roomTok := newLinks(env["PUBLIC_URL"]).tokens(t, mail.wait(teresa.Email, "Conferma prenotazione"))

	t.Run("livekit", func(t *testing.T) {
		s.control(t, "livekit", "stop")
		start := time.Now()
		r := s.call("POST", "/api/join", nil, roomTok)
		unavailable(t, "POST /api/join with LiveKit down", r, time.Since(start))
		s.control(t, "livekit", "start")
		expect(t, "POST /api/join with LiveKit back", s.call("POST", "/api/join", nil, roomTok), http.StatusOK)
	})
	t.Run("minio", func(t *testing.T) {
		r := s.call("POST", "/api/documents", map[string]any{"filename": "pianta.pdf", "content_type": "application/pdf", "size": len(chainPDF)}, roomTok)
		expect(t, "POST /api/documents", r, http.StatusCreated)
		var up upload
		r.json(t, &up)
		complete := "/api/documents/" + up.DocumentID + "/complete"
		s.control(t, "minio", "stop")
		start := time.Now()
		r = s.call("POST", complete, nil, roomTok)
		unavailable(t, "POST "+complete+" with MinIO down", r, time.Since(start))
		s.control(t, "minio", "start")
		if res := postForm(t, up.Upload.URL, up.Upload.Fields, "pianta.pdf", chainPDF); res.status != http.StatusNoContent {
			t.Fatalf("upload with MinIO back: %d: %s", res.status, res.body)
		}
		expect(t, "POST "+complete+" with MinIO back", s.call("POST", complete, nil, roomTok), http.StatusOK)
	})
	t.Run("consumer crash after commit", func(t *testing.T) {
		armed := filepath.Join(crashDir, "send-email")
		if err := os.WriteFile(armed, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		who := faultCitizen("crash", run)
		sl, _ := s.freeSlots(t, "acque-reflue")
		s.book(t, "acque-reflue", sl.after(time.Now().Add(25 * time.Hour))[0].Start, who)
		s.mailedOnce(t, mail, who.Email)
		if _, err := os.Stat(armed); !os.IsNotExist(err) {
			t.Fatal("send-email did not crash: the armed file is still there")
		}
		if !strings.Contains(s.out.String(), "msg=\"started again\" function=send-email") {
			t.Error("the stack did not start send-email again")
		}
	})
	s.noDeadLetters(t)
}

// faultCitizen is a citizen with an address of its own in run.
func faultCitizen(name, run string) citizen {
	return citizen{GivenName: "Fault", FamilyName: name, Address: "Via Sparano 1, Bari",
		Email: name + "." + run + "@example.it", PrivacyConsent: true, Locale: "it"}
}

// postgresRestarted runs citizens holding and confirming while PostgreSQL
// stops and starts again, then counts the bookings, events and mails.
func (s *localStack) postgresRestarted(t *testing.T, mail *mailpit, run string) {
	// Every free slot a day ahead of three services: the citizens pick
	// at random, so that some race for one.
	services := map[time.Time]string{}
	var starts []time.Time
	for _, service := range []string{"sue", "paesaggio", "piani-lottizzazione"} {
		sl, _ := s.freeSlots(t, service)
		for _, x := range sl.after(time.Now().Add(25 * time.Hour)) {
			if _, taken := services[x.Start]; !taken {
				services[x.Start] = service
				starts = append(starts, x.Start)
			}
		}
	}
	reserve := s.functionURL(t, "reserve")

	var (
		mu        sync.Mutex
		statuses  = map[string]int{}
		confirmed = map[string]bool{}
		slowest   time.Duration
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	record := func(what string, r response, took time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		statuses[fmt.Sprintf("%s %d", what, r.status)]++
		slowest = max(slowest, took)
		switch {
		case r.status == http.StatusServiceUnavailable:
			unavailable(t, what, r, took)
		case r.status >= 500 || r.status == 0:
			t.Errorf("%s: %d after %s: %s", what, r.status, took, r.body)
		case took > faultTimeout+3*time.Second:
			t.Errorf("%s: answered after %s", what, took)
		}
		return r.status < 300
	}
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := starts[rand.IntN(len(starts))]
				t0 := time.Now()
				r := s.try("POST", "/api/holds", map[string]string{"service_id": services[start], "start": start.Format(time.RFC3339)})
				if !record("hold", r, time.Since(t0)) {
					if r.status == http.StatusServiceUnavailable {
						time.Sleep(200 * time.Millisecond)
					}
					continue
				}
				var h hold
				if err := json.Unmarshal(r.body, &h); err != nil {
					t.Errorf("hold %s: %v", r.body, err)
					continue
				}
				who := faultCitizen(fmt.Sprintf("load%d-%d", w, i), run)
				t0 = time.Now()
				r = s.try("POST", "/api/bookings", map[string]any{"hold_id": h.HoldID, "hold_secret": h.HoldSecret, "citizen": who})
				if record("confirm", r, time.Since(t0)) {
					mu.Lock()
					confirmed[h.HoldID] = true
					mu.Unlock()
				}
			}
		}()
	}

	time.Sleep(2 * time.Second)
	s.control(t, "postgres", "stop")
	stopped := time.Now()
	// Readiness fails, liveness does not.
	clienttest.Eventually(t, 5*time.Second, "the gateway's /health still says every function is ready", func() bool {
		return s.try("GET", "/health", nil).status == http.StatusServiceUnavailable
	})
	if r := httpGet(t, reserve+"/health/readiness"); r.status != http.StatusServiceUnavailable {
		t.Errorf("reserve's readiness with PostgreSQL down: %d, want 503", r.status)
	}
	if r := httpGet(t, reserve+"/health/liveness"); r.status != http.StatusOK {
		t.Errorf("reserve's liveness with PostgreSQL down: %d, want 200", r.status)
	}
	time.Sleep(3 * time.Second)
	s.control(t, "postgres", "start")
	t.Logf("PostgreSQL down for %s", time.Since(stopped).Round(100*time.Millisecond))
	clienttest.Eventually(t, 15*time.Second, "the functions are not all ready again", func() bool {
		return s.try("GET", "/health", nil).status == http.StatusOK
	})
	time.Sleep(3 * time.Second) // the load goes on, recovered
	close(stop)
	wg.Wait()
	t.Logf("answers: %v; slowest %s", statuses, slowest.Round(time.Millisecond))
	if statuses["hold 503"]+statuses["confirm 503"] == 0 {
		t.Error("no request met PostgreSQL down")
	}
	if statuses["confirm 201"] == 0 {
		t.Fatal("no booking confirmed")
	}
	s.countAfterOutage(t, mail, run, confirmed)
}

// countAfterOutage checks, from SQL, the broker and Mailpit, that no
// booking, event or mail of the load in run was lost or doubled.
func (s *localStack) countAfterOutage(t *testing.T, mail *mailpit, run string, answered map[string]bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.databaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id::text, email FROM bookings WHERE status = 'confirmed' AND email LIKE $1`, "%."+run+"@example.it")
	if err != nil {
		t.Fatal(err)
	}
	emails := map[string]string{}
	for rows.Next() {
		var id, email string
		if err := rows.Scan(&id, &email); err != nil {
			t.Fatal(err)
		}
		emails[id] = email
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range answered {
		if emails[id] == "" {
			t.Errorf("booking %s was confirmed (201) and is not confirmed in the database", id)
		}
	}
	var overlaps int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM bookings a JOIN bookings b
		ON a.desk_id = b.desk_id AND a.id < b.id AND a.blocks && b.blocks
		WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`).Scan(&overlaps); err != nil {
		t.Fatal(err)
	}
	if overlaps != 0 {
		t.Errorf("%d overlapping bookings", overlaps)
	}
	var unevented int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM bookings b WHERE b.status = 'confirmed' AND b.email LIKE $1
		AND (SELECT count(*) FROM outbox o WHERE o.type = $2 AND o.subject = b.id::text) <> 1`,
		"%."+run+"@example.it", events.BookingConfirmed).Scan(&unevented); err != nil {
		t.Fatal(err)
	}
	if unevented != 0 {
		t.Errorf("%d confirmed bookings without exactly one booking.confirmed event in the outbox", unevented)
	}
	t.Logf("%d bookings confirmed under the load (%d answered 201)", len(emails), len(answered))
	// Every mail arrives, once.
	deadline := time.Now().Add(60 * time.Second)
	for id, email := range emails {
		for len(mail.search(email)) == 0 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if n := len(mail.search(email)); n != 1 {
			t.Errorf("booking %s: %d mails, want exactly 1", id, n)
		}
	}
}

// mailedOnce waits for the confirmation to email and checks, a little
// later, that it came once.
func (s *localStack) mailedOnce(t *testing.T, mail *mailpit, email string) {
	t.Helper()
	mail.wait(email, "Conferma prenotazione")
	time.Sleep(3 * time.Second) // a duplicate would arrive by now
	if n := len(mail.search(email)); n != 1 {
		t.Fatalf("%d mails to %s, want exactly 1", n, email)
	}
}

// control stops or starts one of the stack's servers.
func (s *localStack) control(t *testing.T, server, action string) {
	t.Helper()
	expect(t, action+" "+server, s.call("POST", "/_local/servers/"+server+"/"+action, nil, ""), http.StatusNoContent)
}

// try is call for the load's goroutines: it never stops the test, and a
// request that fails has status 0.
func (s *localStack) try(method, path string, body any) response {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.gateway+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return response{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// unavailable checks a 503 problem+json with Retry-After, answered within
// the stack's DATABASE_TIMEOUT and a margin.
func unavailable(t *testing.T, what string, r response, took time.Duration) {
	t.Helper()
	var p problem
	switch {
	case r.status != http.StatusServiceUnavailable:
		t.Errorf("%s: %d, want 503: %s", what, r.status, r.body)
	case r.header.Get("Content-Type") != "application/problem+json" || r.header.Get("Retry-After") == "":
		t.Errorf("%s: 503 with Content-Type %q and Retry-After %q, want problem+json with Retry-After", what, r.header.Get("Content-Type"), r.header.Get("Retry-After"))
	case took > faultTimeout+3*time.Second:
		t.Errorf("%s: 503 after %s", what, took)
	default:
		r.json(t, &p)
		if p.Code != "unavailable" {
			t.Errorf("%s: code %q, want unavailable", what, p.Code)
		}
	}
}

// functionURL is where the stack's function called name serves, as the
// stack's console says it.
func (s *localStack) functionURL(t *testing.T, name string) string {
	t.Helper()
	re := regexp.MustCompile(`msg=ready function=` + name + ` url=(http://127\.0\.0\.1:\d+)`)
	var m []string
	clienttest.Eventually(t, 10*time.Second, "the stack's console does not say where "+name+" serves", func() bool {
		m = re.FindStringSubmatch(s.out.String())
		return m != nil
	})
	return m[1]
}
