// Package web builds Sportello's static site (the repository's web/
// folder) for the local stack and the browser tests.
//
// The site's npm packages are pinned in web/package-lock.json and installed
// with `npm ci` once per lock file into a cache folder outside the
// repository, keyed by the SHA-256 of the lock:
//
//	$XDG_CACHE_HOME/sportello/web/node-<sha256 of package-lock.json>/node_modules
//
// The site is then built by `node web/build.mjs <out>` (esbuild; it finds
// the packages through SPORTELLO_NODE_MODULES) into
//
//	$XDG_CACHE_HOME/sportello/web/site-<hash of web/src, build.mjs, package.json and the lock>
//
// and reused as long as none of those change. As in package tools, several
// processes may build at once: a lock file serialises them and each result
// appears in its final place by an atomic rename of a finished folder.
package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sportello/sportello/local/filelock"
	"github.com/sportello/sportello/local/tools"
)

// KeepSites is how many built sites the cache keeps (the newest); older
// ones are removed after a build.
const KeepSites = 4

// CacheDir is the tool cache, $XDG_CACHE_HOME/sportello, else
// ~/.cache/sportello (see tools.CacheDir).
func CacheDir() (string, error) { return tools.CacheDir() }

// inProcess serialises the installs and builds of this process (flock is per
// open file, so two goroutines of one process must not both hold the lock).
var inProcess sync.Mutex

// NodeModules returns the node_modules folder holding the packages of
// <repoRoot>/web/package-lock.json, running `npm ci` into the cache folder
// cacheDir (CacheDir's answer, normally) when it does not hold them yet.
// npm's output goes to log (nil: discarded).
func NodeModules(ctx context.Context, repoRoot, cacheDir string, log io.Writer) (string, error) {
	return NodeModulesOf(ctx, filepath.Join(repoRoot, "web"), cacheDir, log)
}

// NodeModulesOf is NodeModules for any folder that pins npm packages in its
// package.json and package-lock.json, e.g. test/contracts/asyncapi (the
// AsyncAPI parser): installed once per lock file into the same cache.
func NodeModulesOf(ctx context.Context, dir, cacheDir string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	inProcess.Lock()
	defer inProcess.Unlock()
	return nodeModules(ctx, dir, filepath.Join(cacheDir, "web"), log)
}

// Build returns a folder holding the built site of <repoRoot>/web, building
// it first (and installing its packages, see NodeModules) when the cache
// folder cacheDir does not hold a build of the current sources.
func Build(ctx context.Context, repoRoot, cacheDir string, log io.Writer) (siteDir string, err error) {
	if log == nil {
		log = io.Discard
	}
	inProcess.Lock()
	defer inProcess.Unlock()
	src := filepath.Join(repoRoot, "web")
	cache := filepath.Join(cacheDir, "web")
	hash, err := SourceHash(src)
	if err != nil {
		return "", err
	}
	site := filepath.Join(cache, "site-"+hash)
	if isDir(site) {
		return site, nil
	}
	modules, err := nodeModules(ctx, src, cache, log)
	if err != nil {
		return "", err
	}
	unlock, err := filelock.Lock(filepath.Join(cache, "site.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(site) { // another process built it while we waited
		return site, nil
	}
	tmp, err := os.MkdirTemp(cache, ".build-site-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "site")
	start := time.Now()
	fmt.Fprintf(log, "web: building the site into %s\n", site)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(src, "build.mjs"), out)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "SPORTELLO_NODE_MODULES="+modules, "NODE_PATH="+modules)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("web: node build.mjs: %w", err)
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		return "", fmt.Errorf("web: build.mjs left no index.html: %w", err)
	}
	// Same file system (both under cache): the rename is atomic.
	if err := os.Rename(out, site); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "web: built the site in %s\n", time.Since(start).Round(100*time.Millisecond))
	prune(cache, site)
	return site, nil
}

// nodeModules installs src's locked packages under cache once; the caller
// holds inProcess.
func nodeModules(ctx context.Context, src, cache string, log io.Writer) (string, error) {
	lockFile := filepath.Join(src, "package-lock.json")
	sum, err := fileHash(lockFile)
	if err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	dir := filepath.Join(cache, "node-"+sum)
	modules := filepath.Join(dir, "node_modules")
	if isDir(modules) {
		return modules, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	unlock, err := filelock.Lock(filepath.Join(cache, "node-"+sum[:16]+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(modules) {
		return modules, nil
	}
	tmp, err := os.MkdirTemp(cache, ".build-node-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"package.json", "package-lock.json"} {
		if err := copyFile(filepath.Join(src, name), filepath.Join(tmp, name)); err != nil {
			return "", fmt.Errorf("web: %w", err)
		}
	}
	fmt.Fprintf(log, "web: installing the npm packages of %s (npm ci) once into %s…\n", src, dir)
	start := time.Now()
	// --ignore-scripts: no package runs code at install time (esbuild finds
	// its platform binary through its optional dependency).
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("web: npm ci: %w", err)
	}
	if !isDir(filepath.Join(tmp, "node_modules")) {
		return "", errors.New("web: npm ci left no node_modules")
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "web: installed in %s\n", time.Since(start).Round(100*time.Millisecond))
	return modules, nil
}

// SourceHash is the first 16 hex digits of a SHA-256 over everything the
// built site depends on: every file under src/src (names and contents),
// build.mjs, openapi-page.mjs, package.json and package-lock.json.
func SourceHash(src string) (string, error) {
	h := sha256.New()
	add := func(rel, path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	}
	for _, name := range []string{"build.mjs", "openapi-page.mjs", "package.json", "package-lock.json"} {
		if err := add(name, filepath.Join(src, name)); err != nil {
			return "", fmt.Errorf("web: %w", err)
		}
	}
	var files []string
	err := filepath.WalkDir(filepath.Join(src, "src"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(src, f)
		if err := add(rel, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// prune removes the built sites of cache but keep and the KeepSites-1 most
// recent others.
func prune(cache, keep string) {
	sites, _ := filepath.Glob(filepath.Join(cache, "site-*"))
	type site struct {
		path string
		mod  time.Time
	}
	var old []site
	for _, s := range sites {
		if s == keep {
			continue
		}
		if fi, err := os.Stat(s); err == nil && fi.IsDir() {
			old = append(old, site{s, fi.ModTime()})
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].mod.After(old[j].mod) })
	for i, s := range old {
		if i >= KeepSites-1 {
			_ = os.RemoveAll(s.path)
		}
	}
}

func fileHash(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
