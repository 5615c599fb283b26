// Package client tells who is asking, as far as a counter open to anonymous
// citizens can: the browser, by a client token reserve signs and hands out
// (the sportello_client cookie: a random id and an expiry, no personal
// data, no third party), and the network address the request came from.
// Limits are counted on both (see store/postgres's ReserveFor): a script
// that throws its cookie away gets a new client each time, but not a new
// address.
package client

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/signed"
)

// CookieName is the cookie that carries the client token; Header carries it
// for a client without cookies (an integrator's script).
const (
	CookieName = "sportello_client"
	Header     = "X-Client-Token"
	kind       = "c1"
)

// Identifier issues and reads client tokens.
type Identifier struct {
	Signer *signed.Signer
	TTL    time.Duration // how long a client token lasts (a day by default)
	// Trusted are the proxies in front of the functions (the ingress,
	// Knative's activator and queue-proxy: the cluster's own addresses),
	// which append the address they saw to X-Forwarded-For. The client's
	// address is the last one not among them. Nil: DefaultTrusted.
	Trusted []netip.Prefix
}

// DefaultTrusted are the loopback and private networks.
var DefaultTrusted = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"),
}

// ParseTrusted reads a comma-separated list of networks (CIDR).
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Of answers the client of r. A request without a valid client token gets
// a new one, set as a cookie on w (and in the X-Client-Token header).
func (c *Identifier) Of(w http.ResponseWriter, r *http.Request, now time.Time) booking.Client {
	who := booking.Client{Address: c.Address(r)}
	tok := r.Header.Get(Header)
	if ck, err := r.Cookie(CookieName); err == nil && tok == "" {
		tok = ck.Value
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if fields, expires, err := c.Signer.CheckExpiry(tok, kind, now); err == nil && len(fields) == 1 {
		if _, err := uuid.Parse(fields[0]); err == nil {
			who.ID, who.Since = fields[0], expires.Add(-ttl)
			return who
		}
	}
	who.ID, who.New, who.Since = uuid.NewString(), true, now
	tok = c.Signer.Sign(kind, now.Add(ttl), who.ID)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: tok, Path: "/api", MaxAge: int(ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	w.Header().Set(Header, tok)
	return who
}

// Address is the network address r came from: the connection's peer and
// the X-Forwarded-For entries, read from the nearest on, the first that is
// not a trusted proxy (when all are, the farthest). An IPv6 address stands
// for its /64, which one household or device usually has whole.
func (c *Identifier) Address(r *http.Request) string {
	trusted := c.Trusted
	if trusted == nil {
		trusted = DefaultTrusted
	}
	var hops []netip.Addr // farthest first
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, a := range strings.Split(h, ",") {
			if ip, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil {
				hops = append(hops, ip.Unmap())
			}
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			hops = append(hops, ip.Unmap())
		}
	}
	if len(hops) == 0 {
		return ""
	}
	ip := hops[0]
	for i := len(hops) - 1; i >= 0; i-- {
		if !inAny(trusted, hops[i]) {
			ip = hops[i]
			break
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func inAny(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// secure tells whether the site is served over HTTPS, so that the cookie
// is marked Secure (not on the local stack's plain HTTP).
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Network is the environment of a function that tells clients' network
// addresses apart (reserve, waiting-room, and the operators' sign-in);
// Config embeds it.
type Network struct {
	TrustedProxies string `envconfig:"CLIENT_TRUSTED_PROXIES" default:"127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7"`
}

// Addresses builds an identifier of network addresses only (Address): it
// has no signer, so it must not be asked for client tokens (Of).
func (n Network) Addresses() (*Identifier, error) {
	trusted, err := ParseTrusted(n.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("CLIENT_TRUSTED_PROXIES: %w", err)
	}
	return &Identifier{Trusted: trusted}, nil
}

// Config is the environment of a function that tells clients apart
// (reserve, waiting-room); embed it in the function's own.
type Config struct {
	ClientKey      string        `envconfig:"CLIENT_KEY" required:"true"`
	ClientTokenTTL time.Duration `envconfig:"CLIENT_TOKEN_TTL" default:"24h"`
	Network
}

// Identifier builds the client identifier of the configuration, with the
// signer of its key (which also signs the waiting room's tickets).
func (c Config) Identifier() (*Identifier, *signed.Signer, error) {
	signer, err := signed.New([]byte(c.ClientKey))
	if err != nil {
		return nil, nil, fmt.Errorf("CLIENT_KEY: %w", err)
	}
	ids, err := c.Addresses()
	if err != nil {
		return nil, nil, err
	}
	ids.Signer, ids.TTL = signer, c.ClientTokenTTL
	return ids, signer, nil
}

// MustIdentifier is Identifier for a function's main, after the function's
// own reading and checking of its configuration (err, nil when it is
// fine): a configuration error of either is logged and ends the process.
func (c Config) MustIdentifier(function string, err error) (*Identifier, *signed.Signer) {
	var ids *Identifier
	var signer *signed.Signer
	if err == nil {
		ids, signer, err = c.Identifier()
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "function", function, "err", err)
		os.Exit(1)
	}
	return ids, signer
}
