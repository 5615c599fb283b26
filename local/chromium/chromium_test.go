package chromium

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fakeBinary(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho 'Chromium 1.2.3 fake'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindOnPath(t *testing.T) {
	dir := t.TempDir()
	want := fakeBinary(t, dir, "chromium")
	t.Setenv(Env, "")
	t.Setenv("PATH", dir)
	got, err := Find()
	if err != nil || got != want {
		t.Fatalf("Find() = %q, %v; want %q", got, err, want)
	}
	v, err := Version(got)
	if err != nil || v != "Chromium 1.2.3 fake" {
		t.Errorf("Version = %q, %v", v, err)
	}
}

func TestFindEnv(t *testing.T) {
	dir := t.TempDir()
	want := fakeBinary(t, dir, "my-chrome")
	t.Setenv(Env, want)
	t.Setenv("PATH", t.TempDir())
	if got, err := Find(); err != nil || got != want {
		t.Fatalf("Find() = %q, %v; want %q", got, err, want)
	}
	// Ensure never installs when the variable names the browser.
	if got, err := Ensure(); err != nil || got != want {
		t.Fatalf("Ensure() = %q, %v; want %q", got, err, want)
	}
	t.Setenv(Env, filepath.Join(dir, "missing"))
	if _, err := Ensure(); err == nil || !strings.Contains(err.Error(), Env+"=") {
		t.Errorf("Ensure() with %s naming a missing file: %v, want an error naming the variable", Env, err)
	}
}

func TestFindFallback(t *testing.T) {
	dir := t.TempDir()
	want := fakeBinary(t, dir, "elsewhere")
	old := candidates
	candidates = []string{filepath.Join(dir, "nope"), want}
	t.Cleanup(func() { candidates = old })
	t.Setenv(Env, "")
	t.Setenv("PATH", t.TempDir())
	if got, err := Find(); err != nil || got != want {
		t.Fatalf("Find() = %q, %v; want %q", got, err, want)
	}
	candidates = []string{filepath.Join(dir, "nope")}
	if _, err := Find(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find() with nothing anywhere: %v, want ErrNotFound", err)
	}
}

func TestHasCandidate(t *testing.T) {
	for policy, want := range map[string]bool{
		"chromium:\n  Installed: (none)\n  Candidate: 148.0.7778.167-1~deb12u1\n  Version table:\n": true,
		"chromium:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n":                   false,
		"":                                       false, // apt-cache policy prints nothing for a package it has never heard of
		"N: Unable to locate package chromium\n": false,
	} {
		if got := hasCandidate(policy); got != want {
			t.Errorf("hasCandidate(%q) = %v, want %v", policy, got, want)
		}
	}
}

// fakeApt is a Debian machine: apt knows the package once updated, and
// the browser exists once installed.
type fakeApt struct {
	mu        sync.Mutex
	known     bool
	installed bool
	failApt   bool
	calls     []string
	path      string
}

func (f *fakeApt) find() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.installed {
		return f.path, nil
	}
	return "", ErrNotFound
}

func (f *fakeApt) run(out io.Writer, name string, args ...string) error {
	f.mu.Lock()
	cmd := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, cmd)
	f.mu.Unlock()
	switch cmd {
	case "apt-cache policy chromium":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.known {
			fmt.Fprint(out, "chromium:\n  Installed: (none)\n  Candidate: 148.0-1\n")
		}
		return nil
	case "apt-get update":
		f.mu.Lock()
		defer f.mu.Unlock()
		f.known = true
		return nil
	case "apt-get install -y --no-install-recommends chromium":
		time.Sleep(50 * time.Millisecond) // long enough for the others to queue on the lock
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.known || f.failApt {
			fmt.Fprintln(out, "E: Unable to locate package chromium")
			return errors.New("exit status 100")
		}
		f.installed = true
		return nil
	}
	return fmt.Errorf("unexpected command %q", cmd)
}

func (f *fakeApt) installer(t *testing.T, root bool, log io.Writer) *installer {
	return &installer{find: f.find, root: root, hasAp: func() bool { return true }, run: f.run,
		lock: filepath.Join(t.TempDir(), "sub", "chromium-install.lock"), log: log}
}

func TestEnsureInstallsAfterUpdate(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium"}
	var log bytes.Buffer
	got, err := f.installer(t, true, &log).ensure()
	if err != nil || got != f.path {
		t.Fatalf("ensure() = %q, %v; log:\n%s", got, err, &log)
	}
	want := []string{"apt-cache policy chromium", "apt-get update", "apt-get install -y --no-install-recommends chromium"}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(log.String(), "installing Debian's chromium package") {
		t.Errorf("log does not say it installs: %s", &log)
	}
}

func TestEnsureKnownPackageSkipsUpdate(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium", known: true}
	if _, err := f.installer(t, true, io.Discard).ensure(); err != nil {
		t.Fatal(err)
	}
	want := []string{"apt-cache policy chromium", "apt-get install -y --no-install-recommends chromium"}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands: %q, want %q", f.calls, want)
	}
}

func TestEnsurePresentRunsNothing(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium", installed: true}
	if got, err := f.installer(t, true, io.Discard).ensure(); err != nil || got != f.path {
		t.Fatalf("ensure() = %q, %v", got, err)
	}
	if len(f.calls) != 0 {
		t.Errorf("commands run with the browser present: %q", f.calls)
	}
}

func TestEnsureNotRoot(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium", known: true}
	_, err := f.installer(t, false, io.Discard).ensure()
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "apt-get install -y --no-install-recommends chromium") {
		t.Fatalf("ensure() as non-root: %v, want ErrNotFound saying what to install", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("commands run as non-root: %q", f.calls)
	}
}

func TestEnsureNoApt(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium"}
	in := f.installer(t, true, io.Discard)
	in.hasAp = func() bool { return false }
	if _, err := in.ensure(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "apt-get is not available") {
		t.Fatalf("ensure() without apt-get: %v", err)
	}
}

func TestEnsureAptFails(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium", known: true, failApt: true}
	var log bytes.Buffer
	_, err := f.installer(t, true, &log).ensure()
	if err == nil || !strings.Contains(err.Error(), "apt-get install chromium") {
		t.Fatalf("ensure() with apt failing: %v", err)
	}
	if !strings.Contains(log.String(), "E: Unable to locate package") {
		t.Errorf("apt's output is not in the log: %s", &log)
	}
}

// Many callers at once (the parallel test packages): one install.
func TestEnsureConcurrentInstallsOnce(t *testing.T) {
	f := &fakeApt{path: "/usr/bin/chromium", known: true}
	lock := filepath.Join(t.TempDir(), "chromium-install.lock")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := f.installer(t, true, io.Discard)
			in.lock = lock
			if p, err := in.ensure(); err != nil || p != f.path {
				errs <- fmt.Errorf("ensure() = %q, %v", p, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	installs := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "apt-get install") {
			installs++
		}
	}
	if installs != 1 {
		t.Errorf("%d installs, want 1: %q", installs, f.calls)
	}
}

// TestEnsureReal finds (or, as root, installs for real) Debian's chromium
// and starts it.
func TestEnsureReal(t *testing.T) {
	if testing.Short() {
		t.Skip("may install Debian's chromium package")
	}
	if _, err := Find(); err != nil && os.Geteuid() != 0 {
		t.Skipf("no Chromium and not root: %v", err)
	}
	start := time.Now()
	Log = testWriter{t}
	t.Cleanup(func() { Log = os.Stderr })
	p, err := Ensure()
	if err != nil {
		t.Fatal(err)
	}
	v, err := Version(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v, "Chromium") {
		t.Errorf("%s --version = %q, want Chromium", p, v)
	}
	t.Logf("%s: %s (Ensure took %s)", p, v, time.Since(start).Round(time.Millisecond))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
