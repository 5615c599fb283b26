// Package clienttest is the client side of the tests, shared by the
// functions' tests and the end-to-end tests of module test (which cannot
// reach functions/internal): what a browser does with presigned object-store
// links (a multipart form POST, a GET), what a participant does to join a
// LiveKit room, and waiting for something to come true.
//
// It is for tests only: its functions fail the test they are given.
package clienttest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Response is what a server answered a browser-like request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// PostForm uploads file as a browser does with a presigned POST: a
// multipart/form-data body with every field (in a stable order), then the
// file in the part "file", last.
func PostForm(tb testing.TB, url string, fields map[string]string, filename string, file []byte) Response {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := mw.WriteField(k, fields[k]); err != nil {
			tb.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		tb.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, &body)
	if err != nil {
		tb.Fatalf("clienttest: upload URL %q: %v", url, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return Do(tb, req)
}

// Get fetches url as a browser follows a link (say, a presigned download).
func Get(tb testing.TB, url string) Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("clienttest: URL %q: %v", url, err)
	}
	return Do(tb, req)
}

// Do sends req as a browser does and reads the whole answer.
func Do(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("clienttest: %s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

var quiet sync.Once

// Connect joins a LiveKit room with a token as the room page does (the room
// is the token's), and leaves it when the test ends. The SDK's own logging
// (every WebRTC state change) is silenced.
func Connect(tb testing.TB, url, token string, cb *lksdk.RoomCallback) *lksdk.Room {
	tb.Helper()
	quiet.Do(func() { lksdk.SetLogger(protologger.GetDiscardLogger()) })
	if cb == nil {
		cb = lksdk.NewRoomCallback()
	}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(false))
	if err != nil {
		tb.Fatalf("connect to LiveKit: %v", err)
	}
	tb.Cleanup(room.Disconnect)
	return room
}

// Eventually waits up to timeout for cond, failing the test with what.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Race runs f(0) … f(n-1) at once, each in its own goroutine, all released
// together, and returns their results in order: many clients racing for
// the same thing.
func Race[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[i] = f(i)
		}()
	}
	close(gate)
	wg.Wait()
	return out
}

// Tally counts how many times each result came.
func Tally[T comparable](results []T) map[T]int {
	count := map[T]int{}
	for _, r := range results {
		count[r]++
	}
	return count
}
