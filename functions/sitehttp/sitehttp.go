// Package sitehttp serves the built website (web/) with its security
// headers: a strict Content-Security-Policy (nothing from another origin but
// the connections to LiveKit and the S3 endpoint, no inline script or
// style, no framing) and no Referer ever, since the manage and room links
// carry their token in the URL fragment. The local stack's gateway and the
// site's own Knative service (functions/site) both serve the site through
// it, so the two cannot drift apart.
package sitehttp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// SecurityHeaders are set on every answer: no MIME sniffing, no Referer,
// no framing, an isolated browsing context, the camera and microphone for
// the site itself only.
var SecurityHeaders = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()",
}

// SetSecurityHeaders sets SecurityHeaders on w.
func SetSecurityHeaders(w http.ResponseWriter) {
	for k, v := range SecurityHeaders {
		w.Header().Set(k, v)
	}
}

// Origins reduces each absolute URL to its scheme://host[:port] origin,
// once each, skipping what is not an absolute URL.
func Origins(urls ...string) []string {
	var out []string
	for _, u := range urls {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Scheme == "" || p.Host == "" {
			continue
		}
		if o := p.Scheme + "://" + p.Host; !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// CSP is the Content-Security-Policy of the site's pages: the site's own
// files only, plus connections to the origins in connect (LiveKit's
// WebSocket and HTTP origins, the S3 endpoint of the presigned uploads);
// data: and blob: images and blob: media (camera previews, files made in
// the page).
func CSP(connect []string) string {
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"font-src 'self'",
		"media-src 'self' blob:",
		strings.TrimSpace("connect-src 'self' " + strings.Join(connect, " ")),
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"object-src 'none'",
	}, "; ")
}

// Files serves the built site in dir: GET and HEAD only, folders answer
// their index.html, every file with the CSP for connect and Cache-Control:
// no-cache (the files are not fingerprinted; ETag and Last-Modified make
// revalidation cheap). The security headers are the caller's (they apply
// to the API too).
func Files(dir string, connect []string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	csp := CSP(connect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, r.Method+" is not allowed here", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
