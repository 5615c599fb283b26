package stack

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestLineWriter(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out, 7)
	w := &LineWriter{Console: c, Name: "reserve"}
	w.Write([]byte("{\"msg\":\"serving\"}\n{\"msg\":"))
	w.Write([]byte("\"draining\"}\r\nunfinished"))
	w.Flush()
	want := "reserve | {\"msg\":\"serving\"}\nreserve | {\"msg\":\"draining\"}\nreserve | unfinished\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}

	out.Reset()
	q := &LineWriter{Console: c, Name: "amend", Quiet: true}
	for i := range tailLines + 5 {
		q.Write([]byte(strings.Repeat("x", i%3) + "\n"))
	}
	if out.Len() != 0 {
		t.Errorf("a quiet writer wrote %q", out.String())
	}
	q.Tail()
	if n := strings.Count(out.String(), "\n"); n != tailLines {
		t.Errorf("Tail wrote %d lines, want %d", n, tailLines)
	}
}

func TestLineWriterContains(t *testing.T) {
	w := &LineWriter{Console: NewConsole(io.Discard, 5), Name: "query"}
	w.Write([]byte("listen tcp :4242: bind: address already in use\nexit\n"))
	if !w.Contains("address already in use") || w.Contains("panic") {
		t.Error("Contains does not see the last lines")
	}
}
