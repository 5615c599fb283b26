// This file holds the console the stack and its children share: whole
// lines, each under the name of whoever wrote it, and the loggers on it.

package stack

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Console is the terminal shared by the stack and its children: every line
// goes out whole, prefixed with the name of whoever wrote it.
type Console struct {
	mu    sync.Mutex
	w     io.Writer
	width int // of the name column
}

// NewConsole writes to w with a name column of the given width.
func NewConsole(w io.Writer, width int) *Console { return &Console{w: w, width: width} }

// Println writes one unprefixed line.
func (c *Console) Println(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.w, s)
}

func (c *Console) line(name string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "%-*s | %s\n", c.width, name, b)
}

// tailLines is how many of its last lines a quiet writer keeps, to show
// them when its process fails.
const tailLines = 40

// LineWriter is the io.Writer of one process: it cuts what it receives into
// lines and writes each to the console with the process's name. It keeps
// the last lines; when Quiet, it writes nothing until Tail.
type LineWriter struct {
	Console *Console
	Name    string
	Quiet   bool

	mu   sync.Mutex
	buf  []byte
	tail []string
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes what is left of an unfinished line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *LineWriter) emit(line []byte) {
	if len(w.tail) == tailLines {
		w.tail = w.tail[1:]
	}
	w.tail = append(w.tail, string(line))
	if !w.Quiet {
		w.Console.line(w.Name, line)
	}
}

// Tail writes the lines a quiet writer kept to the console (a writer that
// is not quiet has written them already).
func (w *LineWriter) Tail() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Quiet {
		for _, l := range w.tail {
			w.Console.line(w.Name, []byte(l))
		}
	}
	w.tail = nil
}

// Contains reports whether one of the last lines holds s.
func (w *LineWriter) Contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.tail {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// logger is a text logger whose lines go to the console under name, without
// the time (the functions' JSON lines carry theirs) and without level=INFO.
func (s *Stack) logger(name string) *slog.Logger {
	w := &LineWriter{Console: s.console, Name: name}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey && a.Value.Any() == slog.LevelInfo) {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func (s *Stack) output(name string) *LineWriter {
	return &LineWriter{Console: s.console, Name: name, Quiet: s.cfg.Quiet}
}
