package services

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// Mailpit is an SMTP sink with a web UI and an HTTP API
// (https://mailpit.axllent.org/docs/api-v1/), listening on 127.0.0.1. It
// accepts mail for anyone, with or without SMTP authentication.
type Mailpit struct {
	SMTPPort int       // 0: a free port
	HTTPPort int       // web UI and API; 0: a free port
	Database string    // a file that keeps the mail between runs; "" keeps it only while running
	Max      int       // the messages kept, the oldest pruned beyond; 0: Mailpit's default (500); negative: all
	Bin      string    // the mailpit binary; the pinned build when ""
	Log      io.Writer // its output; nil discards it (failures still show the last lines)

	base
}

// Start starts Mailpit and waits until it answers /readyz.
func (m *Mailpit) Start(ctx context.Context) error {
	return withFreePorts([]*int{&m.SMTPPort, &m.HTTPPort}, func() error { return m.start(ctx) })
}

func (m *Mailpit) start(ctx context.Context) error {
	bin, err := prepare("mailpit", m.Bin, "mailpit", &m.SMTPPort, &m.HTTPPort)
	if err != nil {
		return err
	}
	args := []string{
		"--smtp", "127.0.0.1:" + strconv.Itoa(m.SMTPPort),
		"--listen", "127.0.0.1:" + strconv.Itoa(m.HTTPPort),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
		"--disable-version-check",
	}
	if m.Database != "" {
		args = append(args, "--database", m.Database)
	}
	if m.Max != 0 {
		args = append(args, "--max", strconv.Itoa(max(m.Max, 0))) // Mailpit's 0 keeps every message
	}
	// Mailpit reads MP_* variables: ours must not pick up a stray one.
	return m.launch(ctx, command{name: "mailpit", bin: bin, args: args, drop: prefix("MP_"), log: m.Log}, m.URL()+"/readyz")
}

// URL is the web UI's and the API's address.
func (m *Mailpit) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.HTTPPort) }

// Env is SMTP_HOST, SMTP_PORT, SMTP_TLS (none: Mailpit speaks plain SMTP
// on loopback) and MAILPIT_URL.
func (m *Mailpit) Env() []string {
	return []string{"SMTP_HOST=127.0.0.1", "SMTP_PORT=" + strconv.Itoa(m.SMTPPort), "SMTP_TLS=none", "MAILPIT_URL=" + m.URL()}
}
