package apitest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/functions/internal/domain/signed"
	"github.com/sportello/sportello/functions/internal/httpapi/session"
)

// Request builds a request as the site sends it: body is JSON (sent with
// Content-Type application/json; an empty body sends neither), and a
// non-empty token goes in the Authorization header as a bearer token (the
// secret of a manage or join link).
func Request(method, target, token, body string) *http.Request {
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return Send(method, target, token, body, contentType)
}

// Post builds a POST of body to target; an empty contentType sends no
// Content-Type header. The body is sent even when empty.
func Post(target, body, contentType string) *http.Request {
	return Send(http.MethodPost, target, "", body, contentType)
}

// Send builds any request: body sent as contentType (an empty contentType
// sends no Content-Type header) and a non-empty token in the Authorization
// header as a bearer token.
func Send(method, target, token, body, contentType string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// Get builds a GET of target, with no body.
func Get(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// Binary is the request a Knative Trigger makes to deliver ev in binary
// mode: the data as the body, the attributes as Ce-* headers (the optional
// ones only when set).
func Binary(ev cloudevents.Event) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(ev.Data()))
	r.Header.Set("Ce-Specversion", ev.SpecVersion())
	r.Header.Set("Ce-Id", ev.ID())
	r.Header.Set("Ce-Source", ev.Source())
	r.Header.Set("Ce-Type", ev.Type())
	if ev.Subject() != "" {
		r.Header.Set("Ce-Subject", ev.Subject())
	}
	if !ev.Time().IsZero() {
		r.Header.Set("Ce-Time", ev.Time().Format(time.RFC3339Nano))
	}
	if ev.DataSchema() != "" {
		r.Header.Set("Ce-Dataschema", ev.DataSchema())
	}
	r.Header.Set("Content-Type", ev.DataContentType())
	return r
}

// Deliver serves r with h as the broker would, without the OpenAPI checks
// of Serve (events are not part of the HTTP API), and returns the answer.
func Deliver(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// Browser is a citizen's browser as the functions see it behind the
// cluster's ingress: it keeps the cookies it is given, by name, and sends
// them back, and its own address comes in X-Forwarded-For.
type Browser struct {
	H       http.Handler
	Address string
	Cookies map[string]*http.Cookie
}

// NewBrowser is a browser without cookies at address, in front of h.
func NewBrowser(h http.Handler, address string) *Browser {
	return &Browser{H: h, Address: address, Cookies: map[string]*http.Cookie{}}
}

// Do sends the request Request builds, with the browser's cookies, through
// the ingress, and keeps the cookies of the answer.
func (b *Browser) Do(method, target, token, body string) *httptest.ResponseRecorder {
	r := Request(method, target, token, body)
	for _, c := range b.Cookies {
		r.AddCookie(c)
	}
	r.Header.Set("X-Forwarded-For", b.Address)
	r.RemoteAddr = "10.1.2.3:41000" // the ingress, in the cluster
	rec := Deliver(b.H, r)
	for _, c := range rec.Result().Cookies() {
		b.Cookies[c.Name] = c
	}
	return rec
}

// Session is an operator's signed-in browser: its session cookie and the
// CSRF token it sends with every change (a test may leave either out, to
// see what is refused without it).
type Session struct {
	Cookie *http.Cookie
	CSRF   string
}

// On gives r the session's cookie and CSRF token, those it has (nothing
// for a nil session), and returns r.
func (s *Session) On(r *http.Request) *http.Request {
	if s == nil {
		return r
	}
	if s.Cookie != nil {
		r.AddCookie(s.Cookie)
	}
	if s.CSRF != "" {
		r.Header.Set(session.CSRFHeader, s.CSRF)
	}
	return r
}

// Key signs the tests' client tokens and admission tickets.
var Key = func() *signed.Signer {
	k, err := signed.New([]byte(strings.Repeat("sportello-test-key-", 2)))
	if err != nil {
		panic(err)
	}
	return k
}()
