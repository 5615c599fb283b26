package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMailSurvivesSMTPOutage: with the SMTP server frozen, the confirmation
// mail is retried by the broker and arrives exactly once when SMTP is back;
// an outage longer than every retry leaves the event in the dead letters,
// visible, never silently dropped.
func TestMailSurvivesSMTPOutage(t *testing.T) {
	// Each attempt waits at most a second for the SMTP greeting; the broker's
	// retry delays are scaled down, so nine attempts take about ten seconds.
	s := startStack(t, stackOptions{
		Args:   []string{"-tick", "0", "-backoff-scale", "0.05"},
		Env:    []string{"SMTP_TIMEOUT=1s"},
		Faults: true, // send-email answers 503 while SMTP is frozen, so the broker retries
	})
	env := s.services(t)
	mail := &mailpit{t: t, url: strings.TrimRight(env["MAILPIT_URL"], "/")}
	pid := mailpitPID(t, env["SMTP_PORT"])
	freeze := func() {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	thaw := func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(thaw)

	sl, _ := s.freeSlots(t, "sue")
	free := sl.after(time.Time{})
	if len(free) < 2 {
		t.Fatalf("fewer than two free sue slots: %+v", sl)
	}
	run := randomHex(t, 4)
	person := func(name string) citizen {
		return citizen{GivenName: name, FamilyName: "Outage-" + run, Address: "Via Argiro 1, Bari",
			Email: strings.ToLower(name) + "." + run + "@example.it", PrivacyConsent: true, Locale: "it"}
	}

	// A short outage: two or three failed attempts, then SMTP is back.
	anna := person("Anna")
	freeze()
	annaBooking, _ := s.book(t, "sue", free[0].Start, anna)
	time.Sleep(3 * time.Second)
	if n := s.deadLettersFor(t, annaBooking.BookingID); n != 0 {
		t.Fatalf("dead-lettered after a 3-second outage: %d", n)
	}
	thaw()
	mail.wait(anna.Email, "Conferma prenotazione")
	time.Sleep(3 * time.Second) // any duplicate would arrive by now
	if got := len(mail.search(anna.Email)); got != 1 {
		t.Fatalf("%d mails to the citizen after the outage, want exactly 1", got)
	}
	if n := s.deadLettersFor(t, annaBooking.BookingID); n != 0 {
		t.Fatalf("%d dead letters after the mail went out", n)
	}

	// An outage longer than every retry: the event is a dead letter.
	bruno := person("Bruno")
	freeze()
	brunoBooking, _ := s.book(t, "sue", free[1].Start, bruno)
	deadline := time.Now().Add(60 * time.Second)
	for s.deadLettersFor(t, brunoBooking.BookingID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undeliverable confirmation did not reach the dead letters within 60s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	thaw()
	time.Sleep(2 * time.Second)
	if got := len(mail.search(bruno.Email)); got != 0 {
		t.Fatalf("%d mails for a dead-lettered event, want 0 until it is replayed", got)
	}
}

// deadLettersFor counts send-email's dead letters about one booking.
func (s *localStack) deadLettersFor(t *testing.T, bookingID string) int {
	t.Helper()
	r := s.call("GET", "/_local/dead-letters", nil, "")
	expect(t, "GET /_local/dead-letters", r, http.StatusOK)
	var letters []struct {
		Trigger  string `json:"trigger"`
		Attempts int    `json:"attempts"`
		Event    event  `json:"event"`
	}
	r.json(t, &letters)
	n := 0
	for _, l := range letters {
		if l.Event.Subject == bookingID && strings.HasPrefix(l.Trigger, "send-email-") {
			if l.Attempts < 2 {
				t.Errorf("dead letter after %d attempts: the broker did not retry", l.Attempts)
			}
			n++
		}
	}
	return n
}

// mailpitPID finds the Mailpit process listening for SMTP on port.
func mailpitPID(t *testing.T, port string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "mailpit" {
			continue
		}
		for i, a := range args {
			if (a == "--smtp" && i+1 < len(args) && strings.HasSuffix(args[i+1], ":"+port)) || a == "--smtp=127.0.0.1:"+port {
				var pid int
				fmt.Sscanf(strings.Split(p, "/")[2], "%d", &pid)
				return pid
			}
		}
	}
	t.Fatalf("no Mailpit process with SMTP on port %s", port)
	return 0
}
