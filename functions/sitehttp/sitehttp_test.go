package sitehttp

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
)

func TestOrigins(t *testing.T) {
	got := Origins("ws://127.0.0.1:7880", "http://127.0.0.1:7880/rtc", "ws://127.0.0.1:7880/x", "", "not a url", "https://documenti.example.it/bucket?x=1")
	want := []string{"ws://127.0.0.1:7880", "http://127.0.0.1:7880", "https://documenti.example.it"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestFiles: pages come with the CSP naming the connect origins and
// no-cache; folders answer their index.html; only GET and HEAD.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sala"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sala", "index.html"), []byte("<h1>Sala</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := Files(dir, []string{"wss://video.example.it"})
	rec := apitest.Deliver(h, apitest.Get("/sala/"))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Sala") {
		t.Fatalf("GET /sala/: %d %s", rec.Code, rec.Body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self' wss://video.example.it", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	rec = apitest.Deliver(h, apitest.Post("/sala/", "", ""))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}
