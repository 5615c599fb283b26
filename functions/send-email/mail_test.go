package main

import (
	"bufio"
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
// counting them; drop closes every connection open, as a server does to
// idle ones. With failReset it answers the next RSET itself with a 421
// and closes the connection, as a server going away right after taking a
// mail.
type smtpProxy struct {
	port      int
	accepted  atomic.Int64
	failReset atomic.Bool
	mu        sync.Mutex
	open      []net.Conn
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
			p.mu.Lock()
			p.open = append(p.open, c, u)
			p.mu.Unlock()
			go func() { p.forward(c, u); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.drop)
	return p
}

// forward copies the client's lines to the server but for a RSET when
// failReset is set.
func (p *smtpProxy) forward(c, u net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
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
	from := &netmail.Address{Name: "Sportello", Address: "noreply@sportello.test"}
	mailTo := func(to string) *Mail {
		return &Mail{From: from, To: &netmail.Address{Address: to}, Locale: "it", Subject: "Prova", Text: "Prova", HTML: "<p>Prova</p>",
			ICS: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), Method: "REQUEST", Date: time.Now()}
	}
	send := func(to string) {
		t.Helper()
		if err := s.Send(t.Context(), mailTo(to)); err != nil {
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
			if err := s.Send(t.Context(), mailTo(to)); err != nil {
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
