package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/google/uuid"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/store/postgres"
	"github.com/sportello/sportello/functions/internal/telemetry"
)

// SMTP sends mails through the configured relay. It is safe for
// concurrent use: each mail takes a connection of its own, one this
// instance kept open after an earlier mail (each for up to
// connectionIdle between mails and connectionMails mails; at most
// idleConnections of them) or a new one. A kept connection the server has
// since closed fails go-mail's check (a NOOP) before the mail's first
// command, and the mail is sent on a new connection. Close ends the kept
// connections and keeps none from then on.
type SMTP struct {
	client  *gomail.Client
	timeout time.Duration

	mu     sync.Mutex
	idle   []*connection // the newest last
	closed bool          // by Close: no connection is kept any more
}

// connection is an open SMTP connection: when it was last used and how
// many mails it has carried, and whether the end of a mail's context cut
// it (closed its socket under the conversation).
type connection struct {
	smtp  *smtp.Client
	used  time.Time
	mails int
	cut   bool
}

// How long and for how many mails a connection is kept, and how many are
// kept idle: servers close idle connections after minutes (RFC 5321 asks
// for at least five) and some take only so many mails on one.
const (
	connectionIdle  = 30 * time.Second
	connectionMails = 100
	idleConnections = 8
)

// tlsPolicy reads SMTP_TLS: "none" (plain text, e.g. Mailpit on
// loopback), "starttls" (STARTTLS required) or "tls" (implicit TLS, as on
// port 465).
func tlsPolicy(v string) (policy gomail.TLSPolicy, implicit bool, err error) {
	switch strings.ToLower(v) {
	case "none":
		return gomail.NoTLS, false, nil
	case "starttls":
		return gomail.TLSMandatory, false, nil
	case "tls":
		return gomail.NoTLS, true, nil
	}
	return 0, false, fmt.Errorf("SMTP_TLS %q: want none, starttls or tls", v)
}

// NewSMTP returns the client of the configured relay. It does not connect.
func NewSMTP(c Config) (*SMTP, error) {
	policy, implicit, err := tlsPolicy(c.SMTPTLS)
	if err != nil {
		return nil, err
	}
	opts := []gomail.Option{gomail.WithPort(c.SMTPPort), gomail.WithTimeout(c.SMTPTimeout), gomail.WithTLSPolicy(policy)}
	if implicit {
		opts = append(opts, gomail.WithSSL())
	}
	if c.SMTPUsername != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.SMTPUsername), gomail.WithPassword(c.SMTPPassword))
	}
	client, err := gomail.NewClient(c.SMTPHost, opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP: %w", err)
	}
	return &SMTP{client: client, timeout: c.SMTPTimeout}, nil
}

// Send delivers one mail. The error never carries the recipient's address
// (it is logged): go-mail's errors and SMTP replies may name it.
// Each attempt is a span ("smtp send") and counts as a mail sent or failed.
//
// The mail is abandoned when ctx ends (the event delivery's deadline, the
// broker gone): the error is then ctx's, a temporary one, and the
// connection is closed, never kept. ctx bounds connecting and the whole
// conversation on the connection but for the greeting, STARTTLS and login
// of a new one (go-mail gives no hold on them: a ctx that ended meanwhile
// stops the mail before its first command). SMTP_TIMEOUT bounds, each on
// its own, the phases go-mail sets a deadline for: connecting and the
// server's greeting; the handshake (EHLO, STARTTLS, login); the check of a
// kept connection (NOOP); and the mail itself, from MAIL FROM to the RSET
// after it.
func (s *SMTP) Send(ctx context.Context, m *Mail) (err error) {
	msg, err := m.message()
	if err != nil {
		return err
	}
	ctx, span := telemetry.Start(ctx, "smtp send")
	defer func() {
		telemetry.Mail(ctx, err == nil)
		telemetry.End(span, err)
	}()
	if err := s.send(ctx, msg); err != nil {
		if temporary(err) {
			// The broker retries a 503 with backoff, as it would a 500,
			// but the log and the metrics tell an outage from a bug.
			return apperr.Unreachable(scrub(err, m.To.Address), smtpRetry, "the mail server cannot be reached: try again in a moment")
		}
		return scrub(err, m.To.Address)
	}
	return nil
}

// send sends msg on a kept connection, or on a new one when none is kept
// or the kept one turns out closed. The connection is kept again after a
// mail it carried, and closed after any other outcome.
func (s *SMTP) send(ctx context.Context, msg *gomail.Msg) error {
	if ctx.Err() != nil {
		return abandoned(ctx)
	}
	c := s.take(time.Now())
	if c != nil {
		// go-mail's NOOP check runs under the deadline left from the last
		// mail: give it the SMTP timeout again first.
		_ = c.smtp.UpdateDeadline(s.timeout)
		err := s.carry(ctx, c, msg)
		var se *gomail.SendError
		if err == nil || !errors.As(err, &se) || se.Reason != gomail.ErrConnCheck {
			return s.done(c, err)
		}
		_ = c.smtp.Close() // closed by the server: nothing was sent on it, no QUIT to wait for
	}
	conn, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("dial failed: %w", err)
	}
	c = &connection{smtp: conn}
	if ctx.Err() != nil {
		// ctx ended during the handshake, which it does not bound: no
		// mail is begun on a connection that would be cut under it.
		c.cut = true
		return s.done(c, abandoned(ctx))
	}
	return s.done(c, s.carry(ctx, c, msg))
}

// carry sends msg on c, abandoning it when ctx ends: go-mail bounds the
// mail by the SMTP timeout only, and its own Close and UpdateDeadline
// wait for the command under way (they take the lock a command holds
// while it waits for the reply), so the end of ctx closes the socket
// under the conversation (textproto's Close does not lock), and whatever
// the conversation was waiting for fails at once. The connection is then
// cut, not to be kept, and the error is ctx's; a mail whose acceptance
// (the reply to the data's end) was read before the cut is sent all the
// same (see done), but one the server accepted while the cut closed the
// socket before its reply was read is reported abandoned, and the broker's
// next delivery sends it again, as after a timeout. The watch on ctx
// stops with the mail: a later end of ctx leaves the connection alone.
func (s *SMTP) carry(ctx context.Context, c *connection, msg *gomail.Msg) error {
	stop := context.AfterFunc(ctx, func() { _ = c.smtp.Text.Close() })
	err := s.client.SendWithSMTPClient(c.smtp, msg)
	if !stop() {
		c.cut = true
		if err != nil && !onlyResetFailed(err) {
			return abandoned(ctx)
		}
	}
	return err
}

// abandoned is the error of a mail given up when ctx ended: ctx's own
// (context.Canceled or context.DeadlineExceeded), which temporary reads
// as temporary.
func abandoned(ctx context.Context) error {
	return fmt.Errorf("mail abandoned: %w", ctx.Err())
}

// onlyResetFailed reports whether err is only the failure of go-mail's RSET
// after a mail: the server had already accepted the mail.
func onlyResetFailed(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPReset
}

// take answers the newest kept connection, or nil; it closes every one
// kept too long, not only those above it.
func (s *SMTP) take(now time.Time) *connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := s.idle[:0]
	for _, c := range s.idle {
		if now.Sub(c.used) < connectionIdle {
			fresh = append(fresh, c)
		} else {
			go s.close(c)
		}
	}
	s.idle = fresh
	if len(s.idle) == 0 {
		return nil
	}
	c := s.idle[len(s.idle)-1]
	s.idle = s.idle[:len(s.idle)-1]
	return c
}

// done keeps c for the next mail after err, the outcome of a mail it
// carried, when err is nil and c may carry more (and was not cut, and
// Close has not been called); otherwise it closes it.
// go-mail ends each mail with RSET: when only that fails, the server had
// already accepted the mail, which is sent (answering an error would send
// it twice), and the connection is closed.
func (s *SMTP) done(c *connection, err error) error {
	c.used, c.mails = time.Now(), c.mails+1
	reset := onlyResetFailed(err)
	if reset {
		err = nil
	}
	if err == nil && !reset && !c.cut && c.mails < connectionMails {
		s.mu.Lock()
		if !s.closed && len(s.idle) < idleConnections {
			s.idle = append(s.idle, c)
			c = nil
		}
		s.mu.Unlock()
	}
	if c != nil {
		// A QUIT that fails after the mail was accepted changes nothing:
		// the mail is sent (answering an error would send it twice). It is
		// sent in the background, not within the mail's transaction.
		go s.close(c)
	}
	return err
}

// close ends c with QUIT, within the SMTP timeout, and closes its socket
// whatever the answer: go-mail leaves the socket open when QUIT fails (a
// server that already closed it, a deadline passed while it was idle).
func (s *SMTP) close(c *connection) {
	_ = c.smtp.UpdateDeadline(s.timeout)
	if err := c.smtp.Quit(); err != nil {
		_ = c.smtp.Close()
	}
}

// Close ends every kept connection, all at once, each with QUIT within the
// SMTP timeout (best effort: a failed QUIT only closes the socket), and
// keeps none from then on. It is for the instance's shutdown, once the
// server has drained; a mail sent after it still goes, on a connection
// closed after it.
func (s *SMTP) Close() {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(func() { s.close(c) })
	}
	wg.Wait()
}

// smtpRetry is the Retry-After of a mail the server could not take now.
const smtpRetry = 30 * time.Second

// temporary reports whether err says the mail server cannot take the mail
// now but may later: it answered with a 4xx reply, or it cannot be reached
// (refused, reset, timed out, gone mid-conversation), as the functions'
// one classifier of unreachable servers (postgres.Unavailable) reads it.
// A mail abandoned when its context ended is temporary too: the
// delivery's deadline passed (a DeadlineExceeded, as above) or the broker
// left (Canceled), most likely while the server stalled, and the broker's
// next delivery may find it well.
func temporary(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) && se.IsTemp() {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return true
	}
	return apperr.CodeOf(postgres.Unavailable(err)) == apperr.Unavailable
}

// scrub rewrites an SMTP error without personal data. The end of the
// mail's context stays visible to errors.Is: it names nobody.
func scrub(err error, address string) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return fmt.Errorf("smtp: %s (reply %d %s, temporary %t)", se.Reason, se.ErrorCode(), se.EnhancedStatusCode(), se.IsTemp())
	}
	msg := err.Error()
	if address != "" {
		msg = strings.ReplaceAll(msg, address, "<recipient>")
		if at := strings.LastIndexByte(address, '@'); at > 0 {
			msg = strings.ReplaceAll(msg, address[:at], "<recipient>")
		}
	}
	s := &scrubbed{text: "smtp: " + msg}
	for _, end := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, end) {
			s.end = end
		}
	}
	return s
}

// scrubbed is an error's text without personal data, unwrapping to
// nothing but the end of the mail's context, if that is what it tells.
type scrubbed struct {
	text string
	end  error // context.Canceled, context.DeadlineExceeded or nil
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.end }

// Mail is one composed mail.
type Mail struct {
	From, To *netmail.Address
	Locale   string
	Subject  string
	Text     string
	HTML     string
	ICS      []byte
	Method   string // the invite's METHOD: REQUEST or CANCEL
	Date     time.Time
}

// message builds the MIME message: multipart/mixed of a
// multipart/alternative (plain text, then HTML) and the invite as a
// text/calendar attachment with its method.
func (m *Mail) message() (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.From)
	msg.ToMailAddress(m.To)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(m.Date)
	// go-mail's own Message-ID may start with a dot and names the host;
	// ours is a UUID at the sender's domain (RFC 5322 3.6.4).
	msg.SetMessageIDWithValue(uuid.NewString() + "@" + m.From.Address[strings.LastIndexByte(m.From.Address, '@')+1:])
	msg.SetGenHeader(gomail.HeaderContentLang, m.Locale)
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	name := "invito.ics"
	if m.Locale == "en" {
		name = "invite.ics"
	}
	ct := gomail.ContentType("text/calendar; charset=UTF-8; method=" + m.Method)
	if err := msg.AttachReader(name, bytes.NewReader(m.ICS), gomail.WithFileContentType(ct)); err != nil {
		return nil, fmt.Errorf("attach invite: %w", err)
	}
	return msg, nil
}

//go:embed templates
var templateFS embed.FS

// Locales are the languages mails are written in; the first is the default.
var Locales = []string{"it", "en"}

var (
	textTemplates = map[string]*texttemplate.Template{}
	htmlTemplates = map[string]*htmltemplate.Template{}
)

func init() {
	for _, l := range Locales {
		textTemplates[l] = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/"+l+".txt"))
		htmlTemplates[l] = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/layout.html", "templates/"+l+".html"))
	}
}

// View is what the templates show. It holds personal data.
type View struct {
	Kind     Kind
	ByOffice bool   // a cancellation by the office, not by the citizen
	Reminder string // events.Reminder24h or events.Reminder1h
	Name     string // the citizen's full name
	Office   string
	Service  string
	Desk     string
	Date     string // "martedì 2 marzo 2027"
	Time     string // "09:30"
	Zone     string // "CET"
	// SubjectDate is the short date of the subject: "2 marzo 2027".
	SubjectDate  string
	PreviousDate string // before a reschedule
	PreviousTime string
	Duration     string // "30 minuti"
	WhatToBring  string
	Reason       string
	Details      string
	ManageURL    string // empty in a cancellation
	RoomURL      string // empty in a cancellation
	SiteURL      string
}

// Is24h and Is1h tell the reminders apart in templates.
func (v View) Is24h() bool { return v.Reminder == events.Reminder24h }

// Is1h reports whether the mail is the reminder an hour before.
func (v View) Is1h() bool { return v.Reminder == events.Reminder1h }

// ManageLink is the link that shows, moves or cancels a booking.
func ManageLink(publicURL, token string) string { return publicURL + "/prenotazione/gestisci#" + token }

// RoomLink is the link of a booking's video room.
func RoomLink(publicURL, token string) string { return publicURL + "/sala#" + token }

// locale returns a supported locale, the default for anything else.
func locale(l string) string {
	for _, x := range Locales {
		if x == l {
			return l
		}
	}
	return Locales[0]
}

// view prepares the templates' data for a notice about an appointment.
func (s *Sender) view(n Notice, a Appointment, token string) View {
	lang := locale(a.Locale)
	start := a.Start.In(s.Store.Calendar.Location)
	v := View{
		Kind: n.Kind, ByOffice: n.ByOffice, Reminder: n.Reminder,
		Name:   strings.TrimSpace(a.GivenName + " " + a.FamilyName),
		Office: a.Office, Service: a.Service, Desk: a.Desk,
		Date: longDate(start, lang), Time: start.Format("15:04"), Zone: start.Format("MST"),
		SubjectDate: shortDate(start, lang),
		Duration:    duration(a.End.Sub(a.Start), lang),
		WhatToBring: a.WhatToBring, Reason: a.Reason, Details: a.Details,
		SiteURL: s.PublicURL + "/",
	}
	if !n.PreviousStart.IsZero() {
		prev := n.PreviousStart.In(s.Store.Calendar.Location)
		v.PreviousDate, v.PreviousTime = longDate(prev, lang), prev.Format("15:04")
	}
	if token != "" {
		v.ManageURL, v.RoomURL = ManageLink(s.PublicURL, token), RoomLink(s.PublicURL, token)
	}
	return v
}

// compose writes the mail of a notice: subject, plain text, HTML and invite.
func (s *Sender) compose(n Notice, a Appointment, token string, now time.Time) (*Mail, error) {
	lang := locale(a.Locale)
	v := s.view(n, a, token)
	var subject, text, html bytes.Buffer
	if err := textTemplates[lang].ExecuteTemplate(&subject, "subject", v); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if err := textTemplates[lang].ExecuteTemplate(&text, "text", v); err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if err := htmlTemplates[lang].ExecuteTemplate(&html, "html", v); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	ics, method, err := s.invite(n, a, v, now)
	if err != nil {
		return nil, err
	}
	return &Mail{
		From: s.From, To: &netmail.Address{Name: v.Name, Address: a.Email},
		Locale: lang, Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text: text.String(), HTML: html.String(), ICS: ics, Method: method, Date: now,
	}, nil
}

var (
	itWeekdays = [...]string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"}
	itMonths   = [...]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"}
)

// longDate is a day with its weekday: "martedì 2 marzo 2027",
// "Tuesday 2 March 2027".
func longDate(t time.Time, lang string) string {
	if lang == "en" {
		return t.Format("Monday 2 January 2006")
	}
	return itWeekdays[t.Weekday()] + " " + shortDate(t, lang)
}

// shortDate is a day: "2 marzo 2027", "2 March 2027".
func shortDate(t time.Time, lang string) string {
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return fmt.Sprintf("%d %s %d", t.Day(), itMonths[t.Month()-1], t.Year())
}

// duration says how long a meeting lasts: "30 minuti", "1 ora e 30
// minuti", "2 hours".
func duration(d time.Duration, lang string) string {
	total := int(d.Round(time.Minute) / time.Minute)
	h, m := total/60, total%60
	unit := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	var hours, minutes, and string
	if lang == "en" {
		hours, minutes, and = unit(h, "hour", "hours"), unit(m, "minute", "minutes"), " "
	} else {
		hours, minutes, and = unit(h, "ora", "ore"), unit(m, "minuto", "minuti"), " e "
	}
	switch {
	case h == 0:
		return minutes
	case m == 0:
		return hours
	}
	return hours + and + minutes
}
