package tools

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var fake = Tool{Name: "fake", Package: "example.org/fake/cmd/server", Version: "v1.2.3", Built: "server"}

// fakeBuild writes a script named t.Built into gobin, slowly, and appends a
// line to <gobin>/../builds so that the test can count the builds.
func fakeBuild(t Tool, gobin string) error {
	f, err := os.OpenFile(filepath.Join(filepath.Dir(gobin), "builds"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	time.Sleep(300 * time.Millisecond)
	return os.WriteFile(filepath.Join(gobin, t.Built), []byte("#!/bin/sh\necho fake\n"), 0o755)
}

func builds(t *testing.T, cache string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cache, "tools", "builds"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestEnsureBuildsOnceIntoTheVersionedFolder(t *testing.T) {
	cache := t.TempDir()
	path, err := ensure(cache, fake, fakeBuild)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "tools", "fake-v1.2.3", "fake"); path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
	out, err := exec.Command(path).Output()
	if err != nil || string(out) != "fake\n" {
		t.Errorf("running %s: %q %v", path, out, err)
	}
	if _, err := ensure(cache, fake, func(Tool, string) error { t.Error("built again"); return nil }); err != nil {
		t.Fatal(err)
	}
	if n := builds(t, cache); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	// Nothing is left of the build folder.
	left, _ := filepath.Glob(filepath.Join(cache, "tools", ".build-*"))
	if len(left) != 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

func TestEnsureReportsAFailedBuild(t *testing.T) {
	cache := t.TempDir()
	if _, err := ensure(cache, fake, func(Tool, string) error { return errors.New("no network") }); err == nil || !strings.Contains(err.Error(), "no network") {
		t.Errorf("err = %v, want the build's error", err)
	}
	// A build that produces no binary is an error too, and leaves no file.
	if _, err := ensure(cache, fake, func(Tool, string) error { return nil }); err == nil {
		t.Error("a build without a binary succeeded")
	}
	if _, err := os.Stat(fake.Path(cache)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: %v, want not there", fake.Path(cache), err)
	}
}

func TestEnsureUnknownTool(t *testing.T) {
	if _, err := Ensure("redis"); err == nil || !strings.Contains(err.Error(), "mailpit") {
		t.Errorf("err = %v, want the list of known tools", err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, _ := CacheDir(); d != "/x/cache/sportello" {
		t.Errorf("with XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := CacheDir(); d != "/home/u/.cache/sportello" {
		t.Errorf("with HOME: %s", d)
	}
}

func TestPins(t *testing.T) {
	for _, name := range []string{"mailpit", "livekit-server", "minio"} {
		p, ok := Pins[name]
		if !ok || p.Name != name || p.Version == "" || p.Package == "" {
			t.Errorf("pin %s = %+v", name, p)
		}
	}
}

// TestEnsureConcurrentProcesses starts several copies of this test binary
// that all ensure the same missing tool at once: one builds, all get the
// binary.
func TestEnsureConcurrentProcesses(t *testing.T) {
	if cache := os.Getenv("TOOLS_TEST_HELPER_CACHE"); cache != "" {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs { // goroutines of one process, too
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = ensure(cache, fake, fakeBuild)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return
	}
	cache := t.TempDir()
	var cmds []*exec.Cmd
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnsureConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "TOOLS_TEST_HELPER_CACHE="+cache)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	if n := builds(t, cache); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if !isExecutable(fake.Path(cache)) {
		t.Errorf("%s missing", fake.Path(cache))
	}
}
