package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sportello/sportello/functions/internal/domain/clock"
)

// testIdP is an OpenID Connect provider written for these tests (no real
// one can be built on this machine): discovery, a JWKS with one RSA key,
// an authorization endpoint that signs in whoever the test chose and
// redirects back with a code, and a token endpoint that checks the client's
// secret, the redirect URI and the PKCE S256 verifier, and answers an RS256
// ID token carrying the nonce of the authorization request. Its knobs let
// a test make it misbehave as a broken or hostile provider would.
type testIdP struct {
	t        testing.TB
	srv      *httptest.Server
	clk      clock.Clock
	key      *rsa.PrivateKey
	client   string
	secret   string
	redirect string

	mu     sync.Mutex
	user   map[string]any              // the claims of who signs in next: sub, email, email_verified…
	tamper func(claims map[string]any) // changes the next ID token's claims
	forge  bool                        // sign with a key that is not in the JWKS (under the same kid)
	none   bool                        // send an unsigned token (alg "none")
	deny   string                      // the authorization endpoint answers error=deny
	down   bool                        // the token endpoint answers 503
	grants map[string]grant            // codes issued, not yet used
	tokens int                         // successful token requests
}

type grant struct {
	challenge, nonce, redirect string
	claims                     map[string]any
}

const kid = "test-key-1"

func newTestIdP(t testing.TB, clk clock.Clock, client, secret, redirect string) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{t: t, clk: clk, key: key, client: client, secret: secret, redirect: redirect, grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /auth", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// signInAs sets who the provider signs in next.
func (p *testIdP) signInAs(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = claims
}

func (p *testIdP) set(f func(p *testIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *testIdP) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.srv.URL
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/auth",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *testIdP) keys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &p.key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"},
	}})
}

func (p *testIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("response_type") != "code",
		q.Get("client_id") != p.client,
		q.Get("redirect_uri") != p.redirect,
		q.Get("code_challenge_method") != "S256",
		len(q.Get("code_challenge")) != 43,
		!strings.Contains(" "+q.Get("scope")+" ", " openid "),
		q.Get("state") == "", q.Get("nonce") == "":
		p.t.Errorf("authorization request not as OpenID Connect's code flow with PKCE wants: %v", q)
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := url.Values{"state": {q.Get("state")}}
	if p.deny != "" {
		v.Set("error", p.deny)
		v.Set("error_description", "the user said no")
	} else {
		code := rand.Text()
		p.grants[code] = grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"), claims: p.user}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func (p *testIdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, sec, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
	} else {
		id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.client || sec != p.secret {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	code := r.PostForm.Get("code")
	g, found := p.grants[code]
	delete(p.grants, code) // a code works once
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code", !found,
		r.PostForm.Get("redirect_uri") != g.redirect,
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	now := p.clk.Now()
	claims := map[string]any{
		"iss": p.srv.URL, "aud": p.client, "iat": now.Unix(), "exp": now.Add(5 * 60e9).Unix(), "nonce": g.nonce,
	}
	for k, v := range g.claims {
		claims[k] = v
	}
	if p.tamper != nil {
		p.tamper(claims)
	}
	p.tokens++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300, "id_token": p.sign(claims),
	})
}

// sign makes the ID token: RS256 with the JWKS's key, or a key the
// provider never published (forge), or no signature at all (none).
func (p *testIdP) sign(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		p.t.Fatal(err)
	}
	if p.none {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
	}
	key := p.key
	if p.forge {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			p.t.Fatal(err)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		p.t.Fatal(err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := sig.CompactSerialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}
