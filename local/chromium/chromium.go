// Package chromium finds the Chromium the browser tests drive (Debian's
// `chromium` package: downloading a browser, as Playwright normally does,
// is not possible here) and, when it is missing and we are root on a
// Debian-like system, installs it with apt-get, as local/pg does for
// PostgreSQL:
//
//	apt-get install -y --no-install-recommends chromium
//
// (after apt-get update when apt does not know the package yet). Several
// test processes may call Ensure at once (go test runs packages in
// parallel): a lock file in the tool cache serialises the installs, and
// whoever waited finds the browser already there. Not root and no
// Chromium: Ensure says what to install.
package chromium

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/local/filelock"
	"github.com/sportello/sportello/local/tools"
)

// Env names a variable that, when set, is the Chromium to use (a path, or
// a name looked up on PATH) instead of Debian's.
const Env = "CHROMIUM"

// Package is the Debian package that provides the browser.
const Package = "chromium"

// candidates are where Debian puts the browser, after PATH.
var candidates = []string{"/usr/bin/chromium"}

// ErrNotFound says no Chromium was found.
var ErrNotFound = errors.New("chromium not found")

// Find returns the path of the browser: $CHROMIUM when set, else
// `chromium` on PATH, else /usr/bin/chromium.
func Find() (string, error) {
	if v := os.Getenv(Env); v != "" {
		p, err := exec.LookPath(v)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", Env, v, err)
		}
		return p, nil
	}
	return find()
}

func find() (string, error) {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	for _, p := range candidates {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Log receives apt-get's output and the "installing…" lines; os.Stderr by
// default.
var Log io.Writer = os.Stderr

// Ensure returns the browser's path, installing Debian's chromium package
// first when it is missing and we are root.
func Ensure() (string, error) {
	if os.Getenv(Env) != "" {
		return Find()
	}
	cache, err := tools.CacheDir()
	if err != nil {
		return "", err
	}
	return (&installer{
		find:  find,
		root:  os.Geteuid() == 0,
		run:   run,
		lock:  filepath.Join(cache, "chromium-install.lock"),
		log:   Log,
		hasAp: func() bool { _, err := exec.LookPath("apt-get"); return err == nil },
	}).ensure()
}

// installer is Ensure with its surroundings replaceable, for the tests.
type installer struct {
	find  func() (string, error)
	root  bool
	hasAp func() bool
	// run runs a command with DEBIAN_FRONTEND=noninteractive, its output
	// going to out.
	run  func(out io.Writer, name string, args ...string) error
	lock string
	log  io.Writer
}

// inProcess serialises the installs of this process (flock is per open
// file, so two goroutines of one process must not both hold the lock).
var inProcess sync.Mutex

func (in *installer) ensure() (string, error) {
	if p, err := in.find(); err == nil {
		return p, nil
	}
	if !in.root {
		return "", fmt.Errorf("%w (neither on PATH nor at /usr/bin/chromium): the browser tests need Debian's chromium package: "+
			"sudo apt-get install -y --no-install-recommends chromium (or set %s to a Chromium binary), then retry", ErrNotFound, Env)
	}
	if !in.hasAp() {
		return "", fmt.Errorf("%w and apt-get is not available: install Chromium (or set %s to its binary)", ErrNotFound, Env)
	}
	inProcess.Lock()
	defer inProcess.Unlock()
	if err := os.MkdirAll(filepath.Dir(in.lock), 0o755); err != nil {
		return "", err
	}
	unlock, err := filelock.Lock(in.lock)
	if err != nil {
		return "", err
	}
	defer unlock()
	if p, err := in.find(); err == nil { // another process installed it while we waited
		return p, nil
	}
	start := time.Now()
	fmt.Fprintln(in.log, "chromium: not found: installing Debian's chromium package (a minute or two)…")
	if !in.known() {
		if err := in.run(in.log, "apt-get", "update"); err != nil {
			return "", fmt.Errorf("chromium: apt-get update: %w", err)
		}
	}
	if err := in.run(in.log, "apt-get", "install", "-y", "--no-install-recommends", Package); err != nil {
		return "", fmt.Errorf("chromium: apt-get install %s: %w", Package, err)
	}
	p, err := in.find()
	if err != nil {
		return "", fmt.Errorf("chromium: apt-get installed %s, yet: %w", Package, err)
	}
	fmt.Fprintf(in.log, "chromium: installed %s in %s\n", p, time.Since(start).Round(time.Second))
	return p, nil
}

// known tells whether apt has an installation candidate for the package
// (it does not before the first apt-get update of a fresh image).
// A failing apt-cache counts as "unknown": apt-get update is harmless.
func (in *installer) known() bool {
	var out bytes.Buffer
	if err := in.run(&out, "apt-cache", "policy", Package); err != nil {
		return false
	}
	return hasCandidate(out.String())
}

// hasCandidate reads `apt-cache policy`'s "Candidate:" line.
func hasCandidate(policy string) bool {
	sc := bufio.NewScanner(strings.NewReader(policy))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == "Candidate" {
			v = strings.TrimSpace(v)
			return v != "" && v != "(none)"
		}
	}
	return false
}

func run(out io.Writer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// Version runs `chromium --version` (e.g. "Chromium 148.0.7778.167 built on
// Debian ..."), which proves the binary starts. Debian's launcher script
// may print warnings on stderr first: they are left out.
func Version(path string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(path, "--version")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s%s", path, err, out, &stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
