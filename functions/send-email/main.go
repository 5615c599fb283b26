// Command send-email mails the citizen about their booking: the
// confirmation, every change, the cancellation and the reminders, each as
// HTML and plain text (Italian, or English when the citizen chose it) with a
// calendar invite (RFC 5545) attached, over SMTP.
//
// Consumes (CloudEvents posted to / by the broker):
// io.github.sportello.booking.confirmed.v1,
// io.github.sportello.booking.rescheduled.v1,
// io.github.sportello.booking.cancelled.v1 and
// io.github.sportello.booking.reminder.v1.
// Emits: nothing (mail only).
//
// Events carry no personal data: the booking, the office, the service and
// the citizen's address are read from the database by booking id. Every
// mail but the cancellation carries a fresh manage token (the one confirm
// showed is kept only as a hash) in its manage link and room link.
//
// Exactly once, as far as SMTP allows: the event is recorded in the inbox
// (consumer "send-email"), the token issued and the mail sent in one
// transaction, committed only after the SMTP server accepted the mail. An
// SMTP failure answers 500 and leaves nothing behind, so the broker retries
// and finally dead-letters the event; a redelivered event sends nothing.
// When the database is lost after the SMTP server accepted the mail (the
// transaction with it), the record is made again, with the mail's token,
// as soon as the database is back, within the delivery's timeout. The one
// remaining window — the database away longer than that, or the process
// dying between the SMTP server's acceptance and the commit — can repeat
// a mail: it never loses one.
//
// Each instance keeps up to eight SMTP connections open between mails (30
// s idle at most, 100 mails each), so that a click day's mails do not each
// pay a connection and, with TLS, a handshake; a connection the server has
// closed meanwhile is found by a NOOP before the mail and replaced. A mail
// is abandoned and its connection closed as soon as the delivery's
// request ends (the broker's timeout, the broker gone), however the server
// stalls: nothing is recorded and the broker delivers the event again (a
// mail abandoned while the server was answering its end may still be
// delivered, and then repeated, as after a timeout). At shutdown, once
// the server has drained, the kept connections are ended with QUIT.
//
// Events that would mail an outdated time are acknowledged without mail:
// an event whose data.sequence is below the booking's current sequence (a
// confirmation arriving after a reschedule: the rescheduled event mails the
// current time), a reminder for a booking that is no longer confirmed or
// has already started, and bookings whose personal data were purged.
//
// Configuration, besides the shared one (package function): SMTP_HOST
// (required), SMTP_PORT (587), SMTP_USERNAME, SMTP_PASSWORD, SMTP_TLS
// ("starttls", or "tls" for implicit TLS, or "none" as for Mailpit),
// SMTP_TIMEOUT (10s: connecting and the greeting, the handshake, a kept
// connection's check and each mail are bounded by it each), MAIL_FROM
// ("Sportello virtuale <noreply@sportello.local>", also the invite's
// ORGANIZER) and PUBLIC_URL (http://127.0.0.1:8080, the site the links point
// to).
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sportello/sportello/functions/internal/httpapi/function"
)

// Config is the environment send-email reads besides function.Config.
type Config struct {
	SMTPHost     string        `envconfig:"SMTP_HOST" required:"true"`
	SMTPPort     int           `envconfig:"SMTP_PORT" default:"587"`
	SMTPUsername string        `envconfig:"SMTP_USERNAME"`
	SMTPPassword string        `envconfig:"SMTP_PASSWORD"`
	SMTPTLS      string        `envconfig:"SMTP_TLS" default:"starttls"`
	SMTPTimeout  time.Duration `envconfig:"SMTP_TIMEOUT" default:"10s"`
	MailFrom     string        `envconfig:"MAIL_FROM" default:"Sportello virtuale <noreply@sportello.local>"`
	PublicURL    string        `envconfig:"PUBLIC_URL" default:"http://127.0.0.1:8080"`
}

// Settings are the checked form of Config.
type Settings struct {
	From      *netmail.Address
	PublicURL string // without a trailing slash
}

// check validates the configuration and returns its parsed parts.
func (c Config) check() (Settings, error) {
	var s Settings
	from, err := netmail.ParseAddress(c.MailFrom)
	if err != nil {
		return s, fmt.Errorf("MAIL_FROM %q: %w", c.MailFrom, err)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return s, fmt.Errorf("PUBLIC_URL %q: want an absolute http(s) URL without query or fragment", c.PublicURL)
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		return s, fmt.Errorf("SMTP_PORT %d: out of range", c.SMTPPort)
	}
	if _, _, err := tlsPolicy(c.SMTPTLS); err != nil {
		return s, err
	}
	if c.SMTPTimeout <= 0 {
		return s, fmt.Errorf("SMTP_TIMEOUT %s: must be positive", c.SMTPTimeout)
	}
	return Settings{From: from, PublicURL: strings.TrimRight(c.PublicURL, "/")}, nil
}

func main() {
	var cfg Config
	err := envconfig.Process("", &cfg)
	var settings Settings
	var smtp *SMTP
	if err == nil {
		settings, err = cfg.check()
	}
	if err == nil {
		smtp, err = NewSMTP(cfg)
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("function failed", "function", "send-email", "err", err)
		os.Exit(1)
	}
	function.Main("send-email", func(env *function.Env) http.Handler {
		return newHandler(&Sender{
			Store: env.Store, SMTP: smtp, From: settings.From, PublicURL: settings.PublicURL, Log: env.Log,
		})
	})
	// Main returns once the server has drained: no mail is under way, and
	// the relay's connections can be ended politely rather than dropped
	// with the process. (When draining fails, Main exits the process
	// itself and the kept connections are dropped with it.)
	smtp.Close()
}

// newHandler serves the CloudEvents the broker delivers.
func newHandler(s *Sender) http.Handler { return function.Events(s.Log, s.Handle) }
