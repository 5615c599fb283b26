-- +goose Up
-- Idempotency keys: an unsafe request sent with an Idempotency-Key header is
-- answered once; the same request with the same key (a retry after a lost
-- answer) gets the kept answer again, from any instance. scope is the
-- function and a digest of the caller's credentials; request_hash a digest
-- of the method, path and body. status is NULL while the first request
-- runs. The answers may carry personal data: housekeeping deletes them
-- after IDEMPOTENCY_TTL (24 hours).
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    status       integer,
    header       jsonb,
    body         bytea,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
