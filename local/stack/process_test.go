package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/broker"
	"github.com/sportello/sportello/local/syncbuf"
)

// The test binary doubles as a fake function: with STACK_FAKE_FUNCTION set
// it serves /health/readiness on $PORT until SIGTERM. With
// STACK_FAKE_BUSY_DIR set, its first start in that folder fails as a
// function whose port was taken does.
func TestMain(m *testing.M) {
	if os.Getenv("STACK_FAKE_FUNCTION") != "" {
		os.Exit(fakeFunctionMain())
	}
	os.Exit(m.Run())
}

func fakeFunctionMain() int {
	port := os.Getenv("PORT")
	if dir := os.Getenv("STACK_FAKE_BUSY_DIR"); dir != "" {
		mark := filepath.Join(dir, filepath.Base(os.Args[0]))
		if _, err := os.Stat(mark); err != nil {
			os.WriteFile(mark, nil, 0o644)
			fmt.Fprintf(os.Stderr, `{"level":"ERROR","err":"listen tcp :%s: bind: address already in use"}`+"\n", port)
			return 1
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	fmt.Printf(`{"msg":"serving","env":"%s %s %s"}`+"\n", os.Getenv("DATABASE_URL"), os.Getenv("K_SINK"), os.Getenv("SMTP_PORT"))
	<-sigs
	fmt.Println(`{"msg":"stopped"}`)
	return 0
}

// fakeBin links every function's name to the test binary.
func fakeBin(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range manifest.Functions {
		if err := os.Symlink(exe, filepath.Join(dir, f.Name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFunctionsStartAndStop(t *testing.T) {
	t.Setenv("STACK_FAKE_FUNCTION", "1")
	t.Setenv("STACK_FAKE_BUSY_DIR", t.TempDir())
	var out syncbuf.Buffer
	s := New(Config{Out: &out, Port: 1})
	ctx := context.Background()
	env := []string{"DATABASE_URL=postgres://unused", "K_SINK=http://127.0.0.1:1/", "SMTP_PORT=2525"}
	if err := s.startFunctions(ctx, fakeBin(t), env); err != nil {
		t.Fatalf("start: %v\n%s", err, out.String())
	}
	if h := s.gw.Ready(ctx); h.Status != "ready" {
		t.Errorf("after start: %+v", h)
	}
	if n := strings.Count(out.String(), `"env":"postgres://unused http://127.0.0.1:1/ 2525"`); n != len(manifest.Functions) {
		t.Errorf("%d functions got the environment, want %d:\n%s", n, len(manifest.Functions), out.String())
	}
	// The broker delivers to every consumer.
	rec := httptest.NewRecorder()
	s.broker.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/triggers", nil))
	var triggers []broker.TriggerStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &triggers); err != nil {
		t.Fatal(err)
	}
	if len(triggers) != len(manifest.Triggers()) {
		t.Errorf("%d triggers, want %d", len(triggers), len(manifest.Triggers()))
	}
	for _, tr := range triggers {
		if !strings.HasPrefix(tr.Subscriber, "http://127.0.0.1:") || !strings.HasSuffix(tr.Subscriber, "/") {
			t.Errorf("trigger %s delivers to %q", tr.Name, tr.Subscriber)
		}
	}
	for _, f := range manifest.Functions {
		if !strings.Contains(out.String(), "port taken: starting again on another\" function="+f.Name) {
			t.Errorf("%s was not started again after losing its port:\n%s", f.Name, out.String())
		}
	}
	// A function that dies is reported; one that lost its port was not.
	victim := s.procs[2]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-s.exited:
		for !s.running(p) {
			p = <-s.exited
		}
		if p != victim {
			t.Errorf("exited: %s, want %s", p.name, victim.name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the killed function was not reported")
	}

	s.stop()
	for _, p := range s.procs {
		select {
		case <-p.done:
		default:
			t.Errorf("%s still running after stop", p.name)
		}
	}
	if n := strings.Count(out.String(), `{"msg":"stopped"}`); n != len(manifest.Functions)-1 {
		t.Errorf("%d functions drained on SIGTERM, want %d:\n%s", n, len(manifest.Functions)-1, out.String())
	}
}
