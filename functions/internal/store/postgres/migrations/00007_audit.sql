-- +goose Up
-- The audit log: who did what to which booking, office, service or
-- operator, and when. One row per change, written in the transaction of the
-- change (package audit), never updated. It holds no personal data: the
-- actor is a kind (citizen, operator, system) and, for an operator, their
-- id; the detail is the change's CloudEvent data or an administrator's
-- settings, which carry none. office_id scopes the rows: an operator reads
-- the log of the offices they serve. Rows outlive the purge of a booking's
-- personal data on purpose: the trace of what happened stays.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('citizen', 'operator', 'system')),
    actor_id    uuid,
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target_kind text NOT NULL CHECK (target_kind IN ('booking', 'office', 'service', 'closure', 'desk', 'operator', 'session')),
    target_id   text NOT NULL,
    office_id   text,
    detail      jsonb NOT NULL DEFAULT '{}',
    CHECK ((actor_kind = 'operator') = (actor_id IS NOT NULL))
);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, at);
CREATE INDEX audit_log_office ON audit_log (office_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at) WHERE actor_id IS NOT NULL;

-- +goose Down
DROP TABLE audit_log;
