package services

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// closedPort fails the test when something still listens on port.
func closedPort(t *testing.T, port int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections after Stop", port)
	}
}

func TestMailpit(t *testing.T) {
	m := &Mailpit{}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	env := m.Env()
	for _, want := range []string{"SMTP_HOST=127.0.0.1", "SMTP_PORT=" + strconv.Itoa(m.SMTPPort), "SMTP_TLS=none", "MAILPIT_URL=http://127.0.0.1:" + strconv.Itoa(m.HTTPPort)} {
		if !slices.Contains(env, want) {
			t.Errorf("Env() = %v, want %s", env, want)
		}
	}

	// With and without authentication: both are accepted.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.SMTPPort))
	msg := "From: sportello@example.it\r\nTo: a@example.it\r\nSubject: Prenotazione confermata\r\n\r\nCiao\r\n"
	if err := smtp.SendMail(addr, nil, "sportello@example.it", []string{"a@example.it"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	auth := smtp.PlainAuth("", "user", "password", "127.0.0.1")
	if err := smtp.SendMail(addr, auth, "sportello@example.it", []string{"b@example.it"}, []byte(msg)); err != nil {
		t.Fatalf("with authentication: %v", err)
	}
	resp, err := http.Get(m.URL() + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total    int `json:"total"`
		Messages []struct {
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || list.Messages[0].Subject != "Prenotazione confermata" {
		t.Errorf("messages = %+v, want 2 with the subject", list)
	}

	m.Stop()
	select {
	case <-m.Exited():
	default:
		t.Error("Exited() not closed after Stop")
	}
	closedPort(t, m.SMTPPort)
	closedPort(t, m.HTTPPort)
}

func TestPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := &Mailpit{HTTPPort: l.Addr().(*net.TCPAddr).Port}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "taken") {
		m.Stop()
		t.Errorf("Start on a taken port: %v, want an error saying so", err)
	}
}

// livekitToken is a LiveKit access token (an HS256 JWT) with the given
// video grant.
func livekitToken(key, secret string, grant map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": key, "sub": "test", "nbf": now - 5, "exp": now + 600, "video": grant})
	unsigned := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// twirp calls a LiveKit RoomService method with token and returns the
// status and body.
func twirp(t *testing.T, l *LiveKit, method, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.HTTPURL()+"/twirp/livekit.RoomService/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLiveKit(t *testing.T) {
	l := &LiveKit{Dir: t.TempDir()}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	conf := l.Config()
	for _, want := range []string{"node_ip: 127.0.0.1", "enable_loopback_candidate: true", "use_external_ip: false", "- 127.0.0.1/32",
		"udp_port: " + strconv.Itoa(l.UDPPort), DevAPIKey + ": " + DevAPISecret} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	env := l.Env()
	if want := []string{"LIVEKIT_URL=ws://127.0.0.1:" + strconv.Itoa(l.Port), "LIVEKIT_API_KEY=" + DevAPIKey, "LIVEKIT_API_SECRET=" + DevAPISecret}; !slices.Equal(env, want) {
		t.Errorf("Env() = %v, want %v", env, want)
	}

	// The key pair works for the server API; another secret does not.
	admin := map[string]any{"roomCreate": true, "roomList": true, "roomAdmin": true}
	if status, body := twirp(t, l, "CreateRoom", livekitToken(DevAPIKey, DevAPISecret, admin), `{"name":"b1","empty_timeout":60}`); status != http.StatusOK {
		t.Fatalf("CreateRoom: %d %s", status, body)
	}
	status, body := twirp(t, l, "ListRooms", livekitToken(DevAPIKey, DevAPISecret, admin), `{}`)
	if status != http.StatusOK || !strings.Contains(body, `"b1"`) {
		t.Errorf("ListRooms: %d %s, want room b1", status, body)
	}
	if status, _ := twirp(t, l, "ListRooms", livekitToken(DevAPIKey, strings.Repeat("x", 40), admin), `{}`); status != http.StatusUnauthorized {
		t.Errorf("ListRooms with a wrong secret: %d, want 401", status)
	}

	l.Stop()
	closedPort(t, l.Port)
	closedPort(t, l.TCPPort)
}

func TestLiveKitRefusesAShortSecret(t *testing.T) {
	l := &LiveKit{Dir: t.TempDir(), APISecret: "short"}
	if err := l.Start(context.Background()); err == nil {
		l.Stop()
		t.Error("started with a 5-character secret")
	}
}

// preflight sends a CORS preflight for a POST from origin and returns the
// Access-Control-Allow-Origin of the answer.
func preflight(t *testing.T, url, origin string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Access-Control-Allow-Origin")
}

func TestMinIO(t *testing.T) {
	dir := t.TempDir()
	m := &MinIO{Dir: filepath.Join(dir, "minio"), ConsolePort: -1, CORSOrigins: []string{"http://127.0.0.1:8080"}}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	env := m.Env()
	want := []string{"S3_ENDPOINT=http://127.0.0.1:" + strconv.Itoa(m.Port), "S3_REGION=us-east-1", "S3_ACCESS_KEY=" + DevAccessKey,
		"S3_SECRET_KEY=" + DevSecretKey, "S3_BUCKET=sportello-documents"}
	if !slices.Equal(env, want) {
		t.Errorf("Env() = %v, want %v", env, want)
	}

	// The bucket is there and takes objects.
	c := m.Client()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("head bucket: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String("b1/a.pdf"), Body: bytes.NewReader([]byte("%PDF-1.7"))}); err != nil {
		t.Fatal(err)
	}

	// A browser on the gateway's origin may POST; another origin may not.
	if got := preflight(t, m.Endpoint()+"/"+Bucket, "http://127.0.0.1:8080"); got != "http://127.0.0.1:8080" {
		t.Errorf("preflight from the gateway: Access-Control-Allow-Origin %q", got)
	}
	if got := preflight(t, m.Endpoint()+"/"+Bucket, "http://evil.example"); got != "" {
		t.Errorf("preflight from another origin: Access-Control-Allow-Origin %q, want none", got)
	}

	// Started again on the same folder, it keeps the bucket and the data.
	m.Stop()
	closedPort(t, m.Port)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(Bucket), Key: aws.String("b1/a.pdf")})
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "%PDF-1.7" {
		t.Errorf("object after a restart = %q", b)
	}
}

func TestSet(t *testing.T) {
	dir := t.TempDir()
	mp, lk, mo := &Mailpit{}, &LiveKit{Dir: filepath.Join(dir, "livekit")}, &MinIO{Dir: filepath.Join(dir, "minio")}
	set := Set{mp, lk, mo}
	if err := set.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer set.Stop()
	var names []string
	for _, kv := range set.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			t.Errorf("%s is empty", k)
		}
		names = append(names, k)
	}
	want := []string{"SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "MAILPIT_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET",
		"S3_ENDPOINT", "S3_REGION", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"}
	if !slices.Equal(names, want) {
		t.Errorf("Env() names = %v, want %v", names, want)
	}
	if mo.ConsoleURL() == "" {
		t.Error("no console URL")
	}
	if err := set.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{mp.SMTPPort, mp.HTTPPort, lk.Port, mo.Port, mo.ConsolePort} {
		closedPort(t, p)
	}
}

// TestSetStopsWhatStartedWhenOneFails: a failing server leaves no other
// running.
func TestSetStopsWhatStartedWhenOneFails(t *testing.T) {
	mp := &Mailpit{}
	bad := &MinIO{Dir: filepath.Join(t.TempDir(), "minio"), Bin: "/bin/false"}
	err := Set{mp, bad}.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "minio") {
		t.Fatalf("err = %v, want minio's failure", err)
	}
	select {
	case <-mp.Exited():
	case <-time.After(StopGrace + time.Second):
		t.Error("mailpit still running after the set failed to start")
	}
}
