// This file holds the pages: the recent traces and one trace as a
// waterfall, rendered on the server from Jaeger's query API, and the pages
// that say why there is nothing to show.

package traces

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is where the gateway serves the pages.
const Path = "/_local/traces"

// How many traces the list shows, unless ?limit= says otherwise, and at most.
const (
	DefaultLimit = 20
	MaxLimit     = 200
)

// Periods are the values of ?since= the list offers, the first the default.
var Periods = []string{"1h", "15m", "6h", "24h"}

// Handler serves, under Path:
//
//	GET Path              the recent traces of every service, newest first
//	                      (?service= one service's, ?since= a period of Periods, ?limit=)
//	GET Path/<trace id>   one trace as a waterfall
//
// An id that is not a trace id is a 400 page, an unknown trace a 404 page,
// Jaeger not running (no SetJaeger yet) a 503 page and Jaeger not answering
// a 502 page.
type Handler struct {
	once   sync.Once
	mux    *http.ServeMux
	mu     sync.RWMutex
	jaeger string
}

// SetJaeger sets the address of Jaeger's query API, e.g.
// http://127.0.0.1:16686; until then the pages say Jaeger is not running.
func (h *Handler) SetJaeger(url string) {
	h.mu.Lock()
	h.jaeger = strings.TrimSuffix(url, "/")
	h.mu.Unlock()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() {
		h.mux = http.NewServeMux()
		h.mux.HandleFunc("GET "+Path, h.list)
		h.mux.HandleFunc("GET "+Path+"/{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
		})
		h.mux.HandleFunc("GET "+Path+"/{id}", h.trace)
	})
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// client is the query API's client, nil while Jaeger is not running.
func (h *Handler) client() *Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.jaeger == "" {
		return nil
	}
	return &Client{URL: h.jaeger}
}

// listPage is what the list's template shows.
type listPage struct {
	Path, Jaeger   string
	Services       []string // every service Jaeger knows, for the choice
	Service, Since string   // the choices made
	Periods        []string
	Limit          int
	Traces         []Summary
	Refreshed      time.Time
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := listPage{Path: Path, Service: q.Get("service"), Since: cmp.Or(q.Get("since"), Periods[0]), Periods: Periods, Limit: DefaultLimit}
	period, err := time.ParseDuration(p.Since)
	if err != nil || !slices.Contains(Periods, p.Since) {
		h.problem(w, http.StatusBadRequest, "Not a period", "?since= is one of "+strings.Join(Periods, ", ")+", not "+strconv.Quote(p.Since)+".")
		return
	}
	if s := q.Get("limit"); s != "" {
		p.Limit, err = strconv.Atoi(s)
		if err != nil || p.Limit < 1 || p.Limit > MaxLimit {
			h.problem(w, http.StatusBadRequest, "Not a limit", fmt.Sprintf("?limit= is a number from 1 to %d, not %q.", MaxLimit, s))
			return
		}
	}
	c := h.client()
	if c == nil {
		h.unavailable(w, nil)
		return
	}
	p.Jaeger = c.URL
	p.Refreshed = time.Now()
	p.Services, err = c.Services(r.Context())
	if err == nil {
		p.Traces, err = recent(r.Context(), c, p.Services, p.Service, p.Refreshed.Add(-period), p.Limit)
	}
	if err != nil {
		h.unavailable(w, err)
		return
	}
	slices.Sort(p.Services)
	h.render(w, http.StatusOK, "list", p)
}

// recent are the newest limit traces with a span of service (of any of
// services when service is "") that started since. Jaeger finds the traces
// of one service at a time; a trace of several services comes once.
func recent(ctx context.Context, c *Client, services []string, service string, since time.Time, limit int) ([]Summary, error) {
	if service != "" {
		services = []string{service}
	}
	byID := map[string]Summary{}
	for _, name := range services {
		// The newest limit traces of all are among the newest limit of
		// each of their services.
		found, err := c.Search(ctx, name, since, limit)
		if err != nil {
			return nil, err
		}
		for _, t := range found {
			s := Summarize(t)
			if old, ok := byID[s.TraceID]; !ok || s.Spans > old.Spans { // spans may arrive between two searches
				byID[s.TraceID] = s
			}
		}
	}
	out := make([]Summary, 0, len(byID))
	for _, s := range byID {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Summary) int { return cmp.Or(b.Start.Compare(a.Start), cmp.Compare(a.TraceID, b.TraceID)) })
	return out[:min(len(out), limit)], nil
}

// tracePage is what the waterfall's template shows.
type tracePage struct {
	Path, Jaeger string
	Waterfall
}

func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidTraceID(id) {
		h.problem(w, http.StatusBadRequest, "Not a trace id", "A trace id is 1 to 32 hexadecimal digits, as the list links to them; "+
			strconv.Quote(id)+" is not one.")
		return
	}
	c := h.client()
	if c == nil {
		h.unavailable(w, nil)
		return
	}
	t, err := c.Trace(r.Context(), id)
	switch {
	case errors.Is(err, ErrBadTraceID):
		h.problem(w, http.StatusBadRequest, "Not a trace id", "Jaeger does not take "+strconv.Quote(id)+" for a trace id.")
		return
	case errors.Is(err, ErrNotFound) || err == nil && len(t.Spans) == 0:
		h.problem(w, http.StatusNotFound, "No such trace", "Jaeger has no trace "+id+": it keeps the traces in memory, "+
			"the oldest dropped beyond its limit and all of them when the stack stops.")
		return
	case err != nil:
		h.unavailable(w, err)
		return
	}
	h.render(w, http.StatusOK, "trace", tracePage{Path: Path, Jaeger: c.URL, Waterfall: NewWaterfall(t)})
}

// unavailable answers 503 when Jaeger is not running (err is nil), 502 when
// it does not answer.
func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	if err == nil {
		h.problem(w, http.StatusServiceUnavailable, "Jaeger is not running",
			"The stack starts Jaeger with the other servers: try again once it prints that Sportello is running.")
		return
	}
	h.problem(w, http.StatusBadGateway, "Jaeger is not answering", err.Error()+
		". The stack stops when one of its servers exits: is it still running?")
}

// problemPage is what the problem's template shows.
type problemPage struct {
	Path, Title, Detail string
}

func (h *Handler) problem(w http.ResponseWriter, status int, title, detail string) {
	h.render(w, status, "problem", problemPage{Path: Path, Title: title, Detail: detail})
}

// render answers the page called name with status.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "the page "+name+" failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// formatDuration writes d with three significant digits at most, in µs,
// ms or s.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', decimals(float64(d)/float64(time.Millisecond)), 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', decimals(d.Seconds()), 64) + " s"
}

// decimals is how many decimals give x three significant digits.
func decimals(x float64) int {
	switch {
	case x >= 100:
		return 0
	case x >= 10:
		return 1
	}
	return 2
}

// script turns each span's name into a button that shows or hides its
// attributes (all shown without it), and adds "expand all" and "collapse all".
const script = `(function () {
  var buttons = [];
  function set(b, open) {
    b.setAttribute("aria-expanded", String(open));
    document.getElementById(b.getAttribute("aria-controls")).hidden = !open;
  }
  document.querySelectorAll("[data-tags]").forEach(function (name) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "toggle";
    b.setAttribute("aria-controls", name.getAttribute("data-tags"));
    b.textContent = name.textContent;
    b.addEventListener("click", function () { set(b, b.getAttribute("aria-expanded") !== "true"); });
    name.replaceWith(b);
    set(b, false);
    buttons.push(b);
  });
  var bar = document.getElementById("toggles");
  if (!bar || buttons.length === 0) return;
  [["Expand all", true], ["Collapse all", false]].forEach(function (a) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = a[0];
    b.addEventListener("click", function () { buttons.forEach(function (x) { set(x, a[1]); }); });
    bar.appendChild(b);
  });
  bar.hidden = false;
})();`

// csp lets the pages run their one script (by its hash) and their inline
// styles, and load nothing at all.
var csp = func() string {
	sum := sha256.Sum256([]byte(script))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; style-src 'unsafe-inline'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}()

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"duration": formatDuration,
	"clock":    func(t time.Time) string { return t.Format("2006-01-02 15:04:05.000") },
	"iso":      func(t time.Time) string { return t.Format(time.RFC3339Nano) },
	"join":     strings.Join,
	"indent":   func(depth int) string { return fmt.Sprintf("%.1frem", 0.4+1.2*float64(depth)) },
	"percent":  func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) + "%" },
	"script":   func() template.JS { return template.JS(script) },
}).Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} – Sportello, stack locale</title>
<style>body{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
code{background:#f3f3f3;padding:0 .25rem}
table{border-collapse:collapse;width:100%}caption{text-align:left;padding:.3rem 0;color:#444}
th,td{padding:.2rem .8rem .2rem 0;vertical-align:top;text-align:left}thead th{border-bottom:1px solid #999}
tbody tr{border-bottom:1px solid #e4e4e4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.err{color:#b00020;font-weight:bold}tr.error th a,tr.error th .toggle{color:#b00020}
form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:1rem 0}label{display:block;font-size:.9rem}
button,select,input{font:inherit}button{padding:.2rem .8rem}
:focus-visible{outline:3px solid #06c;outline-offset:2px}
.toggle{background:none;border:0;padding:0;color:#06c;text-decoration:underline;cursor:pointer;text-align:left}
.toggle::before{content:"▸ ";display:inline-block;width:1em}.toggle[aria-expanded=true]::before{content:"▾ "}
.timeline{width:35%;min-width:10rem}.track{position:relative;height:1rem;background:#f3f3f3;margin-top:.3rem}
.bar{position:absolute;top:0;bottom:0;background:#4a7ab8;min-width:2px}tr.error .bar{background:#b00020}
tr.tags td{background:#fafafa;padding:.5rem 1rem}tr.tags table{width:auto;margin-bottom:.5rem}tr.tags th,tr.tags td{font-size:.9rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
small{color:#555}</style></head>
<body>
{{end}}

{{define "list"}}{{template "head" "Traces"}}
<h1>Traces</h1>
<p>Every request's trace through the functions and the events, newest first, as <a href="{{.Jaeger}}/api/services">Jaeger</a>
keeps them (in memory). Book once on <a href="/prenota/">the site</a>, then refresh: the booking's trace comes first, with
reserve, confirm, the events and their consumers under it.</p>
<form method="get" action="{{.Path}}">
<div><label for="service">Service</label>
<select id="service" name="service"><option value="">every service</option>
{{range .Services}}<option{{if eq . $.Service}} selected{{end}}>{{.}}</option>
{{end}}</select></div>
<div><label for="since">Started in the last</label>
<select id="since" name="since">{{range .Periods}}<option{{if eq . $.Since}} selected{{end}}>{{.}}</option>{{end}}</select></div>
<div><label for="limit">Traces at most</label>
<input id="limit" name="limit" type="number" min="1" max="200" value="{{.Limit}}" size="4"></div>
<div><button type="submit">Refresh</button></div>
</form>
{{if .Traces}}<table>
<caption>{{len .Traces}} trace{{if gt (len .Traces) 1}}s{{end}} of {{if .Service}}{{.Service}}{{else}}every service{{end}} started in the last {{.Since}}, newest first (as of {{clock .Refreshed}})</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Root span</th><th scope="col">Spans</th><th scope="col">Services</th><th scope="col">Duration</th><th scope="col">Status</th></tr></thead>
<tbody>
{{range .Traces}}<tr{{if .Errors}} class="error"{{end}}>
<td><time datetime="{{iso .Start}}">{{clock .Start}}</time></td>
<th scope="row"><a href="{{$.Path}}/{{.TraceID}}">{{.RootService}}: {{.RootName}}</a></th>
<td class="num">{{.Spans}}</td>
<td>{{join .Services ", "}}</td>
<td class="num">{{duration .Duration}}</td>
<td>{{if .Errors}}<span class="err">error ({{.Errors}} span{{if gt .Errors 1}}s{{end}})</span>{{else}}ok{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}<p><strong>No trace {{if .Service}}of {{.Service}} {{end}}started in the last {{.Since}}.</strong> Book once on <a href="/prenota/">the site</a>
(or <code>curl -s -X POST /api/holds …</code>), then refresh.</p>
{{end}}
</body>
</html>
{{end}}

{{define "trace"}}{{template "head" (print "Trace " .TraceID)}}
<p><a href="{{.Path}}">← Traces</a></p>
<h1>{{.RootService}}: {{.RootName}}</h1>
<dl class="facts">
<dt>Trace id</dt><dd><code>{{.TraceID}}</code> (<a href="{{.Jaeger}}/api/traces/{{.TraceID}}">as Jaeger's JSON</a>)</dd>
<dt>Started</dt><dd><time datetime="{{iso .Start}}">{{clock .Start}}</time></dd>
<dt>Duration</dt><dd>{{duration .Duration}}</dd>
<dt>Spans</dt><dd>{{.Spans}}</dd>
<dt>Services</dt><dd>{{join .Services ", "}}</dd>
<dt>Status</dt><dd>{{if .Errors}}<span class="err">error ({{.Errors}} span{{if gt .Errors 1}}s{{end}})</span>{{else}}ok{{end}}</dd>
</dl>
<div id="toggles" hidden></div>
<table class="waterfall">
<caption>The spans, each indented under its parent, in the order they started; a span's name shows its attributes.</caption>
<thead><tr><th scope="col">Span</th><th scope="col">Service</th><th scope="col">Start</th><th scope="col">Duration</th>
<th scope="col">Time line (0 – {{duration .Duration}})</th><th scope="col">Status</th></tr></thead>
<tbody>
{{range $i, $r := .Rows}}<tr class="span{{if .Error}} error{{end}}" id="span-{{.Span.SpanID}}" data-depth="{{.Depth}}">
<th scope="row" style="padding-left:{{indent .Depth}}"><span data-tags="tags-{{$i}}">{{.Span.OperationName}}</span>
{{- if .Parent}}<span class="sr"> (under {{.Parent}})</span>{{end}}
{{- if .Orphan}} <small>(its parent is not in the trace)</small>{{end}}</th>
<td>{{.Service}}</td>
<td class="num">+{{duration .Offset}}</td>
<td class="num">{{duration .Duration}}</td>
<td class="timeline"><div class="track" aria-hidden="true"><div class="bar" style="left:{{percent .Left}};width:{{percent .Width}}"></div></div></td>
<td>{{if .Error}}<span class="err">{{.Status}}</span>{{else}}{{.Status}}{{end}}</td>
</tr>
<tr class="tags" id="tags-{{$i}}"><td colspan="6">
<table><caption>Attributes of {{.Span.OperationName}} ({{.Service}})</caption>
<tbody>
<tr><th scope="row">span id</th><td><code>{{.Span.SpanID}}</code></td></tr>
{{range .Span.Tags}}<tr><th scope="row">{{.Key}}</th><td>{{.Text}}</td></tr>
{{end}}</tbody></table>
{{if .Events}}<table><caption>Events</caption>
<tbody>{{range .Events}}<tr><th scope="row">+{{duration .Offset}}</th><td>{{range .Fields}}{{.Key}} = {{.Text}}<br>{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .Resource}}<table><caption>Resource of {{.Service}}</caption>
<tbody>{{range .Resource}}<tr><th scope="row">{{.Key}}</th><td>{{.Text}}</td></tr>
{{end}}</tbody></table>{{end}}
</td></tr>
{{end}}</tbody>
</table>
<script>{{script}}</script>
</body>
</html>
{{end}}

{{define "problem"}}{{template "head" .Title}}
<p><a href="{{.Path}}">← Traces</a></p>
<h1>{{.Title}}</h1>
<p>{{.Detail}}</p>
</body>
</html>
{{end}}
`))
