package pg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStartNeverTakesAnotherServer: a server told to start on a port that
// another server holds fails, and says so, instead of taking the other
// server for itself (as it would by connecting to the port alone); one
// that picks its own port starts beside it.
func TestStartNeverTakesAnotherServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two PostgreSQL servers")
	}
	tmp, err := TempDir("sportello-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	server := func(name string, port int) *Server {
		t.Helper()
		s := &Server{DataDir: filepath.Join(tmp, name), Port: port, Fast: true}
		if err := s.Init(nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop() })
		return s
	}

	first := server("first", 0)
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if first.Port == 0 {
		t.Fatal("no port chosen")
	}

	// Its port, given: the second server cannot bind it and exits.
	second := server("second", first.Port)
	err = second.Start(t.Context())
	if err == nil {
		t.Fatalf("second server started on port %d, which the first holds", first.Port)
	}
	if !errors.Is(err, errExited) {
		t.Errorf("error %v, want the server's exit", err)
	}

	// No port given: it picks another and starts.
	third := server("third", 0)
	if err := third.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if third.Port == first.Port {
		t.Errorf("third server on the first's port %d", first.Port)
	}
	if err := third.ours(t.Context()); err != nil {
		t.Error(err)
	}
	// And the first is still the first's.
	if err := first.ours(t.Context()); err != nil {
		t.Error(err)
	}
	// Asked about another's folder, ours refuses.
	impostor := *third
	impostor.Port = first.Port
	if err := impostor.ours(t.Context()); err == nil {
		t.Error("the first server was taken for the third")
	}
}
