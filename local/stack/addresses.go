// This file holds the addresses the stack hands out: the site's public
// URL, the broker's ingress, LiveKit's webhook, the origins MinIO allows,
// and the environment the functions get (GET /_local/services shows it).

package stack

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sportello/sportello/local/httpjson"
)

// publicURL is the site's origin as links carry it.
func (s *Stack) publicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port))
}

// webhookURL is where LiveKit posts its webhooks: the gateway's route to
// livekit-webhook, on loopback. None when the stack runs without that
// function.
func (s *Stack) webhookURL() string {
	for _, f := range s.functions {
		if f.Name == "livekit-webhook" {
			return "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port)) + "/api/livekit/webhook"
		}
	}
	return ""
}

// origins are the origins from which a browser may call MinIO: the
// gateway's, by address and by name, and the public URL's.
func (s *Stack) origins() []string {
	port := strconv.Itoa(s.cfg.Port)
	out := []string{"http://127.0.0.1:" + port, "http://localhost:" + port}
	if u, err := url.Parse(s.publicURL()); err == nil && u.Scheme != "" && u.Host != "" {
		if o := u.Scheme + "://" + u.Host; o != out[0] && o != out[1] {
			out = append(out, o)
		}
	}
	return out
}

// host is the gateway's host as a client reaches it.
func (s *Stack) host() string {
	if ip := net.ParseIP(s.cfg.Listen); s.cfg.Listen == "" || ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return s.cfg.Listen
}

// serviceEnv is what the functions need besides the database: the broker,
// the site's origin, SMTP, LiveKit, S3, where the traces go (every one is
// kept, so that a newcomer sees the trace of the booking just made, unless
// the stack's own environment sets OTEL_TRACES_SAMPLER: the functions then
// inherit it, OTEL_TRACES_SAMPLER_ARG too) and where the metrics are
// scraped from.
func (s *Stack) serviceEnv() []string {
	// The gateway speaks plain http: the operators' session cookie cannot
	// be Secure here (it is in a cluster, behind TLS).
	env := []string{"K_SINK=" + s.brokerURL(), "PUBLIC_URL=" + s.publicURL(), "COOKIE_SECURE=false", "CLIENT_KEY=" + s.clientKey()}
	if os.Getenv("OTEL_TRACES_SAMPLER") == "" {
		env = append(env, "OTEL_TRACES_SAMPLER=parentbased_always_on")
	}
	return append(env, s.servers().Env()...)
}

// functionEnv is what the function called name gets besides serviceEnv:
// its PORT, its service name in the traces and metrics, and the loopback
// port of its own on which it serves GET /metrics; with a profiles folder,
// the file its CPU profile goes to.
func functionEnv(name string, port, metricsPort int, profiles string) []string {
	env := []string{"PORT=" + strconv.Itoa(port), "OTEL_SERVICE_NAME=" + name,
		"OTEL_EXPORTER_PROMETHEUS_HOST=127.0.0.1", "OTEL_EXPORTER_PROMETHEUS_PORT=" + strconv.Itoa(metricsPort)}
	if profiles != "" {
		env = append(env, "CPU_PROFILE="+filepath.Join(profiles, name+".pprof"))
	}
	return env
}

// clientKey is the key that signs client tokens and admission tickets
// (CLIENT_KEY): made once and kept in the data folder, so that the
// citizens' tokens outlive a restart.
func (s *Stack) clientKey() string {
	path := filepath.Join(s.cfg.Data, "client.key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b))
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b)
	_ = os.WriteFile(path, []byte(key+"\n"), 0o600)
	return key
}

// brokerURL is the broker's ingress, the functions' K_SINK.
func (s *Stack) brokerURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.cfg.BrokerPort) + "/"
}

// serveServices answers GET /_local/services: the variables the functions
// get (every one a local, loopback-only value), so that a test or a
// developer can reach the same servers.
func (s *Stack) serveServices(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	out := map[string]string{}
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	if len(out) > 0 {
		out["BROKER_URL"] = strings.TrimSuffix(s.brokerURL(), "/")
		out["MINIO_CONSOLE_URL"] = s.minio.ConsoleURL()
	}
	httpjson.Write(w, out)
}
