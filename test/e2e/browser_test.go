package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sportello/sportello/local/chromium"
	"github.com/sportello/sportello/local/stack"
	"github.com/sportello/sportello/local/web"
)

// browserTestTimeout bounds one browser test (node --test-timeout).
const browserTestTimeout = 5 * time.Minute

// TestBrowser runs the site's browser tests (web/test/*.test.mjs: node:test
// with playwright-core driving Debian's chromium) against a local stack:
//
//  1. Debian's chromium is found, or installed with apt-get as root
//     (local/chromium), and the site's npm packages are installed once
//     into the cache (local/web);
//  2. the stack starts (housekeeping ticking every 2s) and node runs the
//     tests one file at a time, with BASE_URL (the gateway), MAILPIT_URL,
//     LIVEKIT_URL, CHROMIUM, SPORTELLO_NODE_MODULES, SPORTELLO_ARTIFACTS
//     (where the screenshots go: <repo>/.run/artifacts/screenshots unless
//     set), SPORTELLO_RUN (an id the tests derive their made-up citizens
//     from) and SPORTELLO_PERSONAL (a file the tests list every personal
//     datum and token they used in); node's output goes to the test log;
//  3. node must exit 0, and once the stack has stopped, its output must hold
//     none of the values the tests listed.
//
// WEB_TESTS, when set, selects test files by name (a glob such as
// "booking*", matched against web/test/<name>.test.mjs).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack and a browser")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	pattern := "*"
	if v := os.Getenv("WEB_TESTS"); v != "" {
		pattern = v
	}
	files, err := filepath.Glob(filepath.Join(root, "web", "test", pattern+".test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no browser tests match web/test/%s.test.mjs", pattern)
	}
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		// Leave time to stop the stack and report.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-90*time.Second))
		defer cancel()
	}

	// 1. The browser and the npm packages, before the stack: a machine
	// that cannot have them fails in seconds.
	logw := newLineLogger(t, "chromium")
	start := time.Now()
	chromium.Log = logw
	defer func() { chromium.Log = os.Stderr }()
	browser, err := chromium.Ensure()
	if err != nil {
		t.Fatal(err)
	}
	version, err := chromium.Version(browser)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := web.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	modules, err := web.NodeModules(ctx, root, cache, logw)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (%s); npm packages in %s; ready in %s", browser, version, modules, time.Since(start).Round(time.Millisecond))

	// 2. The stack, then node.
	s := startStack(t, stackOptions{Args: []string{"-tick", "2s"}})
	env := s.services(t)
	for _, k := range []string{"MAILPIT_URL", "LIVEKIT_URL"} {
		if env[k] == "" {
			t.Fatalf("GET /_local/services has no %s: %v", k, env)
		}
	}
	artifacts := os.Getenv("SPORTELLO_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, ".run", "artifacts", "screenshots")
		// The default folder holds this run's screenshots only.
		old, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", artifacts)
	personalFile := filepath.Join(t.TempDir(), "personal.jsonl")
	run := randomHex(t, 3)

	args := []string{"--test", "--test-concurrency=1", "--test-reporter=spec",
		"--test-timeout=" + strconv.FormatInt(browserTestTimeout.Milliseconds(), 10)}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		args = append(args, rel)
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"BASE_URL="+s.gateway,
		"MAILPIT_URL="+env["MAILPIT_URL"],
		"LIVEKIT_URL="+env["LIVEKIT_URL"],
		"CHROMIUM="+browser,
		"SPORTELLO_NODE_MODULES="+modules,
		"SPORTELLO_ARTIFACTS="+artifacts,
		"SPORTELLO_RUN="+run,
		"SPORTELLO_PERSONAL="+personalFile,
		"FORCE_COLOR=0", "NO_COLOR=1",
	)
	nodeLog := newLineLogger(t, "node")
	cmd.Stdout, cmd.Stderr = nodeLog, nodeLog
	// node and the browsers it starts share a process group: a timeout
	// kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	t.Logf("node %s (run %s)", strings.Join(args, " "), run)
	start = time.Now()
	err = cmd.Run()
	nodeLog.Flush()
	if cmd.Process != nil {
		// Whatever node left behind (a browser it did not close).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		if ctx.Err() != nil {
			t.Errorf("the browser tests did not finish in time (%s): %v", time.Since(start).Round(time.Second), err)
		} else {
			t.Errorf("the browser tests failed (%s): %v", time.Since(start).Round(time.Second), err)
		}
	} else {
		t.Logf("the browser tests passed in %s", time.Since(start).Round(time.Second))
	}

	// 3. Personal data: none in the stack's output.
	personal := readPersonal(t, personalFile)
	s.stop(t)
	out := s.out.String()
	leaks := 0
	for _, p := range personal {
		if strings.Contains(out, p) {
			leaks++
			t.Errorf("the stack's output carries personal data or a secret the browser tests used: %q", p)
		}
	}
	if leaks == 0 {
		t.Logf("%d personal data and secrets the browser tests used, none in the stack's output", len(personal))
	}
}

// readPersonal reads the values the node tests listed (one JSON string a
// line), without duplicates or values too short to mean anything.
func readPersonal(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v string
		if err := json.Unmarshal(line, &v); err != nil {
			t.Errorf("%s: %q: %v", file, line, err)
			continue
		}
		if len(v) >= 6 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// newLineLogger writes each line it receives to the test log as it comes,
// under name (the stack's console and line writer, on the test log).
func newLineLogger(t *testing.T, name string) *stack.LineWriter {
	return &stack.LineWriter{Console: stack.NewConsole(testLog{t}, len(name)), Name: name}
}

// testLog writes the whole lines of a console to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
