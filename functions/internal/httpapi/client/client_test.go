package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/signed"
)

func TestAddress(t *testing.T) {
	c := &Identifier{}
	for _, tc := range []struct {
		name, xff, peer, want string
	}{
		{"no proxy", "", "203.0.113.9:5000", "203.0.113.9"},
		{"the ingress appended it", "203.0.113.9", "10.0.0.5:5000", "203.0.113.9"},
		{"a forged entry before the real one", "198.51.100.1, 203.0.113.9", "10.0.0.5:5000", "203.0.113.9"},
		{"the activator and the queue-proxy too", "203.0.113.9, 10.0.3.4, 127.0.0.1", "127.0.0.1:5000", "203.0.113.9"},
		{"two headers", "198.51.100.1", "10.0.0.5:5000", "198.51.100.1"},
		{"IPv6 stands for its /64", "2001:db8:1:2:aaaa::1", "10.0.0.5:5000", "2001:db8:1:2::/64"},
		{"IPv4 mapped in IPv6", "::ffff:203.0.113.9", "10.0.0.5:5000", "203.0.113.9"},
		{"all inside the cluster: the farthest", "192.168.1.20, 10.0.0.4", "127.0.0.1:5000", "192.168.1.20"},
		{"garbage is skipped", "not-an-ip, 203.0.113.9", "10.0.0.5:5000", "203.0.113.9"},
	} {
		r := httptest.NewRequest("POST", "/api/holds", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := c.Address(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClientToken(t *testing.T) {
	s, _ := signed.New([]byte(strings.Repeat("k", 32)))
	c := &Identifier{Signer: s, TTL: time.Hour}
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	w := httptest.NewRecorder()
	first := c.Of(w, httptest.NewRequest("POST", "/api/holds", nil), now)
	cookies := w.Result().Cookies()
	if first.ID == "" || !first.New || !first.Since.Equal(now) || len(cookies) != 1 || cookies[0].Name != CookieName || !cookies[0].HttpOnly || cookies[0].MaxAge != 3600 {
		t.Fatalf("a new client: %+v, cookies %+v", first, cookies)
	}
	for name, when := range map[string]time.Time{"within its life": now.Add(59 * time.Minute), "expired": now.Add(time.Hour)} {
		r := httptest.NewRequest("POST", "/api/holds", nil)
		r.AddCookie(cookies[0])
		w := httptest.NewRecorder()
		again := c.Of(w, r, when)
		if same := again.ID == first.ID; same != (name == "within its life") {
			t.Errorf("%s: id %s, first %s", name, again.ID, first.ID)
		}
		if name == "within its life" && (again.New || !again.Since.Equal(now)) {
			t.Errorf("a known client: new %v, since %s, want issued at %s", again.New, again.Since, now)
		}
	}
	r := httptest.NewRequest("POST", "/api/holds", nil)
	r.Header.Set(Header, w.Header().Get(Header)) // a script without cookies
	if again := c.Of(httptest.NewRecorder(), r, now); again.ID != first.ID {
		t.Errorf("by the header: %s, want %s", again.ID, first.ID)
	}
	forged := strings.Replace(cookies[0].Value, first.ID[:8], "00000000", 1)
	r = httptest.NewRequest("POST", "/api/holds", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: forged})
	if again := c.Of(httptest.NewRecorder(), r, now); again.ID == first.ID || again.ID == "00000000"+first.ID[8:] {
		t.Errorf("a forged token was taken: %s", again.ID)
	}
}
