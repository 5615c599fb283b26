package apitest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Discard is the logger of a test that does not read the logs.
var Discard = slog.New(slog.DiscardHandler)

// Logs is what a function under test logged, as JSON at debug level; the
// handlers may log from several goroutines at once.
type Logs struct {
	// Logger writes to the Logs.
	Logger *slog.Logger

	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLogs returns empty Logs. When the test ends it fails the test if the
// logs contain any of never: personal data and secrets are never logged.
func NewLogs(tb testing.TB, never ...string) *Logs {
	l := &Logs{}
	l.Logger = slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tb.Cleanup(func() {
		logged := l.String()
		for _, s := range never {
			if strings.Contains(logged, s) {
				tb.Errorf("the logs contain %q:\n%s", s, logged)
			}
		}
	})
	return l
}

// Write appends p, a log line.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
