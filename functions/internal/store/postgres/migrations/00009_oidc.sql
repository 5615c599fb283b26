-- +goose Up
-- OpenID Connect sign-ins in progress (the operator-oidc function). Each
-- redirect of an operator's browser to the identity provider leaves one row:
-- the SHA-256 of its random state (the browser holds the state itself in an
-- HttpOnly cookie and gets it back in the callback's query), the nonce the
-- ID token must carry, the PKCE code verifier, and where to send the
-- browser once signed in (a path on this site, never another origin). The
-- callback deletes the row as it reads it, so a state works once; rows
-- expire after OIDC_LOGIN_TTL and are dropped when the next sign-in starts.
-- Nothing here names a person: who signs in is known only after the
-- callback, and then as a session (operator_sessions).
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    nonce         text NOT NULL CHECK (length(nonce) BETWEEN 22 AND 128),
    code_verifier text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    return_to     text NOT NULL CHECK (left(return_to, 1) = '/' AND left(return_to, 2) <> '//'
                                       AND strpos(return_to, '\') = 0 AND length(return_to) <= 2048),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

-- +goose Down
DROP TABLE oidc_logins;
