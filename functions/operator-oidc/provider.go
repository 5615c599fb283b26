package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// provider is the identity provider, discovered on first use (so that the
// function starts while the provider is down) and then kept: its endpoints,
// and a verifier whose key set follows the provider's JWKS, refetched when
// a token names a key it does not have (key rotation).
type provider struct {
	cfg    Config
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// get returns the OAuth 2.0 client configuration and the ID token verifier,
// reading the discovery document the first time. A failure is not kept:
// the next request tries again.
func (p *provider) get(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), p.cfg.Timeout)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery of %s: %w", p.cfg.Issuer, err)
	}
	p.oauth = &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  p.cfg.RedirectURL,
		Scopes:       p.cfg.ScopeList(),
	}
	// The audience must be our client id; the issuer the configured one;
	// the expiry is checked against the function's clock; the algorithms
	// are those the provider announces that go-oidc supports (RS256 when it
	// announces none), never "none".
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: p.now})
	return p.oauth, p.verifier, nil
}

// providerError is a failed exchange or verification: err is what the
// client is told, logged what the log says (no personal data: error codes
// and go-oidc's messages about claims it checks, never the token or the
// email), and unreachable marks the provider's fault (502) rather than the
// sign-in's.
type providerError struct {
	err         error
	logged      string
	unreachable bool
}

func (e *providerError) Error() string { return e.logged }

func asProviderError(err error, target **providerError) bool { return errors.As(err, target) }

// exchange trades the code for tokens (sending the PKCE verifier), verifies
// the ID token (signature, iss, aud, exp; then the nonce, and the access
// token's hash when the token carries one) and returns its claims.
func (p *provider) exchange(ctx context.Context, oauth *oauth2.Config, verifier *oidc.IDTokenVerifier, l Login, code string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), p.cfg.Timeout)
	defer cancel()
	tok, err := oauth.Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return nil, &providerError{
				err:    apperr.Field("code", apperr.NotAllowed, "the identity provider did not accept the sign-in (%s): start again", oauthErrorCode(re.ErrorCode)),
				logged: fmt.Sprintf("token endpoint answered %d %s", re.Response.StatusCode, oauthErrorCode(re.ErrorCode)),
			}
		}
		logged := "token exchange failed"
		if re != nil && re.Response != nil {
			logged = fmt.Sprintf("token endpoint answered %d", re.Response.StatusCode)
		} else if !errors.As(err, &re) {
			logged = err.Error()
		}
		return nil, &providerError{unreachable: true, logged: logged}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &providerError{unreachable: true, logged: "the token response has no id_token"}
	}
	refuse := func(reason string) error {
		return &providerError{
			err:    apperr.New(apperr.Unauthorized, "id_token", "the identity provider's answer could not be verified: start again"),
			logged: reason,
		}
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, refuse(err.Error())
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		return nil, refuse("the ID token's nonce is not the sign-in's")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, refuse(err.Error())
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, refuse(err.Error())
	}
	return claims, nil
}

// oauthErrorCode is an RFC 6749 error code fit to repeat: its characters
// are limited to those the RFC allows in codes, and its length bounded.
func oauthErrorCode(s string) string {
	if s == "" || len(s) > 64 {
		return "unknown error"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "unknown error"
		}
	}
	return s
}
