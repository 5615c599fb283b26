package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
)

// TestSite: the pages with the CSP naming LiveKit's and S3's public
// origins, the security headers, the health endpoints.
func TestSite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>Sportello</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: dir, LiveKitPublicURL: "wss://video.comune.example.it", S3PublicEndpoint: "https://documenti.comune.example.it"}
	if diff := cmp.Diff([]string{"wss://video.comune.example.it", "https://video.comune.example.it", "https://documenti.comune.example.it"},
		connectSources(cfg)); diff != "" {
		t.Errorf("connect sources (-want +got):\n%s", diff)
	}
	h := newHandler(cfg)
	rec := apitest.Deliver(h, apitest.Get("/"))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Sportello") {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' wss://video.comune.example.it https://video.comune.example.it https://documenti.comune.example.it") {
		t.Errorf("CSP %q", csp)
	}
	if rp := rec.Header().Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("Referrer-Policy %q", rp)
	}
	for _, p := range []string{"/health/readiness", "/health/liveness"} {
		rec := apitest.Deliver(h, apitest.Get(p))
		if rec.Code != 200 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}
