// This file holds the gateway in front of the functions: the routes to
// them, the site, the local tools under /_local/ and /health.

package stack

import (
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/functions/sitehttp"
	"github.com/sportello/sportello/local/httpjson"
	"github.com/sportello/sportello/local/traces"
)

// Gateway is the local stand-in for the ingress in front of the functions:
// it routes /api/... to the function that manifest.Route names, serves the
// static site (or an index page when there is none), the local tools under
// /_local/ (the broker's event log and dead letters, the traces, the
// services' URLs), and /health, which answers 200 once every function is
// ready.
type Gateway struct {
	Site        string              // folder of the built static site; "" for the index page (see SetSite)
	Functions   []manifest.Function // the functions it routes to and checks; manifest.Functions when nil
	Events      http.Handler        // served at /_local/events
	DeadLetters http.Handler        // served at /_local/dead-letters
	Services    http.Handler        // served at /_local/services
	Traces      http.Handler        // served at /_local/traces and under it (package traces)
	Servers     http.Handler        // served at POST /_local/servers/{name}/{action} (see Stack.StopServer)
	Log         *slog.Logger        // nil: no log

	once      sync.Once
	mux       *http.ServeMux
	mu        sync.RWMutex
	upstreams map[string]*upstream
	links     []Link
	site      string   // the folder served at /, set from Site or by SetSite
	connect   []string // origins besides 'self' the site's scripts may connect to
	probe     *http.Client
	transport http.RoundTripper // to the functions, shared by every route
}

// SetSite serves the built static site in dir at / (the index page when
// dir is ""). The stack builds the site while the servers start.
func (g *Gateway) SetSite(dir string) {
	g.init()
	g.mu.Lock()
	g.site = dir
	g.mu.Unlock()
}

// SiteFolder is the folder the gateway serves at /, "" for none.
func (g *Gateway) SiteFolder() string {
	g.init()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.site
}

// SetConnectSources sets the origins, besides the site's own, that the
// site's scripts may reach (the CSP's connect-src): LiveKit's WebSocket
// and HTTP origins, and the S3 origin of the presigned uploads and downloads.
// Each is reduced to its scheme://host:port origin.
func (g *Gateway) SetConnectSources(urls ...string) {
	origins := sitehttp.Origins(urls...)
	g.mu.Lock()
	g.connect = origins
	g.mu.Unlock()
}

// Link is a local tool the index page points to.
type Link struct {
	Name, URL, Doc string
}

// SetLinks sets the local tools the index page lists.
func (g *Gateway) SetLinks(links []Link) {
	g.mu.Lock()
	g.links = links
	g.mu.Unlock()
}

func (g *Gateway) functions() []manifest.Function {
	if g.Functions != nil {
		return g.Functions
	}
	return manifest.Functions
}

type upstream struct {
	url   *url.URL
	proxy *httputil.ReverseProxy
}

// SetUpstream routes the function called name to the server at u.
func (g *Gateway) SetUpstream(name string, u *url.URL) {
	g.init()
	proxy := &httputil.ReverseProxy{
		Transport: g.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// As an ingress does: the addresses the request passed through
			// before stay, and the peer is appended (the functions skip
			// the trusted proxies to find the client, CLIENT_TRUSTED_PROXIES).
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if g.Log != nil {
				g.Log.Warn("function unreachable", "function", name, "err", err)
			}
			httpjson.WriteProblem(w, http.StatusBadGateway, "bad_gateway", "the function "+name+" is not answering")
		},
	}
	g.mu.Lock()
	g.upstreams[name] = &upstream{url: u, proxy: proxy}
	g.mu.Unlock()
}

func (g *Gateway) upstream(name string) *upstream {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.upstreams[name]
}

func (g *Gateway) init() {
	g.once.Do(func() {
		g.upstreams = map[string]*upstream{}
		g.probe = &http.Client{Timeout: 2 * time.Second}
		g.transport = keepAlive()
		mux := http.NewServeMux()
		mux.HandleFunc("/api/", g.api)
		mux.HandleFunc("/api", g.api)
		mux.HandleFunc("GET /health", g.health)
		for path, h := range map[string]http.Handler{"/_local/events": g.Events, "/_local/dead-letters": g.DeadLetters, "/_local/services": g.Services,
			traces.Path: g.Traces, traces.Path + "/": g.Traces} {
			if h != nil {
				mux.Handle(path, h)
			}
		}
		if g.Servers != nil {
			mux.Handle("POST /_local/servers/{name}/{action}", g.Servers)
		}
		mux.HandleFunc("GET /_local/{$}", g.index)
		mux.HandleFunc("/", g.serveSite)
		g.site = g.Site
		g.mux = mux
	})
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.init()
	sitehttp.SetSecurityHeaders(w) // the site's and the API's alike
	g.mux.ServeHTTP(w, r)
}

// serveSite serves the built site's files with the CSP (folders answer
// their index.html; /prenotazione/gestisci redirects to its folder), or
// the index page when there is no site.
func (g *Gateway) serveSite(w http.ResponseWriter, r *http.Request) {
	g.mu.RLock()
	site, connect := g.site, g.connect
	g.mu.RUnlock()
	if site == "" {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			g.index(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	sitehttp.Files(site, connect).ServeHTTP(w, r)
}

func (g *Gateway) api(w http.ResponseWriter, r *http.Request) {
	f, ok := manifest.Route(r.URL.Path)
	if ok && !slices.ContainsFunc(g.functions(), func(x manifest.Function) bool { return x.Name == f.Name }) {
		ok = false
	}
	if !ok {
		httpjson.WriteProblem(w, http.StatusNotFound, "not_found", "no function serves "+r.URL.Path)
		return
	}
	up := g.upstream(f.Name)
	if up == nil {
		httpjson.WriteProblem(w, http.StatusBadGateway, "bad_gateway", "the function "+f.Name+" is not running")
		return
	}
	up.proxy.ServeHTTP(w, r)
}

// Health is the body of GET /health.
type Health struct {
	Status    string            `json:"status"`    // "ready" or "starting"
	Functions map[string]string `json:"functions"` // name: "ready", "not ready" or "not started"
}

// Ready asks every function of the manifest for its readiness.
func (g *Gateway) Ready(ctx context.Context) Health {
	g.init()
	h := Health{Status: "ready", Functions: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, f := range g.functions() {
		up := g.upstream(f.Name)
		if up == nil {
			h.Functions[f.Name], h.Status = "not started", "starting"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "not ready"
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.url.JoinPath("/health/readiness").String(), nil)
			if resp, err := g.probe.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					state = "ready"
				}
			}
			mu.Lock()
			defer mu.Unlock()
			h.Functions[f.Name] = state
			if state != "ready" {
				h.Status = "starting"
			}
		}()
	}
	wg.Wait()
	return h
}

func (g *Gateway) health(w http.ResponseWriter, r *http.Request) {
	h := g.Ready(r.Context())
	status := http.StatusOK
	if h.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(h)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="it">
<head><meta charset="utf-8"><title>Sportello – stack locale</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
code{background:#f3f3f3;padding:0 .25rem}td{padding:.2rem .8rem .2rem 0;vertical-align:top}</style></head>
<body>
<h1>Sportello – stack locale</h1>
<p>Every function runs as its own process behind this gateway.{{if not .Site}} The site is not built (yet), so this page stands in for it.{{end}}</p>
<h2>API</h2>
<table>
<tr><th align="left">Function</th><th align="left">Routes</th><th align="left">What it does</th></tr>
{{range .Functions}}<tr><td><code>{{.Name}}</code></td><td>{{range .Routes}}<code>{{.}}</code> {{end}}</td><td>{{.Doc}}</td></tr>
{{end}}</table>
<p>Try <a href="/api/offices"><code>/api/offices</code></a> or
<a href="/api/slots?service_id=sue"><code>/api/slots?service_id=sue</code></a>.</p>
<h2>Local tools</h2>
<p>Book once on the site, then open <a href="/_local/traces"><code>/_local/traces</code></a>: the booking's whole trace, from reserve
and confirm through the events to the mail and the video room.</p>
<ul>
<li><a href="/_local/traces"><code>/_local/traces</code></a>: the recent traces of every function, newest first, each as a waterfall of its spans (read from Jaeger)</li>
<li><a href="/_local/events"><code>/_local/events</code></a>: the events the broker took in (filters: <code>?type=</code>, <code>?subject=</code>, <code>?source=</code>)</li>
<li><a href="/_local/dead-letters"><code>/_local/dead-letters</code></a>: the events the broker could not deliver</li>
<li><a href="/_local/services"><code>/_local/services</code></a>: where the functions find the database, SMTP, LiveKit, S3, the broker, Jaeger and VictoriaMetrics</li>
<li><code>POST /_local/servers/{postgres,mailpit,livekit,minio}/{stop,start}</code>: stop a server as an outage would, and start it again (the fault tests)</li>
<li><a href="/health"><code>/health</code></a>: the readiness of every function</li>
{{range .Links}}<li><a href="{{.URL}}">{{.Name}}</a>: {{.Doc}}</li>
{{end}}
</ul>
</body>
</html>
`))

func (g *Gateway) index(w http.ResponseWriter, r *http.Request) {
	g.mu.RLock()
	links := g.links
	g.mu.RUnlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexPage.Execute(w, struct {
		Site      string
		Functions []manifest.Function
		Links     []Link
	}{g.SiteFolder(), g.functions(), links})
}

// SiteDir returns <root>/web when it holds the site's sources (build.mjs),
// else "": the folder package web builds the site from.
func SiteDir(root string) string {
	d := filepath.Join(root, "web")
	if fi, err := os.Stat(filepath.Join(d, "build.mjs")); err == nil && fi.Mode().IsRegular() {
		return d
	}
	return ""
}

// keepAlive is a transport that keeps connections to the functions open, as
// an ingress does. Go's default keeps two a host: on a busy day most
// requests would pay a new connection, in the gateway and in the function.
func keepAlive() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
	return t
}
