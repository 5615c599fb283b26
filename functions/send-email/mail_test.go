package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/clienttest"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// TestDates: days and times as the mails write them, in Italian and
// English, on both sides of the change to summer time.
func TestDates(t *testing.T) {
	type out struct{ Long, Short, Time, Zone string }
	for _, tc := range []struct {
		at   time.Time
		lang string
		want out
	}{
		{apitest.At("2027-03-02", "09:30"), "it", out{"martedì 2 marzo 2027", "2 marzo 2027", "09:30", "CET"}},
		{apitest.At("2027-03-30", "10:00"), "it", out{"martedì 30 marzo 2027", "30 marzo 2027", "10:00", "CEST"}},
		{apitest.At("2027-08-01", "16:45"), "it", out{"domenica 1 agosto 2027", "1 agosto 2027", "16:45", "CEST"}},
		{apitest.At("2027-12-24", "12:00"), "it", out{"venerdì 24 dicembre 2027", "24 dicembre 2027", "12:00", "CET"}},
		{apitest.At("2027-03-02", "09:30"), "en", out{"Tuesday 2 March 2027", "2 March 2027", "09:30", "CET"}},
		// A UTC instant is shown in Rome's time of that day.
		{time.Date(2027, 3, 28, 23, 30, 0, 0, time.UTC).In(apitest.Rome), "it", out{"lunedì 29 marzo 2027", "29 marzo 2027", "01:30", "CEST"}},
	} {
		t.Run(tc.lang+" "+tc.at.String(), func(t *testing.T) {
			got := out{longDate(tc.at, tc.lang), shortDate(tc.at, tc.lang), tc.at.Format("15:04"), tc.at.Format("MST")}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		it, en string
	}{
		{5 * time.Minute, "5 minuti", "5 minutes"},
		{time.Minute, "1 minuto", "1 minute"},
		{30 * time.Minute, "30 minuti", "30 minutes"},
		{60 * time.Minute, "1 ora", "1 hour"},
		{90 * time.Minute, "1 ora e 30 minuti", "1 hour 30 minutes"},
		{121 * time.Minute, "2 ore e 1 minuto", "2 hours 1 minute"},
		{8 * time.Hour, "8 ore", "8 hours"},
	} {
		if got := []string{duration(tc.d, "it"), duration(tc.d, "en")}; !cmp.Equal(got, []string{tc.it, tc.en}) {
			t.Errorf("%s: %q, want %q and %q", tc.d, got, tc.it, tc.en)
		}
	}
}

// TestParamText: names become iCalendar parameter values that need no
// quoting or escaping.
func TestParamText(t *testing.T) {
	for in, want := range map[string]string{
		"Maria Rossi":          "Maria Rossi",
		"Anna D'Amico":         "Anna D’Amico",
		`Rossi, "Maria"; a:b\`: "Rossi Maria a b",
		"  spaced   out ":      "spaced out",
	} {
		if got := paramText(in); got != want {
			t.Errorf("paramText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConfigCheck: the configuration is checked at start, each problem
// naming its variable.
func TestConfigCheck(t *testing.T) {
	good := Config{SMTPHost: "smtp.example.it", SMTPPort: 587, SMTPTLS: "starttls", SMTPTimeout: 10 * time.Second,
		MailFrom: "Sportello virtuale <noreply@sportello.local>", PublicURL: "https://sportello.comune.bari.it/"}
	s, err := good.check()
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicURL != "https://sportello.comune.bari.it" || s.From.Name != "Sportello virtuale" || s.From.Address != "noreply@sportello.local" {
		t.Errorf("settings %+v", s)
	}
	if _, err := NewSMTP(good); err != nil {
		t.Errorf("NewSMTP: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"from", func(c *Config) { c.MailFrom = "not an address" }, "MAIL_FROM"},
		{"public URL relative", func(c *Config) { c.PublicURL = "/sportello" }, "PUBLIC_URL"},
		{"public URL scheme", func(c *Config) { c.PublicURL = "ftp://x.it" }, "PUBLIC_URL"},
		{"public URL fragment", func(c *Config) { c.PublicURL = "https://x.it/#a" }, "PUBLIC_URL"},
		{"port", func(c *Config) { c.SMTPPort = 0 }, "SMTP_PORT"},
		{"tls", func(c *Config) { c.SMTPTLS = "ssl" }, "SMTP_TLS"},
		{"timeout", func(c *Config) { c.SMTPTimeout = 0 }, "SMTP_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			if _, err := c.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	for _, v := range []string{"none", "starttls", "tls", "TLS"} {
		c := good
		c.SMTPTLS = v
		if _, err := c.check(); err != nil {
			t.Errorf("SMTP_TLS=%s refused: %v", v, err)
		}
	}
}

// TestScrub: an SMTP error is logged without the recipient's address.
func TestScrub(t *testing.T) {
	addr := "maria.rossi@example.it"
	err := scrub(fmt.Errorf("send failed: 550 5.1.1 <%s>: mailbox maria.rossi unavailable", addr), addr)
	if strings.Contains(err.Error(), "maria") || !strings.Contains(err.Error(), "550 5.1.1") {
		t.Errorf("scrubbed error %q", err)
	}
	if err := scrub(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), addr); !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("scrubbed error %q", err)
	}
}

// smtpProxy forwards connections to the test Mailpit's SMTP side,
// counting them (accepted), those the client has not closed yet (live)
// and the QUITs; drop closes every connection open, as a server does to
// idle ones. With failReset it answers the next RSET itself with a 421
// and closes the connection, as a server going away right after taking a
// mail; stall makes it hang on a command.
type smtpProxy struct {
	port      int
	accepted  atomic.Int64
	live      atomic.Int64
	quits     atomic.Int64
	failReset atomic.Bool
	mu        sync.Mutex
	open      []net.Conn
	stallOn   string        // the command stall holds next, or ""
	stalled   chan struct{} // closed once it is held
	release   chan struct{} // closed to end its connection
}

func newSMTPProxy(t *testing.T) *smtpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &smtpProxy{port: ln.Addr().(*net.TCPAddr).Port}
	upstream := net.JoinHostPort(os.Getenv("SMTP_HOST"), os.Getenv("SMTP_PORT"))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.live.Add(1)
			p.mu.Lock()
			p.open = append(p.open, c, u)
			p.mu.Unlock()
			go func() { p.forward(c, u); p.live.Add(-1); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.drop)
	return p
}

// forward copies the client's lines to the server but for a RSET when
// failReset is set and the command stall holds; it returns when the
// client closes the connection.
func (p *smtpProxy) forward(c, u net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if isCommand(line, "QUIT") {
			p.quits.Add(1)
		}
		if stalled, release := p.holds(line); stalled != nil {
			close(stalled)
			<-release
			return
		}
		if strings.EqualFold(strings.TrimSpace(line), "RSET") && p.failReset.CompareAndSwap(true, false) {
			_, _ = io.WriteString(c, "421 4.3.0 closing\r\n")
			c.Close()
			return
		}
		if _, err := io.WriteString(u, line); err != nil {
			return
		}
	}
}

// stall makes the proxy hold the next command cmd ("NOOP", "RCPT", or
// "." for the end of a mail's data) of any connection: it never reaches
// the server, nothing answers it. stalled is closed once the command is
// held; release (also called at the test's end) closes its connection
// without forwarding it, as a server that hung would.
func (p *smtpProxy) stall(t *testing.T, cmd string) (stalled <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallOn, p.stalled, p.release = cmd, make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(p.release) })
	t.Cleanup(release)
	return p.stalled, release
}

// holds answers the channels of a stall when line is its command.
func (p *smtpProxy) holds(line string) (stalled, release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stallOn == "" || !isCommand(line, p.stallOn) {
		return nil, nil
	}
	p.stallOn = ""
	return p.stalled, p.release
}

// isCommand reports whether line is the SMTP command cmd.
func isCommand(line, cmd string) bool {
	line = strings.TrimRight(line, "\r\n")
	return strings.EqualFold(line, cmd) || len(line) > len(cmd) && strings.EqualFold(line[:len(cmd)+1], cmd+" ")
}

// waitLive waits up to 5 s for the client to have closed all but want of
// the proxy's connections, and answers how many it has left open.
func (p *smtpProxy) waitLive(want int64) int64 {
	for deadline := time.Now().Add(5 * time.Second); p.live.Load() != want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return p.live.Load()
}

func (p *smtpProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// TestConnectionsKept: mails one after another share one SMTP connection;
// when the server has closed it meanwhile, the next mail goes on a new one,
// delivered once; a mail whose RSET after it fails is sent, once, and its
// connection not kept; mails at the same time each have a connection.
func TestConnectionsKept(t *testing.T) {
	proxy := newSMTPProxy(t)
	s, err := NewSMTP(Config{SMTPHost: "127.0.0.1", SMTPPort: proxy.port, SMTPTLS: "none", SMTPTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mailpit := clienttest.Mailpit{URL: os.Getenv("MAILPIT_URL")}
	send := func(to string) {
		t.Helper()
		if err := s.Send(t.Context(), testMail(to)); err != nil {
			t.Fatalf("mail to %s: %v", to, err)
		}
	}
	rcpt := func(n int) string { return fmt.Sprintf("kept-%d.%s@example.it", n, pgtest.Suffix()) }

	var sent []string
	for i := range 3 {
		sent = append(sent, rcpt(i))
		send(sent[i])
	}
	if n := proxy.accepted.Load(); n != 1 {
		t.Errorf("3 mails one after another took %d connections, want 1", n)
	}
	proxy.drop()
	sent = append(sent, rcpt(3))
	send(sent[3])
	if n := proxy.accepted.Load(); n != 2 {
		t.Errorf("after the server closed the kept connection: %d connections, want 2", n)
	}
	accepted := proxy.accepted.Load()
	// The server accepts a mail, then fails the RSET after it: the mail
	// is sent (no error, no second mail), the connection is not kept.
	proxy.failReset.Store(true)
	sent = append(sent, rcpt(4))
	send(sent[4])
	if proxy.failReset.Load() {
		t.Fatal("no RSET came after the mail")
	}
	sent = append(sent, rcpt(5))
	send(sent[5])
	if n := proxy.accepted.Load() - accepted; n != 1 {
		t.Errorf("after a failed RSET: %d new connections, want 1", n)
	}
	var wg sync.WaitGroup
	for i := 6; i < 10; i++ {
		sent = append(sent, rcpt(i))
		wg.Add(1)
		go func(to string) {
			defer wg.Done()
			if err := s.Send(t.Context(), testMail(to)); err != nil {
				t.Errorf("mail to %s: %v", to, err)
			}
		}(sent[i])
	}
	wg.Wait()
	if n := proxy.accepted.Load() - accepted; n < 2 || n > 5 {
		t.Errorf("a failed RSET, then 4 mails at once: %d new connections, want 2 to 5", n)
	}
	for _, to := range sent {
		if got := len(mailpit.To(t, to)); got != 1 {
			t.Errorf("%s got %d mails, want 1", to, got)
		}
	}
}

// testMail is a small mail to the address to.
func testMail(to string) *Mail {
	return &Mail{From: &netmail.Address{Name: "Sportello", Address: "noreply@sportello.test"}, To: &netmail.Address{Address: to},
		Locale: "it", Subject: "Prova", Text: "Prova", HTML: "<p>Prova</p>",
		ICS: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), Method: "REQUEST", Date: time.Now()}
}

// TestAbandoned: a mail on a kept connection whose server stalls, at the
// connection's check, at a recipient or at the end of the mail, is
// abandoned as soon as its context ends, long before SMTP_TIMEOUT (30 s
// here): the error is the context's, temporary (503, retried), nothing
// is delivered, and the connection is not kept: the next mail opens a new
// one. A server that stalls on the RSET after taking the mail has the
// mail: no error (a retry would send it twice), the connection not kept.
func TestAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name, at string
		deadline bool  // the context's deadline passes; else it is cancelled
		want     error // nil: the mail is sent
	}{
		{"the kept connection's check, cancelled", "NOOP", false, context.Canceled},
		{"a recipient, cancelled", "RCPT", false, context.Canceled},
		{"a recipient, past the deadline", "RCPT", true, context.DeadlineExceeded},
		{"the end of the mail, cancelled", ".", false, context.Canceled},
		{"the RSET after the mail, cancelled", "RSET", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := newSMTPProxy(t)
			s, err := NewSMTP(Config{SMTPHost: "127.0.0.1", SMTPPort: proxy.port, SMTPTLS: "none", SMTPTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			rcpt := func(n int) string { return fmt.Sprintf("abandoned-%d.%s@example.it", n, pgtest.Suffix()) }
			sent := []string{rcpt(0), rcpt(1), rcpt(2)}
			if err := s.Send(t.Context(), testMail(sent[0])); err != nil {
				t.Fatal(err)
			}

			stalled, release := proxy.stall(t, tc.at)
			var ctx context.Context
			var cancel context.CancelFunc
			if tc.deadline {
				ctx, cancel = context.WithTimeout(t.Context(), time.Second)
			} else {
				ctx, cancel = context.WithCancel(t.Context())
				go func() {
					select {
					case <-stalled:
						time.Sleep(200 * time.Millisecond)
					case <-time.After(5 * time.Second):
					}
					cancel()
				}()
			}
			defer cancel()
			start := time.Now()
			result := make(chan error, 1)
			go func() { result <- s.Send(ctx, testMail(sent[1])) }()
			select {
			case err = <-result:
			case <-time.After(5 * time.Second):
				t.Errorf("the mail still under way 5 s after it began, its context ended")
				release()
				err = <-result
			}
			select {
			case <-stalled:
			default:
				t.Fatalf("the server never stalled at %s", tc.at)
			}
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("after %s: Send = %v, want the mail sent", time.Since(start).Round(time.Millisecond), err)
			case tc.want != nil && (!errors.Is(err, tc.want) || !apperr.Is(err, apperr.Unavailable)):
				t.Errorf("after %s: Send = %v, want %v, temporary (apperr.Unavailable)", time.Since(start).Round(time.Millisecond), err, tc.want)
			}
			s.mu.Lock()
			kept := len(s.idle)
			s.mu.Unlock()
			if kept != 0 {
				t.Errorf("the abandoned mail's connection kept")
			}
			release()

			if err := s.Send(t.Context(), testMail(sent[2])); err != nil {
				t.Fatal(err)
			}
			if n := proxy.accepted.Load(); n != 2 {
				t.Errorf("the mail after the abandoned one: %d connections in all, want 2 (a new one)", n)
			}
			mailpit := clienttest.Mailpit{URL: os.Getenv("MAILPIT_URL")}
			delivered := []int{1, 0, 1}
			if tc.want == nil {
				delivered[1] = 1
			}
			for i, want := range delivered {
				if got := len(mailpit.To(t, sent[i])); got != want {
					t.Errorf("mail %d: delivered %d times, want %d", i, got, want)
				}
			}
		})
	}
}

// TestContextEndAfterMail: the end of a mail's context after the mail
// leaves its connection alone: the next mail takes it.
func TestContextEndAfterMail(t *testing.T) {
	proxy := newSMTPProxy(t)
	s, err := NewSMTP(Config{SMTPHost: "127.0.0.1", SMTPPort: proxy.port, SMTPTLS: "none", SMTPTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithCancel(t.Context())
		err := s.Send(ctx, testMail(fmt.Sprintf("after-%d.%s@example.it", i, pgtest.Suffix())))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := proxy.accepted.Load(); n != 1 {
		t.Errorf("3 mails, each context cancelled after its mail: %d connections, want 1", n)
	}
}

// TestClose: Close ends every kept connection with QUIT; a mail sent
// after it still goes, and its connection is closed, not kept.
func TestClose(t *testing.T) {
	proxy := newSMTPProxy(t)
	s, err := NewSMTP(Config{SMTPHost: "127.0.0.1", SMTPPort: proxy.port, SMTPTLS: "none", SMTPTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rcpt := func(n int) string { return fmt.Sprintf("close-%d.%s@example.it", n, pgtest.Suffix()) }
	var sent []string
	var wg sync.WaitGroup
	for i := range 4 {
		to := rcpt(i)
		sent = append(sent, to)
		wg.Go(func() {
			if err := s.Send(t.Context(), testMail(to)); err != nil {
				t.Errorf("mail %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	kept := proxy.live.Load()
	if kept < 1 || kept != proxy.accepted.Load() {
		t.Fatalf("4 mails at once: %d connections open of %d, want all kept", kept, proxy.accepted.Load())
	}

	s.Close()
	if n := proxy.waitLive(0); n != 0 {
		t.Errorf("after Close: %d connections of %d still open", n, kept)
	}
	if n := proxy.quits.Load(); n != kept {
		t.Errorf("Close sent %d QUITs, want %d", n, kept)
	}

	sent = append(sent, rcpt(4))
	if err := s.Send(t.Context(), testMail(sent[4])); err != nil {
		t.Fatalf("mail after Close: %v", err)
	}
	if n := proxy.accepted.Load(); n != kept+1 {
		t.Errorf("mail after Close: %d connections in all, want %d", n, kept+1)
	}
	if n := proxy.waitLive(0); n != 0 {
		t.Errorf("mail after Close: its connection kept open")
	}
	s.Close() // again: nothing to do
	mailpit := clienttest.Mailpit{URL: os.Getenv("MAILPIT_URL")}
	for i, to := range sent {
		if got := len(mailpit.To(t, to)); got != 1 {
			t.Errorf("mail %d: delivered %d times, want 1", i, got)
		}
	}
}
