-- +goose Up
-- The waiting room: when more citizens come for a service than its counter
-- admits, they wait in a queue (the waiting-room function) and are let in
-- first come, first served, at the service's admission rate, with a signed
-- admission ticket that reserve checks. A service's room is on when the
-- administration gives it an admission rate (admission_per_minute), or for
-- a while when reserve finds its holds slow (auto_until, at auto_rate).
--
-- A queue is a counter, not a list: joining takes the next position
-- (next_position); position p is admitted once
--   admitted_base + floor(rate * minutes since base_at) >= p,
-- and a queue that has caught up starts counting again from its last
-- position (base_at: that moment). Nothing is stored per citizen: the
-- position travels in the citizen's signed queue token.
ALTER TABLE services ADD COLUMN admission_per_minute integer CHECK (admission_per_minute BETWEEN 1 AND 100000);

CREATE TABLE waiting_rooms (
    service_id    text PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    next_position bigint NOT NULL DEFAULT 0,
    admitted_base bigint NOT NULL DEFAULT 0,
    base_at       timestamptz NOT NULL,
    auto_until    timestamptz,
    auto_rate     integer CHECK (auto_rate > 0)
);

-- +goose Down
DROP TABLE waiting_rooms;
ALTER TABLE services DROP COLUMN admission_per_minute;
