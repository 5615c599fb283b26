package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifyWebhook checks a webhook as livekit-webhook does (package
// livekit/protocol/webhook): the Authorization header is an HS256 JWT of
// key, signed with secret, whose sha256 claim is the body's SHA-256.
func verifyWebhook(authorization string, body []byte, key, secret string) bool {
	parts := strings.Split(authorization, ".")
	if len(parts) != 3 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Iss    string `json:"iss"`
		Sha256 string `json:"sha256"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return false
	}
	sum := sha256.Sum256(body)
	return claims.Iss == key && claims.Sha256 == base64.StdEncoding.EncodeToString(sum[:])
}

// TestLiveKitWebhook: with a WebhookURL, LiveKit posts its room events
// there, signed with the API key pair; without one, the configuration has
// no webhook at all.
func TestLiveKitWebhook(t *testing.T) {
	if conf := (&LiveKit{}).Config(); strings.Contains(conf, "webhook") {
		t.Errorf("a configuration without WebhookURL has a webhook:\n%s", conf)
	}
	for _, bad := range []string{"ftp://127.0.0.1/x", "127.0.0.1:8080/api", "http://127.0.0.1/a b", "http://127.0.0.1/\"x"} {
		l := &LiveKit{Dir: t.TempDir(), WebhookURL: bad}
		if err := l.Start(context.Background()); err == nil {
			l.Stop()
			t.Errorf("started with the webhook URL %q", bad)
		}
	}

	type received struct {
		Event string
		Room  string
	}
	var mu sync.Mutex
	var got []received
	var forged int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/api/livekit/webhook" ||
			!verifyWebhook(r.Header.Get("Authorization"), body, DevAPIKey, DevAPISecret) {
			forged++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Event string `json:"event"`
			Room  struct {
				Name string `json:"name"`
			} `json:"room"`
		}
		_ = json.Unmarshal(body, &ev)
		got = append(got, received{ev.Event, ev.Room.Name})
	}))
	defer srv.Close()

	l := &LiveKit{Dir: t.TempDir(), WebhookURL: srv.URL + "/api/livekit/webhook"}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	if conf := l.Config(); !strings.Contains(conf, "webhook:\n  api_key: "+DevAPIKey+"\n  urls:\n    - \""+l.WebhookURL+"\"\n") {
		t.Errorf("config lacks the webhook:\n%s", conf)
	}
	admin := map[string]any{"roomCreate": true, "roomList": true, "roomAdmin": true}
	if status, body := twirp(t, l, "CreateRoom", livekitToken(DevAPIKey, DevAPISecret, admin), `{"name":"sportello-webhook-test","empty_timeout":60}`); status != http.StatusOK {
		t.Fatalf("CreateRoom: %d %s", status, body)
	}
	if status, body := twirp(t, l, "DeleteRoom", livekitToken(DevAPIKey, DevAPISecret, admin), `{"room":"sportello-webhook-test"}`); status != http.StatusOK {
		t.Fatalf("DeleteRoom: %d %s", status, body)
	}
	want := []received{{"room_started", "sportello-webhook-test"}, {"room_finished", "sportello-webhook-test"}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n, bad := len(got), forged
		mu.Unlock()
		if n >= len(want) || bad > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if forged > 0 {
		t.Errorf("%d webhooks did not verify with the API key pair", forged)
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("webhooks received %v, want %v", got, want)
	}
}
