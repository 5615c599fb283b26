package web

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/local/syncbuf"
)

// repoRoot is the repository holding this package (local/web).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "build.mjs")); err != nil {
		t.Fatalf("no web/build.mjs under %s: %v", root, err)
	}
	return root
}

// copySources copies web/ (sources, build script, package files) of the
// repository into a fresh root, so that a test can change them.
func copySources(t *testing.T, from string) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join(from, "web")
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if fi.IsDir() && (fi.Name() == "node_modules" || fi.Name() == "test") {
			return filepath.SkipDir
		}
		to := filepath.Join(root, "web", rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return copyFile(path, to)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func needNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH", tool)
		}
	}
}

// buildFresh builds the site of root into a new cache folder within five
// minutes, failing the test if it cannot, and answers the site, the cache
// and the build's log.
func buildFresh(t *testing.T, root string) (site, cache string, log *syncbuf.Buffer) {
	t.Helper()
	cache = t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	log = &syncbuf.Buffer{}
	site, err := Build(ctx, root, cache, log)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log)
	}
	return site, cache, log
}

func TestBuildInstallsOnceAndReusesTheSite(t *testing.T) {
	needNode(t)
	root := copySources(t, repoRoot(t))
	site, cache, log := buildFresh(t, root)
	ctx := t.Context()
	hash, err := SourceHash(filepath.Join(root, "web"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "web", "site-"+hash); site != want {
		t.Errorf("site = %s, want %s", site, want)
	}
	lockSum, _ := fileHash(filepath.Join(root, "web", "package-lock.json"))
	modules := filepath.Join(cache, "web", "node-"+lockSum, "node_modules")
	for _, p := range []string{
		filepath.Join(modules, "bootstrap-italia", "package.json"),
		filepath.Join(modules, "esbuild", "package.json"),
		filepath.Join(site, "index.html"),
		filepath.Join(site, "prenota", "index.html"),
		filepath.Join(site, "assets", "home.js"),
		filepath.Join(site, "assets", "booking.js"),
		filepath.Join(site, "assets", "site.css"),
		filepath.Join(site, "assets", "fonts.css"),
		filepath.Join(site, "assets", "bootstrap-italia", "css", "bootstrap-italia.min.css"),
		filepath.Join(site, "assets", "bootstrap-italia", "svg", "sprites.svg"),
		filepath.Join(site, "assets", "bootstrap-italia", "fonts", "Titillium_Web", "titillium-web-v10-latin-ext_latin-regular.woff2"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if got, err := NodeModules(ctx, root, cache, nil); err != nil || got != modules {
		t.Errorf("NodeModules = %s, %v; want %s", got, err, modules)
	}
	if strings.Count(log.String(), "npm ci") != 1 {
		t.Errorf("npm ci ran %d times:\n%s", strings.Count(log.String(), "npm ci"), log.String())
	}

	// Unchanged sources: the same folder, nothing run.
	var again syncbuf.Buffer
	if site2, err := Build(ctx, root, cache, &again); err != nil || site2 != site || again.String() != "" {
		t.Errorf("second Build = %s, %v, log %q; want %s without building", site2, err, again.String(), site)
	}

	// A changed page: a new build next to the old one, with the same packages.
	index := filepath.Join(root, "web", "src", "index.html")
	b, _ := os.ReadFile(index)
	if err := os.WriteFile(index, bytes.Replace(b, []byte("</main>"), []byte("<p id=\"changed\">x</p></main>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	var third syncbuf.Buffer
	site3, err := Build(ctx, root, cache, &third)
	if err != nil || site3 == site {
		t.Fatalf("Build after a change = %s, %v\n%s", site3, err, third.String())
	}
	if strings.Contains(third.String(), "npm ci") {
		t.Errorf("npm ci ran again for an unchanged lock:\n%s", third.String())
	}
	if out, _ := os.ReadFile(filepath.Join(site3, "index.html")); !bytes.Contains(out, []byte(`id="changed"`)) {
		t.Errorf("the new build lacks the change")
	}
	left, _ := filepath.Glob(filepath.Join(cache, "web", ".build-*"))
	if len(left) != 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

// TestBuiltSiteIsSelfContained builds the repository's site and checks that
// nothing in it makes the browser reach another origin, that every local
// reference of the pages exists, and that no page carries inline code (the
// CSP would block it).
func TestBuiltSiteIsSelfContained(t *testing.T) {
	needNode(t)
	root := repoRoot(t)
	site, _, _ := buildFresh(t, root)
	attr := regexp.MustCompile(`(?i)\b(?:src|href|action|poster)\s*=\s*["']([^"']*)["']`)
	cssURL := regexp.MustCompile(`url\(\s*["']?([^"')]+)["']?\s*\)`)
	external := regexp.MustCompile(`(?i)^(?:https?:)?//`)
	// In scripts, a URL the code would load: an import, a fetch, a script
	// or style injected from another origin.
	jsLoad := regexp.MustCompile(`(?i)(?:import\s*\(?\s*|from\s*|fetch\(\s*|\.src\s*=\s*|href\s*=\s*)["'\x60](?:https?:)?//[^"'\x60]*`)
	scriptTag := regexp.MustCompile(`(?i)<script\b[^>]*>`)
	inline := regexp.MustCompile(`(?i)<style\b|\sstyle\s*=|\son[a-z]+\s*=\s*["']`)
	pages := 0
	err := filepath.Walk(site, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(site, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		switch filepath.Ext(path) {
		case ".html":
			pages++
			if m := inline.FindString(text); m != "" {
				t.Errorf("%s: inline code %q (the CSP forbids it)", rel, m)
			}
			for _, tag := range scriptTag.FindAllString(text, -1) {
				if !strings.Contains(strings.ToLower(tag), "src=") {
					t.Errorf("%s: inline script %q (the CSP forbids it)", rel, tag)
				}
			}
			for _, m := range attr.FindAllStringSubmatch(text, -1) {
				ref := m[1]
				if external.MatchString(ref) {
					t.Errorf("%s refers to another origin: %s", rel, ref)
					continue
				}
				if strings.HasPrefix(ref, "/assets/") { // pages link to other helpers' pages too
					p := strings.SplitN(strings.SplitN(ref, "#", 2)[0], "?", 2)[0]
					if strings.HasSuffix(p, "/") {
						p += "index.html"
					}
					if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(p))); err != nil {
						t.Errorf("%s refers to %s, which the site lacks", rel, ref)
					}
				}
			}
		case ".css":
			for _, m := range cssURL.FindAllStringSubmatch(text, -1) {
				ref := m[1]
				if strings.HasPrefix(ref, "data:application/font") || strings.HasPrefix(ref, "data:font") {
					t.Errorf("%s has a data: font, which font-src 'self' refuses", rel)
				}
				if strings.HasPrefix(ref, "data:") {
					continue
				}
				if external.MatchString(ref) {
					t.Errorf("%s loads from another origin: %s", rel, ref)
				} else if !strings.HasPrefix(ref, "#") {
					p := filepath.Join(filepath.Dir(path), filepath.FromSlash(strings.SplitN(strings.SplitN(ref, "#", 2)[0], "?", 2)[0]))
					if _, err := os.Stat(p); err != nil && strings.HasSuffix(rel, "fonts.css") {
						t.Errorf("%s refers to %s, which the site lacks", rel, ref)
					}
				}
			}
			if strings.Contains(text, "@import") && regexp.MustCompile(`@import\s+(?:url\()?["']?(?:https?:)?//`).MatchString(text) {
				t.Errorf("%s imports from another origin", rel)
			}
		case ".js":
			if m := jsLoad.FindString(text); m != "" {
				t.Errorf("%s loads from another origin: %s", rel, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages < 2 {
		t.Errorf("%d pages built, want at least the home and the booking pages", pages)
	}
}

// TestSiteUnitTests runs the site's unit tests, web/test/unit/*.test.mjs
// with node's own test runner — the pure helpers of web/src/js/lib: dates
// in Europe/Rome over the DST change days, the slot calendar, i18n lookups
// and the dictionaries' keys, the texts of the API's problems, the document
// limits — and fails when node does. They need no npm package. TZ is set
// far from Rome: the site must not lean on the machine's time zone.
func TestSiteUnitTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "web", "test", "unit", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no unit tests in web/test/unit (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test", "--test-reporter=spec"}, files...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TZ=America/Los_Angeles", "NO_COLOR=1", "FORCE_COLOR=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test web/test/unit: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^ℹ pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^ℹ fail 0$`).Match(out) {
		t.Fatalf("node --test web/test/unit ran no test or failed one:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out[bytes.LastIndex(out, []byte("ℹ tests")):]))
}
