package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sportello/sportello/functions/internal/domain/operator"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/function"
)

// fuzzEnv is operator-oidc, enabled, as it serves the network: its
// identity provider signs in an active operator.
func fuzzEnv(f *testing.F) (*env, http.Handler) {
	e := newEnv(f, nil)
	email, _ := e.operator(operator.RoleOperator)
	e.idp.signInAs(map[string]any{"sub": "idp-user-1", "email": email, "email_verified": true, "name": "Maria Rossi"})
	return e, function.Edge(e.auth.Store, "operator-oidc", apitest.Discard, e.h)
}

// FuzzLogin: no query string makes GET /api/operator/oidc/login answer a
// 5xx.
func FuzzLogin(f *testing.F) {
	_, h := fuzzEnv(f)
	apitest.FuzzQuery(f, h, apitest.Endpoint{Method: "GET", Path: "/api/operator/oidc/login"},
		"return_to="+url.QueryEscape("/operatore/agenda?giorno=2027-03-01"), "return_to=/")
}

// FuzzCallback: no query string makes GET /api/operator/oidc/callback
// answer a 5xx. Each input comes back from a sign-in begun for it, with
// its browser's state cookie: "{state}" and "{code}" in the input stand
// for that sign-in's state and the code the provider gave, so that inputs
// reach the code's exchange and the ID token's checks.
func FuzzCallback(f *testing.F) {
	e, h := fuzzEnv(f)
	for _, q := range apitest.QuerySeeds("code={code}&state={state}", "state={state}&code={code}&iss="+url.QueryEscape(e.cfg.Issuer),
		"error=access_denied&error_description=no&state={state}") {
		f.Add(q)
	}
	ep := apitest.Endpoint{Method: "GET", Path: "/api/operator/oidc/callback"}
	f.Fuzz(func(t *testing.T, query string) {
		e.t = t // the env's helpers fail this input's test
		u, state := e.login("/operatore/agenda")
		back, err := url.Parse(e.authorize(u))
		if err != nil {
			t.Fatal(err)
		}
		r := get(ep.Path, state)
		r.URL.RawQuery = strings.NewReplacer("{state}", url.QueryEscape(state.Value), "{code}", url.QueryEscape(back.Query().Get("code"))).Replace(query)
		apitest.Check(t, h, ep, r)
	})
}
