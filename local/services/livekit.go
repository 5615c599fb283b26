package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// The local LiveKit's API key pair, as livekit-server --dev has one. It
// protects nothing: the server listens on loopback only.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "sportello-local-livekit-secret-not-for-production"
)

// LiveKit is a LiveKit server for one machine: signalling and the API on
// 127.0.0.1:Port, WebRTC over UDP on 127.0.0.1:UDPPort (with ICE over TCP
// on TCPPort as the fallback), loopback candidates on, and no external IP
// discovery, so that a browser or a Go client on this machine can publish
// and subscribe.
type LiveKit struct {
	Port      int       // HTTP and WebSocket; 0: a free port
	TCPPort   int       // ICE over TCP; 0: a free port
	UDPPort   int       // the WebRTC UDP mux; 0: a free port
	Dir       string    // where its config file is written (required)
	APIKey    string    // DevAPIKey when ""
	APISecret string    // DevAPISecret when ""; at least 32 characters
	Bin       string    // the livekit-server binary; the pinned build when ""
	Log       io.Writer // its output; nil discards it
	// WebhookURL is where LiveKit posts its webhooks (room and participant
	// events), signed with the API key: the local stack's gateway route
	// /api/livekit/webhook. "" sends none.
	WebhookURL string

	base
}

// Config is the YAML configuration Start writes.
func (l *LiveKit) Config() string {
	key, secret := l.keys()
	return fmt.Sprintf(`# Written by the Sportello local stack: a single-node LiveKit on loopback.
port: %d
bind_addresses:
  - 127.0.0.1
rtc:
  tcp_port: %d
  udp_port: %d
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  ips:
    includes:
      - 127.0.0.1/32
keys:
  %s: %s
room:
  # Rooms exist only when provision-room or join create them: a join token
  # for a deleted (cancelled) room must not bring it back.
  auto_create: false
  empty_timeout: 300
  departure_timeout: 20
logging:
  level: info
`, l.Port, l.TCPPort, l.UDPPort, key, secret) + l.webhookConfig(key)
}

// webhookConfig is the webhook section of the configuration: LiveKit signs
// each webhook with the API key (a JWT whose sha256 claim is the body's
// hash) and posts it to WebhookURL.
func (l *LiveKit) webhookConfig(key string) string {
	if l.WebhookURL == "" {
		return ""
	}
	return fmt.Sprintf(`webhook:
  api_key: %s
  urls:
    - %q
`, key, l.WebhookURL)
}

// checkWebhookURL accepts an http(s) URL that can stand in the YAML
// configuration as it is.
func checkWebhookURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }) {
		return fmt.Errorf("livekit: the webhook URL must be a plain http(s) URL, not %q", s)
	}
	return nil
}

func (l *LiveKit) keys() (string, string) {
	key, secret := l.APIKey, l.APISecret
	if key == "" {
		key = DevAPIKey
	}
	if secret == "" {
		secret = DevAPISecret
	}
	return key, secret
}

// Start writes the configuration, starts LiveKit and waits until it
// answers on its HTTP port.
func (l *LiveKit) Start(ctx context.Context) error {
	return withFreePorts([]*int{&l.Port, &l.TCPPort, &l.UDPPort}, func() error { return l.start(ctx) })
}

func (l *LiveKit) start(ctx context.Context) error {
	if l.Dir == "" {
		return errors.New("livekit: no folder for its configuration")
	}
	if _, secret := l.keys(); len(secret) < 32 {
		return errors.New("livekit: the API secret must have at least 32 characters")
	}
	if strings.ContainsAny(l.APIKey+l.APISecret, ":# \n\"'") {
		return errors.New("livekit: the API key and secret must be plain words")
	}
	if err := checkWebhookURL(l.WebhookURL); err != nil {
		return err
	}
	bin, err := prepare("livekit", l.Bin, "livekit-server", &l.Port, &l.TCPPort)
	if err != nil {
		return err
	}
	if l.UDPPort == 0 {
		if l.UDPPort, err = FreeUDPPort(); err != nil {
			return err
		}
	}
	conf, err := writeConfig(l.Dir, "livekit.yaml", l.Config())
	if err != nil {
		return err
	}
	// Variables that livekit-server reads override the file: ours must not
	// pick up a stray one.
	drop := func(k string) bool {
		switch k {
		case "NODE_IP", "UDP_PORT", "REDIS_HOST", "REDIS_PASSWORD":
			return true
		}
		return strings.HasPrefix(k, "LIVEKIT_")
	}
	// A second SIGTERM stops it without waiting for participants to leave.
	return l.launch(ctx, command{name: "livekit", bin: bin, args: []string{"--config", conf}, drop: drop, log: l.Log, twice: true},
		l.HTTPURL())
}

// URL is what clients connect to: ws://127.0.0.1:Port.
func (l *LiveKit) URL() string { return "ws://127.0.0.1:" + strconv.Itoa(l.Port) }

// HTTPURL is the same server for the server API (Twirp): http://127.0.0.1:Port.
func (l *LiveKit) HTTPURL() string { return "http://127.0.0.1:" + strconv.Itoa(l.Port) }

// Env is LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
func (l *LiveKit) Env() []string {
	key, secret := l.keys()
	return []string{"LIVEKIT_URL=" + l.URL(), "LIVEKIT_API_KEY=" + key, "LIVEKIT_API_SECRET=" + secret}
}
