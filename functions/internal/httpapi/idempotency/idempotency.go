// Package idempotency answers an unsafe request sent with an
// Idempotency-Key header once (the IETF's httpapi draft "The Idempotency-Key
// HTTP Header Field"): the first request with a key runs and its answer is
// kept in PostgreSQL; the same request again — a retry after a lost answer,
// from the site or an integrator, on any instance — gets the kept answer,
// marked Idempotent-Replayed: true, and runs nothing. The same key with
// another request is 422 (reason reused); while the first still runs, 409
// (reason in_progress, Retry-After: 1). A 5xx is not kept: its retry runs
// again. An end the database missed (the answer not kept, or the key of a
// 5xx not released) is recorded again by the instance, backing off, once
// the database is back. Requests without the header run as before.
//
// A key belongs to a function and to the caller's credentials (the
// Authorization header and Sportello's cookies): another caller's key is
// another key. Kept answers may carry personal data (a booking with its
// citizen): housekeeping deletes them after IDEMPOTENCY_TTL.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/httpapi/httpx"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// maxKey is the longest key accepted; maxBody the largest body kept track
// of (a larger one is the handler's to refuse).
const (
	maxKey  = 255
	maxBody = 1 << 20
)

// kept are the answer's headers kept and replayed with it.
var kept = []string{"Content-Type", "Cache-Control", "Location", "Retry-After", "Content-Language", "Vary"}

// Wrap answers the unsafe requests of next that carry an Idempotency-Key
// once, keeping their answers in store under the function called name.
func Wrap(store *postgres.Store, name string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(Header)
		if key == "" || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if err := check(key); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			httpx.Error(w, r, log, apperr.New(apperr.Invalid, "", "the body could not be read"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > maxBody {
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			next.ServeHTTP(w, r)
			return
		}
		scope := name + ":" + caller(r)
		state, answer, claim, err := store.ClaimKey(r.Context(), scope, key, digest(r, body))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		switch state {
		case postgres.KeyReused:
			httpx.Error(w, r, log, apperr.WithReason(apperr.Unprocessable, Header, apperr.Reused,
				"this Idempotency-Key was sent before with another request: use a new key for a new request"))
			return
		case postgres.KeyInProgress:
			e := apperr.WithReason(apperr.Conflict, Header, apperr.InProgress, "the first request with this Idempotency-Key is still running")
			e.RetryAfter = time.Second
			httpx.Error(w, r, log, e)
			return
		case postgres.KeyAnswered:
			for k, v := range answer.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(answer.Status)
			_, _ = w.Write(answer.Body)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		// The answer is kept (or the key released) even when the client has
		// gone: that is when the retry comes.
		ctx := context.WithoutCancel(r.Context())
		record := func(ctx context.Context) error { return store.ReleaseKey(ctx, claim) }
		if rec.status < 500 {
			a := postgres.KeptAnswer{Status: rec.status, Header: map[string]string{}, Body: rec.body.Bytes()}
			for _, k := range kept {
				if v := w.Header().Get(k); v != "" {
					a.Header[k] = v
				}
			}
			record = func(ctx context.Context) error { return store.KeepAnswer(ctx, claim, a) }
		}
		if err := attempt(ctx, record); err != nil {
			if log != nil {
				log.Warn("idempotency key not recorded: trying again", "pattern", r.Pattern, "err", err)
			}
			select {
			case retrying <- struct{}{}:
				go func() {
					defer func() { <-retrying }()
					retry(ctx, record, log, r.Pattern)
				}()
			default: // enough already wait for the database: this key waits until it is abandoned
			}
		}
	})
}

// Retrying: a request whose answer could not be kept (or whose key could
// not be released after a 5xx) — the database away as it ended — leaves
// its key claimed, and every retry of it refused as in progress until
// postgres.AbandonedKey has passed. So the instance tries again, backing
// off from retryFirst to retryMost, for half of that time; each attempt
// ends only the request's own claim (postgres.Claim), never a later one.
const (
	retryFirst = 250 * time.Millisecond
	retryMost  = 4 * time.Second
)

// retrying bounds the requests of an instance whose end is being recorded
// again at once: an outage on a busy day must not leave thousands of
// goroutines, each with its answer, to fall on the pool when it ends.
var retrying = make(chan struct{}, 64)

// retry calls record until it succeeds or half of postgres.AbandonedKey
// has passed.
func retry(ctx context.Context, record func(context.Context) error, log *slog.Logger, pattern string) {
	deadline := time.Now().Add(postgres.AbandonedKey / 2)
	for wait := retryFirst; time.Now().Add(wait).Before(deadline); wait = min(2*wait, retryMost) {
		time.Sleep(wait)
		if attempt(ctx, record) == nil {
			return
		}
	}
	if log != nil {
		log.Warn("idempotency key still not recorded: its retries wait until it is abandoned", "pattern", pattern,
			"after", postgres.AbandonedKey)
	}
}

// attempt calls record once, for at most retryMost: a database that has
// stopped answering must not hold the request's goroutine.
func attempt(ctx context.Context, record func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, retryMost)
	defer cancel()
	return record(ctx)
}

// check refuses a key that is empty, too long or not printable ASCII.
func check(key string) error {
	if len(key) > maxKey {
		e := apperr.Field(Header, apperr.TooLong, "an Idempotency-Key is at most %d characters", maxKey)
		e.Fields[0].With(maxKey)
		return e
	}
	for _, c := range key {
		if c < 0x20 || c > 0x7e {
			return apperr.Field(Header, apperr.InvalidFormat, "an Idempotency-Key is printable ASCII (a UUID is a good one)")
		}
	}
	return nil
}

// caller is a digest of the request's credentials: its Authorization
// header and Sportello's own cookies.
func caller(r *http.Request) string {
	h := sha256.New()
	io.WriteString(h, r.Header.Get("Authorization"))
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, "sportello") {
			io.WriteString(h, "\x00"+c.Name+"="+c.Value)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// digest identifies a request: its method, path, query and body.
func digest(r *http.Request, body []byte) []byte {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.RequestURI()+"\x00")
	h.Write(body)
	return h.Sum(nil)
}

// recorder passes the answer on and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status  int
	written bool
	body    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.status, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
