package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/httpjson"
)

// fakeFunction stands in for a function: it answers its readiness and echoes
// every other request's method, path and query.
func fakeFunction(t *testing.T, name string, ready *atomic.Bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/readiness" {
			if ready != nil && !ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Function", name)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"body": string(body), "authorization": r.Header.Get("Authorization"), "forwarded_for": r.Header.Get("X-Forwarded-For")})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func problemOf(t *testing.T, resp *http.Response) httpjson.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p httpjson.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGatewayRoutesByManifest(t *testing.T) {
	gw := &Gateway{}
	for _, f := range manifest.Functions {
		gw.SetUpstream(f.Name, mustURL(t, fakeFunction(t, f.Name, nil).URL))
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	for _, tc := range []struct{ method, path, function string }{
		{"GET", "/api/offices", "list-services"},
		{"GET", "/api/offices/urp", "list-services"},
		{"GET", "/api/services/sue", "list-services"},
		{"GET", "/api/slots?service_id=sue&from=2027-03-01", "query-slots"},
		{"POST", "/api/holds", "reserve"},
		{"POST", "/api/bookings", "confirm"},
		{"GET", "/api/manage", "amend"},
		{"POST", "/api/manage/reschedule", "amend"},
		{"POST", "/api/manage/cancel", "amend"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{"start":"x"}`))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("X-Forwarded-For", "203.0.113.9") // a proxy before the gateway
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var echo map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		u := mustURL(t, tc.path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Function") != tc.function {
			t.Errorf("%s %s: %d from %q, want 200 from %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("X-Function"), tc.function)
			continue
		}
		if echo["method"] != tc.method || echo["path"] != u.Path || echo["query"] != u.RawQuery ||
			echo["body"] != `{"start":"x"}` || echo["authorization"] != "Bearer tok" || echo["forwarded_for"] != "203.0.113.9, 127.0.0.1" {
			t.Errorf("%s %s: the function saw %v", tc.method, tc.path, echo)
		}
	}
}

func TestGatewayProblems(t *testing.T) {
	gw := &Gateway{}
	down := fakeFunction(t, "reserve", nil)
	gw.SetUpstream("reserve", mustURL(t, down.URL))
	down.Close()
	srv := httptest.NewServer(gw)
	defer srv.Close()

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/nothing", http.StatusNotFound, "not_found"},
		{"/api", http.StatusNotFound, "not_found"},
		{"/api/officesX", http.StatusNotFound, "not_found"},
		{"/api/holds", http.StatusBadGateway, "bad_gateway"}, // the function is down
		{"/api/slots", http.StatusBadGateway, "bad_gateway"}, // the function was never started
	} {
		resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		p := problemOf(t, resp)
		resp.Body.Close()
		if resp.StatusCode != tc.status || p.Status != tc.status || p.Code != tc.code || p.Type == "" || p.Title == "" || p.Detail == "" {
			t.Errorf("POST %s: %d %+v, want %d %s", tc.path, resp.StatusCode, p, tc.status, tc.code)
		}
	}
}

func TestGatewayHealth(t *testing.T) {
	gw := &Gateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	health := func() (int, Health) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, h
	}
	if code, h := health(); code != http.StatusServiceUnavailable || h.Functions["reserve"] != "not started" {
		t.Errorf("nothing started: %d %+v", code, h)
	}
	var slow atomic.Bool
	for _, f := range manifest.Functions {
		var ready *atomic.Bool
		if f.Name == "amend" {
			ready = &slow
		}
		gw.SetUpstream(f.Name, mustURL(t, fakeFunction(t, f.Name, ready).URL))
	}
	if code, h := health(); code != http.StatusServiceUnavailable || h.Status != "starting" || h.Functions["amend"] != "not ready" || h.Functions["reserve"] != "ready" {
		t.Errorf("amend not ready: %d %+v", code, h)
	}
	slow.Store(true)
	if code, h := health(); code != http.StatusOK || h.Status != "ready" || len(h.Functions) != len(manifest.Functions) {
		t.Errorf("all ready: %d %+v", code, h)
	}
}

func TestGatewayIndexAndSite(t *testing.T) {
	srv := httptest.NewServer(&Gateway{})
	defer srv.Close()
	get := func(base, path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(srv.URL, "/")
	if code != http.StatusOK || !strings.Contains(body, "/api/slots") || !strings.Contains(body, `href="/_local/events"`) {
		t.Errorf("index: %d %s", code, body)
	}
	if code, _ := get(srv.URL, "/nothing.html"); code != http.StatusNotFound {
		t.Errorf("/nothing.html without a site: %d, want 404", code)
	}

	site := t.TempDir()
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>Sportello</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	withSite := httptest.NewServer(&Gateway{Site: site})
	defer withSite.Close()
	if code, body := get(withSite.URL, "/"); code != http.StatusOK || body != "<h1>Sportello</h1>" {
		t.Errorf("site index: %d %q", code, body)
	}
	if code, body := get(withSite.URL, "/_local/"); code != http.StatusOK || !strings.Contains(body, "/api/offices") {
		t.Errorf("/_local/ with a site: %d", code)
	}
}

func TestSiteDir(t *testing.T) {
	root := t.TempDir()
	if got := SiteDir(root); got != "" {
		t.Errorf("SiteDir without web/ = %q", got)
	}
	if err := os.Mkdir(filepath.Join(root, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := SiteDir(root); got != "" {
		t.Errorf("SiteDir with an empty web/ = %q", got)
	}
	if err := os.WriteFile(filepath.Join(root, "web", "build.mjs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := SiteDir(root); got != filepath.Join(root, "web") {
		t.Errorf("SiteDir = %q", got)
	}
}

func TestGatewaySecurityHeaders(t *testing.T) {
	site := t.TempDir()
	for name, body := range map[string]string{
		"index.html":                         "<h1>Sportello</h1>",
		"prenotazione/gestisci/index.html":   "<h1>Gestisci</h1>",
		"assets/home.js":                     "console.log(1)",
		"assets/bootstrap-italia/css/bi.css": "body{}",
	} {
		p := filepath.Join(site, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gw := &Gateway{}
	gw.SetUpstream("list-services", mustURL(t, fakeFunction(t, "list-services", nil).URL))
	srv := httptest.NewServer(gw)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	common := func(path string, resp *http.Response) {
		t.Helper()
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}

	// Before the site is built: the index page, without the CSP (it has an inline style).
	resp := get("/")
	common("/ (no site)", resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("/ without a site: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}

	gw.SetSite(site)
	gw.SetConnectSources("ws://127.0.0.1:7880", "http://127.0.0.1:7880/", "http://127.0.0.1:9000", "", "http://127.0.0.1:9000/bucket/key?x=1")
	want := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; " +
		"media-src 'self' blob:; connect-src 'self' ws://127.0.0.1:7880 http://127.0.0.1:7880 http://127.0.0.1:9000; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
	for _, path := range []string{"/", "/index.html", "/prenotazione/gestisci/", "/assets/home.js", "/assets/bootstrap-italia/css/bi.css", "/nothing.html"} {
		resp := get(path)
		common(path, resp)
		if got := resp.Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP\n got %q\nwant %q", path, got, want)
		}
	}
	if resp := get("/prenotazione/gestisci/"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/prenotazione/gestisci/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The folder without its slash redirects to it (a browser keeps the #fragment).
	if resp := get("/prenotazione/gestisci"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "gestisci/" {
		t.Errorf("/prenotazione/gestisci: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get("/assets/home.js"); !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("home.js Content-Type %q", resp.Header.Get("Content-Type"))
	}
	// The API and the local tools carry the common headers too.
	for _, path := range []string{"/api/offices", "/api/nothing", "/_local/"} {
		common(path, get(path))
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/index.html", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /index.html: %v %v", resp, err)
	}
}
