// Package tools provides the pinned third-party servers the local stack and
// the tests run (Mailpit, LiveKit, MinIO, Jaeger, VictoriaMetrics): Ensure
// returns the path of a tool's binary, building it once with `go install
// <package>@<version>` (or, for a module go install refuses, with go build
// inside the module's own source) into a cache folder outside the
// repository, keyed by version:
//
//	$XDG_CACHE_HOME/sportello/tools/<name>-<version>/<name>   (~/.cache when unset)
//
// A cold build takes minutes (MinIO about ten); later calls only stat the
// file. Several processes may call Ensure at once (go test runs packages in
// parallel): a lock file serialises the builds of one tool and the binary
// appears in its final place by an atomic rename, so nobody runs a half
// written file.
package tools

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/local/filelock"
)

// Tool is one pinned binary.
type Tool struct {
	Name    string // the binary's name in the cache
	Package string // what go install builds
	Version string // the module version it is pinned at
	Built   string // the name go install gives the binary; Name when empty
	// Module, when set, is the module that holds Package, built as its own
	// main module: go install refuses a module whose go.mod has replace
	// directives (Jaeger's), go build inside its downloaded source honours
	// them and its go.sum, as the project's own release build does.
	Module string
}

// Pins are the tools and their versions (see DESIGN.md, "Verified on the
// build machines"). Later LiveKit releases depend on forked modules the
// module proxy refuses; later VictoriaMetrics releases need a newer Go.
var Pins = map[string]Tool{
	"mailpit":        {Name: "mailpit", Package: "github.com/axllent/mailpit", Version: "v1.33.1"},
	"livekit-server": {Name: "livekit-server", Package: "github.com/livekit/livekit-server/cmd/server", Version: "v1.13.5", Built: "server"},
	"minio":          {Name: "minio", Package: "github.com/minio/minio", Version: "v0.0.0-20260212201848-7aac2a2c5b7c"},
	"jaeger": {Name: "jaeger", Package: "github.com/jaegertracing/jaeger/cmd/jaeger", Version: "v1.75.0",
		Module: "github.com/jaegertracing/jaeger"}, // its go.mod replaces sarama: go install refuses it
	"victoria-metrics": {Name: "victoria-metrics", Package: "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics", Version: "v1.151.0"},
}

// Names lists the pinned tools, sorted.
func Names() []string {
	var out []string
	for n := range Pins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CacheDir is $XDG_CACHE_HOME/sportello, else ~/.cache/sportello: the
// Makefile's CACHE.
func CacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "sportello"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder: set XDG_CACHE_HOME or HOME: %w", err)
	}
	return filepath.Join(home, ".cache", "sportello"), nil
}

// Path is where tool's binary lives under cache.
func (t Tool) Path(cache string) string {
	return filepath.Join(cache, "tools", t.Name+"-"+t.Version, t.Name)
}

// Log receives the "building…" lines; os.Stderr by default.
var Log io.Writer = os.Stderr

// Ensure returns the path of the pinned tool called name, building it first
// when the cache does not hold it.
func Ensure(name string) (string, error) {
	t, ok := Pins[name]
	if !ok {
		return "", fmt.Errorf("tools: no pinned tool called %q (known: %v)", name, Names())
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	build := goInstall
	if t.Module != "" {
		build = goBuildInModule
	}
	return ensure(cache, t, build)
}

// inProcess serialises the builds of this process (flock is per open
// file, so two goroutines of one process must not both hold the lock).
var inProcess sync.Mutex

// ensure returns t's path under cache, calling build to produce the binary
// in a fresh folder when it is missing. build(gobin) must leave the binary,
// named t.Built or t.Name, in gobin.
func ensure(cache string, t Tool, build func(t Tool, gobin string) error) (string, error) {
	path := t.Path(cache)
	if isExecutable(path) {
		return path, nil
	}
	inProcess.Lock()
	defer inProcess.Unlock()
	dir := filepath.Join(cache, "tools")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := filelock.Lock(filepath.Join(dir, t.Name+"-"+t.Version+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(path) { // another process built it while we waited
		return path, nil
	}
	gobin, err := os.MkdirTemp(dir, ".build-"+t.Name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gobin)
	fmt.Fprintf(Log, "tools: building %s %s (%s) once into %s: this takes minutes…\n", t.Name, t.Version, t.Package, filepath.Dir(path))
	start := time.Now()
	if err := build(t, gobin); err != nil {
		return "", fmt.Errorf("tools: build %s@%s: %w", t.Package, t.Version, err)
	}
	built := t.Built
	if built == "" {
		built = t.Name
	}
	if !isExecutable(filepath.Join(gobin, built)) {
		return "", fmt.Errorf("tools: building %s@%s left no %s binary", t.Package, t.Version, built)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	// Same file system (both under dir): the rename is atomic.
	if err := os.Rename(filepath.Join(gobin, built), path); err != nil {
		return "", err
	}
	fmt.Fprintf(Log, "tools: built %s in %s\n", t.Name, time.Since(start).Round(time.Second))
	return path, nil
}

// goInstall runs go install t.Package@t.Version with GOBIN set to gobin,
// outside any workspace.
func goInstall(t Tool, gobin string) error {
	cmd := exec.Command("go", "install", t.Package+"@"+t.Version)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOWORK=off", "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = Log, Log
	return cmd.Run()
}

// goBuildInModule downloads t.Module at t.Version into the module cache and
// builds t.Package there, as the main module (its go.mod and go.sum, its
// replace directives), into gobin.
func goBuildInModule(t Tool, gobin string) error {
	rel, ok := strings.CutPrefix(t.Package, t.Module)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return fmt.Errorf("package %s is not in module %s", t.Package, t.Module)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false -mod=readonly")
	download := exec.Command("go", "mod", "download", "-json", t.Module+"@"+t.Version)
	download.Dir, download.Env, download.Stderr = gobin, env, Log
	out, err := download.Output()
	if err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return fmt.Errorf("go mod download: %s", mod.Error)
	}
	built := t.Built
	if built == "" {
		built = t.Name
	}
	build := exec.Command("go", "build", "-o", filepath.Join(gobin, built), "."+rel)
	build.Dir, build.Env, build.Stdout, build.Stderr = mod.Dir, env, Log, Log
	return build.Run()
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
